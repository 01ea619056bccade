// Rules files: problems are reported with the file, the rule and the line:column of the offending
// value; a reload with a bad edit keeps the rules in force and says why.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRulesText, RulesFileError, RulesHolder } from '../../node/alerts/rules-file.js';

const tmp: string[] = [];
afterEach(async () => {
  for (const d of tmp.splice(0)) await rm(d, { recursive: true, force: true });
});

async function problemsOf(text: string): Promise<string[]> {
  try {
    await parseRulesText(text, 'rules.yaml', { baseDir: '.', destinations: false });
  } catch (e) {
    expect(e).toBeInstanceOf(RulesFileError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected the rules to be refused');
}

const GOOD = `destinations: { hook: { type: webhook, url: "http://127.0.0.1/" } }
rules:
  - id: privilege-change
    version: 1
    title: "grant"
    severity: high
    destinations: [hook]
    condition: 'entry.action == "iam.role.grant"'
`;

describe('rules file errors', () => {
  it('names file, rule, path and line:column of each problem', async () => {
    const text = `destinations: { hook: { type: webhook, url: "http://127.0.0.1/" } }
rules:
  - id: brute-force
    version: 1
    title: "x"
    severity: urgent
    destinations: [hook, pager]
    condition: 'entry.action == "auth.login"'
    correlation: { type: event_count, groupBy: [actor.id], window: 10 minutes, count: 5 }
  - id: bad-expr
    version: 1
    title: "y"
    severity: low
    destinations: []
    condition: 'entry.action == '
`;
    const p = await problemsOf(text);
    expect(p).toContain('rules.yaml:6:15: rule brute-force: rules[0].severity: severity must be one of info, low, medium, high, critical');
    expect(p).toContain('rules.yaml:7:26: rule brute-force: rules[0].destinations[1]: unknown destination "pager" (declared: hook)');
    expect(p).toContain('rules.yaml:9:68: rule brute-force: rules[0].correlation.window: window must be a duration like 90s, 10m, 1h or 1d, at most 7d');
    expect(p.some((l) => l.startsWith('rules.yaml:15:16: rule bad-expr: rules[1].condition: ') && l.includes('[filter_syntax]'))).toBe(true);
    expect(p.length).toBe(4);
  });

  it('YAML syntax errors and duplicate keys point at their line', async () => {
    const p = await problemsOf('rules:\n  - id: a\n    id: b\n');
    expect(p[0]).toMatch(/^rules\.yaml:3:5: .*unique/i);
    const q = await problemsOf('rules: [\n');
    expect(q[0]).toMatch(/^rules\.yaml:\d+:\d+: /);
  });

  it('duplicate rule ids, unknown keys and a missing rules list are refused', async () => {
    expect(await problemsOf(GOOD + GOOD.split('rules:\n')[1])).toEqual(['rules.yaml:9:9: rule privilege-change: rules[1].id: rule id "privilege-change" is used twice']);
    expect(await problemsOf(GOOD.replace('    version: 1\n', '    version: 1\n    sevrity: high\n'))).toEqual(['rules.yaml:5:14: rule privilege-change: rules[0].sevrity: unknown key "sevrity"']);
    expect(await problemsOf('rule: []\n')).toEqual(['rules.yaml:1:7: rule: unknown top-level key "rule" (expected version, destinations, rules)', 'rules.yaml:1:1: rules: `rules` must be a list']);
  });
});

describe('reload', () => {
  it('a good edit takes effect; a bad edit keeps the rules in force and says why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-rules-'));
    tmp.push(dir);
    const file = join(dir, 'rules.yaml');
    await writeFile(join(dir, 'hook.whsec'), `whsec_${Buffer.alloc(32, 7).toString('base64')}\n`);
    const withSecret = GOOD.replace('url: "http://127.0.0.1/" }', 'url: "http://127.0.0.1/", secretFile: hook.whsec }');
    await writeFile(file, withSecret);
    const holder = new RulesHolder(file);
    const r1 = await holder.reload();
    expect(r1.ok).toBe(true);
    expect(holder.rules!.rules.map((r) => `${r.id}@${r.version}`)).toEqual(['privilege-change@1']);
    const hook = holder.rules!.destinations.get('hook');
    expect(hook?.type === 'webhook' && Buffer.from(hook.hmacSecret!).equals(Buffer.alloc(32, 7))).toBe(true);

    await writeFile(file, withSecret.replace('version: 1', 'version: 2').replace("'entry.action == \"iam.role.grant\"'", "'entry.action == '"));
    const r2 = await holder.reload();
    expect(r2.ok).toBe(false);
    if (!r2.ok) {
      expect(r2.error.problems[0]).toMatchObject({ rule: 'privilege-change', path: 'rules[0].condition', line: 8 });
      expect(r2.kept?.rules.map((r) => `${r.id}@${r.version}`)).toEqual(['privilege-change@1']);
    }
    expect(holder.rules!.rules[0]!.version).toBe(1);

    await writeFile(file, withSecret.replace('version: 1', 'version: 2'));
    expect((await holder.reload()).ok).toBe(true);
    expect(holder.rules!.rules[0]!.version).toBe(2);

    // A webhook secret that is not "whsec_…" is refused too.
    await writeFile(join(dir, 'hook.whsec'), 'hunter2\n');
    const r4 = await holder.reload();
    expect(r4.ok).toBe(false);
    if (!r4.ok) expect(r4.error.message).toContain('rules.yaml:1:78: destinations.hook.secretFile: the secret must be "whsec_"');
    expect(holder.rules!.rules[0]!.version).toBe(2);
  });
});
