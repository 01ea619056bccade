// `cairn alerts replay` over HTTP: a log served as C2SP tlog-tiles (checkpoint and entry bundles,
// full and partial) by a static file server on 127.0.0.1. Replaying a range twice prints the same
// alerts with the same ids; a range that starts mid-bundle or crosses bundles gives the alerts of
// exactly that range, with the indexes and leaf hashes of the entries that triggered them.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Alert } from '../../src/alerts/types.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { encodeEntryBundle, entryBundlePath, TILE_WIDTH } from '../../src/merkle/index.js';
import { loadRulesFile } from '../../node/alerts/rules-file.js';
import { cli } from '../unit/support/cli.js';
import { log, plus, type EntrySpec } from '../unit/support/alert-entries.js';

const RULES = fileURLToPath(new URL('../../docs/examples/rules.yaml', import.meta.url));
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function specs(n: number): EntrySpec[] {
  const T = '2024-03-29T05:00:00Z';
  return Array.from({ length: n }, (_, i) => {
    const time = plus(T, i * 0.05);
    if (i % 5 === 0) return { time, action: 'auth.login', actor: `u${i % 2}`, outcome: 'failure' as const };
    if (i % 5 === 1) return { time, action: 'patient.record.read', actor: 'mallory', resourceType: 'patient_record', resourceId: `p${i}` };
    if (i % 5 === 2) return { time, action: 'iam.role.grant', actor: 'admin', actorType: 'service', resourceType: 'user', resourceId: `u${i}` };
    return { time, action: 'record.read', actor: 'svc', actorType: 'service', resourceType: i % 13 === 0 ? 'hiv_result' : 'patient_record', resourceId: `r${i}` };
  });
}

/** Serves the leaves as a tlog-tiles log of `leaves.length` entries. */
async function servePeer(leaves: Uint8Array[]): Promise<string> {
  const size = leaves.length;
  const files = new Map<string, Uint8Array>();
  files.set('/checkpoint', utf8(`example.org/log\n${size}\n${Buffer.alloc(32).toString('base64')}\n\n— example.org/log AAAA\n`));
  for (let b = 0; b * TILE_WIDTH < size; b++) {
    const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
    files.set(`/${entryBundlePath({ index: b, width })}`, encodeEntryBundle(leaves.slice(b * TILE_WIDTH, b * TILE_WIDTH + width)));
  }
  const server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    res.statusCode = body ? 200 : 404;
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('cairn alerts replay', () => {
  it('prints the alerts of exactly the range, the same on every replay', async () => {
    const fes = log(specs(700));
    const leaves = fes.map((f) => utf8(JSON.stringify(f.entry)));
    // The log's leaf hashes are those of the served bytes.
    const url = await servePeer(leaves);
    const replay = async (from: number, to: number): Promise<Alert[]> => {
      const r = await cli(['alerts', 'replay', '--from', String(from), '--to', String(to), '--rules', RULES, '--peer', url]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Alert);
    };
    const a = await replay(100, 650);
    const b = await replay(100, 650);
    expect(a.length).toBeGreaterThan(20);
    expect(b).toEqual(a);
    // The same as evaluating those entries in memory.
    const rules = (await loadRulesFile(RULES, { destinations: false })).rules;
    const engine = new AlertEngine(rules);
    const expected = fes.slice(100, 650).flatMap((f) => engine.evaluate(f));
    expect(a).toEqual(expected);
    for (const x of a) for (const e of x.entries) expect(e.index >= 100 && e.index < 650).toBe(true);
    // The tail bundle is partial (700 = 2·256 + 188).
    expect((await replay(600, 700)).length).toBeGreaterThan(0);
  });

  it('refuses a range past the checkpoint and a bad rules file', async () => {
    const url = await servePeer(log(specs(10)).map((f) => utf8(JSON.stringify(f.entry))));
    const r = await cli(['alerts', 'replay', '--from', '0', '--to', '11', '--rules', RULES, '--peer', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('cairn: entries up to 10 are not in the log yet (the checkpoint covers 10)\n');
    const bad = await cli(['alerts', 'replay', '--from', '5', '--to', '1', '--rules', RULES, '--peer', url]);
    expect(bad.code).toBe(2);
  });
});
