// The admitted peers of the peer network and how we reach them: the redial loop, the changes of
// the validator set (setMembers), the addresses we learn, and dials to a given address.
import { KEEP_ALIVE } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { NetError, describeError } from './errors.js';
import type { PeerNetwork } from './host-types.js';
import { admittedPeer, assertRunning, freshDialState, toError, type DialState, type HostState } from './host-state.js';
import { MAX_ADDRS_PER_PEER, parseAddr, parsePeerList } from './peer-list.js';

export interface Peers extends Pick<PeerNetwork, 'setMembers' | 'members' | 'addPeerAddresses' | 'dial'> {
  /** Starts the redial loop (once the node is started). */
  startRedial(): void;
  stopRedial(): void;
}

/** `untagged`: the peers whose KEEP_ALIVE tag the connection tracker removed. */
export function setUpPeers(s: HostState, untagged: Set<string>): Peers {
  // ---- redial loop --------------------------------------------------------------------------
  // libp2p's reconnect queue only redials peers that *were* connected; this loop also reaches
  // peers that were down when we started, and spaces out retries after a genesis mismatch.
  const dialOnce = (peer: string, st: DialState): void => {
    const g = s.genesis.get(peer)!;
    st.dialing = true;
    s.node
      .dial(g.id, { signal: AbortSignal.timeout(s.limits.dialTimeoutMs) })
      .then(
        () => {},
        (err: unknown) => {
          const now = performance.now();
          st.nextAtMs = Math.max(st.nextAtMs, now + st.backoffMs);
          st.backoffMs = Math.min(st.backoffMs * 2, s.limits.redialMaxBackoffMs);
          s.log.debug({ peer, err: describeError(err), retryInMs: Math.round(st.nextAtMs - now) }, 'dial to genesis peer failed');
        },
      )
      .finally(() => {
        st.dialing = false;
      });
  };
  const tick = (): void => {
    if (s.stopped) return;
    const now = performance.now();
    for (const [peer, st] of s.dialState) {
      if (st.dialing || now < st.nextAtMs) continue;
      if (s.node.getConnections(s.genesis.get(peer)!.id).some((c) => c.status === 'open')) continue;
      dialOnce(peer, st);
    }
  };
  let redialTimer: ReturnType<typeof setInterval> | undefined;

  return {
    startRedial() {
      redialTimer = setInterval(tick, Math.max(10, Math.floor(s.limits.redialIntervalMs / 2)));
      tick();
    },

    stopRedial() {
      clearInterval(redialTimer);
    },

    async setMembers(peers) {
      assertRunning(s);
      const listed = parsePeerList(peers, s.selfStr, s.limits.maxGenesisPeers, 'setMembers peers', 'INVALID_ARGUMENT');
      const change = s.gate.set([...listed].map(([peerId, p]) => ({ peerId, name: p.name, role: p.role })));
      for (const r of change.removed) {
        const g = s.genesis.get(r.peerId);
        s.genesis.delete(r.peerId);
        s.dialState.delete(r.peerId);
        untagged.delete(r.peerId);
        s.stats.membersRemoved++;
        if (g === undefined) continue;
        const open = s.node.getConnections(g.id);
        s.log.warn({ peer: r.peerId, org: r.name, connectionsClosed: open.length }, 'peer removed from the validator set: connections closed, refused from now on');
        await s.node.peerStore.merge(g.id, { tags: { [KEEP_ALIVE]: undefined } }).catch(() => undefined);
        for (const c of open) await c.close().catch((err: unknown) => c.abort(toError(err)));
      }
      for (const a of change.added) {
        const p = listed.get(a.peerId)!;
        s.genesis.set(a.peerId, { id: p.id, addrs: p.addrs });
        s.dialState.set(a.peerId, freshDialState(s.limits));
        s.stats.membersAdded++;
        await s.node.peerStore.merge(p.id, { multiaddrs: p.addrs, tags: { [KEEP_ALIVE]: { value: 1 } } });
        s.log.info({ peer: a.peerId, org: a.name, role: a.role, addrs: p.addrs.map(String) }, 'peer admitted to the validator set');
      }
      // Peers kept: new addresses (e.g. given in the config after it was first admitted).
      for (const [peerId, p] of listed) {
        const g = s.genesis.get(peerId);
        if (g === undefined || change.added.some((a) => a.peerId === peerId) || p.addrs.length === 0) continue;
        const known = new Set(g.addrs.map(String));
        const fresh = p.addrs.filter((a) => !known.has(a.toString()));
        if (fresh.length === 0) continue;
        g.addrs.splice(0, g.addrs.length, ...[...g.addrs, ...fresh].slice(-MAX_ADDRS_PER_PEER));
        await s.node.peerStore.merge(p.id, { multiaddrs: fresh });
      }
      if (change.added.length > 0) tick();
      return { added: change.added.map((a) => a.peerId), removed: change.removed.map((r) => r.peerId) };
    },

    members: () => s.gate.peers().map((p) => ({ peerId: p.peerId, name: p.name, role: p.role })),

    async addPeerAddresses(peerId, addrs) {
      assertRunning(s);
      const g = admittedPeer(s, peerId);
      if (!Array.isArray(addrs) || addrs.length > MAX_ADDRS_PER_PEER) {
        throw new NetError('INVALID_ARGUMENT', `addrs must be an array of at most MAX_ADDRS_PER_PEER=${MAX_ADDRS_PER_PEER} strings`);
      }
      let parsed: Multiaddr[];
      try {
        parsed = addrs.map((a) => parseAddr(peerId, a, 'addPeerAddresses'));
      } catch (err) {
        throw new NetError('INVALID_ARGUMENT', (err as Error).message);
      }
      // Keep the newest MAX_ADDRS_PER_PEER distinct addresses.
      const all = [...g.addrs, ...parsed].map((a) => a.toString());
      const distinct = [...new Set(all.reverse())].slice(0, MAX_ADDRS_PER_PEER).reverse();
      g.addrs.splice(0, g.addrs.length, ...distinct.map((a) => multiaddr(a)));
      await s.node.peerStore.merge(g.id, { multiaddrs: parsed });
      const st = s.dialState.get(peerId);
      if (st !== undefined && st.nextAtMs < performance.now() + s.limits.mismatchRetryMs / 2) {
        st.nextAtMs = 0; // try the new address now, unless we are waiting out a mismatch
        st.backoffMs = s.limits.redialIntervalMs;
      }
    },

    async dial(addr) {
      assertRunning(s);
      let ma: Multiaddr;
      try {
        ma = multiaddr(addr);
      } catch (err) {
        throw new NetError('INVALID_ARGUMENT', `invalid multiaddr ${JSON.stringify(addr)}: ${describeError(err)}`);
      }
      try {
        const conn = await s.node.dial(ma, { signal: AbortSignal.timeout(s.limits.dialTimeoutMs) });
        return conn.remotePeer.toString();
      } catch (err) {
        if (err instanceof Error && /Denied/i.test(err.name)) {
          throw new NetError('NOT_GENESIS_PEER', `dial to ${addr} refused by our gater: not a genesis peer`, { cause: err });
        }
        throw new NetError('DIAL_FAILED', `dial to ${addr} failed: ${describeError(err)}`, { cause: err });
      }
    },
  };
}
