// Child process of test/proc/alerts-outbox-crash.test.ts: opens an outbox in a LevelDB directory,
// enqueues the same N alerts every time it starts (already accepted ones are skipped), delivers
// them to a webhook URL and prints "done" once the outbox is empty.
// argv: <db dir> <receiver url> <n>
import { ClassicLevel } from 'classic-level';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { parseRulesText } from '../../../node/alerts/rules-file.js';
import { DEFAULT_SENDERS, Outbox } from '../../../node/alerts/index.js';
import { log } from '../../unit/support/alert-entries.js';

const [dir, url, nText] = process.argv.slice(2);
const n = Number(nText);
const text = `
destinations: { hook: { type: webhook, url: "http://127.0.0.1/" } }
rules:
  - { id: privilege-change, version: 1, title: 'Grant by {{entry.actor.id}}', severity: high, destinations: [hook], condition: 'entry.action == "iam.role.grant"' }
`;
const rules = (await parseRulesText(text, 'rules.yaml', { baseDir: '.', destinations: false })).rules;
const engine = new AlertEngine(rules);
const alerts = log(Array.from({ length: n }, (_, i) => ({ time: `2024-05-02T10:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`, action: 'iam.role.grant', actor: `admin${i}` }))).flatMap((e) => engine.evaluate(e));
const db = new ClassicLevel<Uint8Array, Uint8Array>(dir!, { keyEncoding: 'view', valueEncoding: 'view' });
await db.open();
const outbox = await Outbox.open(db, {
  destinations: new Map([['hook', { type: 'webhook', name: 'hook', url: url!, hmacSecret: new Uint8Array(32).fill(9) }]]),
  senders: DEFAULT_SENDERS,
  backoffBaseMs: 50,
  backoffMaxMs: 200,
  tickMs: 10,
});
const r = await outbox.enqueue(alerts);
process.stdout.write(`enqueued ${r.accepted} duplicates ${r.duplicates} pending ${outbox.pending().length}\n`);
outbox.start();
const timer = setInterval(async () => {
  if (outbox.pending().length === 0) {
    clearInterval(timer);
    await outbox.stop();
    await db.close();
    process.stdout.write('done\n');
  }
}, 20);
