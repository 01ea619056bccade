// The explorer's test environment, shared by the browser test and the screenshot script: a real
// 4-organization network (quorum 3) whose peers enforce an access policy (an auditor key, a
// reader scoped to tenant acme, and OpenID Connect tokens from a real provider on loopback), alert
// rules on the first peer, the UI config naming the provider and the four peers, a tampering proxy
// in front of the first peer, and headless Debian Chromium (playwright-core).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { attachAlerts } from '../../../node/alerts/peer-alerts.js';
import { parsePolicy } from '../../../node/auth/index.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { signEntry } from '../../../src/entry/index.js';
import type { AuditEntry, JsonValue } from '../../../src/entry/types.js';
import { buildExplorer } from '../../../web/build.mjs';
import { submitFinal, testKey, type TestKey } from '../../net/helpers/auth-peer.js';
import { makeHttpCluster, type HttpCluster } from '../../net/helpers/http-cluster.js';
import { waitConnected } from '../../peer-support/cluster.js';
import { seedOf } from '../../peer-support/fixtures.js';
import { startBrowserIdp, type BrowserIdp } from './oidc-idp.js';
import { startTamperProxy, type TamperProxy } from './tamper-proxy.js';

export const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying Google's hosts on a closed network.
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const UI_WAIT_MS = 15_000;
export const AUDIENCE = 'urn:cairn:explorer-test';
export const OIDC_CLIENT = 'cairn-explorer';
/** The provider's account whose tokens carry the auditors group. */
export const OIDC_USER = 'olivia';

export interface ExplorerEnv {
  c: HttpCluster;
  proxy: TamperProxy;
  idp: BrowserIdp;
  browser: Browser;
  uiDir: string;
  trustText: string;
  auditor: TestKey;
  acmeReader: TestKey;
  /** Three versions of account acct-7 (alice, carol, alice); carol's raises an alert. */
  entries: AuditEntry[];
  acmeEntry: AuditEntry;
  /** 120 small entries of resource type "bulk", for paging. */
  bulk: AuditEntry[];
  close(): Promise<void>;
}

/** Entries of one resource whose state changes (data.before → data.after), by two actors. */
function makeEntries(c: HttpCluster): AuditEntry[] {
  const run = `${process.pid}-${Date.now()}`;
  const states: JsonValue[] = [{ balance: 10, owner: 'ann' }, { balance: 25, owner: 'ann' }, { balance: 25, owner: 'bob' }, { balance: 0, owner: 'bob', closed: true }];
  return states.slice(1).map((after, i) =>
    signEntry(
      {
        v: 1,
        id: `explorer-${run}-${i}`,
        time: new Date(Date.now() + i).toISOString(),
        actor: { id: i % 2 === 0 ? 'alice' : 'carol', type: 'user' },
        action: 'account.update',
        resource: { type: 'account', id: 'acct-7' },
        outcome: 'success',
        data: { before: states[i]!, after },
      },
      c.clients[0]!.signer,
    ),
  );
}

export async function startExplorerEnv(): Promise<ExplorerEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-explorer-env-'));
  const uiDir = join(dir, 'ui');
  const configFile = join(dir, 'ui-config.json');
  await buildExplorer(uiDir);
  process.env.CAIRN_UI_DIR = uiDir;
  process.env.CAIRN_UI_CONFIG = configFile;
  const auditor = testKey('explorer-auditor');
  const acmeReader = testKey('explorer-acme');
  const idp = await startBrowserIdp(AUDIENCE, { [OIDC_USER]: { groups: ['cairn-auditors'] } });
  const c = await makeHttpCluster(4, { label: 'explorer' });
  const closers: (() => Promise<unknown>)[] = [() => c.close(), () => idp.close()];
  try {
    const p = parsePolicy({
      issuers: [{ issuer: idp.issuer, audience: AUDIENCE, algorithms: ['ES256'], roles: [{ claim: 'groups', value: 'cairn-auditors', role: 'auditors' }] }],
      keys: [
        { name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] },
        { name: acmeReader.name, publicKey: acmeReader.publicKeyHex, roles: ['acme-readers'] },
      ],
      roles: { auditors: { kind: 'auditor' }, 'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' } },
    });
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const servers = await Promise.all([0, 1, 2, 3].map((i) => c.startWithHttp(i, { auth: { policy: p.policy } } as never)));
    await waitConnected(c, [0, 1, 2, 3], 3);
    // One rule on the first peer: every change carol makes (entries[1]) is an alert.
    const rules = join(dir, 'rules.yaml');
    await writeFile(rules, 'version: 1\nrules:\n  - id: carol-changes\n    version: 1\n    title: "{{entry.actor.id}} changed {{entry.resource.type}} {{entry.resource.id}}"\n    severity: high\n    destinations: []\n    condition: \'entry.actor.id == "carol"\'\n');
    await attachAlerts(c.peers[0]!, { rulesFile: rules });
    const entries = makeEntries(c);
    const acmeEntry = signEntry({ v: 1, id: `explorer-acme-${process.pid}-${Date.now()}`, time: new Date().toISOString(), tenant: 'acme', actor: { id: 'dave' }, action: 'db.query', resource: { type: 'table', id: 'orders' }, outcome: 'success' }, c.clients[0]!.signer);
    const t0 = Date.now();
    const bulk = Array.from({ length: 120 }, (_, i) => signEntry({ v: 1, id: `explorer-bulk-${process.pid}-${t0}-${i}`, time: new Date(t0 + i).toISOString(), actor: { id: 'batch' }, action: 'file.read', resource: { type: 'bulk', id: `f-${i}` }, outcome: 'success' }, c.clients[0]!.signer));
    await submitFinal(c, servers[0]!.url, [...entries, acmeEntry, ...bulk]);
    const trustText = JSON.stringify({ origin: c.genesis.origin, quorum: c.genesis.quorum, keys: c.orgs.map((o) => o.verifierKey) });
    const proxy = await startTamperProxy(servers[0]!.url);
    closers.unshift(() => proxy.close());
    await idp.attach(OIDC_CLIENT, `${proxy.url}/ui/`);
    await writeFile(configFile, JSON.stringify({
      oidc: { issuer: idp.issuer, clientId: OIDC_CLIENT, scope: 'openid profile read', resource: AUDIENCE, name: 'Test IdP' },
      peers: servers.map((s, i) => ({ name: c.orgs[i]!.name, url: s.url })),
    }));
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    closers.unshift(() => browser.close());
    return {
      c, proxy, idp, browser, uiDir, trustText, auditor, acmeReader, entries, acmeEntry, bulk,
      async close() {
        for (const f of closers) await f().catch(() => undefined);
        delete process.env.CAIRN_UI_DIR;
        delete process.env.CAIRN_UI_CONFIG;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const f of closers) await f().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Pins the trust file on a fresh page (first visit). */
export async function pinTrust(p: Page, env: ExplorerEnv): Promise<void> {
  await p.locator('#trust-text').fill(env.trustText);
  await p.getByRole('button', { name: 'Pin trust file' }).click();
  await p.locator('#key-file').waitFor({ timeout: UI_WAIT_MS });
}

/** Logs in with a key file (the exact key the policy names). */
export async function logIn(p: Page, key: TestKey): Promise<void> {
  await p.locator('#key-file').setInputFiles({ name: `${key.name}.key`, mimeType: 'text/plain', buffer: Buffer.from(toHex(seedOf(`${key.name}/http-auth-key`)) + '\n') });
  await p.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Logs in through the real provider: its login form, then its consent form, then back. */
export async function logInOidc(p: Page): Promise<void> {
  await p.locator('#oidc-login').click();
  await p.locator('input[name="login"]').waitFor({ timeout: UI_WAIT_MS });
  await p.locator('input[name="login"]').fill(OIDC_USER);
  await p.locator('input[name="password"]').fill('any password');
  await p.getByRole('button', { name: 'Sign-in' }).click();
  await p.getByRole('button', { name: 'Continue' }).click({ timeout: UI_WAIT_MS });
  await p.locator('#whoami').waitFor({ timeout: UI_WAIT_MS });
}
