// The counters the bad_signatures and clock_skew alarms read: the mempool counts every refused
// client submission by code, and bad signatures per client key, whichever way the submission came
// in (a real LevelDB store behind the "already logged" lookups).
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { openStore } from '../../node/storage/store.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { TempDirs } from './support/storage-fixture.js';

const clients = makeClients(2, 'rcc');
const genesis = makeGenesis(await makeOrgs(1, 'rc'), clients, { limits: { mempoolMaxEntries: 3, maxBlockEntries: 3, maxClockSkewMs: 60_000 } });
const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

function entry(id: string, client = clients[0]!, over: Partial<AuditEntry> = {}): AuditEntry {
  return signEntry({ v: 1, id, time: new Date().toISOString(), actor: { id: 'u', type: 'user' }, action: 'a.b', resource: { type: 't', id: 'r' }, outcome: 'success', ...over } as AuditEntry, client.signer);
}

const forged = (e: AuditEntry): AuditEntry => ({ ...e, actor: { id: 'someone-else', type: 'user' } });

describe('mempool refusal counters', () => {
  it('count refusals by code, and bad signatures per client key', async () => {
    const store = await openStore(join(await dirs.make(), 'store'), { genesisHash: genesis.hash });
    const log = { indexOfLeafHash: store.indexOfLeafHash.bind(store), lookupClientId: store.lookupClientId.bind(store), finalSize: () => 0 };
    const m = new Mempool({ mempoolMaxEntries: 3, mempoolMaxBytes: 1 << 20, maxClockSkewMs: 60_000 }, createEntryChecker(genesis), log, null);
    const [a, b] = [clients[0]!, clients[1]!];
    await m.submit([forged(entry('s1', a)), forged(entry('s2', a)), forged(entry('s3', b)), null, 'junk']);
    await m.submit([entry('old', a, { time: '2001-01-01T00:00:00Z' }), forged(entry('s4', a))]);
    await m.submit([entry('ok1'), entry('ok2'), entry('ok3'), entry('ok4')]);
    expect(Object.fromEntries(m.rejected.byCode)).toEqual({ bad_signature: 4, malformed: 2, clock_skew: 1, busy: 1 });
    const pub = (c: typeof a) => forged(entry('k', c)).client;
    expect(Object.fromEntries(m.rejected.badSignatureByClient)).toEqual({ [pub(a)]: 3, [pub(b)]: 1 });
    // Accepted entries are not counted.
    expect(m.size).toBe(3);
    await store.close();
  });
});
