// The web explorer in a real headless Chromium (Debian's chromium, driven by playwright-core)
// against a real 4-organization network (quorum 3) whose peers enforce an access policy, through a
// proxy that can alter one peer's answers: log in with an auditor key file, search, open an entry
// and see it verified in the page, download its evidence and verify it with the CLI, view a
// resource history; a tampered entry, proof hash or checkpoint signature shows "verification
// failed" naming the check, never "verified"; a checkpoint inconsistent with the one the page
// stored on an earlier visit shows the blocking fork/rollback warning; a scoped reader sees only
// its scope.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../node/auth/index.js';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { toHex } from '../../src/encoding/bytes.js';
import { entryLeaf, signEntry } from '../../src/entry/index.js';
import type { AuditEntry, JsonValue } from '../../src/entry/types.js';
import { buildExplorer } from '../../web/build.mjs';
import { leafHashHex, submitFinal, testKey } from '../net/helpers/auth-peer.js';
import { makeHttpCluster, type HttpCluster } from '../net/helpers/http-cluster.js';
import { waitConnected } from '../peer-support/cluster.js';
import { seedOf } from '../peer-support/fixtures.js';
import { cli } from '../unit/support/cli.js';
import { startTamperProxy, type TamperProxy } from './support/tamper-proxy.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying Google's hosts on a closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The explorer's JavaScript, gzip-compressed, must stay within this. */
const JS_GZIP_BYTES_MAX = 250 * 1024;
const UI_WAIT_MS = 15_000;

const auditor = testKey('explorer-auditor');
const acmeReader = testKey('explorer-acme');
let c: HttpCluster;
let proxy: TamperProxy;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let uiDir: string;
let trustText: string;
let entries: AuditEntry[];
let acmeEntry: AuditEntry;

/** Entries of one resource whose state changes (data.before → data.after), by two actors. */
function makeEntries(): AuditEntry[] {
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

async function logIn(p: Page, key = auditor): Promise<void> {
  await p.locator('#key-file').setInputFiles({ name: `${key.name}.key`, mimeType: 'text/plain', buffer: Buffer.from(toHex(seedOf(`${key.name}/http-auth-key`)) + '\n') });
  await p.getByRole('button', { name: 'Log in' }).click();
}

async function openEntry(hash: string): Promise<{ verdict: string; text: string }> {
  await page.evaluate((h) => {
    location.hash = h;
  }, `#/entry/${hash}`);
  const panel = page.locator('[data-verdict="verified"], [data-verdict="failed"]').first();
  await panel.waitFor({ timeout: UI_WAIT_MS });
  return { verdict: (await panel.getAttribute('data-verdict')) ?? '', text: await panel.innerText() };
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`).toBe(true);
  uiDir = await mkdtemp(join(tmpdir(), 'cairn-ui-'));
  await buildExplorer(uiDir);
  process.env.CAIRN_UI_DIR = uiDir;
  c = await makeHttpCluster(4, { label: 'explorer' });
  const p = parsePolicy({
    keys: [
      { name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] },
      { name: acmeReader.name, publicKey: acmeReader.publicKeyHex, roles: ['acme-readers'] },
    ],
    roles: { auditors: { kind: 'auditor' }, 'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' } },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const servers = await Promise.all([0, 1, 2, 3].map((i) => c.startWithHttp(i, { auth: { policy: p.policy } } as never)));
  await waitConnected(c, [0, 1, 2, 3], 3);
  const s = servers[0]!;
  entries = makeEntries();
  acmeEntry = signEntry({ v: 1, id: `explorer-acme-${process.pid}-${Date.now()}`, time: new Date().toISOString(), tenant: 'acme', actor: { id: 'dave' }, action: 'db.query', resource: { type: 'table', id: 'orders' }, outcome: 'success' }, c.clients[0]!.signer);
  await submitFinal(c, s.url, [...entries, acmeEntry]);
  trustText = JSON.stringify({ origin: c.genesis.origin, quorum: c.genesis.quorum, keys: c.orgs.map((o) => o.verifierKey) });
  proxy = await startTamperProxy(s.url);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  context = await browser.newContext();
  page = await context.newPage();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await c?.close();
  delete process.env.CAIRN_UI_DIR;
  if (uiDir !== undefined) await rm(uiDir, { recursive: true, force: true });
});

describe('web explorer in headless Chromium', () => {
  it('is small, served with a strict CSP and immutable hashed assets, and its static files hold no log data', async () => {
    const assets = await readdir(join(uiDir, 'assets'));
    const js = assets.filter((a) => a.endsWith('.js'));
    expect(js.length).toBe(1);
    const gz = gzipSync(await readFile(join(uiDir, 'assets', js[0]!))).length;
    console.log(`explorer JavaScript: ${gz} bytes gzip-compressed (limit ${JS_GZIP_BYTES_MAX})`);
    expect(gz).toBeLessThanOrEqual(JS_GZIP_BYTES_MAX);
    const index = await fetch(`${proxy.url}/ui/`);
    expect(index.status).toBe(200);
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = await fetch(`${proxy.url}/ui/assets/${js[0]}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    const body = await asset.text();
    for (const secret of [entries[0]!.id, auditor.name, auditor.publicKeyHex, c.orgs[0]!.verifierKey]) {
      expect(html.includes(secret) || body.includes(secret)).toBe(false);
    }
    expect((await fetch(`${proxy.url}/ui/assets/nope-123.js`)).status).toBe(404);
  });

  it('pins the trust file, logs in with a key file, shows who you are and a verified checkpoint; nothing restricted is fetched before login', async () => {
    await page.goto(`${proxy.url}/ui/`, { timeout: UI_WAIT_MS });
    await page.locator('#trust-text').fill(trustText);
    await page.getByRole('button', { name: 'Pin trust file' }).click();
    await page.locator('#key-file').waitFor({ timeout: UI_WAIT_MS });
    // Before login the page fetched its own files only (the browser may also ask for /favicon.ico).
    expect(proxy.paths.filter((x) => !x.startsWith('/ui/') && x !== '/favicon.ico')).toEqual([]);
    const t0 = Date.now();
    await logIn(page);
    await page.locator('#tree-size').waitFor({ timeout: UI_WAIT_MS });
    console.log(`overview verified and interactive ${Date.now() - t0} ms after login`);
    expect(await page.locator('#whoami').innerText()).toContain(`key:${auditor.name}`);
    expect(await page.locator('#whoami').innerText()).toContain('auditors (auditor)');
    const size = (await (await fetch(`${proxy.url}/checkpoint`)).text()).split('\n')[1];
    expect(await page.locator('#tree-size').innerText()).toBe(size);
    expect(await page.locator('#memory').innerText()).toContain('first visit');
  });

  it('searches with a shareable URL, opens an entry and sees it verified, and shows the resource history with field diffs', async () => {
    await page.goto(`${proxy.url}/ui/#/search?actor=alice&resourceType=account`, { timeout: UI_WAIT_MS });
    // The same document: a hash change keeps the in-memory login.
    const rows = page.locator('table.results tbody tr');
    await page.locator('table.results').waitFor({ timeout: UI_WAIT_MS });
    const alice = entries.filter((e) => e.actor.id === 'alice');
    expect(await rows.count()).toBe(alice.length);
    expect(await page.locator('[data-verdict="verified"]').innerText()).toContain(`${alice.length} results verified`);
    const [csv] = await Promise.all([page.waitForEvent('download', { timeout: UI_WAIT_MS }), page.locator('#dl-csv').click()]);
    const csvText = await readFile((await csv.path())!, 'utf8');
    expect(csvText.split('\r\n').filter((l) => l !== '')).toHaveLength(1 + alice.length);
    for (const e of alice) expect(csvText).toContain(e.id);
    // Newest first: the first row is alice's latest entry (entries[2]).
    await rows.first().getByRole('link', { name: /open entry/ }).click();
    const panel = page.locator('[data-verdict="verified"], [data-verdict="failed"]').first();
    await panel.waitFor({ timeout: UI_WAIT_MS });
    expect(await panel.getAttribute('data-verdict')).toBe('verified');
    for (const check of ['Checkpoint quorum', 'Entry bytes', 'Client signature', 'Inclusion proof']) {
      expect(await page.locator(`li.ok[data-check="${check}"]`).count()).toBe(1);
    }
    // Evidence: the three files, downloaded from the page, verify offline with the CLI.
    const evidence = await mkdtemp(join(tmpdir(), 'cairn-evidence-'));
    try {
      for (const id of ['dl-entry', 'dl-receipt', 'dl-trust']) {
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: UI_WAIT_MS }), page.locator(`#${id}`).click()]);
        await download.saveAs(join(evidence, download.suggestedFilename()));
      }
      const ok = await cli(['verify', 'receipt', join(evidence, 'receipt.tlog-proof'), '--entry', join(evidence, 'entry.json'), '--trust', join(evidence, 'trust.json')]);
      expect(ok.code, ok.stderr).toBe(0);
      // The same receipt does not verify another entry's bytes: the check above means something.
      await writeFile(join(evidence, 'other.json'), entryLeaf(entries[1]!));
      const bad = await cli(['verify', 'receipt', join(evidence, 'receipt.tlog-proof'), '--entry', join(evidence, 'other.json'), '--trust', join(evidence, 'trust.json')]);
      expect(bad.code).toBe(1);
    } finally {
      await rm(evidence, { recursive: true, force: true });
    }
    await page.getByRole('link', { name: 'Resource history' }).click();
    await page.locator('ol.timeline').waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('ol.timeline > li').count()).toBe(entries.length);
    const diffs = await page.locator('ol.timeline').innerText();
    expect(diffs).toContain('/balance');
    expect(diffs).toContain('/owner');
    expect(diffs).toContain('/closed');
  });

  it('a proxy that alters an entry, a proof hash or a checkpoint signature makes the page say which check failed, never "verified"', async () => {
    const cases = [
      { mode: 'entry-bytes', failed: ['Client signature', 'Inclusion proof'], entry: entries[0]! },
      { mode: 'proof-hash', failed: ['Inclusion proof'], entry: entries[1]! },
      { mode: 'checkpoint-sig', failed: ['Checkpoint quorum'], entry: entries[2]! },
    ] as const;
    try {
      for (const k of cases) {
        proxy.mode = k.mode;
        await page.evaluate(() => {
          location.hash = '#/';
        });
        const r = await openEntry(leafHashHex(k.entry));
        expect(r.verdict, k.mode).toBe('failed');
        expect(r.text).toContain('Verification failed');
        for (const name of k.failed) expect(await page.locator(`li.bad[data-check="${name}"]`).count(), `${k.mode}: ${name}`).toBe(1);
        expect(await page.locator('[data-verdict="verified"]').count()).toBe(0);
        expect(await page.getByText('Verified in this browser').count()).toBe(0);
      }
    } finally {
      proxy.mode = 'none';
    }
    // The same entry through an honest proxy verifies again: the failures came from the tampering.
    await page.evaluate(() => {
      location.hash = '#/';
    });
    expect((await openEntry(leafHashHex(entries[0]!))).verdict).toBe('verified');
  });

  it('a quorum-signed checkpoint inconsistent with the one stored on the last visit shows the blocking warning with both', async () => {
    const real = await (await fetch(`${proxy.url}/checkpoint`)).text();
    const size = Number(real.split('\n')[1]);
    // A quorum of the organizations signing two histories: what the page must catch.
    const signers = c.orgs.slice(0, c.genesis.quorum).map((o) => ({ name: o.name, signer: o.signer }));
    const forge = (size: number, fill: number) => signNote(formatCheckpoint({ origin: c.genesis.origin, size, root: new Uint8Array(32).fill(fill) }), signers);
    const cases = [
      { kind: 'fork', note: forge(size, 7) },
      { kind: 'rollback', note: forge(size - 1, 9) },
    ];
    try {
      for (const k of cases) {
        proxy.checkpointOverride = k.note;
        await page.reload({ timeout: UI_WAIT_MS });
        await logIn(page); // the key lives in memory only: a new visit logs in again
        const warning = page.locator(`[data-warning="${k.kind}"]`);
        await warning.waitFor({ timeout: UI_WAIT_MS });
        const text = await warning.innerText();
        expect(text).toContain(real.split('\n')[2]!); // the stored root
        expect(text).toContain(k.note.split('\n')[2]!); // the served root
        expect(await page.locator('nav').count()).toBe(0); // blocking: no page behind it
      }
    } finally {
      proxy.checkpointOverride = null;
    }
    // The honest checkpoint again: the stored one was not replaced by the forgeries.
    await page.evaluate(() => {
      location.hash = '#/';
    });
    await page.reload({ timeout: UI_WAIT_MS });
    await logIn(page);
    await page.locator('#memory').waitFor({ timeout: UI_WAIT_MS });
    expect(await page.locator('#memory').innerText()).toContain('same tree as on your last visit');
  });

  it('a reader scoped to tenant acme sees only acme entries, and another entry is not shown', async () => {
    const scoped = await context.browser()!.newContext();
    try {
      const p = await scoped.newPage();
      await p.goto(`${proxy.url}/ui/#/search?outcome=success`, { timeout: UI_WAIT_MS });
      await p.locator('#trust-text').fill(trustText);
      await p.getByRole('button', { name: 'Pin trust file' }).click();
      await logIn(p, acmeReader);
      await p.locator('table.results').waitFor({ timeout: UI_WAIT_MS });
      expect(await p.locator('#whoami').innerText()).toContain('scoped');
      expect(await p.locator('table.results tbody tr').count()).toBe(1);
      expect(await p.locator('table.results').innerText()).toContain('dave');
      await p.evaluate((h) => {
        location.hash = h;
      }, `#/entry/${leafHashHex(entries[0]!)}`);
      await p.locator('[role="alert"]').waitFor({ timeout: UI_WAIT_MS });
      expect(await p.locator('[role="alert"]').innerText()).toContain('Cannot read the entry');
      expect(await p.locator('main').innerText()).not.toContain(entries[0]!.id);
      expect(await p.locator('[data-verdict="verified"]').count()).toBe(0);
    } finally {
      await scoped.close();
    }
  });
});
