// Built-in integrity alarms of a peer, raised as alerts through the same durable outbox as the
// rules' alerts (node/alerts/peer-alerts.ts), to the destinations named under `alarms:` in the
// rules file:
//   fork               a quorum-signed checkpoint that disagrees with this peer's final log (same
//                      size and another root, or a tree that is not a prefix of ours):
//                      names the organizations that signed both (double signers)
//   divergence         such a checkpoint served by another validator peer as its latest final one
//                      (polled from every connected peer): names that peer
//   equivocation       stored equivocation evidence: names the validator, height, round, message type
//   validator_silent   a validator whose signature is missing from N consecutive final checkpoints
//   no_quorum          fewer than a quorum of validators reachable for longer than T
//   consensus_halted   this peer's consensus stopped for good (fail-stop)
//   lagging            this peer is L or more heights behind the highest peer for longer than T
//   disk_low           free space of the data directory's filesystem below a threshold
//   bad_signatures     N entries with a bad signature submitted for one client key within a window
//   clock_skew         N entries refused for clock skew within a window (this peer's clock, or clients')
//   scrub_mismatch     the background scrub (scrub.ts) found a stored leaf or tile that disagrees
//                      with the final checkpoint: names the first index
//   scrub_index_mismatch  the scrub's search-index check found a record the stored leaves do not
//                      imply, or one missing: names the leaf index and the check's code
//   outbox_full        the alert outbox refused a batch (alerts wait, none is lost): one per
//                      episode, delivered once deliveries made room for it
//
// Alarm ids are SHA-256 over "cairn/alarm/v1", the kind and what identifies the incident (the
// evidence, the conflicting root, the start of an episode), so raising one again (after a restart,
// or on every check while it lasts) is recognized by the outbox and delivered once.
import { createHash } from 'node:crypto';
import { statfsSync } from 'node:fs';
import type { Alert, Severity } from '../../src/alerts/types.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import type { Peer } from '../peer/peer.js';
import { checkpointSetOf } from '../peer/validator-sets.js';
import { compareCheckpoint, pollPeerCheckpoints, type Comparison } from './divergence.js';
import { Scrubber } from './scrub.js';

export type AlarmKind = 'fork' | 'equivocation' | 'validator_silent' | 'no_quorum' | 'consensus_halted' | 'lagging' | 'disk_low' | 'scrub_mismatch' | 'bad_signatures' | 'clock_skew' | 'outbox_full' | 'divergence' | 'scrub_index_mismatch';

export interface AlarmConfig {
  destinations: string[];
  /** validator_silent after this many consecutive final checkpoints without its signature. */
  silentCheckpoints: number;
  noQuorumMs: number;
  lagHeights: number;
  lagMs: number;
  diskFreeBytesMin: number;
  /** How often the polled conditions are checked. */
  checkMs: number;
  /** Background scrub rate (0: no scrub); a cycle over N entries takes N / this seconds. */
  scrubLeavesPerSecond: number;
  /** Pause between two scrub cycles. */
  scrubPauseMs: number;
  /** Search indexes re-verified after a clean scrub cycle at most this often (0: never). */
  scrubIndexesMs: number;
  /** bad_signatures: this many in `rejectionWindowMs` for one client key. */
  badSignaturesPerKey: number;
  /** clock_skew: this many rejections in `rejectionWindowMs`. */
  clockSkewRejections: number;
  rejectionWindowMs: number;
  /** How often each connected peer's latest final checkpoint is fetched and compared (0: never). */
  peerCheckpointMs: number;
}

export const DEFAULT_ALARM_CONFIG: Omit<AlarmConfig, 'destinations'> = {
  silentCheckpoints: 20,
  noQuorumMs: 60_000,
  lagHeights: 50,
  lagMs: 60_000,
  diskFreeBytesMin: 1024 * 1024 * 1024,
  checkMs: 5_000,
  scrubLeavesPerSecond: 5_000,
  scrubPauseMs: 60_000,
  scrubIndexesMs: 3_600_000,
  badSignaturesPerKey: 20,
  clockSkewRejections: 20,
  rejectionWindowMs: 300_000,
  peerCheckpointMs: 30_000,
};

const SEVERITY: Record<AlarmKind, Severity> = {
  fork: 'critical',
  equivocation: 'critical',
  consensus_halted: 'critical',
  no_quorum: 'high',
  validator_silent: 'medium',
  lagging: 'medium',
  disk_low: 'high',
  scrub_mismatch: 'critical',
  bad_signatures: 'high',
  clock_skew: 'medium',
  outbox_full: 'high',
  divergence: 'critical',
  scrub_index_mismatch: 'high',
};

/** Client keys whose recent rejections are tracked (least recently rejected forgotten first). */
export const TRACKED_KEYS_MAX = 10_000;

/** Alarm ids remembered to raise each incident once per process (oldest forgotten first). */
export const SEEN_ALARMS_MAX = 10_000;
/** Most alarms waiting for the outbox (it was full); older ones are kept, newer dropped and counted. */
export const PENDING_ALARMS_MAX = 1000;

export function alarmId(kind: AlarmKind, key: string): string {
  return createHash('sha256').update(`cairn/alarm/v1\0${kind}\0${key}`).digest('hex');
}

export class IntegrityMonitor {
  private readonly cfg: AlarmConfig;
  private readonly pending: Alert[] = [];
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly missed = new Map<string, number>();
  private noQuorumSince: number | null = null;
  private lagSince: number | null = null;
  private diskLow = false;
  private diskEpisode = 0;
  /** Start of the current outbox-full episode (null: none, or its alarm was handed over). */
  private outboxFullSince: number | null = null;
  private outboxFullId: string | null = null;
  private readonly peerAsked = new Map<string, number>();
  private stopped = false;
  private busy: Promise<void> = Promise.resolve();
  readonly scrubber: Scrubber | null;
  readonly stats = { raised: 0, dropped: 0, byKind: {} as Partial<Record<AlarmKind, number>> };

  constructor(
    private readonly peer: Peer,
    cfg: Partial<AlarmConfig> & { destinations: string[] },
    private readonly deliver: (alerts: Alert[]) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {
    this.cfg = { ...DEFAULT_ALARM_CONFIG, ...cfg };
    this.scrubber =
      this.cfg.scrubLeavesPerSecond > 0
        ? new Scrubber(peer, {
            leavesPerSecond: this.cfg.scrubLeavesPerSecond,
            pauseBetweenCyclesMs: this.cfg.scrubPauseMs,
            indexEveryMs: this.cfg.scrubIndexesMs,
            onMismatch: (m) => {
              if (m.what === 'index') {
                // Derived data: queries may answer wrongly, the log itself is intact (`cairn reindex` repairs).
                this.raise('scrub_index_mismatch', `${m.index}/${m.treeSize}/${m.message}`, `Scrub: ${m.message}`.slice(0, 500), { index: String(m.index), treeSize: String(m.treeSize), message: m.message.slice(0, 300) });
                void this.flush();
                return;
              }
              this.raise('scrub_mismatch', `${m.what}/${m.index}/${m.treeSize}`, `Scrub: ${m.message}`, { what: m.what, index: String(m.index), treeSize: String(m.treeSize) });
              void this.flush();
            },
          })
        : null;
  }

  private readonly onFinal = (f: { treeSize: number; note: Uint8Array }): void => this.checkSigners(f.note);

  start(): void {
    this.checkRejections();
    this.peer.events.on('final', this.onFinal);
    this.scrubber?.start();
    const tick = (): void => {
      if (this.stopped) return;
      this.busy = this.check().catch(() => undefined);
      void this.busy.then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.cfg.checkMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.peer.events.off('final', this.onFinal);
    clearTimeout(this.timer);
    await this.scrubber?.stop();
    await this.busy;
  }

  private raise(kind: AlarmKind, key: string, title: string, group: Record<string, string>): void {
    const id = alarmId(kind, key);
    // Conditions are re-checked every few seconds while they last: raise each incident once per
    // process (after a restart the outbox recognizes the id).
    if (this.seen.has(id)) return;
    if (this.seen.size >= SEEN_ALARMS_MAX) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(id);
    if (this.pending.length >= PENDING_ALARMS_MAX) {
      this.stats.dropped++;
      return;
    }
    this.pending.push({
      id,
      ruleId: `cairn.alarm.${kind}`,
      ruleVersion: 1,
      severity: SEVERITY[kind],
      title,
      labels: { category: 'log-integrity', alarm: kind, origin: this.peer.genesis.origin },
      destinations: this.cfg.destinations,
      time: new Date(this.now()).toISOString(),
      group,
      entries: [],
    });
    this.stats.raised++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
  }

  /** Hands the waiting alarms to the outbox (which ignores those it already has). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    try {
      await this.deliver(batch);
      // The outbox took the outbox_full alarm: there was room again, so that episode is over.
      if (this.outboxFullId !== null && batch.some((a) => a.id === this.outboxFullId)) {
        this.outboxFullSince = null;
        this.outboxFullId = null;
      }
    } catch {
      // Full outbox: keep them for the next check.
      this.pending.unshift(...batch.slice(0, PENDING_ALARMS_MAX));
    }
  }

  /** One pass over the polled conditions, then delivery. */
  async check(): Promise<void> {
    const s = this.peer.status();
    const t = this.now();
    // Validator indexes are positions in the set of the evidence's height (governance changes sets).
    const sets = this.peer.internals.ledger.validatorSets;
    const name = (h: number, i: number): string => sets.nameAt(h, i);
    for (const e of await this.peer.evidence(1000)) {
      this.raise('equivocation', `${e.height}/${e.round}/${e.type}/${e.validator}`, `Equivocation by ${name(e.height, e.validator)}: two different ${e.type}s at height ${e.height} round ${e.round}`, {
        validator: name(e.height, e.validator),
        height: String(e.height),
        round: String(e.round),
        type: e.type,
      });
    }
    if (s.halted !== null) {
      this.raise('consensus_halted', `${s.halted.atMs}/${s.halted.code}`, `Consensus halted on this peer: ${s.halted.code}: ${s.halted.message}`.slice(0, 500), { code: s.halted.code });
    }
    if (!s.quorum.ok) {
      this.noQuorumSince ??= t;
      if (t - this.noQuorumSince >= this.cfg.noQuorumMs) {
        this.raise('no_quorum', String(this.noQuorumSince), `No quorum for ${Math.round((t - this.noQuorumSince) / 1000)} s: ${s.quorum.reachable} of ${s.quorum.needed} validators reachable`, {
          since: new Date(this.noQuorumSince).toISOString(),
          reachable: String(s.quorum.reachable),
          needed: String(s.quorum.needed),
        });
      }
    } else this.noQuorumSince = null;
    const maxHeight = Math.max(s.height, ...s.peers.map((p) => p.height ?? 0));
    if (maxHeight - s.height >= this.cfg.lagHeights) {
      this.lagSince ??= t;
      if (t - this.lagSince >= this.cfg.lagMs) {
        this.raise('lagging', String(this.lagSince), `This peer is ${maxHeight - s.height} heights behind the highest peer`, { height: String(s.height), peerHeight: String(maxHeight) });
      }
    } else this.lagSince = null;
    this.checkRejections();
    let free: number | null = null;
    try {
      const fs = statfsSync(this.peer.internals.store.dir);
      free = fs.bavail * fs.bsize;
    } catch {
      free = null;
    }
    if (free !== null) {
      if (free < this.cfg.diskFreeBytesMin) {
        if (!this.diskLow) this.diskEpisode = t;
        this.diskLow = true;
        this.raise('disk_low', String(this.diskEpisode), `Disk space low: ${free} bytes free for the data directory (threshold ${this.cfg.diskFreeBytesMin})`, { freeBytes: String(free) });
      } else if (free > this.cfg.diskFreeBytesMin * 1.1) this.diskLow = false; // hysteresis: one alarm per episode
    }
    if (this.cfg.peerCheckpointMs > 0) {
      await pollPeerCheckpoints(this.peer, this.peerAsked, this.cfg.peerCheckpointMs, t, async (from, note) => {
        await this.compare(note, from);
      });
    }
    await this.flush();
  }

  /**
   * The outbox refused a batch for lack of room. The alarm cannot enter the outbox now; it waits
   * in `pending` and the periodic check hands it over once deliveries freed a slot. Refusals until
   * then (the evaluator retries every second) belong to the same episode: one alarm.
   */
  outboxFull(a: { queued: number; max: number; refused: number; queuedBytes: number; maxBytes: number }): void {
    if (this.outboxFullSince === null) this.outboxFullSince = this.now();
    const key = String(this.outboxFullSince);
    this.outboxFullId = alarmId('outbox_full', key);
    this.raise('outbox_full', key, `Alert outbox full: ${a.queued} of ${a.max} records (${a.queuedBytes} of ${a.maxBytes} bytes) waiting for delivery; new alerts are held back until deliveries make room`, {
      since: new Date(this.outboxFullSince).toISOString(),
      queued: String(a.queued),
      max: String(a.max),
      refused: String(a.refused),
    });
  }

  /** Rejections by key ('skew' or a client key) in the current window: times, at most the threshold. */
  private readonly rejections = new Map<string, number[]>();
  /** The mempool's refusal counters as last read (null: not read yet). */
  private lastRejected: { skew: number; byClient: Map<string, number> } | null = null;

  /** Adds `n` rejections now; the start of a window that reached `threshold`, or null. */
  private countRejections(key: string, n: number, threshold: number): number | null {
    const t = this.now();
    const times = (this.rejections.get(key) ?? []).filter((x) => t - x < this.cfg.rejectionWindowMs);
    // More than `threshold` at one instant raise the same alarm (same window start) once.
    for (let k = 0; k < Math.min(n, threshold); k++) times.push(t);
    this.rejections.delete(key); // re-inserted last: the map's order is least recently rejected first
    if (times.length >= threshold) {
      return times[0]!;
    }
    this.rejections.set(key, times);
    if (this.rejections.size > TRACKED_KEYS_MAX) this.rejections.delete(this.rejections.keys().next().value!);
    return null;
  }

  /**
   * Entries submitted to this peer and refused, from the mempool's cumulative counters (the
   * increase since the last check): bad signatures per client key, clock-skew refusals together.
   * The first read is the baseline: refusals before monitoring started do not count.
   */
  private checkRejections(): void {
    const r = this.peer.internals.mempool.rejected;
    const skew = r.byCode.get('clock_skew') ?? 0;
    const last = this.lastRejected;
    this.lastRejected = { skew, byClient: new Map(r.badSignatureByClient) };
    if (last === null) return;
    for (const [client, n] of r.badSignatureByClient) {
      const added = n - (last.byClient.get(client) ?? 0);
      if (added <= 0) continue;
      const since = this.countRejections(`sig:${client}`, added, this.cfg.badSignaturesPerKey);
      if (since === null) continue;
      const name = this.peer.genesis.clients.get(client)?.name ?? 'unknown client';
      this.raise('bad_signatures', `${client}/${since}`, `${this.cfg.badSignaturesPerKey} entries with a bad signature for client key ${client.slice(0, 16)}… (${name}) within ${Math.round(this.cfg.rejectionWindowMs / 1000)} s`, {
        client,
        clientName: name,
        since: new Date(since).toISOString(),
      });
    }
    if (skew > last.skew) {
      const since = this.countRejections('skew', skew - last.skew, this.cfg.clockSkewRejections);
      if (since !== null) {
        this.raise('clock_skew', String(since), `${this.cfg.clockSkewRejections} entries refused for clock skew within ${Math.round(this.cfg.rejectionWindowMs / 1000)} s: check this peer's clock and its clients'`, {
          since: new Date(since).toISOString(),
        });
      }
    }
  }

  /** Counts, for each validator, the consecutive final checkpoints that lack its signature. */
  private checkSigners(note: Uint8Array): void {
    const cp = checkpointSetOf(note, this.peer.internals.ledger);
    if (!cp.ok) return;
    const { size } = cp;
    const signed = new Set(cp.signers);
    // The set that signs this size: an organization removed by governance is no longer expected.
    const expected = cp.trust.keys;
    const names = new Set(expected.map((k) => k.name));
    for (const n of [...this.missed.keys()]) if (!names.has(n)) this.missed.delete(n);
    for (const v of expected) {
      if (signed.has(v.name)) {
        this.missed.delete(v.name);
        continue;
      }
      const n = (this.missed.get(v.name) ?? 0) + 1;
      this.missed.set(v.name, n);
      if (n === this.cfg.silentCheckpoints) {
        this.raise('validator_silent', `${v.name}/${size}`, `Validator ${v.name} signed none of the last ${n} final checkpoints (up to tree size ${size})`, { validator: v.name, treeSize: String(size), checkpoints: String(n) });
        void this.flush();
      }
    }
  }

  /**
   * A checkpoint seen elsewhere (an auditor, POST /v1/checkpoints/observe): when it carries a
   * quorum of valid validator signatures and disagrees with this peer's final log (same size and
   * another root, or not a prefix of it), that is a fork; the organizations that signed both are
   * the double signers. Returns what it found (the fork alarm is queued and delivered).
   */
  async observeCheckpoint(note: string | Uint8Array): Promise<{ status: 'fork'; doubleSigners: string[] } | { status: 'consistent' | 'unknown_size' } | { status: 'invalid'; reason: string }> {
    return this.compare(note, null);
  }

  /** Compares; on a conflict raises fork, and divergence naming `from` when a peer served it. */
  private async compare(note: string | Uint8Array, from: { name: string; peerId: string } | null): Promise<{ status: 'fork'; doubleSigners: string[] } | Exclude<Comparison, { status: 'conflict' }>> {
    const r = await compareCheckpoint(this.peer, note);
    if (r.status !== 'conflict') return r;
    const { size, doubleSigners } = r;
    const what = r.how === 'root' ? 'two quorum-signed checkpoints with different roots' : `a quorum-signed checkpoint whose tree is not a prefix of our final tree of size ${r.ourSize}`;
    const group = {
      treeSize: String(size),
      ourSize: String(r.ourSize),
      ourRoot: toHex(r.ourRoot),
      theirRoot: toHex(r.theirRoot),
      doubleSigners: doubleSigners.join(','),
      theirNote: typeof note === 'string' ? note : fromUtf8(note),
    };
    this.raise('fork', `${size}/${toHex(r.theirRoot)}`, `Fork at tree size ${size}: ${what}; signed both: ${doubleSigners.join(', ') || 'nobody'}`, group);
    if (from !== null) {
      this.raise('divergence', `${from.peerId}/${size}/${toHex(r.theirRoot)}`, `Peer ${from.name} diverges from this peer's log at tree size ${size}: its latest final checkpoint is ${what}`, {
        peer: from.name,
        peerId: from.peerId,
        ...group,
      });
    }
    await this.flush();
    return { status: 'fork', doubleSigners };
  }
}
