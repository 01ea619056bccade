// Latency stability under load: what a peer waits for between two heights (the production
// consensus runner, a real LevelDB store, a controllable clock). The next height must start once
// the decided block is applied durably, not after our checkpoint's final note is stored (a synced
// write, as in the production ledger's signHead) or the old WAL heights are pruned: each of those
// waits put one more synced write between two heights on every peer, the time of a synced write
// grows with the block batches written meanwhile, and a slow height then kept blocks large.
import { describe, expect, it } from 'vitest';
import { fastSha256 } from '../../node/peer/consensus-runner.js';
import { closedAfterEach, TestLedger, env as envOf, settle, startRunner, vote, waitFor } from './support/runner-harness.js';

/** A promise the test resolves. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** Like the production ledger: apply with `sign` signs the new head and waits for the final note's synced write. */
class SigningLedger extends TestLedger {
  /** Heights whose head we signed (recorded before the note's write, as signHead gossips first). */
  readonly signed: number[] = [];
  readonly noteWrite = gate();
  override verdict(idHex: string): boolean | undefined {
    return super.verdict(idHex) ?? true;
  }
  override async apply(bytes: Uint8Array, cert: Uint8Array, o: unknown) {
    const r = await super.apply(bytes, cert, o);
    if ((o as { sign?: boolean }).sign === true) await this.signHead();
    return { ...r, count: 1 };
  }
  override signHead(): Promise<void> {
    this.signed.push(this.height);
    return this.noteWrite.wait;
  }
}

const closed = closedAfterEach();

/** Validator 0 at head 3 (it proposes height 4), with the store's WAL prune held until `prune.open()`. */
async function setup() {
  const prune = gate();
  const pruned: number[] = [];
  const ledger = new SigningLedger();
  ledger.height = 3;
  const r = await startRunner(closed, {
    ledger,
    prepare: (store) => {
      const realPrune = store.walPrune.bind(store);
      store.walPrune = async (below: number) => {
        await prune.wait;
        await realPrune(below);
        pruned.push(below);
      };
    },
  });
  return { ...r, ledger, prune, pruned };
}

/** Our proposal of height 4 is decided: validators 1 and 2 vote for it with us (3 of 4). */
async function decideOwn4(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
  s.mempool.add(1);
  s.clock.advance(0);
  await settle(s.runner);
  const own = s.sent().find((m) => m.type === 'proposal' && m.height === 4);
  expect(own).toBeDefined();
  const id = fastSha256((own as { value: Uint8Array }).value);
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', 4, 0, id)));
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'precommit', 4, 0, id)));
  await waitFor(() => s.ledger.height === 4, 10_000, 'height 4 applied');
}

describe('consensus runner: nothing but the applied block between two heights', () => {
  it('the next height starts while our checkpoint note and the WAL prune are still being written; both still happen', async () => {
    const s = await setup();
    try {
      await decideOwn4(s);
      // More entries: height 5 starts at once (a one-entry block keeps the idle rule).
      s.mempool.add(1);
      s.clock.advance(0);
      await waitFor(() => s.started(5), 10_000, 'height 5 started');
      await settle(s.runner, 10_000);
      expect(s.ledger.signed).toEqual([4]); // signed (and gossiped) at once; only its synced note is pending
      expect(s.pruned).toEqual([]);
      expect(s.runner.status()).toMatchObject({ height: 5, running: true, halted: false });
      expect((await s.store.walRead(4)).length).toBeGreaterThan(0);
    } finally {
      // A runner still waiting on them (the old behaviour) could not stop otherwise.
      s.prune.open();
      s.ledger.noteWrite.open();
    }
    await waitFor(() => s.pruned.length === 1, 10_000, 'the WAL prune');
    expect(s.pruned).toEqual([5]);
    expect(await s.store.walRead(4)).toEqual([]);
    expect(s.runner.status().halted).toBe(false);
  });

  it('a failed checkpoint signature (the store failed) halts STORE_FAILED after the block was applied, not DIVERGENCE', async () => {
    const s = await setup();
    s.prune.open();
    s.ledger.signHead = () => Promise.reject(new Error('disk full (test)'));
    await decideOwn4(s);
    await settle(s.runner);
    await waitFor(() => s.runner.status().halted, 10_000, 'the halt');
    expect(s.runner.status()).toMatchObject({ haltCode: 'STORE_FAILED', decided: 1 });
    expect(s.ledger.height).toBe(4);
  });
  it('a store failure reported from outside the runner (the final checkpoint note) halts STORE_FAILED; after stop() it is ignored', async () => {
    const a = await startRunner(closed, { ledger: new TestLedger() });
    a.runner.storeFailed('final checkpoint not stored: disk failed (test)');
    expect(a.runner.status()).toMatchObject({ halted: true, haltCode: 'STORE_FAILED' });
    expect(a.halts.map((h) => h.code)).toEqual(['STORE_FAILED']);

    const b = await startRunner(closed, { ledger: new TestLedger() });
    await b.runner.stop();
    b.runner.storeFailed('store closed (test)');
    expect(b.runner.status().halted).toBe(false);
    expect(b.halts).toEqual([]);
  });
});
