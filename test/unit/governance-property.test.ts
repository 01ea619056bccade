// Property tests: the governance state machine is a pure function of (genesis, records, heights),
// and no single-byte change of a signed record is ever accepted.
import { describe, expect, it } from 'vitest';
import { nobleVerifier } from '../../src/crypto/noble.js';
import {
  applyGovernance,
  genesisGovState,
  govRecordBytes,
  govStateHash,
  parseGovRecordBytes,
  type GovRecord,
  type GovState,
} from '../../src/governance/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { add, clientKey, genesisOf, grant, org, OPTS, paramsSet, parsed, remove, revoke, rotate, type TestOrg } from './support/governance-fixture.js';

const base = ['org1', 'org2', 'org3', 'org4'].map((n) => org(n));
const genesis = genesisOf(base);

/** A random mix of valid and invalid records at non-decreasing heights (bounded: `count` records). */
function randomScript(rng: SeededRandom, count: number): { record: GovRecord; height: number }[] {
  const out: { record: GovRecord; height: number }[] = [];
  const pool: TestOrg[] = [...base, org('org5'), org('org6')];
  const clients = Array.from({ length: 6 }, (_, i) => ({ name: `app${i}`, hex: clientKey(`p${i}`).hex }));
  let h = 1;
  for (let i = 0; i < count; i++) {
    h += rng.int(3);
    const voters = pool.filter(() => rng.int(4) !== 0);
    const someone = rng.pick(pool);
    const deadline = h + rng.int(6) - 1; // sometimes already expired
    switch (rng.int(6)) {
      case 0:
        out.push({ record: grant(someone, rng.pick(clients), deadline), height: h });
        break;
      case 1:
        out.push({ record: revoke(someone, rng.pick(clients).hex, deadline), height: h });
        break;
      case 2:
        out.push({ record: rotate(someone, org(someone.name, 1 + rng.int(3)), h + rng.int(5), deadline, undefined, 1 + rng.int(3)), height: h });
        break;
      case 3:
        out.push({ record: add(rng.pick(pool), voters, deadline, 1 + rng.int(3)), height: h });
        break;
      case 4:
        out.push({ record: remove(someone.name, voters, deadline, 1 + rng.int(3)), height: h });
        break;
      default:
        out.push({ record: paramsSet({ maxBlockEntries: 1 + rng.int(5000) }, voters, deadline), height: h });
    }
    if (rng.int(8) === 0 && out.length > 1) out.push({ record: out[rng.int(out.length)]!.record, height: h }); // a replay
  }
  return out;
}

function run(script: { record: GovRecord; height: number }[], verifier = OPTS.verifier): { hash: string; verdicts: string[] } {
  let state: GovState = genesisGovState(genesis);
  const verdicts: string[] = [];
  for (const { record, height } of script) {
    // Each run parses from the canonical bytes, as a peer reading the log does.
    const p = parseGovRecordBytes(govRecordBytes(record));
    if (!p.ok) {
      verdicts.push(p.code);
      continue;
    }
    const r = applyGovernance(state, p.parsed, height, { verifier });
    verdicts.push(r.ok ? `ok:${r.effect.effectiveHeight}` : r.code);
    if (r.ok) state = r.state;
  }
  return { hash: govStateHash(state), verdicts };
}

describe('governance properties', () => {
  it('the same records in the same order from the genesis always give the same verdicts and state', () => {
    let accepted = 0;
    let rejected = 0;
    for (let seed = 0; seed < 8; seed++) {
      const script = randomScript(new SeededRandom(`gov-det-${seed}`), 25);
      const first = run(script);
      const again = run(script);
      expect(again, `seed ${seed}`).toEqual(first);
      // A regenerated script from the same seed (new nonces, so new ids) gives the same verdicts.
      expect(run(randomScript(new SeededRandom(`gov-det-${seed}`), 25)).verdicts, `seed ${seed}`).toEqual(first.verdicts);
      accepted += first.verdicts.filter((v) => v.startsWith('ok')).length;
      rejected += first.verdicts.filter((v) => !v.startsWith('ok')).length;
    }
    // The scripts exercise both outcomes, not just one.
    expect(accepted).toBeGreaterThan(15);
    expect(rejected).toBeGreaterThan(15);
  });

  it('node:crypto and noble give the same verdicts (every peer the same verdict, whatever its library)', () => {
    for (let seed = 0; seed < 3; seed++) {
      const script = randomScript(new SeededRandom(`gov-libs-${seed}`), 15);
      expect(run(script, nobleVerifier), `seed ${seed}`).toEqual(run(script));
    }
  });

  it('any single-byte corruption of a signed record is rejected', () => {
    const [a, b, c, d] = base as [TestOrg, TestOrg, TestOrg, TestOrg];
    const s0 = genesisGovState(genesis);
    const app = clientKey('corrupt');
    const s1 = (() => {
      const r = applyGovernance(s0, parsed(grant(a, { name: 'corrupt', hex: app.hex }, 20)), 2, OPTS);
      if (!r.ok) throw new Error(r.message);
      return r.state;
    })();
    const cases: { state: GovState; record: GovRecord }[] = [
      { state: s0, record: grant(b, { name: 'app', hex: clientKey('x').hex }, 20, { expiresAt: 15 }) },
      { state: s1, record: revoke(a, app.hex, 20) },
      { state: s0, record: rotate(a, org('org1', 1), 12, 20) },
      { state: s0, record: add(org('org5'), [a, b, c, d], 20) },
      { state: s0, record: remove('org4', [a, b, c], 20) },
      { state: s0, record: paramsSet({ maxBlockEntries: 100, timeouts: { proposeMs: 2_000 } }, [b, c, d], 20) },
    ];
    const rng = new SeededRandom('gov-corrupt');
    let tried = 0;
    for (const { state, record } of cases) {
      const bytes = govRecordBytes(record);
      const original = parseGovRecordBytes(bytes);
      if (!original.ok) throw new Error(original.message);
      expect(applyGovernance(state, original.parsed, 5, OPTS).ok, record.type).toBe(true);
      for (let i = 0; i < bytes.length; i++) {
        const corrupt = bytes.slice();
        corrupt[i] = corrupt[i]! ^ (1 + rng.int(255));
        const p = parseGovRecordBytes(corrupt);
        const accepted = p.ok && applyGovernance(state, p.parsed, 5, OPTS).ok;
        tried++;
        if (accepted) throw new Error(`${record.type}: corruption at byte ${i} (${JSON.stringify(new TextDecoder().decode(bytes.slice(Math.max(0, i - 20), i + 20)))}) was accepted`);
      }
    }
    expect(tried).toBeGreaterThan(3000);
  });
});
