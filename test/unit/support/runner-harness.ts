// A consensus runner (node/peer/consensus-runner.ts) over a real LevelDB store in a temp dir, with
// a small in-memory ledger (values are valid when they start with VALID_TAG) and the keys of all
// four validators, so a test can play the other three (honest or not) through runner.onGossip.
import { afterEach } from 'vitest';
import { nodeSigner } from '../../../src/crypto/node.js';
import type { Ed25519Signer } from '../../../src/crypto/types.js';
import { decodeMessage, encodeMessage, proposalSignBytes, voteSignBytes, type ConsensusMessage, type Proposal, type Vote } from '../../../src/consensus/index.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { openStore, type Store, type StoreLimits } from '../../../node/storage/store.js';
import { ConsensusRunner, encodeEnvelope, fastSha256, openEnvelope, type RunnerClock, type RunnerGenesis, type RunnerOptions } from '../../../node/peer/consensus-runner.js';
import type { Genesis } from '../../../node/peer/genesis.js';
import { ManualClock } from './manual-clock.js';
import { TempDirs } from './storage-fixture.js';

export const VALID_TAG = 0xaa;
export const CHAIN = 'runner.test/log';
export const N = 4;

export const signers: Ed25519Signer[] = Array.from({ length: N }, (_, i) => nodeSigner(new Uint8Array(32).fill(i + 1)));

export function genesisFor(timeoutMs = 60_000): Genesis {
  return {
    origin: CHAIN,
    validators: signers.map((s, i) => ({ name: `v${i}`, publicKey: s.publicKey })),
    limits: {
      maxBlockEntries: 100,
      maxBlockBytes: 2 * 1024 * 1024,
      blockIntervalMs: 10,
      timeouts: { proposeMs: timeoutMs, prevoteMs: timeoutMs, precommitMs: timeoutMs, deltaMs: 0 },
      maxClockSkewMs: 60_000,
      mempoolMaxEntries: 100,
      mempoolMaxBytes: 1024 * 1024,
    },
  } as unknown as Genesis;
}

/** In-memory ledger: the head height, applied values, and a count of (expensive) prevalidations. */
export class TestLedger {
  height = 0;
  readonly applied: Uint8Array[] = [];
  prevalidations = 0;
  failApply = false;
  private readonly verdicts = new Map<string, boolean>();
  getHead() {
    return { height: this.height, treeSize: 0, root: new Uint8Array(32), blockHash: new Uint8Array(32), timeMs: 0 };
  }
  buildBlock(height: number, proposer: number): Uint8Array {
    return validValue(`built h${height} p${proposer}`);
  }
  verdict(idHex: string): boolean | undefined {
    return this.verdicts.get(idHex);
  }
  async prevalidate(bytes: Uint8Array): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
    this.prevalidations++;
    const ok = bytes[0] === VALID_TAG;
    this.verdicts.set(toHex(fastSha256(bytes)), ok);
    return ok ? { ok: true } : { ok: false, code: 'invalid', message: 'not tagged valid' };
  }
  async apply(bytes: Uint8Array, _cert: Uint8Array, _o: unknown) {
    if (this.failApply) throw new Error('block does not apply (test)');
    this.applied.push(bytes);
    this.height++;
    return { height: this.height, firstIndex: 0, count: 0, treeSize: 0, root: new Uint8Array(32), blockHash: new Uint8Array(32) };
  }
  async signHead(): Promise<void> {}
}

export class TestMempool {
  size = 0;
  onAdded(_f: () => void): () => void {
    return () => undefined;
  }
}

export function validValue(text: string, size = 0): Uint8Array {
  const t = new TextEncoder().encode(text);
  const out = new Uint8Array(Math.max(size, t.length + 1));
  out[0] = VALID_TAG;
  out.set(t, 1);
  return out;
}

export function proposal(v: number, height: number, round: number, value: Uint8Array, validRound = -1): Proposal {
  const signature = signers[v]!.sign(proposalSignBytes(CHAIN, height, round, fastSha256(value), validRound));
  return { type: 'proposal', height, round, value, validRound, validator: v, signature };
}

export function vote(v: number, type: 'prevote' | 'precommit', height: number, round: number, valueId: Uint8Array | null): Vote {
  const signature = signers[v]!.sign(voteSignBytes(CHAIN, type, height, round, valueId));
  return { type, height, round, valueId, validator: v, signature };
}

export function env(m: ConsensusMessage, at = Date.now()): Uint8Array {
  return encodeEnvelope(encodeMessage(m), at);
}

/**
 * The options of validator 0's runner as the runner tests build them: the test ledger and mempool
 * stand in for the ports (cast), and every callback not given does nothing.
 */
export function runnerOptions(o: {
  store: Store;
  ledger: TestLedger;
  mempool: TestMempool | ListeningMempool;
  genesis?: RunnerGenesis;
  clock?: RunnerClock;
  publish?: (b: Uint8Array) => void;
  onHalt?: (code: string, message: string, fields?: Record<string, unknown>) => void;
  log?: (level: string, msg: string, fields?: Record<string, unknown>) => void;
}): RunnerOptions {
  return {
    genesis: o.genesis ?? genesisFor(),
    store: o.store,
    ledger: o.ledger as never,
    mempool: o.mempool as never,
    selfIndex: 0,
    signer: signers[0]!,
    clock: o.clock,
    publish: o.publish ?? (() => undefined),
    onBehind: () => undefined,
    onHalt: o.onHalt ?? (() => undefined),
    log: o.log ?? (() => undefined),
  };
}

export interface Harness {
  store: Store;
  ledger: TestLedger;
  runner: ConsensusRunner;
  published: Uint8Array[];
  halts: { code: string; message: string }[];
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
  /** Validates then feeds, like the gossip topic does. */
  gossip(m: ConsensusMessage): 'accept' | 'reject' | 'ignore';
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function makeHarness(dirs: TempDirs, o: { limits?: Partial<StoreLimits>; ledger?: TestLedger; timeoutMs?: number; dir?: string } = {}): Promise<Harness & { dir: string }> {
  const dir = o.dir ?? (await dirs.make());
  const ledger = o.ledger ?? new TestLedger();
  const h = {
    dir,
    store: undefined as unknown as Store,
    ledger,
    runner: undefined as unknown as ConsensusRunner,
    published: [] as Uint8Array[],
    halts: [] as { code: string; message: string }[],
    logs: [] as { level: string; msg: string; fields?: Record<string, unknown> }[],
    gossip(m: ConsensusMessage) {
      const e = env(m);
      const v = h.runner.validateGossip(e);
      if (v === 'accept') h.runner.onGossip(e);
      return v;
    },
    async open() {
      h.store = await openStore(dir, { limits: o.limits });
      h.runner = new ConsensusRunner(
        runnerOptions({
          genesis: genesisFor(o.timeoutMs),
          store: h.store,
          ledger,
          mempool: new TestMempool(),
          publish: (b: Uint8Array) => h.published.push(b),
          onHalt: (code: string, message: string) => h.halts.push({ code, message }),
          log: (level: string, msg: string, fields?: Record<string, unknown>) => h.logs.push({ level, msg, fields }),
        }),
      );
      await h.runner.start();
    },
    async restart() {
      await h.runner.stop();
      await h.store.close();
      await h.open();
    },
    async close() {
      await h.runner.stop();
      await h.store.close();
    },
  };
  await h.open();
  return h;
}

/** Polls `cond` every 5 ms until it holds or `ms` pass (then throws with `what`). */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets the runner's queue drain (every queued task is a promise chain on the event loop). */
export async function settle(runner: ConsensusRunner, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (runner.status().queueDepth > 0) {
    if (Date.now() > end) throw new Error('runner queue did not drain');
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 10));
}

/** A mempool whose size the test sets; add() notifies the runner as arriving entries do. */
export class ListeningMempool {
  size = 0;
  private listeners: (() => void)[] = [];
  onAdded(f: () => void) {
    this.listeners.push(f);
    return () => undefined;
  }
  add(n: number): void {
    this.size += n;
    for (const f of this.listeners) f();
  }
}

/** Temp dirs and the runners (with their stores) a test file opens: all stopped and removed after each test. */
export function closedAfterEach(): { dirs: TempDirs; open: { runner: ConsensusRunner; store: Store }[] } {
  const dirs = new TempDirs();
  const open: { runner: ConsensusRunner; store: Store }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.runner.stop();
      await o.store.close();
    }
    await dirs.removeAll();
  });
  return { dirs, open };
}

/**
 * Validator 0's runner on a store in `dir` (default: a new temp dir) with a ListeningMempool and a
 * ManualClock, recording what it publishes, logs and halts; stopped and closed after the test.
 * `limits`: the store's (the runner's per-validator WAL shares divide its per-height caps). `prepare` may wrap the store's methods before the runner starts.
 */
export async function startRunner(
  closed: ReturnType<typeof closedAfterEach>,
  o: { ledger: TestLedger; genesis?: RunnerGenesis; dir?: string; limits?: Partial<StoreLimits>; prepare?: (store: Store) => void },
) {
  const store = await openStore(o.dir ?? (await closed.dirs.make()), o.limits === undefined ? undefined : { limits: o.limits });
  o.prepare?.(store);
  const mempool = new ListeningMempool();
  const clock = new ManualClock();
  const published: Uint8Array[] = [];
  const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
  const halts: { code: string; message: string; fields?: Record<string, unknown> }[] = [];
  const runner = new ConsensusRunner(
    runnerOptions({
      genesis: o.genesis,
      store,
      ledger: o.ledger,
      mempool,
      clock,
      publish: (b: Uint8Array) => published.push(b),
      onHalt: (code, message, fields) => halts.push({ code, message, fields }),
      log: (_level, msg, fields) => logs.push({ msg, fields }),
    }),
  );
  await runner.start();
  closed.open.push({ runner, store });
  /** Whether the runner logged the start of `height`. */
  const started = (height: number) => logs.some((l) => l.msg === 'start height' && l.fields?.height === height);
  /** The consensus messages published so far, decoded (compact proposal records left out). */
  const sent = () => published.map((b) => decodeMessage(openEnvelope(b)!)).flatMap((d) => (d.ok ? [d.message] : []));
  return { runner, store, ledger: o.ledger, mempool, clock, published, logs, halts, started, sent };
}
