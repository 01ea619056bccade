// Reading a real peer that enforces its access policy, with the devnet's own keys: one
// organization started by startDevnet (the `npm start` path) with the policy that trusts
// .devnet/keys/auditor.pem as `auditor` and operator.pem as `operator`. Without credentials,
// entries, bundles (so `cairn audit`) and status are refused with one `unauthenticated` line while
// checkpoints stay public; with the auditor key `cairn get` and `cairn audit` work; `cairn auth
// whoami` names the principal, its roles and scope; `cairn auth token` returns a bearer token that
// `--token`, CAIRN_TOKEN and the SDK can read with; an operator may read status but not entries.
// Meta-audit: the genesis names the organization's `<org>-meta-audit` client, the peer config its
// key, and an auditor's read of an entry becomes a final cairn.read.entry entry naming key:auditor,
// signed with that key; a devnet dir made before the meta-audit clients still starts, without it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CairnApiError, CairnClient } from '../../src/client/index.js';
import { parsePrivateKey } from '../../src/crypto/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/index.js';
import { parseTrustFile } from '../../src/verifier/index.js';
import { formatBanner, generate, startDevnet, type Devnet } from '../../devnet/start.js';
import { run } from '../../node/cli/run.js';
import { loadGenesis } from '../../node/peer/genesis.js';
import { metaAuditClientFor } from '../../node/peer/genesis-sharing.js';
import { tempDir } from '../unit/support/cli.js';
import { devnetBasePort } from './support/devnet-ports.js';

/** The auditor's read must be a final entry of the log within this long (a coalescing window, then one consensus round). */
const META_AUDIT_FINAL_MS = 30_000;

let dir: { path: string; cleanup: () => Promise<void> };
let devnet: Devnet | null = null;
let legacy: Devnet | null = null;
const legacyLog: string[] = [];

async function cairn(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: dir.path, env });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await tempDir('devnet-auth');
  for (let attempt = 0; devnet === null; attempt++) {
    const basePort = devnetBasePort(150);
    try {
      devnet = await startDevnet({ dir: join(dir.path, `devnet-${attempt}`), basePort, orgs: 1, samples: 1 });
    } catch (e) {
      if ((e as { code?: string }).code !== 'port_in_use' || attempt >= 4) throw e;
    }
  }
}, 180_000);

afterAll(async () => {
  await devnet?.stop();
  await legacy?.stop();
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

describe('devnet meta-audit: reads of the log are logged in the log', () => {
  it('the genesis names org1.devnet-meta-audit vouched by org1; its key is 0600 and the peer config points at it', async () => {
    const d = devnet!;
    const genesis = await loadGenesis(d.genesisFile);
    const client = metaAuditClientFor(genesis, 'org1.devnet');
    expect(client?.name).toBe('org1.devnet-meta-audit');
    const keyFile = join(d.dir, 'keys', 'org1.devnet-meta-audit.key');
    expect(d.metaAuditKeyFiles).toEqual([keyFile]);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(d.peers[0]!.configFile, 'utf8')) as { auth?: { metaAuditKey?: string; policy?: string } };
    expect(config.auth).toEqual({ metaAuditKey: '../../keys/org1.devnet-meta-audit.key', policy: 'policy.json' });
    // The peer opened its meta-audit queue.
    expect((await stat(join(d.dir, 'peers', 'org1.devnet', 'data', 'meta-audit'))).isDirectory()).toBe(true);
    const search = `npx cairn search --peer ${d.urls[0]} --trust ${d.trustFile} --action cairn.read.entry --auth-key ${d.auth.auditorKeyFile}`;
    expect(d.commands).toContain(search);
    const banner = formatBanner(d, '/elsewhere');
    expect(banner).toContain('is itself logged, as a\n    cairn.read.* entry naming the reader (e.g. key:auditor)');
    expect(banner).toContain(`    ${search}\n`);
  });

  it("an auditor's read of an entry becomes a final cairn.read.entry entry naming key:auditor, signed by the meta-audit client", async () => {
    const d = devnet!;
    const t = parseTrustFile(await readFile(d.trustFile));
    if (!t.ok) throw new Error(t.message);
    const k = parsePrivateKey(await readFile(d.clientKeyFile, 'utf8'));
    if (!k.ok) throw new Error(k.message);
    // A fresh entry nobody has read yet: submitting is open and reads nothing back.
    const since = Date.now();
    const { leafHash } = await new CairnClient({ url: d.urls[0]! }).signAndSubmit(
      { v: 1, id: `meta-audit-probe-${since}`, time: new Date().toISOString(), actor: { id: 'bob@example.com', type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: 'payments' }, outcome: 'success' },
      nodeSigner(k.value.seed),
    );
    const get = await cairn(['get', leafHash, '--peer', d.urls[0]!, '--auth-key', d.auth.auditorKeyFile]);
    expect(get.code, get.stderr).toBe(0);

    const maKey = metaAuditClientFor(await loadGenesis(d.genesisFile), 'org1.devnet')!.publicKeyHex;
    const names = (e: AuditEntry) => e.resource.id === leafHash || (Array.isArray(e.data?.resources) && e.data.resources.some((r) => (r as { id?: unknown }).id === leafHash));
    const auditor = new CairnClient({ url: d.urls[0]!, credentials: d.auth.auditor });
    const deadline = Date.now() + META_AUDIT_FINAL_MS;
    let found: AuditEntry | undefined;
    let seen = 0;
    while (found === undefined) {
      // Search answers only final entries, each page verified against the trust file.
      for await (const page of auditor.search({ action: 'cairn.read.entry', actor: 'key:auditor', fromMs: since - 1000 }, { trust: t.trust, order: 'newest', maxPages: 5 })) {
        expect(page.verified).toBe(true);
        seen += page.entries.length;
        found ??= page.entries.find(names);
      }
      if (found !== undefined) break;
      if (Date.now() > deadline) throw new Error(`no final cairn.read.entry entry naming key:auditor and ${leafHash} within ${META_AUDIT_FINAL_MS} ms (${seen} results seen)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(found).toMatchObject({ action: 'cairn.read.entry', actor: { id: 'key:auditor', type: 'principal' }, outcome: 'success', client: maKey });
    expect(found.id).toMatch(/^ma-/);
  }, 60_000);

  it('a devnet dir made before the meta-audit clients starts without meta-audit and says so in one line', async () => {
    for (let attempt = 0; legacy === null; attempt++) {
      const basePort = devnetBasePort(170);
      const legacyDir = join(dir.path, `legacy-${attempt}`);
      await generate(legacyDir, 1, basePort, { metaAudit: false });
      try {
        legacy = await startDevnet({ dir: legacyDir, samples: 1, log: (l) => legacyLog.push(l) });
      } catch (e) {
        if ((e as { code?: string }).code !== 'port_in_use' || attempt >= 4) throw e;
      }
    }
    const d = legacy;
    expect(legacyLog.filter((l) => /meta-audit/.test(l))).toEqual([expect.stringMatching(/^meta-audit off: the genesis of .* predates the <org>-meta-audit clients, so reads are not logged/)]);
    expect(d.metaAuditKeyFiles).toEqual([]);
    expect(metaAuditClientFor(await loadGenesis(d.genesisFile), 'org1.devnet')).toBeUndefined();
    const config = JSON.parse(await readFile(d.peers[0]!.configFile, 'utf8')) as { auth?: Record<string, unknown> };
    expect(config.auth).toEqual({ policy: 'policy.json' });
    const get = await cairn(['get', d.samples[0]!, '--peer', d.urls[0]!, '--auth-key', d.auth.auditorKeyFile]);
    expect(get.code, get.stderr).toBe(0);
    await expect(stat(join(d.dir, 'peers', 'org1.devnet', 'data', 'meta-audit'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(d.commands.some((c) => c.includes('cairn search'))).toBe(false);
    expect(formatBanner(d, dir.path)).toContain("meta-audit: off (this devnet dir's genesis has no <org>-meta-audit clients;");
  }, 120_000);
});
