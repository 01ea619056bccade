// Prometheus metrics of one peer (docs/api.md, "GET /metrics"). Each peer gets its own Registry —
// never prom-client's global one — because tests (and embedders) run several peers in one process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { toHex } from '../../src/encoding/bytes.js';
import { decodeCertificate } from '../../src/consensus/codec.js';
import type { Peer, PeerStatus } from '../peer/peer.js';
import type { AppliedInfo } from '../peer/ledger.js';
import type { SubmitResult } from '../peer/mempool.js';
import { registerMonitorMetrics } from '../monitor/metrics.js';
import { perPeerSeries, statusGauge } from './status-gauge.js';

/** Accepted entries whose finality latency is still being tracked (oldest forgotten first). */
export const LATENCY_TRACKED_ENTRIES_MAX = 200_000;
/** Applied-but-not-final blocks remembered for the latency histogram. */
export const LATENCY_TRACKED_BLOCKS_MAX = 10_000;
/** A scrape reads the peer status once; gauges collected within this window share it. */
const STATUS_CACHE_MS = 200;

export interface PeerMetrics {
  readonly registry: Registry;
  /** Counts submission results (by status or error code) and starts finality-latency clocks. */
  observeSubmit(results: SubmitResult[]): void;
  observeHttp(route: string, status: number): void;
  setInFlight(n: number): void;
  setWaiters(n: number): void;
  close(): void;
}

export function createPeerMetrics(peer: Peer, now: () => number = Date.now): PeerMetrics {
  const registry = new Registry();
  const registers = [registry];
  let cached: { at: number; status: PeerStatus } | null = null;
  const status = (): PeerStatus => {
    const t = now();
    if (cached === null || t - cached.at > STATUS_CACHE_MS) cached = { at: t, status: peer.status() };
    return cached.status;
  };
  const gauge = statusGauge(registry, status);

  const accepted = new Counter({ name: 'cairn_entries_accepted_total', help: 'Entries submitted through this API and answered accepted or known', labelNames: ['result'], registers });
  const rejected = new Counter({ name: 'cairn_entries_rejected_total', help: 'Entries submitted through this API and rejected, by error code', labelNames: ['code'], registers });
  const blocks = new Counter({ name: 'cairn_blocks_total', help: 'Blocks applied since the peer started', registers });
  const blockEntries = new Histogram({ name: 'cairn_block_entries', help: 'Entries per applied block', buckets: [0, 1, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers });
  const rounds = new Histogram({ name: 'cairn_block_rounds', help: 'Consensus rounds needed to decide each height (1 = decided in round 0)', buckets: [1, 2, 3, 4, 6, 10], registers });
  const latency = new Histogram({
    name: 'cairn_finality_latency_seconds',
    help: 'Time from acceptance by this API to the final checkpoint covering the entry',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  });
  gauge('cairn_height', 'Height of the last applied block', (s) => s.height);
  gauge('cairn_tree_size', 'Entries in the log (decided blocks)', (s) => s.treeSize);
  gauge('cairn_final_tree_size', 'Tree size of the latest final (quorum-signed) checkpoint', (s) => s.finalSize);
  gauge('cairn_mempool_entries', 'Entries waiting in the mempool', (s) => s.mempool.entries);
  gauge('cairn_mempool_bytes', 'Bytes of entries waiting in the mempool', (s) => s.mempool.bytes);
  gauge('cairn_peers_connected', 'Connected genesis peers', (s) => s.peers.filter((p) => p.connected).length);
  // Fail-stop: one series, reason="none" 0 while consensus runs, reason=<halt code> 1 once it
  // stopped for good (alert on max(cairn_consensus_halted) > 0).
  new Gauge({
    name: 'cairn_consensus_halted',
    help: 'Whether consensus stopped for good on this peer (1, labelled with the halt code) or runs (0)',
    labelNames: ['reason'],
    registers,
    collect() {
      const h = status().halted;
      this.reset();
      this.set({ reason: h === null ? 'none' : h.code }, h === null ? 0 : 1);
    },
  });
  new Counter({
    name: 'cairn_gossip_publish_failures_total',
    help: 'Gossip publishes that failed, by kind (consensus and checkpointSig failures are also logged at warn)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(status().publishFailures)) this.inc({ kind }, n);
    },
  });
  // Bytes on the wire (TCP payload of libp2p connections: Noise, Yamux and gossipsub included),
  // per remote peer; the cost bench divides them by the entries finalized.
  const wireCounter = perPeerSeries(registry, 'counter', () => peer.internals.net.wireBytes().perPeer, (r) => r.peer);
  wireCounter('cairn_net_bytes_sent_total', 'Bytes written to libp2p connections, by remote peer id', (r) => r.sent);
  wireCounter('cairn_net_bytes_received_total', 'Bytes read from libp2p connections, by remote peer id', (r) => r.received);
  new Counter({
    name: 'cairn_net_socket_writes_total',
    help: 'socket.write calls on libp2p connections (each one send syscall unless writes are coalesced)',
    registers,
    collect() {
      this.reset();
      this.inc(peer.internals.net.wireBytes().writes);
    },
  });
  // Quorum, lag, disk and the alert evaluator/outbox (the names docs/deploy/prometheus and docs/deploy/grafana use).
  registerMonitorMetrics(registry, peer, status);
  const http = new Counter({ name: 'cairn_http_requests_total', help: 'HTTP requests answered', labelNames: ['route', 'status'], registers });
  const inFlight = new Gauge({ name: 'cairn_http_in_flight', help: 'HTTP requests being served', registers });
  const waiters = new Gauge({ name: 'cairn_http_waiters', help: 'Long-polls waiting for finality', registers });

  // Finality latency: accepted leaf hash -> acceptance time; on 'block' the tracked hashes of the
  // block move to that block's tree size; on 'final' every block at or below the final size is done.
  const acceptedAt = new Map<string, number>();
  const pendingBlocks: { treeSize: number; times: number[] }[] = [];
  const onBlock = (info: AppliedInfo) => {
    blocks.inc();
    blockEntries.observe(info.count);
    const times: number[] = [];
    if (acceptedAt.size > 0) {
      for (const h of info.leafHashes) {
        const hex = toHex(h);
        const t = acceptedAt.get(hex);
        if (t !== undefined) {
          acceptedAt.delete(hex);
          times.push(t);
        }
      }
    }
    if (times.length > 0) {
      pendingBlocks.push({ treeSize: info.treeSize, times });
      if (pendingBlocks.length > LATENCY_TRACKED_BLOCKS_MAX) pendingBlocks.shift();
    }
    // The certificate names the round the height was decided in (Tendermint: decision in round r).
    const d = decodeCertificate(info.certificate);
    if (d.ok) rounds.observe(d.certificate.round + 1);
  };
  const onFinal = (f: { treeSize: number }) => {
    const t = now();
    while (pendingBlocks.length > 0 && pendingBlocks[0]!.treeSize <= f.treeSize) {
      for (const a of pendingBlocks.shift()!.times) latency.observe((t - a) / 1000);
    }
  };
  peer.events.on('block', onBlock);
  peer.events.on('final', onFinal);

  return {
    registry,
    observeSubmit(results) {
      const t = now();
      for (const r of results) {
        if ('error' in r) {
          rejected.inc({ code: r.error.code });
          continue;
        }
        accepted.inc({ result: r.status === 'accepted' ? 'accepted' : 'known' });
        if (r.status === 'accepted') {
          if (acceptedAt.size >= LATENCY_TRACKED_ENTRIES_MAX) {
            const oldest = acceptedAt.keys().next().value;
            if (oldest !== undefined) acceptedAt.delete(oldest);
          }
          acceptedAt.set(r.leafHash, t);
        }
      }
    },
    observeHttp(route, code) {
      http.inc({ route, status: String(code) });
    },
    setInFlight(n) {
      inFlight.set(n);
    },
    setWaiters(n) {
      waiters.set(n);
    },
    close() {
      peer.events.off('block', onBlock);
      peer.events.off('final', onFinal);
      acceptedAt.clear();
      pendingBlocks.length = 0;
    },
  };
}
