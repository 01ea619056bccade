// Robustness: the parsers and verifiers of governance records and trust chains never throw on
// hostile input, and every refusal carries one of the documented codes.
import { describe, expect, it } from 'vitest';
import {
  applyGovernance,
  genesisGovState,
  GOV_PARSE_CODES,
  GOV_REJECT_CODES,
  parseGovRecord,
  type GovRecord,
} from '../../src/governance/index.js';
import { parseTrustChainFile, updateTrustChain, trustChainFromRoot } from '../../src/verifier/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { add, clientKey, genesisOf, grant, org, OPTS, ORIGIN, paramsSet, remove, revoke, rotate } from './support/governance-fixture.js';

const [a, b, c, d] = ['org1', 'org2', 'org3', 'org4'].map((n) => org(n)) as [ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>];
const s0 = genesisGovState(genesisOf([a, b, c, d]));
const app = clientKey('fuzz');
const samples: GovRecord[] = [
  grant(a, { name: 'fuzz', hex: app.hex }, 50, { expiresAt: 90 }),
  revoke(a, app.hex, 50),
  rotate(a, org('org1', 1), 40, 50),
  add(org('org5'), [a, b, c], 50),
  remove('org4', [a, b, c], 50),
  paramsSet({ maxBlockBytes: 1_048_576, timeouts: { deltaMs: 250 } }, [a, b, c], 50),
];
const WEIRD: unknown[] = [null, true, 0, -1, 1.5, 1e300, '', 'x', 'ORG1', 'a'.repeat(5000), [], [1], {}, { v: 1 }, '00'.repeat(32)];

/** Every path to a value inside a JSON tree (bounded: the records are small). */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function mutateAt(root: unknown, path: (string | number)[], mode: number, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(root));
  if (path.length === 0) return value;
  let p: any = copy;
  for (const k of path.slice(0, -1)) p = p[k];
  const last = path[path.length - 1]!;
  if (mode === 0) Array.isArray(p) ? p.splice(Number(last), 1) : delete p[last];
  else if (mode === 1) p[last] = value;
  else if (typeof p === 'object' && !Array.isArray(p)) p[`${String(last)}_`] = value;
  return copy;
}

describe('governance and trust-chain robustness', () => {
  it('parseGovRecord and applyGovernance never throw on structural mutations; codes are documented', () => {
    const rng = new SeededRandom('gov-fuzz');
    let n = 0;
    for (const rec of samples) {
      for (const path of paths(rec)) {
        for (let k = 0; k < 3; k++) {
          const mutated = mutateAt(rec, path, rng.int(3), rng.pick(WEIRD));
          const p = parseGovRecord(mutated);
          n++;
          if (!p.ok) {
            expect(GOV_PARSE_CODES as readonly string[], JSON.stringify(path)).toContain(p.code);
            continue;
          }
          const r = applyGovernance(s0, p.parsed, 5, OPTS);
          if (!r.ok) expect(GOV_REJECT_CODES as readonly string[], JSON.stringify(path)).toContain(r.code);
        }
      }
    }
    expect(n).toBeGreaterThan(300);
  });

  it('updateTrustChain and parseTrustChainFile never throw on garbage', () => {
    const chain = trustChainFromRoot({ origin: ORIGIN, quorum: 3, keys: [a, b, c, d].map((o) => o.key) });
    const garbage: unknown[] = [
      null,
      {},
      { entryLeaf: 'x', index: 0, proof: [], checkpoint: '' },
      { entryLeaf: new Uint8Array(10), index: -1, proof: [], checkpoint: '' },
      { entryLeaf: new Uint8Array(10), index: 0, proof: 'x', checkpoint: '' },
      { entryLeaf: new Uint8Array(10), index: 0, proof: [1, 2], checkpoint: '' },
      { entryLeaf: new Uint8Array(10), index: 0, proof: [], checkpoint: 5 },
      { entryLeaf: new Uint8Array(10), index: 0, proof: [], checkpoint: 'not a note' },
      { entryLeaf: new Uint8Array(100_000), index: 0, proof: [], checkpoint: 'x\n' },
    ];
    for (const g of garbage) {
      const r = updateTrustChain(chain, [g as never], OPTS);
      expect(r.ok, JSON.stringify(g)).toBe(false);
      expect(typeof (r as { code: string }).code).toBe('string');
    }
    expect(updateTrustChain(chain, 'x' as never, OPTS)).toMatchObject({ ok: false, code: 'trust_step_bad_input' });
    expect(updateTrustChain(chain, Array.from({ length: 257 }, () => garbage[1]) as never, OPTS)).toMatchObject({ ok: false, code: 'trust_step_too_many' });
    const doc = { version: 2, origin: ORIGIN, quorum: 3, keys: [a, b, c, d].map((o) => o.key.text), epochs: [{ afterSize: 5, quorum: 3, keys: [a, b, c].map((o) => o.key.text), record: '0'.repeat(64) }] };
    expect(parseTrustChainFile(JSON.stringify(doc)).ok).toBe(true);
    const rng = new SeededRandom('trust-fuzz');
    for (const path of paths(doc)) {
      for (let k = 0; k < 3; k++) {
        const r = parseTrustChainFile(JSON.stringify(mutateAt(doc, path, rng.int(3), rng.pick(WEIRD))));
        if (!r.ok) expect(r.code).toMatch(/^trust_/);
      }
    }
  });
});
