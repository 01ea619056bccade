// Client submissions verified in worker threads (peer config verifyWorkers > 0): the entry checker
// gives exactly the in-thread verdicts, verifies nothing in-thread for what the pool checked, and
// falls back to the in-thread check when the pool cannot help. The config field is bounded.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { peerVerifier } from '../../node/crypto/peer-verifier.js';
import { VerifyPool } from '../../node/peer/verify-pool.js';
import { startPeer } from '../../node/peer/peer.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { CONFIG_BASE as base, configField, expectConfigRefused } from './support/config-fixture.js';

const orgs = await makeOrgs(4, 'vp');
const clients = makeClients(1, 'vpc');
/** Not in the genesis. */
const stranger = makeClients(1, 'vpx')[0]!;
const genesis = makeGenesis(orgs, clients);

function entry(id: string): AuditEntry {
  return signEntry({ v: 1, id, time: '2024-05-01T12:00:00Z', actor: { id: 'u' }, action: 'a.b', resource: { type: 't', id: 'r' }, outcome: 'success' }, clients[0]!.signer);
}

/** Good entries, one with a flipped signature, one malformed, one not an object. */
function inputs(tag: string): unknown[] {
  const bad = entry(`${tag}-bad`);
  bad.sig = (bad.sig[0] === 'a' ? 'b' : 'a') + bad.sig.slice(1);
  return [entry(`${tag}-1`), bad, { ...entry(`${tag}-m`), v: 2 }, 'nope', entry(`${tag}-2`)];
}

function verdicts(checker: ReturnType<typeof createEntryChecker>, list: unknown[]): string[] {
  return list.map((x) => {
    const c = checker.checkInput(x);
    return c.ok ? 'ok' : c.code;
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('entry checker with a verify pool', () => {
  it('same verdicts as in-thread, with no in-thread verification after preverifyInputs', async () => {
    const want = verdicts(createEntryChecker(genesis), inputs('a'));
    expect(want).toEqual(['ok', 'bad_signature', 'malformed', 'malformed', 'ok']);
    const checker = createEntryChecker(genesis, undefined, null, new VerifyPool({ workers: 1 }));
    try {
      const list = inputs('a');
      await checker.preverifyInputs!(list);
      const inThread = vi.spyOn(peerVerifier, 'verify');
      expect(verdicts(checker, list)).toEqual(want);
      expect(inThread).not.toHaveBeenCalled();
      expect(checker.poolFailures).toBe(0);
    } finally {
      await checker.close!();
    }
  });

  it('a closed pool changes no verdict: the in-thread check takes over', async () => {
    const checker = createEntryChecker(genesis, undefined, null, new VerifyPool({ workers: 1 }));
    await checker.close!();
    const list = inputs('b');
    await checker.preverifyInputs!(list);
    expect(checker.poolFailures).toBe(1);
    const inThread = vi.spyOn(peerVerifier, 'verify');
    expect(verdicts(checker, list)).toEqual(['ok', 'bad_signature', 'malformed', 'malformed', 'ok']);
    expect(inThread).toHaveBeenCalledTimes(3);
  });

  it('an unknown client\'s signature is not sent to the pool, and gets the same refusal', async () => {
    const unknown = signEntry({ v: 1, id: 'x-1', time: '2024-05-01T12:00:00Z', actor: { id: 'u' }, action: 'a.b', resource: { type: 't', id: 'r' }, outcome: 'success' }, stranger.signer);
    const want = verdicts(createEntryChecker(genesis), [unknown, entry('c-1')]);
    expect(want).toEqual(['unknown_client', 'ok']);
    const pool = new VerifyPool({ workers: 1 });
    const checker = createEntryChecker(genesis, undefined, null, pool);
    try {
      const sent = vi.spyOn(pool, 'verifyMany');
      await checker.preverifyInputs!([unknown]);
      expect(sent).not.toHaveBeenCalled();
      const list = [unknown, entry('c-1')];
      await checker.preverifyInputs!(list);
      expect(sent).toHaveBeenCalledTimes(1);
      expect(sent.mock.calls[0]![0]).toHaveLength(1);
      const inThread = vi.spyOn(peerVerifier, 'verify');
      expect(verdicts(checker, list)).toEqual(want);
      expect(inThread).not.toHaveBeenCalled();
    } finally {
      await checker.close!();
    }
  });

  it('a peer start that fails after the pool was made closes the pool (no worker threads left behind)', async () => {
    const closed = vi.spyOn(VerifyPool.prototype, 'close');
    const dataDir = await mkdtemp(join(tmpdir(), 'cairn-vp-start-'));
    try {
      // An address the network cannot listen on: the start fails after the checker and its pool exist.
      await expect(startPeer({ genesis, signingSeed: orgs[0]!.seed, p2pKey: orgs[0]!.p2pKey, dataDir, listen: ['not-a-multiaddr'], verifyWorkers: 1 })).rejects.toThrow();
      expect(closed).toHaveBeenCalledTimes(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('verifyWorkers: absent by default; the file and CAIRN_VERIFY_WORKERS set it; a bad value is refused naming its source', () => {
    const get = configField('verifyWorkers');
    expect(get(base)).toBeUndefined();
    expect(get({ ...base, verifyWorkers: 2 })).toBe(2);
    expect(get({ ...base, verifyWorkers: 0 }, { CAIRN_VERIFY_WORKERS: '1' })).toBe(1);
    for (const v of [-1, 1.5, '2', 17]) expectConfigRefused({ ...base, verifyWorkers: v }, {}, 'config_bad_verify_workers', 'verifyWorkers');
    expectConfigRefused(base, { CAIRN_VERIFY_WORKERS: 'many' }, 'config_bad_verify_workers', 'CAIRN_VERIFY_WORKERS');
  });
});
