// The peer's entry checker (node/peer/entries.ts) canonicalizes and verifies each entry once per
// peer: the same bytes seen again (topic validator then handler, proposal then decided block, a
// submission then its gossip echo) are not parsed or verified again, while the checks that depend
// on the governance state are made every time, so a remembered entry gets the same verdict.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signEntry, entryLeaf, leafHashOfEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { CheckedCache, createEntryChecker, fastLeafHash } from '../../node/peer/entries.js';
import { peerVerifier } from '../../node/crypto/peer-verifier.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { toHex, utf8, fromUtf8 } from '../../src/encoding/bytes.js';
import { fieldsOfLeaf } from '../../node/search/index-writer.js';

const orgs = await makeOrgs(4, 'ec');
const clients = makeClients(2, 'ecc');
const genesis = makeGenesis(orgs, clients);
const otherGenesis = makeGenesis(orgs, [clients[1]!]);

function entry(id: string, client = clients[0]!): AuditEntry {
  return signEntry(
    { v: 1, id, time: '2024-05-01T12:00:00.5Z', actor: { id: 'u é 😀' }, action: 'a.b', resource: { type: 't', id: 'r' }, outcome: 'success', data: { n: [1, 0.5, { x: null }] } },
    client.signer,
  );
}

function counting() {
  return { parse: vi.spyOn(JSON, 'parse'), verify: vi.spyOn(peerVerifier, 'verify') };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('entry checker: one canonicalization and one signature check per peer', () => {
  it('a leaf checked twice (gossip validator, then handler) is parsed and verified once', () => {
    const checker = createEntryChecker(genesis);
    const leaf = entryLeaf(entry('g1'));
    const n = counting();
    const a = checker.checkLeaf(leaf);
    const b = checker.checkLeaf(leaf.slice()); // the handler decodes the batch again: other bytes objects, same content
    expect(a.ok && b.ok).toBe(true);
    expect(n.parse).toHaveBeenCalledTimes(1);
    expect(n.verify).toHaveBeenCalledTimes(1);
    if (a.ok && b.ok) {
      expect(toHex(b.entry.leafHash)).toBe(toHex(a.entry.leafHash));
      expect({ ...b.entry, leaf: undefined }).toEqual({ ...a.entry, leaf: undefined });
    }
  });

  it('an entry of a proposal is not parsed again when the decided block is applied', () => {
    const checker = createEntryChecker(genesis);
    const leaf = entryLeaf(entry('p1'));
    const n = counting();
    const proposed = checker.checkLeaf(leaf, { inBlock: true });
    const decided = checker.parseDecided(leaf.slice());
    expect(proposed.ok && decided.ok).toBe(true);
    expect(n.parse).toHaveBeenCalledTimes(1);
    if (proposed.ok && decided.ok) expect({ ...decided.entry, leaf: undefined }).toEqual({ ...proposed.entry, leaf: undefined });
  });

  it("a decided leaf this peer never saw is parsed once: the search index takes the light parse's fields", () => {
    const checker = createEntryChecker(genesis);
    const e = signEntry(
      { v: 1, id: 'd1', time: '2024-05-01T12:00:00.123456Z', actor: { id: 'u é 😀', type: 'user' }, action: 'db.table.drop', resource: { type: 'db.table', id: 'payments' }, outcome: 'denied', tenant: 'acme' },
      clients[0]!.signer,
    );
    const leaf = entryLeaf(e);
    const n = counting();
    const d = checker.parseDecided(leaf);
    expect(n.parse).toHaveBeenCalledTimes(1);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    // What the index would have parsed itself, field for field (time truncated to milliseconds).
    expect(d.entry.fields).toEqual(fieldsOfLeaf(leaf));
    expect(d.entry.fields).toEqual({ actor: 'u é 😀', action: 'db.table.drop', resourceType: 'db.table', resourceId: 'payments', tenant: 'acme', outcome: 'denied', client: e.client, timeMs: Date.parse('2024-05-01T12:00:00.123Z') });
    // A leaf the peer checked before (proposal, gossip) is not parsed here: the index parses it.
    const proposed = checker.checkLeaf(entryLeaf(entry('d2')), { inBlock: true });
    const decided = checker.parseDecided(entryLeaf(entry('d2')));
    expect(proposed.ok && decided.ok).toBe(true);
    expect(decided.ok && decided.entry.fields).toBeUndefined();
  });

  it('a submission is verified once, also when its bytes come back by gossip', () => {
    const checker = createEntryChecker(genesis);
    const e = entry('s1');
    const n = counting();
    const submitted = checker.checkInput(JSON.parse(JSON.stringify(e)));
    n.parse.mockClear();
    const echoed = checker.checkLeaf(entryLeaf(e));
    expect(submitted.ok && echoed.ok).toBe(true);
    expect(n.verify).toHaveBeenCalledTimes(1);
    expect(n.parse).toHaveBeenCalledTimes(0);
    if (submitted.ok) {
      expect(toHex(submitted.entry.leaf)).toBe(toHex(entryLeaf(e)));
      expect(toHex(submitted.entry.leafHash)).toBe(toHex(leafHashOfEntry(entryLeaf(e))));
    }
  });

  it('a leaf hash the caller computed is used, not computed again', () => {
    const checker = createEntryChecker(genesis);
    const leaf = entryLeaf(entry('h1'));
    const leafHash = fastLeafHash(leaf);
    const r = checker.checkLeaf(leaf, { leafHash });
    expect(r.ok && r.entry.leafHash).toBe(leafHash);
    const d = checker.parseDecided(leaf, leafHash);
    expect(d.ok && d.entry.leafHash).toBe(leafHash);
  });

  it('a bad signature is found once and refused every time with bad_signature', () => {
    const checker = createEntryChecker(genesis);
    const e = entry('b1');
    const forged = utf8(fromUtf8(entryLeaf(e)).replace(`"sig":"${e.sig}"`, `"sig":"${entry('b2').sig}"`));
    const n = counting();
    for (let i = 0; i < 3; i++) {
      const r = checker.checkLeaf(forged);
      expect(!r.ok && r.code).toBe('bad_signature');
    }
    expect(n.verify).toHaveBeenCalledTimes(1);
  });

  it('remembered entries still go through client authorization (same verdict as a fresh check)', () => {
    const cache = new CheckedCache();
    const leaf = entryLeaf(entry('c1', clients[0]!));
    expect(createEntryChecker(genesis, cache).checkLeaf(leaf).ok).toBe(true);
    const other = createEntryChecker(otherGenesis, cache);
    const remembered = other.checkLeaf(leaf);
    const fresh = createEntryChecker(otherGenesis).checkLeaf(leaf);
    expect(!remembered.ok && remembered.code).toBe('unknown_client');
    expect(remembered).toEqual(fresh);
  });

  it('keeps the existing codes: malformed for a non-canonical or broken leaf, too_large over the bound', () => {
    const checker = createEntryChecker(genesis);
    const text = fromUtf8(entryLeaf(entry('m1')));
    expect(checker.checkLeaf(utf8(` ${text}`))).toMatchObject({ ok: false, code: 'malformed' });
    expect(checker.checkLeaf(utf8(text.slice(1)))).toMatchObject({ ok: false, code: 'malformed' });
    expect(checker.checkLeaf(new Uint8Array(70_000))).toMatchObject({ ok: false, code: 'too_large' });
    expect(checker.checkInput({ ...entry('m2'), outcome: 'nope' })).toMatchObject({ ok: false, code: 'malformed', field: 'outcome' });
  });
});

describe('CheckedCache', () => {
  const facts = (id: string) => ({ client: 'c', id, time: '2024-05-01T12:00:00Z', good: true });
  it('is bounded by count, oldest out first', () => {
    const c = new CheckedCache(3, 1 << 20);
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, facts(k), 300);
    expect(c.size).toBe(3);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')?.id).toBe('d');
  });
  it('is bounded by bytes, counting the entry objects it keeps', () => {
    const c = new CheckedCache(1000, 4096);
    for (let i = 0; i < 100; i++) c.set(`k${i}`, facts(`k${i}`), 300);
    expect(c.bytes).toBeLessThanOrEqual(4096);
    expect(c.size).toBeLessThan(100);
    c.set('gov', { ...facts('gov'), govEntry: entry('gov') }, 1500);
    expect(c.get('gov')?.govEntry).toBeDefined();
    expect(c.bytes).toBeLessThanOrEqual(4096);
    c.set('huge', { ...facts('huge'), govEntry: entry('huge') }, 10_000);
    expect(c.get('huge')).toBeUndefined();
  });
});
