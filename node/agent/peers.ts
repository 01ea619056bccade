// The agent's peers: submissions go round-robin to the usable ones; one that fails (a whole
// request: unreachable, timeout, 429, 503) is not asked again for a backoff that doubles per
// consecutive failure (peerBackoffBaseMs up to peerBackoffMaxMs), and the next one is used.
import { CairnClient, type CairnCredentials } from '../../src/client/client.js';
import { CairnApiError } from '../../src/client/errors.js';
import type { AgentLimits, AgentPeerStatus } from './types.js';

export interface PeerState {
  url: string;
  client: CairnClient;
  failures: number;
  downUntil: number;
  lastError: string | null;
}

export class PeerList {
  private readonly peers: PeerState[];
  private cur = 0;

  constructor(
    urls: string[],
    private readonly limits: Pick<AgentLimits, 'requestTimeoutMs' | 'peerBackoffBaseMs' | 'peerBackoffMaxMs'>,
    private readonly now: () => number,
    credentials?: CairnCredentials,
  ) {
    if (urls.length === 0) throw new Error('the agent needs at least one peer URL');
    this.peers = urls.map((url) => ({
      url,
      client: new CairnClient({ url, requestTimeoutMs: limits.requestTimeoutMs, ...(credentials !== undefined ? { credentials } : {}) }),
      failures: 0,
      downUntil: 0,
      lastError: null,
    }));
  }

  /**
   * The next peer that is not backing off, round-robin from the current one, or null. Spreading
   * the submissions spreads the work of receiving them (parsing, signature checks, gossip) over
   * the peers instead of loading one of them.
   */
  pick(now: number): PeerState | null {
    const p = this.peek(now);
    if (p !== null) this.cur = (this.peers.indexOf(p) + 1) % this.peers.length;
    return p;
  }

  /** The peer pick() would return, without moving on. */
  peek(now: number): PeerState | null {
    for (let k = 0; k < this.peers.length; k++) {
      const p = this.peers[(this.cur + k) % this.peers.length]!;
      if (p.downUntil <= now) return p;
    }
    return null;
  }

  /** When the first peer stops backing off. */
  nextUsableAt(): number {
    return Math.min(...this.peers.map((p) => p.downUntil));
  }

  ok(peer: PeerState): void {
    peer.failures = 0;
    peer.lastError = null;
  }

  /** Records a failed request and moves on to the next peer; returns the message. */
  failed(peer: PeerState, e: unknown): string {
    const msg = e instanceof CairnApiError ? e.message : ((e as Error)?.message ?? String(e));
    peer.failures++;
    peer.lastError = msg.slice(0, 300);
    peer.downUntil = this.now() + Math.min(this.limits.peerBackoffMaxMs, this.limits.peerBackoffBaseMs * 2 ** Math.min(peer.failures - 1, 16));
    this.cur = (this.peers.indexOf(peer) + 1) % this.peers.length;
    return peer.lastError;
  }

  get current(): string {
    return this.peers[this.cur]!.url;
  }

  status(): AgentPeerStatus[] {
    const now = this.now();
    return this.peers.map((p) => ({ url: p.url, failures: p.failures, backoffMs: Math.max(0, p.downUntil - now), lastError: p.lastError }));
  }
}
