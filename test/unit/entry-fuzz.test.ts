// Fuzz-style tests (deterministic, seeded): random mutations of a valid entry and random byte
// edits of a valid leaf never throw, always give `ok` or coded errors, and a leaf that still
// parses after an edit never still verifies under the original signature.
import { describe, expect, it } from 'vitest';
import { validateEntry } from '../../src/entry/validate.js';
import { entryLeaf, parseLeaf } from '../../src/entry/leaf.js';
import { signEntry, verifyEntrySignature } from '../../src/entry/sign.js';
import { ENTRY_ERROR_CODES, type AuditEntry, type EntryResult } from '../../src/entry/types.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { toHex } from '../../src/encoding/bytes.js';
import { SeededRandom } from './support/seeded-random.js';
import { fullUnsignedEntry } from './support/entry-fixtures.js';

const SEED = 'entry-fuzz-v1';
const ROUNDS = 3000;
const BYTE_ROUNDS = 2000;
const CODES = new Set<string>(ENTRY_ERROR_CODES);

const base = signEntry(fullUnsignedEntry(), nodeSigner(new Uint8Array(32).fill(3)));

const WEIRD_STRINGS = ['', ' ', '\u0000', '\ud800', '\udfff', 'a\u202eb', '€', '😀', 'x'.repeat(300), '.', '..', 'a/b', '2024-02-30T00:00:00Z', '::1', 'db.query', 'success', '1'.repeat(64), 'A'.repeat(128)];

function randomValue(rnd: SeededRandom, depth = 0): unknown {
  switch (rnd.int(depth > 3 ? 9 : 12)) {
    case 0: return null;
    case 1: return rnd.int(2) === 0;
    case 2: return rnd.int(1000) - 500;
    case 3: return rnd.pick([NaN, Infinity, -Infinity, 2 ** 53, -0, 0.1, 1e-300, Number.MAX_VALUE]);
    case 4: return rnd.pick(WEIRD_STRINGS);
    case 5: return String.fromCharCode(...rnd.bytes(1 + rnd.int(8)).map((b) => b * 7));
    case 6: return undefined;
    case 7: return rnd.pick([new Date(0), 1n, () => 1, Symbol('s'), new Map(), new Uint8Array(2)]);
    case 8: return toHex(rnd.bytes(rnd.int(70)));
    case 9: return Array.from({ length: rnd.int(4) }, () => randomValue(rnd, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rnd.int(4); i > 0; i--) {
        // defineProperty makes '__proto__' an own key, as JSON.parse does (plain assignment would set the prototype).
        const k = rnd.pick(['a', 'id', 'type', 'name', 'ip', 'userAgent', '__proto__', '\ud800', 'x']);
        Object.defineProperty(o, k, { value: randomValue(rnd, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...prefix, k], out);
  }
  return out;
}

function mutate(rnd: SeededRandom, entry: AuditEntry): unknown {
  let root: unknown = structuredClone(entry);
  const steps = 1 + rnd.int(3);
  for (let s = 0; s < steps; s++) {
    const all = paths(root);
    const path = rnd.pick(all);
    if (path.length === 0) {
      if (rnd.int(10) === 0) root = randomValue(rnd);
      continue;
    }
    let parent = root as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    switch (rnd.int(4)) {
      case 0: delete parent[key]; break;
      case 1: parent[key] = randomValue(rnd); break;
      case 2: parent[rnd.pick(['extra', 'sig', 'client', 'data', 'source', 'v', 'n'])] = randomValue(rnd); break;
      default: {
        const cur = parent[key];
        if (typeof cur === 'string' && cur.length > 0) {
          const i = rnd.int(cur.length);
          parent[key] = cur.slice(0, i) + rnd.pick(WEIRD_STRINGS) + cur.slice(i + 1);
        } else {
          parent[key] = randomValue(rnd);
        }
      }
    }
  }
  return root;
}

function checkResult(r: EntryResult): void {
  if (r.ok) return;
  expect(r.errors.length).toBeGreaterThan(0);
  for (const e of r.errors) {
    expect(CODES.has(e.code), e.code).toBe(true);
    expect(typeof e.field).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
  }
}

describe(`entry fuzz (seed ${SEED})`, () => {
  it(`${ROUNDS} random structural mutations never throw and give ok or coded errors`, () => {
    const rnd = new SeededRandom(SEED);
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const input = mutate(rnd, base);
      let r: EntryResult;
      try {
        r = validateEntry(input);
      } catch (e) {
        throw new Error(`round ${i}: validateEntry threw ${String(e)}`);
      }
      checkResult(r);
      if (r.ok) {
        ok++;
        // Anything accepted must have a well-defined canonical leaf that parses back to itself.
        const again = parseLeaf(entryLeaf(r.entry));
        expect(again).toEqual({ ok: true, entry: r.entry });
      } else {
        rejected++;
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(ROUNDS / 2);
  });

  it(`${BYTE_ROUNDS} random byte edits of a leaf never throw; one that still parses never still verifies`, () => {
    const rnd = new SeededRandom(SEED + '/bytes');
    const leaf = entryLeaf(base);
    let parsed = 0;
    for (let i = 0; i < BYTE_ROUNDS; i++) {
      const b = leaf.slice();
      const edits = 1 + rnd.int(3);
      for (let j = 0; j < edits; j++) {
        const at = rnd.int(b.length);
        b[at] = rnd.int(3) === 0 ? b[at]! ^ (1 << rnd.int(8)) : rnd.pick([0x22, 0x5c, 0x20, 0x7b, 0x7d, 0x30, 0x61, 0xc3, 0xff, 0x00]);
      }
      if (toHex(b) === toHex(leaf)) continue;
      let r: EntryResult;
      try {
        r = parseLeaf(b);
      } catch (e) {
        throw new Error(`round ${i}: parseLeaf threw ${String(e)}`);
      }
      checkResult(r);
      if (r.ok) {
        parsed++;
        expect(verifyEntrySignature(r.entry, nodeVerifier), `round ${i}`).toBe(false);
      }
    }
    expect(parsed).toBeGreaterThan(0); // some edits (inside strings) keep the leaf valid JSON
  });
});
