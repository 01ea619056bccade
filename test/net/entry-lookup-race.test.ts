// Looking an entry up while its block is applied (Peer.getEntry, getEntryByClientId): an entry
// leaves the mempool only once its block is durable, so the lookup reads the mempool first and
// the store second. Here the store's answer is held back until the entry has moved — the store
// was read while the entry was pending, the mempool would be read after it left — and the entry
// must still be found, never reported unknown. Four real peers in one process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding/bytes.js';
import { entryLeaf } from '../../src/entry/index.js';
import { leafHash } from '../../src/merkle/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { clusterProgress, makeEntries, startedCluster, waitFor, type Cluster } from '../peer-support/cluster.js';

let c: Cluster;
beforeAll(async () => {
  c = await startedCluster(4);
});
afterAll(async () => {
  await c?.close();
});

/**
 * Replaces one store read of peer 0 for the next call only: it reads now, then holds the answer
 * until `moved()` (the entry's block is durable and the mempool let it go).
 */
function holdNextRead<K extends 'indexOfLeafHash' | 'lookupClientId'>(name: K, moved: () => boolean): { held: () => boolean } {
  const store = c.peers[0]!.internals.store as unknown as Record<K, (...a: unknown[]) => Promise<unknown>>;
  const orig = store[name]!.bind(store);
  let held = false;
  store[name] = async (...a: unknown[]) => {
    store[name] = orig;
    const answer = await orig(...a);
    held = true;
    await waitFor(c, 'the entry to move from the mempool into a durable block', moved, () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000, pollMs: 5 });
    return answer;
  };
  return { held: () => held };
}

async function submitOne(prefix: string): Promise<{ e: AuditEntry; hex: string }> {
  const [e] = makeEntries(c.clients, 1, prefix);
  const [r] = await c.peers[0]!.submit([e!]);
  expect(r).toHaveProperty('status', 'accepted');
  return { e: e!, hex: toHex(leafHash(entryLeaf(e!))) };
}

describe('an entry looked up while its block is applied', () => {
  it('by leaf hash: found (pending or logged), not unknown', async () => {
    const { hex } = await submitOne('race-hash');
    const mempool = c.peers[0]!.internals.mempool;
    expect(mempool.getPending(hex)).toBeDefined();
    const h = holdNextRead('indexOfLeafHash', () => mempool.getPending(hex) === undefined);
    const l = await c.peers[0]!.getEntry(hex);
    expect(h.held()).toBe(true);
    expect(l.status).not.toBe('unknown');
    // And once it has moved, it is logged (or final).
    expect(['logged', 'final']).toContain((await c.peers[0]!.getEntry(hex)).status);
  }, 60_000);

  it('by (client, id): found (pending or logged), not unknown', async () => {
    const { e, hex } = await submitOne('race-id');
    const mempool = c.peers[0]!.internals.mempool;
    const h = holdNextRead('lookupClientId', () => mempool.getPending(hex) === undefined);
    const l = await c.peers[0]!.getEntryByClientId(e.client, e.id);
    expect(h.held()).toBe(true);
    expect(l.status).not.toBe('unknown');
  }, 60_000);
});
