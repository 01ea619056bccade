// Reading a real peer that enforces its access policy, with the devnet's own keys: one
// organization started by startDevnet (the `npm start` path) with the policy that trusts
// .devnet/keys/auditor.pem as `auditor` and operator.pem as `operator`. Without credentials,
// entries, bundles (so `cairn audit`) and status are refused with one `unauthenticated` line while
// checkpoints stay public; with the auditor key `cairn get` and `cairn audit` work; `cairn auth
// whoami` names the principal, its roles and scope; `cairn auth token` returns a bearer token that
// `--token`, CAIRN_TOKEN and the SDK can read with; an operator may read status but not entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CairnApiError, CairnClient } from '../../src/client/index.js';
import { startDevnet, type Devnet } from '../../devnet/start.js';
import { run } from '../../node/cli/run.js';
import { tempDir } from '../unit/support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
let devnet: Devnet | null = null;

async function cairn(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: dir.path, env });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await tempDir('devnet-auth');
  for (let attempt = 0; devnet === null; attempt++) {
    const basePort = 20_000 + 200 * Math.floor(Math.random() * 120) + 150;
    try {
      devnet = await startDevnet({ dir: join(dir.path, `devnet-${attempt}`), basePort, orgs: 1, samples: 1 });
    } catch (e) {
      if ((e as { code?: string }).code !== 'port_in_use' || attempt >= 4) throw e;
    }
  }
}, 180_000);

afterAll(async () => {
  await devnet?.stop();
  await dir?.cleanup();
}, 60_000);

describe('devnet peer with an access policy (1 organization)', () => {
  it('writes the auditor key, a policy per peer, and points the peer config at it', async () => {
    const d = devnet!;
    expect(d.auth.enforced).toBe(true);
    expect(d.auth.auditorKeyFile).toBe(join(d.dir, 'keys', 'auditor.pem'));
    const config = JSON.parse(await readFile(d.peers[0]!.configFile, 'utf8')) as { auth?: { policy?: string } };
    expect(config.auth?.policy).toBe('policy.json');
    expect(d.commands).toContain(`npx cairn auth whoami --peer ${d.urls[0]} --auth-key ${d.auth.auditorKeyFile}`);
  });

  it('without credentials: entries, bundles and status are refused as one line; checkpoints are public', async () => {
    const d = devnet!;
    const hash = d.samples[0]!;
    const get = await cairn(['get', hash, '--peer', d.urls[0]!]);
    expect(get.code).toBe(1);
    expect(get.stdout).toBe('');
    expect(get.stderr).toMatch(/^cairn: unauthenticated: credentials_missing: .*\(give --token, --token-file or --auth-key\) \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v1\/entries\/[0-9a-f]{64}\)\n$/);
    const audit = await cairn(['audit', d.urls[0]!, '--trust', d.trustFile]);
    expect(audit.code).toBe(1);
    expect(audit.stderr).toMatch(/^cairn: audit of .* failed .*unauthenticated: credentials_missing: [^\n]*\n$/);
    const status = await cairn(['status', d.urls[0]!]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/^cairn: unauthenticated: /);
    const cp = await cairn(['verify', 'checkpoint', '--peer', d.urls[0]!, '--trust', d.trustFile]);
    expect(cp.code, cp.stderr).toBe(0);
  });

  it('with the auditor key: cairn get and cairn audit work; whoami names the auditor', async () => {
    const d = devnet!;
    const key = d.auth.auditorKeyFile;
    const get = await cairn(['get', d.samples[0]!, '--peer', d.urls[0]!, '--auth-key', key]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/status +final\n/);
    const audit = await cairn(['audit', d.urls[0]!, '--trust', d.trustFile], { CAIRN_AUTH_KEY: key });
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain(`audit OK: ${d.urls[0]}`);
    const who = await cairn(['auth', 'whoami', '--peer', d.urls[0]!, '--auth-key', key]);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/\nprincipal +key:auditor\nkind +key\nroles +auditor \(auditor\)\nscope +full\n/);
    const whoJson = JSON.parse((await cairn(['auth', 'whoami', '--peer', d.urls[0]!, '--auth-key', key, '--json'])).stdout) as { principal: string; roles: { name: string }[] };
    expect(whoJson).toMatchObject({ principal: 'key:auditor', kind: 'key', scope: 'full', roles: [{ name: 'auditor', kind: 'auditor' }] });
  });

  it('cairn auth token: a bearer token that --token, CAIRN_TOKEN and the SDK read with', async () => {
    const d = devnet!;
    const t = await cairn(['auth', 'token', '--peer', d.urls[0]!, '--auth-key', d.auth.auditorKeyFile]);
    expect(t.code, t.stderr).toBe(0);
    const token = t.stdout.trim();
    expect(t.stdout).toMatch(/^cairn1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const get = await cairn(['get', d.samples[0]!, '--peer', d.urls[0]!, '--token', token]);
    expect(get.code, get.stderr).toBe(0);
    const who = await cairn(['auth', 'whoami', '--peer', d.urls[0]!], { CAIRN_TOKEN: token });
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/\nprincipal +key:auditor\nkind +token\n/);
    const viaSdk = new CairnClient({ url: d.urls[0]!, credentials: { token } });
    expect((await viaSdk.getEntry(d.samples[0]!)).status).toBe('final');
    // A token cannot buy a token; the CLI says so before asking.
    const again = await cairn(['auth', 'token', '--peer', d.urls[0]!, '--token', token]);
    expect(again.code).toBe(2);
    // A tampered token is refused by the peer with its reason.
    const bad = await cairn(['get', d.samples[0]!, '--peer', d.urls[0]!, '--token', token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^cairn: unauthenticated: token_[a-z_]+: /);
  });

  it('the operator key reads status, not entries (403 forbidden)', async () => {
    const d = devnet!;
    const st = await cairn(['status', d.urls[0]!, '--auth-key', d.auth.operatorKeyFile]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/quorum +1 reachable, 1 needed: ok/);
    const get = await cairn(['get', d.samples[0]!, '--peer', d.urls[0]!, '--auth-key', d.auth.operatorKeyFile]);
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/^cairn: forbidden: [^\n]*\(HTTP 403 from [^\n]*\n$/);
    const e = await new CairnClient({ url: d.urls[0]!, credentials: d.auth.operator }).getEntry(d.samples[0]!).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CairnApiError);
    expect(e).toMatchObject({ code: 'forbidden', status: 403 });
  });
});
