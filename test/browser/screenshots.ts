// Takes the explorer's screenshots for docs/explorer.md (laptop 1280×800 and phone 360×740) against
// the browser test's environment (a real 4-organization network, a real OpenID provider, headless
// Debian Chromium): `npx tsx test/browser/screenshots.ts [outDir]` (default docs/screenshots).
// PNGs are kept small: the page area only, at device scale 1.
import '../../node/polyfills.js';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { leafHashHex } from '../net/helpers/auth-peer.js';
import { logIn, logInOidc, pinTrust, startExplorerEnv, UI_WAIT_MS } from './support/explorer-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'docs/screenshots'));

async function shot(p: Page, hash: string, ready: string, name: string): Promise<void> {
  await p.evaluate((h) => {
    location.hash = h;
  }, hash);
  await p.locator(ready).first().waitFor({ timeout: UI_WAIT_MS });
  await p.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const file = join(out, `${name}.png`);
  await p.screenshot({ path: file, fullPage: false });
  console.log(`${file}: ${(await stat(file)).size} bytes`);
}

const env = await startExplorerEnv();
try {
  await mkdir(out, { recursive: true });
  const laptop = await (await env.browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 })).newPage();
  await laptop.goto(`${env.proxy.url}/ui/`, { timeout: UI_WAIT_MS });
  await pinTrust(laptop, env);
  await laptop.screenshot({ path: join(out, 'laptop-login.png') });
  await logInOidc(laptop);
  const carol = leafHashHex(env.entries[1]!);
  await shot(laptop, '#/', '#peers-verdict', 'laptop-overview');
  await laptop.getByText('newest entry you may read').waitFor({ timeout: UI_WAIT_MS });
  await laptop.screenshot({ path: join(out, 'laptop-overview.png') });
  await shot(laptop, '#/search?resourceType=account&cols=index,time,actor,action,resource,outcome,id', 'table.results', 'laptop-search');
  await shot(laptop, `#/entry/${carol}`, '[data-verdict="verified"]', 'laptop-entry');
  await shot(laptop, '#/history/account/acct-7', 'ol.timeline', 'laptop-history');
  await shot(laptop, '#/alerts', '#alerts', 'laptop-alerts');
  env.proxy.mode = 'proof-hash';
  await shot(laptop, `#/entry/${leafHashHex(env.entries[0]!)}`, '[data-verdict="failed"]', 'laptop-failed');
  env.proxy.mode = 'none';
  const phone = await (await env.browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true })).newPage();
  await phone.goto(`${env.proxy.url}/ui/`, { timeout: UI_WAIT_MS });
  await pinTrust(phone, env);
  await logIn(phone, env.auditor);
  await shot(phone, '#/', '#peers-verdict', 'phone-overview');
  await shot(phone, `#/entry/${carol}`, '[data-verdict="verified"]', 'phone-entry');
  await shot(phone, '#/search?resourceType=account', 'table.results', 'phone-search');
} finally {
  await env.close();
}
