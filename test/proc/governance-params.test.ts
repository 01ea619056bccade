// A parameter change with real peer PROCESSES (4 organizations, `node/peer/main.ts` each, HTTP API
// on 127.0.0.1), decided with the real CLI (`cairn gov propose params.set --set`, `vote`,
// `submit`) while entries keep arriving at every peer: maxBlockEntries is lowered to 5. Blocks
// before the effective height carried more, every block from it carries at most 5 (read back from
// a stopped peer's store), every peer reaches the same log, and every accepted entry is final.
// ~30-40 s on 2 loaded cores: four peer processes start under tsx.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../node/storage/store.js';
import { decodeBlock } from '../../node/peer/block.js';
import { getJson, postEntries } from './support/peer-procs.js';
import { cairn, closeGovNet, signedEntries, startGovNet, stopProc, waitStatus, waitUp, type GovNet } from './support/governance-net.js';

let net: GovNet;
const ALL = [0, 1, 2, 3];
const NEW_MAX = 5;

beforeAll(async () => {
  net = await startGovNet(4, 'govpa');
  await waitUp(net, ALL);
}, 90_000);

afterAll(async () => {
  await closeGovNet(net);
}, 60_000);

describe('params.set in force (processes)', () => {
  it('maxBlockEntries lowered under load: blocks from the effective height carry at most 5, nothing submitted is lost', async () => {
    // Load: `batch` entries to the peers in turn every `every` ms, bounded in count and time.
    const accepted = new Set<string>();
    let batch = 20;
    let stop = false;
    const load = (async () => {
      const until = Date.now() + 60_000;
      for (let k = 0; k < 400 && !stop && Date.now() < until; k++) {
        const r = await postEntries(net.urls[k % 4]!, signedEntries(net, batch, 'pa')).catch(() => null);
        for (const x of (r?.body?.results ?? []) as { leafHash?: string }[]) if (x.leafHash !== undefined) accepted.add(x.leafHash);
        await new Promise((res) => setTimeout(res, 200));
      }
    })();

    const proposal = await cairn(net, ['gov', 'propose', 'params.set', '--set', `maxBlockEntries=${NEW_MAX}`, '--peer', net.urls[0]!, '--out', 'params.json']);
    expect(proposal).toContain(`maxBlockEntries ${NEW_MAX}: every block from height H+2 carries at most ${NEW_MAX} entries`);
    for (const k of [0, 1, 2]) await cairn(net, ['gov', 'vote', '--proposal', 'params.json', '--key', `${net.orgs[k]!.name}.key`, '--append']);
    const sub = await cairn(net, ['gov', 'submit', '--proposal', 'params.json', '--peer', net.urls[1]!, '--client-key', 'client.key']);
    expect(sub).toContain(`parameters maxBlockEntries=${NEW_MAX} apply from height`);
    const eff = Number(/\(in block \d+; from height (\d+)\)/.exec(sub)?.[1]);
    expect(eff, sub).toBeGreaterThan(0);

    // A lighter load past the effective height (each block now takes 5), then stop and drain.
    batch = 4;
    await waitStatus(net, ALL, `heads past ${eff + 3}`, (s) => s.height >= eff + 3, 30_000);
    // On a fast run the decision and those heights can come within two or three load rounds; keep
    // the load on until it has put a real number of entries through (bounded, like the load).
    for (const until = Date.now() + 30_000; accepted.size <= 50 && Date.now() < until; ) await new Promise((res) => setTimeout(res, 100));
    stop = true;
    await load;
    expect(accepted.size).toBeGreaterThan(50);
    const done = await waitStatus(net, ALL, 'every accepted entry final on every peer', (s) => s.mempool.entries === 0 && s.finalSize === s.treeSize && s.treeSize === accepted.size + 1, 40_000);
    expect(new Set(done.map((s) => s.governance!.govStateHash)).size).toBe(1);
    for (const h of [...accepted].slice(0, 600)) {
      const e = await getJson<{ status: string }>(net.urls[2]!, `/v1/entries/${h}`);
      expect(e.status, h).toBe('final');
    }

    // The blocks themselves, read back from a stopped peer's store.
    expect(await stopProc(net, 0)).toBe(0);
    const store = await openStore(join(net.dirs[0]!, 'data', 'store'), { genesisHash: net.genesis.hash });
    const counts: number[] = [];
    try {
      for (let h = 1; h <= store.head()!.height; h++) {
        const d = decodeBlock(await store.getBlock(h));
        if (!d.ok) throw new Error(`block ${h}: ${d.message}`);
        counts.push(d.block.entries.length);
      }
    } finally {
      await store.close();
    }
    const before = counts.slice(0, eff - 1);
    const after = counts.slice(eff - 1);
    expect(Math.max(...before), JSON.stringify(counts)).toBeGreaterThan(NEW_MAX);
    expect(after.length, JSON.stringify(counts)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...after), JSON.stringify(counts)).toBeLessThanOrEqual(NEW_MAX);
  }, 120_000);
});
