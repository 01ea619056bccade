// The connections of the peer network: every new connection must pass the hello check (same
// genesis, same namespace) before its peer counts as connected; a failed or mismatched hello
// closes it and spaces out our redials. Keeps the set of connected peers, the KEEP_ALIVE tags,
// the recorded genesis mismatches and the connect / disconnect / mismatch callbacks.
import { KEEP_ALIVE, type Connection, type PeerId } from '@libp2p/interface';
import { toHex } from '../../src/encoding/bytes.js';
import { describeError } from './errors.js';
import { helloAsDialer, helloAsListener, type HelloOutcome } from './hello.js';
import type { GenesisMismatch } from './host-types.js';
import { toError, type HostState } from './host-state.js';
import type { ProtocolServer } from './reqresp.js';
import { HELLO_PROTOCOL } from './topics.js';

/** A listener keeps a mismatched connection open this long so the dialer can read our hello. */
const MISMATCH_CLOSE_GRACE_MS = 500;

export interface Connections {
  /** Peer ids with a verified open connection. */
  readonly ready: Set<string>;
  /** The most recent genesis mismatches (at most limits.maxRecordedMismatches). */
  readonly recorded: GenesisMismatch[];
  readonly connectCbs: Set<(peerId: string) => void>;
  readonly disconnectCbs: Set<(peerId: string) => void>;
  readonly mismatchCbs: Set<(m: GenesisMismatch) => void>;
  /** Genesis peers whose KEEP_ALIVE tag we removed. */
  readonly untagged: Set<string>;
  /** On stop: cancels the hello and grace timers. */
  clearTimers(): void;
  /** After stop: forgets every connection. */
  clear(): void;
}

/**
 * Installs the connection listeners and the hello protocol on the (not yet started) node.
 * `servers` are the request/response servers, told when a peer has no verified connection left.
 */
export async function trackConnections(s: HostState, genesisHash: Uint8Array, namespace: string, servers: ReadonlyMap<string, ProtocolServer>): Promise<Connections> {
  const verifiedConns = new Set<string>(); // connection ids that passed hello
  const ready = new Set<string>(); // peer ids with a verified open connection
  const recorded: GenesisMismatch[] = [];
  const connectCbs = new Set<(peerId: string) => void>();
  const disconnectCbs = new Set<(peerId: string) => void>();
  const mismatchCbs = new Set<(m: GenesisMismatch) => void>();
  const helloTimers = new Map<string, ReturnType<typeof setTimeout>>();
  const graceTimers = new Set<ReturnType<typeof setTimeout>>();
  const ours = { genesis: genesisHash, namespace };

  const emit = <T>(cbs: Set<(v: T) => void>, v: T, what: string): void => {
    for (const cb of cbs) {
      try {
        cb(v);
      } catch (err) {
        s.log.error({ err: describeError(err) }, `${what} callback threw`);
      }
    }
  };

  const untagged = new Set<string>(); // genesis peers whose KEEP_ALIVE tag we removed
  const keepAlive = async (id: PeerId, on: boolean): Promise<void> => {
    const key = id.toString();
    if (on && !untagged.has(key)) return;
    if (on) untagged.delete(key);
    else untagged.add(key);
    try {
      await s.node.peerStore.merge(id, { tags: { [KEEP_ALIVE]: on ? { value: 1 } : undefined } });
    } catch (err) {
      s.log.warn({ peer: id.toString(), err: describeError(err) }, 'could not update keep-alive tag');
    }
  };

  const onHello = async (conn: Connection, outcome: HelloOutcome, side: 'dialer' | 'listener'): Promise<void> => {
    const peer = conn.remotePeer.toString();
    const t = helloTimers.get(conn.id);
    if (t !== undefined) {
      clearTimeout(t);
      helloTimers.delete(conn.id);
    }
    if (s.stopped) return;
    if (outcome.ok) {
      s.stats.helloOk++;
      if (conn.status !== 'open') return;
      if (!s.gate.admits(peer)) {
        // Removed by setMembers while its handshake was under way.
        conn.close().catch((err) => conn.abort(toError(err)));
        return;
      }
      verifiedConns.add(conn.id);
      const st = s.dialState.get(peer);
      if (st !== undefined) {
        st.backoffMs = s.limits.redialIntervalMs;
        st.nextAtMs = 0;
      }
      await keepAlive(conn.remotePeer, true); // restore it if a past failure removed it
      if (!ready.has(peer) && conn.status === 'open') {
        ready.add(peer);
        s.log.info({ peer }, 'genesis peer connected');
        emit(connectCbs, peer, 'peer connect');
      }
      return;
    }
    if (outcome.kind === 'mismatch') {
      s.stats.genesisMismatches++;
      const m: GenesisMismatch = {
        peerId: peer,
        reason: outcome.reason,
        oursGenesis: toHex(genesisHash),
        theirsGenesis: toHex(outcome.theirs.genesis),
        theirsNamespace: outcome.theirs.namespace,
        atMs: Date.now(),
      };
      recorded.push(m);
      if (recorded.length > s.limits.maxRecordedMismatches) recorded.shift();
      s.log.error({ peer, ours: m.oursGenesis, theirs: m.theirsGenesis, theirsNamespace: m.theirsNamespace }, outcome.reason);
      // Stop libp2p's reconnect queue from redialing it in a tight loop; our dialer retries
      // it after mismatchRetryMs (the operator may fix their genesis and restart).
      const st = s.dialState.get(peer);
      if (st !== undefined) st.nextAtMs = performance.now() + s.limits.mismatchRetryMs;
      await keepAlive(conn.remotePeer, false);
      emit(mismatchCbs, m, 'genesis mismatch');
    } else {
      s.stats.helloFailed++;
      s.log.warn({ peer, side, reason: outcome.reason }, 'hello failed; closing connection');
      // Same reasoning as for a mismatch, with the ordinary growing backoff: a peer that
      // cannot complete hello (an old version, overload) must not be redialed in a tight loop.
      const st = s.dialState.get(peer);
      if (st !== undefined) {
        st.nextAtMs = Math.max(st.nextAtMs, performance.now() + st.backoffMs);
        st.backoffMs = Math.min(st.backoffMs * 2, s.limits.redialMaxBackoffMs);
      }
      await keepAlive(conn.remotePeer, false);
    }
    const close = (): void => {
      conn.close().catch((err) => conn.abort(toError(err)));
    };
    if (side === 'listener' && outcome.kind === 'mismatch') {
      // Let the dialer read our hello first so both sides can name the mismatch.
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        close();
      }, MISMATCH_CLOSE_GRACE_MS);
      graceTimers.add(timer);
    } else {
      close();
    }
  };

  s.node.addEventListener('connection:open', (evt) => {
    const conn = evt.detail;
    if (s.stopped) return;
    if (conn.direction === 'outbound') {
      void helloAsDialer(conn, ours, s.limits.helloTimeoutMs).then((o) => onHello(conn, o, 'dialer'));
    } else {
      // The dialer speaks first; a dialer that never does is closed after helloTimeoutMs.
      const timer = setTimeout(() => {
        helloTimers.delete(conn.id);
        void onHello(conn, { ok: false, kind: 'failed', reason: `no hello within helloTimeoutMs=${s.limits.helloTimeoutMs}` }, 'listener');
      }, s.limits.helloTimeoutMs);
      helloTimers.set(conn.id, timer);
    }
  });

  s.node.addEventListener('connection:close', (evt) => {
    const conn = evt.detail;
    const peer = conn.remotePeer.toString();
    verifiedConns.delete(conn.id);
    const t = helloTimers.get(conn.id);
    if (t !== undefined) {
      clearTimeout(t);
      helloTimers.delete(conn.id);
    }
    const stillUp = s.node.getConnections(conn.remotePeer).some((c) => c.status === 'open' && verifiedConns.has(c.id));
    if (!stillUp && ready.delete(peer)) {
      for (const server of servers.values()) server.forgetPeer(peer);
      s.log.info({ peer }, 'genesis peer disconnected');
      if (!s.stopped) emit(disconnectCbs, peer, 'peer disconnect');
    }
  });

  await s.node.handle(
    HELLO_PROTOCOL,
    (stream, conn) => {
      void helloAsListener(stream, ours, s.limits.helloTimeoutMs).then((o) => onHello(conn, o, 'listener'));
    },
    { maxInboundStreams: 2, maxOutboundStreams: 2 },
  );

  return {
    ready,
    recorded,
    connectCbs,
    disconnectCbs,
    mismatchCbs,
    untagged,
    clearTimers() {
      for (const t of helloTimers.values()) clearTimeout(t);
      helloTimers.clear();
      for (const t of graceTimers) clearTimeout(t);
      graceTimers.clear();
    },
    clear() {
      ready.clear();
      verifiedConns.clear();
    },
  };
}
