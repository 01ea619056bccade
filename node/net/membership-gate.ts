// Which libp2p peer ids a peer talks to, as the validator set changes through governance records
// (docs/governance.md, "Peer connections").
//
// Rule: a peer admits (and dials) the peer ids of the organizations in force at the next height
// (head + 1) AND those of the next scheduled set (a decided org.add, org.remove or org.key.rotate
// that is not in force yet). So:
// - an added organization's peer is admitted from the block that decides its addition on, before
//   its effective height: it connects, catches up and serves reads, and votes from the effective
//   height (catch-up reads are open to a scheduled member on purpose: a new peer must hold the log
//   before it can vote);
// - a removed organization's peer stays admitted until its removal takes effect, then its
//   connections are closed and its peer id refused;
// - a rotated libp2p identity: old and new id are both admitted until the effective height, only
//   the new one after.
// Each peer computes this from its own log (the same records and heights on every peer), so no
// message is needed: a peer that lags a few heights behind changes its connections a little later.
import { validatorsAt, type GovState } from '../../src/governance/index.js';

/** One admitted peer: its libp2p id and the organization it belongs to. */
export interface MemberPeer {
  peerId: string;
  name: string;
  /** 'member': in the set in force at the next height; 'scheduled': only in the decided next set. */
  role: 'member' | 'scheduled';
}

/**
 * The peers to admit when the next block is `nextHeight` (head + 1), given the governance state
 * after the head. Members first (validator order), then scheduled-only peers. Pure.
 */
export function admittedPeers(state: GovState, nextHeight: number): MemberPeer[] {
  const current = validatorsAt(state, nextHeight).orgs;
  const out: MemberPeer[] = current.map((o) => ({ peerId: o.peerId, name: o.name, role: 'member' }));
  const p = state.pending;
  if (p?.orgs !== undefined && p.effectiveHeight > nextHeight) {
    const seen = new Set(out.map((m) => m.peerId));
    for (const o of p.orgs) if (!seen.has(o.peerId)) out.push({ peerId: o.peerId, name: o.name, role: 'scheduled' });
  }
  return out;
}

/** Peer ids remembered as removed (for the refusal reason); oldest forgotten first. */
export const REMOVED_REMEMBERED_MAX = 256;

export interface MembershipChange {
  added: MemberPeer[];
  removed: { peerId: string; name: string }[];
}

/**
 * The admission list of one host. Our own id is never in it. `refusal` tells a removed peer
 * (was admitted, is no longer) from an outsider (never admitted), so logs can say which.
 */
export class MembershipGate {
  private readonly admitted = new Map<string, MemberPeer>();
  private readonly removed = new Map<string, string>(); // peer id -> organization name

  constructor(
    private readonly self: string,
    private readonly maxPeers: number,
  ) {}

  admits(peerId: string): boolean {
    return this.admitted.has(peerId);
  }

  get(peerId: string): MemberPeer | undefined {
    return this.admitted.get(peerId);
  }

  /** Null when admitted; otherwise why not. */
  refusal(peerId: string): { kind: 'removed'; name: string } | { kind: 'outsider' } | null {
    if (this.admitted.has(peerId)) return null;
    const name = this.removed.get(peerId);
    return name === undefined ? { kind: 'outsider' } : { kind: 'removed', name };
  }

  peers(): MemberPeer[] {
    return [...this.admitted.values()];
  }

  get size(): number {
    return this.admitted.size;
  }

  /**
   * Replaces the list; returns who was added and who removed (roles may change without either).
   * Throws on more than maxPeers entries (the caller's configuration bound).
   */
  set(peers: readonly MemberPeer[]): MembershipChange {
    const next = new Map<string, MemberPeer>();
    for (const p of peers) if (p.peerId !== this.self && !next.has(p.peerId)) next.set(p.peerId, { ...p });
    if (next.size > this.maxPeers) throw new RangeError(`${next.size} admitted peers exceed maxGenesisPeers=${this.maxPeers}`);
    const change: MembershipChange = { added: [], removed: [] };
    for (const [id, p] of this.admitted) {
      if (next.has(id)) continue;
      change.removed.push({ peerId: id, name: p.name });
      this.removed.delete(id);
      this.removed.set(id, p.name);
      if (this.removed.size > REMOVED_REMEMBERED_MAX) this.removed.delete(this.removed.keys().next().value!);
    }
    for (const [id, p] of next) {
      if (!this.admitted.has(id)) {
        change.added.push(p);
        this.removed.delete(id);
      }
    }
    this.admitted.clear();
    for (const [id, p] of next) this.admitted.set(id, p);
    return change;
  }
}
