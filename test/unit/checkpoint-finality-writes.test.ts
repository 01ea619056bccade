// The checkpoint path of a decided block, write by write: what stands between our signature and
// a final checkpoint a client can be told about. Real LevelDB stores; the gossip pipeline as the
// network drives it (topic validator first, the handler only after 'accept').
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { decodeCheckpointSig, encodeCheckpointSig } from '../../node/peer/ledger.js';
import { NOTE_DELAY_MS } from '../../node/peer/checkpoint-collect.js';
import { peerVerifier } from '../../node/crypto/peer-verifier.js';
import { formatCheckpoint, verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { signText } from '../../src/checkpoint/note.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { fakeCertificate as cert, LedgerNodes, type LedgerNode } from './support/ledger-node.js';

const orgs = await makeOrgs(4, 'cfw');
const clients = makeClients(2, 'cfwc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const opened = new LedgerNodes(genesis, orgs.map((o) => o.signer));

interface Node extends LedgerNode {
  /** Every putCheckpoint call: true = final, false = one-signature note. */
  writes: boolean[];
}

async function node(i: number): Promise<Node> {
  const n = await opened.open(i);
  const writes: boolean[] = [];
  const put = n.store.putCheckpoint.bind(n.store);
  n.store.putCheckpoint = (size: number, note: Uint8Array, final: boolean) => {
    writes.push(final);
    return put(size, note, final);
  };
  return { ...n, writes };
}

async function deliver(n: Node, msg: Uint8Array, from: string): Promise<string> {
  const v = n.ledger.checkCheckpointSigShape(msg, from);
  if (v === 'accept') await n.ledger.onCheckpointSigMessage(msg);
  return v;
}

/** Four nodes with block 1 (5 entries) applied; `signing` of them sign it (their lines are in .sigs). */
async function network(signing: number[], tag: string): Promise<Node[]> {
  const ns = [await node(0), await node(1), await node(2), await node(3)];
  await ns[1]!.mempool.submit(makeEntries(clients, 5, tag));
  const b1 = ns[1]!.ledger.buildBlock(1, 1);
  for (const [i, n] of ns.entries()) if (!signing.includes(i)) await n.ledger.apply(b1, cert(1), { sign: false, mode: 'sync' });
  for (const i of signing) await ns[i]!.ledger.apply(b1, cert(1), { sign: true, mode: 'consensus' });
  (ns as unknown as { b1: Uint8Array }).b1 = b1;
  return ns;
}

/** Resolves true once `p` settled, false after `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms until it holds; throws naming `what` after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => opened.close());

describe('checkpoint writes on the way to final', () => {
  it('applying and signing never waits for our one-signature note, and a quorum soon after means it is never written', async () => {
    const ns = await network([1, 2], 'cfw-a');
    const n0 = ns[0]!;
    // Our note's synced write would never end: the path to final must not depend on it.
    const put = n0.store.putCheckpoint;
    n0.store.putCheckpoint = (size, note, final) => (final ? put(size, note, final) : new Promise<void>(() => undefined));
    // n0 applied block 1 without signing; it signs now (as after a decision).
    const signed = n0.ledger.signHead();
    expect(await settlesWithin(signed, 2_000)).toBe(true);
    expect(n0.sigs.length).toBe(1);
    for (const i of [1, 2]) expect(await deliver(n0, ns[i]!.sigs.at(-1)!, orgs[i]!.peerId)).toBe('accept');
    expect(n0.ledger.finalSize()).toBe(5);
    // Final before the note was due: no one-signature note at all, one synced final write.
    await sleep(NOTE_DELAY_MS + 300);
    expect(n0.writes).toEqual([true]);
    const note = await n0.store.latestFinalCheckpoint();
    expect(verifyCheckpointQuorum(note!, { origin: genesis.origin, keys: genesis.validators.map((x) => x.key), quorum: genesis.quorum }, nobleVerifier).ok).toBe(true);
  });

  it('a checkpoint that does not become final gets our one-signature note after NOTE_DELAY_MS', async () => {
    const ns = await network([], 'cfw-b');
    const n0 = ns[0]!;
    await n0.ledger.signHead();
    expect(n0.sigs.length).toBe(1);
    // Not written on the way: the synced write is deferred.
    expect(await n0.store.getCheckpoint(5)).toBeUndefined();
    const end = Date.now() + NOTE_DELAY_MS + 5_000;
    let rec = await n0.store.getCheckpoint(5);
    while (rec === undefined && Date.now() < end) {
      await sleep(50);
      rec = await n0.store.getCheckpoint(5);
    }
    expect(rec?.final).toBe(false);
    const text = formatCheckpoint({ origin: genesis.origin, size: 5, root: n0.ledger.getHead().root });
    const own = signText(text, { name: orgs[0]!.name, signer: orgs[0]!.signer });
    expect(new TextDecoder().decode(rec!.note)).toContain(`— ${own.name} `);
    expect(n0.writes).toEqual([false]);
  });

  it('one synced final write per tree size: a signature arriving while it is written adds no second one', async () => {
    const ns = await network([1, 2, 3], 'cfw-c');
    const n0 = ns[0]!;
    await n0.ledger.signHead();
    expect(await deliver(n0, ns[1]!.sigs.at(-1)!, orgs[1]!.peerId)).toBe('accept');
    // Hold the final write so the fourth line arrives while the third one's write is in flight.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = n0.store.putCheckpoint;
    let finalStarted = 0;
    n0.store.putCheckpoint = async (size, note, final) => {
      if (final) {
        finalStarted++;
        await gate;
      }
      return put(size, note, final);
    };
    const accepted = n0.ledger.stats.sigsAccepted;
    const third = deliver(n0, ns[2]!.sigs.at(-1)!, orgs[2]!.peerId);
    const fourth = deliver(n0, ns[3]!.sigs.at(-1)!, orgs[3]!.peerId);
    // Both lines counted (a line is counted just before it joins the quorum, which joins the
    // write already in flight) while the final write is held: only then is the write let go.
    await until(() => finalStarted > 0 && n0.ledger.stats.sigsAccepted === accepted + 2, 10_000, 'both lines handled with the final write held');
    expect(finalStarted).toBe(1);
    release();
    expect(await third).toBe('accept');
    expect(await fourth).toBe('accept');
    expect(n0.ledger.finalSize()).toBe(5);
    expect(n0.writes.filter((f) => f)).toEqual([true]);
  });

  it('a received signature line is verified once (by the topic validator), and the handler alone still refuses a forged one', async () => {
    const ns = await network([1], 'cfw-d');
    const n0 = ns[0]!;
    const spy = vi.spyOn(peerVerifier, 'verify');
    expect(await deliver(n0, ns[1]!.sigs.at(-1)!, orgs[1]!.peerId)).toBe('accept');
    expect(spy).toHaveBeenCalledTimes(1);
    // A line the validator never saw (or one it did not accept) is verified by the handler.
    const text = formatCheckpoint({ origin: genesis.origin, size: 5, root: n0.ledger.getHead().root });
    const real = signText(text, { name: orgs[2]!.name, signer: orgs[2]!.signer });
    const other = signText(text, { name: orgs[2]!.name, signer: orgs[3]!.signer });
    const forged = encodeCheckpointSig(5, { name: real.name, keyId: real.keyId, signature: other.signature }, Date.now());
    expect(await n0.ledger.onCheckpointSigMessage(forged)).toBe('reject');
    expect(spy).toHaveBeenCalledTimes(2);
    // The same genuine line again, straight to the handler: verified again (nothing left over from the first).
    expect(await n0.ledger.onCheckpointSigMessage(ns[1]!.sigs.at(-1)!)).toBe('accept');
    expect(spy).toHaveBeenCalledTimes(3);
    expect((decodeCheckpointSig(ns[1]!.sigs.at(-1)!) as { size: number }).size).toBe(5);
  });
  it('a final note the store cannot write is reported (storeFailed) when a received line completes the quorum, and nothing becomes final', async () => {
    const ns = await network([1, 2], 'cfw-f');
    const n0 = ns[0]!;
    const put = n0.store.putCheckpoint;
    n0.store.putCheckpoint = (size, note, final) => (final ? Promise.reject(new Error('disk failed (test)')) : put(size, note, final));
    const failed: string[] = [];
    n0.ledger.on('storeFailed', (e) => failed.push(e.message));
    await n0.ledger.signHead();
    expect(await deliver(n0, ns[1]!.sigs.at(-1)!, orgs[1]!.peerId)).toBe('accept');
    expect(failed).toEqual([]);
    // The third signature (quorum 3 of 4) arrives by gossip: its final write fails.
    await expect(deliver(n0, ns[2]!.sigs.at(-1)!, orgs[2]!.peerId)).rejects.toThrow('disk failed (test)');
    expect(failed).toEqual(['disk failed (test)']);
    expect(n0.ledger.finalSize()).toBe(0);
  });
});
