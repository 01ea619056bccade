// Rule evaluation speed: `npx tsx bench/alerts.ts [--entries N]` (default 1,000,000).
// Evaluates N synthetic final entries (a mix of logins, patient record reads, privilege changes
// and sensitive reads by 1,000 actors, one entry every 50 ms of entry time, starting on a Friday
// morning in Paris) with the example rules of docs/examples/rules.yaml on one core, as a replay
// does, and prints entries/s and the alerts made. Leaf hashes come from a pool of 4,096
// precomputed ones, so the figure is the engine's alone (fetching and hashing bundles excluded).
import { fileURLToPath } from 'node:url';
import { AlertEngine } from '../src/alerts/engine.js';
import type { AuditEntry } from '../src/entry/types.js';
import { sha256 } from '../src/crypto/hash.js';
import { utf8 } from '../src/encoding/bytes.js';
import { loadRulesFile } from '../node/alerts/rules-file.js';

const RULES = fileURLToPath(new URL('../docs/examples/rules.yaml', import.meta.url)).replace('/dist/docs/', '/docs/');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const n = i < 0 ? dflt : Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1 || n > 100_000_000) throw new Error(`${name} must be an integer in 1..100000000`);
  return n;
}

const N = arg('--entries', 1_000_000);
const rules = (await loadRulesFile(RULES, { destinations: false })).rules;
const engine = new AlertEngine(rules);
const hashes = Array.from({ length: 4096 }, (_, i) => sha256(utf8(`leaf ${i}`)));
const T0 = Date.parse('2024-03-29T06:00:00Z');
const ACTIONS = ['auth.login', 'patient.record.read', 'patient.record.read', 'patient.record.update', 'iam.role.grant', 'record.read'];
let alerts = 0;
const start = performance.now();
for (let i = 0; i < N; i++) {
  const action = ACTIONS[i % ACTIONS.length]!;
  const entry: AuditEntry = {
    v: 1,
    id: `e${i}`,
    time: new Date(T0 + i * 50).toISOString(),
    actor: { id: `u${i % 1000}`, type: i % 3 === 0 ? 'service' : 'user' },
    action,
    resource: { type: i % 97 === 0 ? 'hiv_result' : 'patient_record', id: `p${i % 20_000}` },
    outcome: i % 11 === 0 ? 'failure' : 'success',
    client: 'a'.repeat(64),
    sig: 'b'.repeat(128),
  };
  alerts += engine.evaluate({ index: i, leafHash: hashes[i % hashes.length]!, entry }).length;
}
const s = (performance.now() - start) / 1000;
process.stdout.write(
  `rule evaluation: ${N} entries, ${rules.length} example rules, ${alerts} alerts in ${s.toFixed(1)} s = ${Math.round(N / s)} entries/s\n` +
    `state: ${JSON.stringify(engine.stateSize())}\n`,
);
