// A simulated CORRECT peer that runs the real consensus runner (node/peer/consensus-runner.ts),
// so admission, WAL use, resume order, verdict caching and fail-stop are simulated too, not a
// re-implementation of them. The runner's ports are simulated here:
//   - store: an in-memory "disk" (signer state, per-height WAL, evidence) that survives crashes
//     (nothing else does); a crash point after a durable write makes that write's promise never
//     resolve, so the crashed incarnation runs no further effect;
//   - ledger: decided values (with round, commit certificate and the proposal when known) over
//     the simulator's values (values.ts); a decision is reported to the invariant checker;
//   - clock: the simulated clock of this node (env.timer, scaled by its clock rate);
//   - publish: the simulated network, to every other node (a crash point may tear a broadcast).
// Anti-entropy (status / decision catch-up) stays simulator code: it stands in for the real
// peer's sync and re-send machinery (see peer.ts for the protocol).
import { ConsensusRunner, encodeEnvelope, openEnvelope, type RunnerStatus } from '../../node/peer/consensus-runner.js';
import { decodeSignerState } from '../../node/peer/codec.js';
import { decodeCertificate, decodeMessage, encodeCertificate, encodeMessage } from '../../src/consensus/codec.js';
import type { ConsensusMessage, Proposal, Timeouts } from '../../src/consensus/types.js';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import { isValidValue, makeValue } from './values.js';
import { UNEXPECTED_REJECTIONS, describe, type Behaviour, type LedgerEntry, type Payload, type PeerEnv, type PeerOptions, type PeerStats, type PeerTimer } from './peer.js';

/** Messages kept per height for anti-entropy answers. */
const STORE_MESSAGES_PER_HEIGHT_MAX = 20_000;
/**
 * Each validator's WAL share of a height in the simulation (records, bytes). A correct peer's WAL
 * of one height must never exceed n times this: more means junk got past the runner's admission.
 */
export const SIM_WAL_RECORDS_PER_VALIDATOR = 2_000;
export const SIM_WAL_BYTES_PER_VALIDATOR = 1024 * 1024;
/** Microtask turns one input may take before the simulation calls it a hang. */
export const SETTLE_TURNS_MAX = 1_000_000;

export interface RunnerDisk {
  signerState: Uint8Array | undefined;
  wal: Map<number, Uint8Array[]>;
  evidence: Uint8Array[];
  ledger: Map<number, LedgerEntry>;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

function msgKey(m: ConsensusMessage, valueId: (v: Uint8Array) => Uint8Array): string {
  const t = m.type === 'proposal' ? 'P' : m.type === 'prevote' ? 'V' : 'C';
  const id = m.type === 'proposal' ? toHex(valueId(m.value).subarray(0, 6)) : m.valueId === null ? 'nil' : toHex(m.valueId.subarray(0, 6));
  return `${t}${m.round}:${m.validator}:${id}`;
}

/**
 * Membership scenario: the height from which a simulated params.set changes the timeouts. It
 * rotates the three step timeouts (propose takes precommit's, ...): each step's timeout changes,
 * while their smallest value and their sum, which the liveness bound and the virtual deadline
 * are derived from (run.ts), stay the same.
 */
const PARAMS_FROM = 3;
const rotated = (t: Timeouts): Timeouts => ({ proposeMs: t.precommitMs, prevoteMs: t.proposeMs, precommitMs: t.prevoteMs, deltaMs: t.deltaMs });

export class RunnerSimPeer {
  readonly node: number;
  readonly validator: number;
  readonly behaviour: Behaviour = 'correct';
  readonly disk: RunnerDisk = { signerState: undefined, wal: new Map(), evidence: [], ledger: new Map() };
  readonly stats: PeerStats = { proposalsSent: 0, votesSent: 0, rejected: new Map(), evidence: 0, walOverflow: 0, decodeErrors: 0, synced: 0 };
  incarnation = 0;
  up = false;
  crashes = 0;
  private runner: ConsensusRunner | null = null;
  private starting = false;
  /** Catch-up steps still on their way into the runner's queue. */
  private pendingSync = 0;
  private readonly callbacks = new Map<number, () => void>();
  private nextTimerId = 0;
  private store = new Map<number, Map<string, ConsensusMessage>>();
  private lastProgress = '';
  private ledgerTop: number | null = null;
  private verdicts = new Map<string, boolean>();
  /** Most WAL records this peer ever held for one height. */
  walRecordsMax = 0;

  constructor(
    private readonly opts: PeerOptions,
    private readonly env: PeerEnv,
  ) {
    this.node = opts.node;
    this.validator = opts.validator;
  }

  get isCorrect(): boolean {
    return true;
  }

  /** The runner has queued work (the simulation drains it before the next event). */
  get busy(): boolean {
    return this.up && (this.starting || this.pendingSync > 0 || (this.runner !== null && this.runner.status().queueDepth > 0));
  }

  private get status(): RunnerStatus | null {
    return this.runner?.status() ?? null;
  }

  get height(): number {
    return this.status?.height ?? 0;
  }

  get round(): number {
    return this.status?.round ?? 0;
  }

  get decidedTop(): number {
    let top = this.ledgerTop ?? this.opts.firstHeight - 1;
    while (this.disk.ledger.has(top + 1)) top++;
    this.ledgerTop = top;
    return top;
  }

  boot(): void {
    this.up = true;
    this.startRunner();
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.crashes++;
    this.incarnation++;
    this.runner = null;
    this.starting = false;
    this.pendingSync = 0;
    this.callbacks.clear();
    this.store = new Map();
    this.verdicts = new Map();
    if (this.env.tracing) this.env.trace(`n${this.node} CRASH`);
  }

  restart(): void {
    if (this.up) return;
    this.up = true;
    this.incarnation++;
    if (this.env.tracing) this.env.trace(`n${this.node} RESTART at h=${this.decidedTop + 1} wal=${[...this.disk.wal.values()].reduce((s, w) => s + w.length, 0)}`);
    // The anti-entropy store is rebuilt from the WAL, like the runner's own state: what we sent
    // or used before the crash is what we can offer others.
    for (const [h, records] of this.disk.wal) {
      if (h <= this.decidedTop) continue;
      for (const r of records) {
        const d = decodeMessage(r);
        if (d.ok) this.remember(d.message);
      }
    }
    this.startRunner();
  }

  private startRunner(): void {
    const inc = this.incarnation;
    const live = () => this.up && this.incarnation === inc;
    const cfg = this.opts.config;
    const crashAfter = (effect: Parameters<PeerEnv['crashPoint']>[1]): number => (live() ? this.env.crashPoint(this as never, effect) : -1);
    const persist = (s: Uint8Array): Promise<void> => {
      this.disk.signerState = s.slice();
      const d = decodeSignerState(s);
      if (d.ok && crashAfter({ kind: 'persist', state: d.state }) >= 0) {
        this.crash();
        return never();
      }
      return Promise.resolve();
    };
    const appendWal = (height: number, records: Uint8Array[]): void => {
      let w = this.disk.wal.get(height);
      if (w === undefined) this.disk.wal.set(height, (w = []));
      for (const r of records) w.push(r.slice());
      this.walRecordsMax = Math.max(this.walRecordsMax, w.length);
      // (a joining validator makes one more share)
      if (w.length > (cfg.validators.length + (this.opts.setAt !== undefined ? 1 : 0)) * SIM_WAL_RECORDS_PER_VALIDATOR) {
        this.env.report({ kind: 'limit', atMs: this.env.now(), node: this.node, detail: `WAL of height ${height} holds ${w.length} records, more than n x ${SIM_WAL_RECORDS_PER_VALIDATOR}` });
      }
    };
    const runner = new ConsensusRunner({
      genesis: {
        origin: cfg.chainId,
        validators: cfg.validators,
        limits: { maxBlockBytes: 64 * 1024, blockIntervalMs: this.opts.idleMs ?? 0, timeouts: cfg.timeouts },
      },
      store: {
        // One atomic write: the records and the state survive a crash together or not at all.
        putSignerStateWithWal: (s, height, records) => {
          if (!live()) return never();
          appendWal(height, records);
          return persist(s);
        },
        getSignerState: () => Promise.resolve(this.disk.signerState?.slice()),
        walAppend: (height, records) => {
          if (!live()) return never();
          appendWal(height, records);
          return Promise.resolve();
        },
        walRead: (height) => Promise.resolve((this.disk.wal.get(height) ?? []).map((r) => r.slice())),
        walPrune: (below) => {
          if (!live()) return never();
          for (const h of [...this.disk.wal.keys()]) if (h < below) this.disk.wal.delete(h);
          return Promise.resolve();
        },
        putEvidence: (e) => {
          if (!live()) return never();
          this.stats.evidence++;
          if (!this.disk.evidence.some((x) => bytesEqual(x, e))) this.disk.evidence.push(e);
          return Promise.resolve();
        },
      },
      ledger: {
        getHead: () => ({ height: this.decidedTop }),
        buildBlock: (h) => {
          // Like the real ledger: our own block is valid by construction (its verdict is cached).
          const v = makeValue(this.opts.prng, h, this.node, true);
          this.verdicts.set(toHex(this.opts.valueId(v)), isValidValue(h, v));
          return v;
        },
        prevalidate: (v) => {
          const ok = isValidValue(this.decidedTop + 1, v);
          this.verdicts.set(toHex(this.opts.valueId(v)), ok);
          return Promise.resolve(ok ? { ok: true as const } : { ok: false as const, code: 'invalid', message: 'invalid value' });
        },
        verdict: (idHex) => this.verdicts.get(idHex),
        apply: (value, certBytes, o) => (live() ? Promise.resolve(this.apply(value, certBytes, o.mode === 'sync')) : never()),
        signHead: () => Promise.resolve(),
        // Membership scenario: a parameter change in force from height PARAMS_FROM, as a
        // params.set decided two heights before would be: the runner times each height's rounds
        // with that height's timeouts (node/peer/height-params.ts).
        ...(this.opts.setAt !== undefined ? { paramsAt: (h: number) => ({ blockIntervalMs: this.opts.idleMs ?? 0, timeouts: h >= PARAMS_FROM ? rotated(cfg.timeouts) : cfg.timeouts }) } : {}),
      },
      mempool: { size: 1, onAdded: () => () => undefined },
      selfIndex: cfg.selfIndex,
      signer: cfg.selfIndex === null ? null : this.opts.signer,
      // Membership scenario: the set of each height as this node knows it at its decided head.
      ...(this.opts.setAt !== undefined ? { sets: { at: (h: number) => this.opts.setAt!(h, this.decidedTop) } } : {}),
      publish: (bytes) => {
        if (live()) this.publish(bytes);
      },
      onBehind: () => undefined,
      log: (level, msg, fields) => {
        if (!live()) return;
        if (msg === 'consensus input rejected') {
          const code = String(fields?.code);
          this.stats.rejected.set(code, (this.stats.rejected.get(code) ?? 0) + 1);
          if (UNEXPECTED_REJECTIONS.has(code)) {
            this.env.report({ kind: 'unexpected-rejection', atMs: this.env.now(), node: this.node, detail: `driver rejected an input: ${code}: ${String(fields?.reason)}` });
          }
        } else if (level === 'error' && msg !== 'consensus halted') {
          this.env.report({ kind: 'exception', atMs: this.env.now(), node: this.node, detail: `runner: ${msg}: ${JSON.stringify(fields)}` });
        }
      },
      onHalt: (code, message) => {
        // A correct peer never halts in the simulation: every halt reason is a bug or a broken disk.
        if (live()) this.env.report({ kind: 'exception', atMs: this.env.now(), node: this.node, detail: `consensus halted: ${code}: ${message}` });
      },
      clock: {
        now: () => this.env.now(),
        setTimeout: (f, ms) => {
          const id = this.nextTimerId++;
          this.callbacks.set(id, f);
          if (live()) this.env.timer(this.node, inc, ms, { kind: 'callback', id });
          return id;
        },
        clearTimeout: (id) => {
          this.callbacks.delete(id as number);
        },
      },
      crypto: { verifier: cfg.verifier, valueId: this.opts.valueId },
      walQuota: { recordsPerValidator: SIM_WAL_RECORDS_PER_VALIDATOR, bytesPerValidator: SIM_WAL_BYTES_PER_VALIDATOR },
      driverOverrides: {
        ...(cfg.maxRoundsKept !== undefined ? { maxRoundsKept: cfg.maxRoundsKept } : {}),
        ...(cfg.maxPastRoundsKept !== undefined ? { maxPastRoundsKept: cfg.maxPastRoundsKept } : {}),
        ...(cfg.bugs !== undefined ? { bugs: cfg.bugs } : {}),
      },
    });
    this.runner = runner;
    this.starting = true;
    this.scheduleGossip();
    runner.start().then(
      () => {
        if (live()) this.starting = false;
      },
      (e: Error) => {
        if (!live()) return;
        this.starting = false;
        this.env.report({ kind: 'exception', atMs: this.env.now(), node: this.node, detail: `runner.start failed: ${e.stack ?? e.message}` });
      },
    );
  }

  private apply(value: Uint8Array, certBytes: Uint8Array, synced: boolean): { count: number } {
    const c = decodeCertificate(certBytes);
    if (!c.ok) throw new Error(`certificate does not decode: ${c.code}`);
    const cert = c.certificate;
    const height = this.decidedTop + 1;
    if (cert.height !== height) throw new Error(`certificate for height ${cert.height}, expected ${height}`);
    const valueId = this.opts.valueId(value);
    const proposal = this.findProposal(height, cert.round, valueId);
    this.disk.ledger.set(height, { round: cert.round, value, valueId, certificate: cert, proposal });
    this.verdicts = new Map();
    if (synced) this.stats.synced++;
    this.env.onDecide(this.node, { height, round: cert.round, value, valueId, certificate: cert }, synced);
    return { count: 0 };
  }

  private publish(envelope: Uint8Array): void {
    const inner = openEnvelope(envelope);
    const d = inner === null ? null : decodeMessage(inner);
    if (inner === null || d === null || !d.ok) {
      this.env.report({ kind: 'codec', atMs: this.env.now(), node: this.node, detail: 'runner published an undecodable message' });
      return;
    }
    const m = d.message;
    if (m.type === 'proposal') this.stats.proposalsSent++;
    else this.stats.votesSent++;
    this.remember(m);
    if (this.env.tracing) this.env.trace(`n${this.node}(v${this.validator}) send ${describe(m)}`);
    this.env.onSigned(this.node, m);
    const to = this.recipients();
    const k = this.env.crashPoint(this as never, { kind: 'broadcast', message: m });
    const limit = k >= 0 ? Math.min(k, to.length) : to.length;
    const payload: Payload = { kind: 'consensus', type: m.type, bytes: inner.slice() };
    for (let i = 0; i < limit; i++) this.env.send(this.node, to[i]!, payload);
    if (k >= 0) this.crash();
  }

  // ---- inputs ---------------------------------------------------------------------------------

  onTimer(t: PeerTimer): void {
    if (!this.up || this.runner === null) return;
    if (t.kind === 'callback') {
      const f = this.callbacks.get(t.id);
      this.callbacks.delete(t.id);
      f?.();
    } else if (t.kind === 'gossip') {
      this.gossip();
      this.scheduleGossip();
    }
  }

  onDeliver(from: number, p: Payload): void {
    if (!this.up || this.runner === null) return;
    if (p.kind === 'status') return this.onStatus(from, p.height, p.have);
    if (p.kind === 'decision') return this.onDecision(p);
    this.gossipIn(p.bytes);
  }

  /** A consensus message through the topic validator and handler, like gossipsub delivers it. */
  private gossipIn(bytes: Uint8Array): void {
    const runner = this.runner!;
    const env = encodeEnvelope(bytes, Math.floor(this.env.now()));
    const v = runner.validateGossip(env);
    if (this.env.tracing) {
      const d = decodeMessage(bytes);
      if (d.ok) this.env.trace(`n${this.node}(v${this.validator}) recv ${describe(d.message)} ${v}`);
    }
    const d = decodeMessage(bytes);
    // Held for anti-entropy when accepted, or when the runner has it already (e.g. replayed from
    // its WAL after a restart). A refused one is not "had": anti-entropy may offer it again once
    // the runner would take it (e.g. a conflicting vote whose value gained f+1 supporters).
    if (d.ok && (v === 'accept' || runner.hasMessage(d.message))) this.remember(d.message);
    if (v !== 'accept') {
      this.stats.rejected.set(`gossip-${v}`, (this.stats.rejected.get(`gossip-${v}`) ?? 0) + 1);
      return;
    }
    runner.onGossip(env);
  }

  // ---- anti-entropy (see peer.ts) ---------------------------------------------------------------

  private remember(m: ConsensusMessage): void {
    const top = this.decidedTop;
    if (m.height <= top || m.height > top + 3) return;
    let perHeight = this.store.get(m.height);
    if (perHeight === undefined) this.store.set(m.height, (perHeight = new Map()));
    const k = msgKey(m, this.opts.valueId);
    if (!perHeight.has(k) && perHeight.size < STORE_MESSAGES_PER_HEIGHT_MAX) perHeight.set(k, m);
  }

  private findProposal(height: number, round: number, valueId: Uint8Array): Proposal | null {
    for (const m of this.store.get(height)?.values() ?? []) {
      if (m.type === 'proposal' && m.round === round && bytesEqual(this.opts.valueId(m.value), valueId)) return m;
    }
    return null;
  }

  private recipients(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.env.nodeCount; i++) if (i !== this.node) out.push(i);
    return out;
  }

  private scheduleGossip(): void {
    this.env.timer(this.node, this.incarnation, this.env.gossipIntervalMs, { kind: 'gossip' });
  }

  private gossip(): void {
    const s = this.status;
    if (s === null) return;
    for (const h of [...this.store.keys()]) if (h <= this.decidedTop) this.store.delete(h);
    const h = this.decidedTop + 1;
    const progress = `${h}/${s.height}/${s.round}/${s.step}/${this.store.get(h)?.size ?? 0}`;
    if (progress !== this.lastProgress) {
      this.lastProgress = progress;
      return;
    }
    const have = [...(this.store.get(h)?.keys() ?? [])];
    if (this.env.tracing) this.env.trace(`n${this.node} STATUS h=${h} have ${have.join(" ")}`);
    for (const to of this.recipients()) this.env.send(this.node, to, { kind: 'status', height: h, have });
  }

  private onStatus(from: number, height: number, have: string[]): void {
    const next = this.decidedTop + 1;
    if (height < next) {
      const entry = this.disk.ledger.get(height);
      if (entry === undefined) return;
      this.env.send(this.node, from, {
        kind: 'decision',
        height,
        value: entry.value,
        proposal: entry.proposal === null ? null : encodeMessage(entry.proposal),
        certificate: encodeCertificate(entry.certificate),
      });
      return;
    }
    if (height > next) return;
    const perHeight = this.store.get(height);
    if (perHeight === undefined) return;
    const theirs = new Set(have);
    for (const [k, m] of perHeight) if (!theirs.has(k)) this.env.send(this.node, from, { kind: 'consensus', type: m.type, bytes: encodeMessage(m) });
  }

  /**
   * Catch-up: the proposal and the certificate's precommits go through gossip (the driver may
   * decide through L49); if the height is still open after them, the verified block is applied
   * the way the real peer's sync does (in the runner's queue by runner.applySyncedWith, then caughtUp).
   */
  private onDecision(p: Extract<Payload, { kind: 'decision' }>): void {
    if (p.height !== this.decidedTop + 1 || this.runner === null) return;
    const c = decodeCertificate(p.certificate);
    if (!c.ok) {
      this.env.report({ kind: 'codec', atMs: this.env.now(), node: this.node, detail: `certificate decode failed: ${c.code}: ${c.message}` });
      return;
    }
    const cert = c.certificate;
    if (cert.height !== p.height) return;
    if (p.proposal !== null) {
      this.gossipIn(p.proposal);
      for (const s of cert.signatures) {
        this.gossipIn(encodeMessage({ type: 'precommit', height: cert.height, round: cert.round, valueId: cert.valueId, validator: s.validator, signature: s.signature }));
      }
    }
    const ok = this.env.verifyCertificate(cert);
    if (!ok.ok || !bytesEqual(this.opts.valueId(p.value), cert.valueId) || !isValidValue(p.height, p.value)) return;
    const runner = this.runner;
    this.pendingSync++;
    void runner
      .applySyncedWith(p.height, () => Promise.resolve(this.apply(p.value, p.certificate, true)))
      .then((r) => r !== null, () => false)
      .then((applied) => {
        if (applied && this.runner === runner) {
          if (this.env.tracing) this.env.trace(`n${this.node} SYNC h=${p.height} from certificate r=${cert.round}`);
          void runner.caughtUp();
        }
        if (this.runner === runner) this.pendingSync--;
      });
  }
}
