// Ledger: block building and every validation rule, apply, checkpoint signature collection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { decodeBlock, encodeBlock, entriesHashOf, type Block } from '../../node/peer/block.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { appendLeafHashes, compactRangeAt, rootOf } from '../../src/merkle/index.js';
import { verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { sha256 } from '../../src/crypto/hash.js';
import { entryLeaf } from '../../src/entry/index.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'lg');
const clients = makeClients(2, 'lgc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];

interface Node {
  store: Store;
  ledger: Ledger;
  mempool: Mempool;
  sigs: Uint8Array[];
}

async function node(i: number): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lg-'));
  dirs.push(dir);
  const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
  stores.push(store);
  const checker = createEntryChecker(genesis);
  const sigs: Uint8Array[] = [];
  const ledger = await Ledger.open({ genesis, store, checker, selfIndex: i, signer: orgs[i]!.signer, publishCheckpointSig: (b) => sigs.push(b) });
  const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null);
  ledger.attachMempool(mempool);
  return { store, ledger, mempool, sigs };
}

const cert = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });

function tamper(bytes: Uint8Array, f: (b: Block) => void): Uint8Array {
  const d = decodeBlock(bytes, genesis.limits);
  if (!d.ok) throw new Error(d.message);
  f(d.block);
  return encodeBlock(d.block);
}

let nodes: Node[];
beforeAll(async () => {
  nodes = [await node(0), await node(1), await node(2), await node(3)];
});
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('ledger', () => {
  it('builds a block from the mempool that validates, and rejects every tampered variant with its code', async () => {
    const [a, b] = nodes as [Node, Node];
    const es = makeEntries(clients, 20, 'lg1');
    await a.mempool.submit(es);
    const bytes = a.ledger.buildBlock(1, 0);
    const d = decodeBlock(bytes, genesis.limits);
    expect(d.ok && d.block.entries.length).toBe(20);
    // b has none of the entries in its mempool: full checks, including signatures.
    expect((await b.ledger.validateBlock(bytes, 'proposal')).ok).toBe(true);
    const code = async (x: Uint8Array) => {
      const r = await b.ledger.validateBlock(x, 'proposal');
      return r.ok ? 'ok' : r.code;
    };
    expect(await code(tamper(bytes, (k) => (k.header.height = 2)))).toBe('block_wrong_height');
    expect(await code(tamper(bytes, (k) => (k.header.prevHash = sha256(utf8('x')))))).toBe('block_wrong_prev');
    expect(await code(tamper(bytes, (k) => (k.header.proposer = 9)))).toBe('block_bad_proposer');
    expect(await code(tamper(bytes, (k) => (k.header.root = sha256(utf8('r')))))).toBe('block_bad_root');
    expect(await code(tamper(bytes, (k) => (k.header.treeSize = 21)))).toBe('block_bad_tree_size');
    expect(await code(tamper(bytes, (k) => (k.header.entriesHash = sha256(utf8('e')))))).toBe('block_bad_entries_hash');
    expect(await code(tamper(bytes, (k) => (k.header.timeMs = 0)))).toBe('block_time_not_monotonic');
    // Our clock is no validity rule (see peer-ledger-rules.test.ts), but the entries' times must
    // stay within maxClockSkewMs of the block time.
    expect(await code(tamper(bytes, (k) => (k.header.timeMs = Date.now() + 3_600_000)))).toBe('block_entry_clock_skew');
    expect(await code(tamper(bytes, (k) => k.entries.push(k.entries[0]!)))).toBe('block_duplicate_entry');
    // Same client and id as entry 0, different content (a conflicting reuse of the id).
    const { sig: _s, client: _c, ...unsigned } = es[0]!;
    const signedClash = (await import('../../src/entry/index.js')).signEntry({ ...unsigned, outcome: 'failure' }, clients[0]!.signer);
    expect(await code(tamper(bytes, (k) => k.entries.push(entryLeaf(signedClash))))).toBe('block_duplicate_id');
    const badSig = entryLeaf(es[1]!).slice();
    { const k = badSig.indexOf(0x22, 10) + 1; badSig[k] = badSig[k]! ^ 0x01; } // flip a byte inside the JSON
    expect(await code(tamper(bytes, (k) => (k.entries[1] = badSig)))).toBe('block_bad_entry');
    expect(await code(new Uint8Array([1, 2, 3]))).toBe('block_truncated');
  });

  it('applies decided blocks on every node, signs checkpoints and makes them final with q signatures', async () => {
    const bytes = nodes[0]!.ledger.buildBlock(1, 0);
    for (const n of nodes) {
      const info = await n.ledger.apply(bytes, cert(1), { sign: true, mode: 'consensus' });
      expect(info.treeSize).toBe(20);
    }
    expect(nodes[0]!.mempool.size).toBe(0); // logged entries left the mempool
    // Deliver every node's signature message to every other node.
    for (const from of nodes) for (const to of nodes) if (from !== to) for (const m of from.sigs) expect(['accept', 'ignore']).toContain(await to.ledger.onCheckpointSigMessage(m));
    for (const n of nodes) {
      expect(n.ledger.finalSize()).toBe(20);
      const note = await n.store.latestFinalCheckpoint();
      const v = verifyCheckpointQuorum(note!, { origin: genesis.origin, keys: genesis.validators.map((x) => x.key), quorum: 3 }, nobleVerifier);
      expect(v.ok, JSON.stringify(v)).toBe(true);
    }
    // Nothing pending: no block is built (never an empty block).
    expect(() => nodes[1]!.ledger.buildBlock(2, 1)).toThrow(/ledger_no_entries/);
    // An already logged entry makes a proposal invalid.
    const es = makeEntries(clients, 1, 'lg2');
    await nodes[0]!.mempool.submit(es);
    const b2 = nodes[0]!.ledger.buildBlock(2, 0);
    const logged = (await nodes[0]!.store.getLeaf(0))!;
    const withLogged = tamper(b2, (k) => {
      k.entries.push(logged);
    });
    const r = await nodes[2]!.ledger.validateBlock(withLogged, 'proposal');
    expect(r.ok ? 'ok' : r.code).toMatch(/block_entry_logged|block_bad_entries_hash/);
    // A consistent block (entries hash, size and root recomputed) that re-logs entry 0.
    const range = await compactRangeAt(nodes[0]!.store, 20);
    const lh = (l: Uint8Array) => createEntryChecker(genesis).leafHash(l);
    const fixed = tamper(b2, (k) => {
      k.entries.push(logged);
      const app = appendLeafHashes(range, k.entries.map(lh));
      k.header.entriesHash = entriesHashOf(k.entries.map(lh));
      k.header.treeSize = app.state.size;
      k.header.root = rootOf(app.state);
    });
    const r2 = await nodes[2]!.ledger.validateBlock(fixed, 'proposal');
    expect(r2.ok ? 'ok' : r2.code).toBe('block_entry_logged');
  });

  it('rejects forged and unknown checkpoint signatures; detects a fork when adopting a final checkpoint', async () => {
    const n0 = nodes[0]!;
    const msg = nodes[1]!.sigs[0]!.slice();
    msg[msg.length - 10] = msg[msg.length - 10]! ^ 1; // corrupt the signature line
    expect(await n0.ledger.onCheckpointSigMessage(msg)).toMatch(/reject|ignore/);
    expect(await n0.ledger.onCheckpointSigMessage(utf8('junk'))).toBe('reject');
    // A final checkpoint for a different root at our size is a fork.
    const other = await node(0);
    const es = makeEntries(clients, 20, 'fork');
    await other.mempool.submit(es);
    const fb = other.ledger.buildBlock(1, 0);
    await other.ledger.apply(fb, cert(1), { sign: true, mode: 'consensus' });
    // Our one-signature note is written NOTE_DELAY_MS after signing when not final by then.
    let note = await other.store.getCheckpoint(20);
    for (const end = Date.now() + 10_000; note === undefined && Date.now() < end; ) note = await new Promise((r) => setTimeout(r, 50)).then(() => other.store.getCheckpoint(20));
    const r = await n0.ledger.adoptFinalCheckpoint(note!.note);
    expect(r.ok).toBe(false); // only one signature: quorum not met
    if (!r.ok) expect(r.code).toBe('checkpoint_quorum_not_met');
    void fromUtf8;
  });
});
