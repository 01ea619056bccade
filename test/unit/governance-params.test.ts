// params.set in force in the peer's ledger: the proposer builds, and every validator checks, block
// h against the limits in force at h (a change in block H from H+2); a block over the new limit
// is refused by every peer with the same code, live and on catch-up; catch-up holds each height
// to the limits in force there (an earlier block over the new limit still applies); the mempool's
// admission limits follow the next height's parameters. Real LevelDB in temp dirs, real keys.
import { afterAll, describe, expect, it } from 'vitest';
import { proposer } from '../../src/consensus/index.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { signEntry } from '../../src/entry/index.js';
import { govEntry, signGovRecord, unsignedGovRecord, GOV_PARAM_RANGES } from '../../src/governance/index.js';
import { BLOCK_CAPS, decodeBlock } from '../../node/peer/block.js';
import { BLOCK_BYTES_CEILING } from '../../node/peer/genesis.js';
import { VALUE_BYTES_MAX } from '../../node/peer/consensus-runner.js';
import { DEFAULT_LIMITS as STORE_LIMITS } from '../../node/storage/store.js';
import { DEFAULT_NET_LIMITS } from '../../node/net/index.js';
import { describeParams } from '../../node/cli/gov-build.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { govLedgerFixture, type GovLedgerNode } from '../peer-support/gov-ledger.js';

const orgs = await makeOrgs(4, 'par');
const clients = makeClients(2, 'parc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000, maxBlockEntries: 8, mempoolMaxEntries: 40 } });
const fx = govLedgerFixture(genesis, 'par');
afterAll(() => fx.cleanup());

const ALL: [number, Ed25519Signer][] = orgs.map((o, i) => [i, o.signer]);
const prop = (h: number) => proposer(h, 0, orgs.length);
let seq = 0;

describe('params.set in force', () => {
  it('blocks follow the limits of their own height, on every peer alike, live and on catch-up', async () => {
    const peers = await Promise.all([0, 1, 2, 3].map((i) => fx.node(i, orgs[i]!.signer)));
    const change = signGovRecord(
      unsignedGovRecord('params.set', { params: { maxBlockEntries: 3, mempoolMaxEntries: 10, timeouts: { proposeMs: 700 } }, deadline: 100, nonce: 'par-1' }),
      [0, 1, 2].map((i) => ({ name: orgs[i]!.name, signer: orgs[i]!.signer })),
    );
    const record = signEntry(govEntry(change, { time: new Date().toISOString(), actor: { id: 'par', type: 'service' }, id: `gov-par-${seq++}` }), clients[0]!.signer);
    const blocks: Uint8Array[] = [];
    const certs: Uint8Array[] = [];
    const decide = async (height: number, block: Uint8Array) => {
      const cert = fx.certificate(height, block, ALL);
      for (const p of peers) {
        expect(await p.ledger.prevalidate(block)).toEqual({ ok: true });
        await p.ledger.apply(block, cert, { sign: false, mode: 'consensus' });
      }
      blocks.push(block);
      certs.push(cert);
    };
    const count = (b: Uint8Array) => (decodeBlock(b) as { ok: true; block: { entries: unknown[] } }).block.entries.length;

    // Height 1 carries the change: in force from 3. Heights 1 and 2 still take up to 8 entries.
    await peers[1]!.mempool.submit([record, ...makeEntries(clients, 6, 'par-a')]);
    await decide(1, peers[1]!.ledger.buildBlock(1, prop(1)));
    expect(count(blocks[0]!)).toBe(7);
    expect(peers[0]!.gov.summary().pending).toEqual({ type: 'params.set', effectiveHeight: 3 });
    expect(peers[2]!.ledger.paramsAt(2).maxBlockEntries).toBe(8);
    expect(peers[2]!.ledger.paramsAt(3)).toMatchObject({ maxBlockEntries: 3, mempoolMaxEntries: 10, timeouts: { proposeMs: 700, prevoteMs: genesis.limits.timeouts.prevoteMs } });

    await peers[1]!.mempool.submit(makeEntries(clients, 14, 'par-b'));
    const block2 = peers[1]!.ledger.buildBlock(2, prop(2));
    expect(count(block2)).toBe(8);
    await decide(2, block2);

    // Head 2: the next height (3) has the new parameters. The mempool holds 6 and admits up to
    // 10 now (mempoolMaxEntries); the proposer builds at most 3 entries.
    expect(peers[1]!.mempool.size).toBe(6);
    const more = await peers[1]!.mempool.submit(makeEntries(clients, 6, 'par-c'));
    expect(more.filter((r) => 'status' in r && r.status === 'accepted')).toHaveLength(4);
    expect(more.filter((r) => 'error' in r && r.error.code === 'busy')).toHaveLength(2);

    // A proposer that ignores the change (still the genesis limit) makes a block of 8 at height 3:
    // every peer refuses it with the same code, as a proposal and as a decided block.
    const rogue: GovLedgerNode = peers[3]!;
    await rogue.mempool.submit(makeEntries(clients, 8, 'par-d'));
    const honestParams = rogue.ledger.paramsAt.bind(rogue.ledger);
    rogue.ledger.paramsAt = (h: number) => ({ ...honestParams(h), maxBlockEntries: 8 });
    const over = rogue.ledger.buildBlock(3, prop(3));
    rogue.ledger.paramsAt = honestParams;
    expect(count(over)).toBe(8);
    for (const p of peers) {
      expect(await p.ledger.validateBlock(over, 'proposal')).toMatchObject({ ok: false, code: 'block_too_many_entries' });
      expect(await p.ledger.validateBlock(over, 'decided')).toMatchObject({ ok: false, code: 'block_too_many_entries' });
    }
    const block3 = peers[1]!.ledger.buildBlock(3, prop(3));
    expect(count(block3)).toBe(3);
    await decide(3, block3);
    await decide(4, peers[1]!.ledger.buildBlock(4, prop(4)));
    expect(count(blocks[3]!)).toBe(3);

    // Catch-up from the genesis: each height is held to the limits in force there — block 2 (8
    // entries, before the change) applies, the rogue block at 3 does not, even with a certificate.
    const late = await fx.node(4, clients[1]!.signer);
    for (let h = 1; h <= 4; h++) {
      expect(late.ledger.verifyCertificate(h, blocks[h - 1]!, certs[h - 1]!)).toMatchObject({ ok: true });
      if (h === 3) {
        await expect(late.ledger.apply(over, fx.certificate(3, over, ALL), { sign: false, mode: 'sync' })).rejects.toThrow(/block_too_many_entries/);
      }
      await late.ledger.apply(blocks[h - 1]!, certs[h - 1]!, { sign: false, mode: 'sync' });
    }
    expect(late.ledger.getHead()).toEqual(peers[0]!.ledger.getHead());
    expect(late.gov.summary().govStateHash).toBe(peers[0]!.gov.summary().govStateHash);
  });

  it('fixed caps are sized from the parameter ranges, so no params.set makes a block a peer cannot carry', () => {
    expect(BLOCK_CAPS).toEqual({ maxBlockEntries: GOV_PARAM_RANGES.maxBlockEntries![1], maxBlockBytes: GOV_PARAM_RANGES.maxBlockBytes![1] });
    expect(BLOCK_BYTES_CEILING).toBe(GOV_PARAM_RANGES.maxBlockBytes![1]);
    // The store's block bounds (the peer opens it with its defaults), the consensus value cap and
    // the gossip frame all hold the largest block any parameter change allows.
    expect(STORE_LIMITS.maxLeavesPerBlock).toBeGreaterThanOrEqual(BLOCK_CAPS.maxBlockEntries);
    expect(STORE_LIMITS.maxBlockBytes).toBeGreaterThanOrEqual(VALUE_BYTES_MAX);
    expect(VALUE_BYTES_MAX).toBeGreaterThan(BLOCK_CAPS.maxBlockBytes);
    expect(DEFAULT_NET_LIMITS.maxGossipMessageBytes).toBeGreaterThanOrEqual(VALUE_BYTES_MAX + 64 * 1024);
  });

  it('the CLI says what each parameter does and from when', () => {
    const lines = describeParams({ maxBlockEntries: 5, timeouts: { proposeMs: 2000 } });
    expect(lines).toEqual([expect.stringMatching(/^maxBlockEntries 5: every block from height H\+2 carries at most 5 entries/), expect.stringMatching(/^timeouts\.proposeMs 2000: the propose timeout of heights H\+2 on/)]);
  });
});
