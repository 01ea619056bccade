// The meta-audit of a peer run as the real program (`cairn start`, as the devnet launches it: config
// file, access policy, the organization's meta-audit key, the HTTP access gate) survives kill -9:
// an authenticated auditor reads entries (each 200 answer is sent only after its event was synced
// in the queue), the peer process group is SIGKILLed right after the last answer, while the last
// events still wait in their coalescing window, and is started again on the same data directory.
// Every acknowledged read must then be counted in final cairn.read.entry entries naming
// key:auditor, exactly once (the counts add up to the number of answers, no more, no less).
// What this proves: records that were synced before the answer survive the process dying and are
// submitted by the restarted process; it does not prove fsync (the page cache survives a killed
// process). ~40-90 s: one peer process started twice under tsx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CairnClient } from '../../src/client/index.js';
import type { AuditEntry } from '../../src/entry/index.js';
import { parseTrustFile } from '../../src/verifier/index.js';
import { startDevnet, type Devnet } from '../../devnet/start.js';
import { tempDir } from '../unit/support/cli.js';
import { devnetBasePort } from './support/devnet-ports.js';

/** Reads by the auditor before the kill. */
const READS = 30;
/** After the restart, the counted reads must be final within this long. */
const FINAL_MS = 60_000;

let dir: { path: string; cleanup: () => Promise<void> };
let devnet: Devnet | null = null;

beforeAll(async () => {
  dir = await tempDir('ma-start-crash');
  for (let attempt = 0; devnet === null; attempt++) {
    const basePort = devnetBasePort(190);
    try {
      devnet = await startDevnet({ dir: join(dir.path, `devnet-${attempt}`), basePort, orgs: 1, samples: 3 });
    } catch (e) {
      if ((e as { code?: string }).code !== 'port_in_use' || attempt >= 4) throw e;
    }
  }
}, 180_000);

afterAll(async () => {
  await devnet?.stop();
  await dir?.cleanup();
}, 60_000);

describe('meta-audit of `cairn start` and kill -9', () => {
  it('every read answered before the kill is counted in final cairn.read.entry entries after the restart, exactly once', async () => {
    const d = devnet!;
    const peer = d.peers[0]!;
    const t = parseTrustFile(await readFile(d.trustFile));
    if (!t.ok) throw new Error(t.message);
    const auditor = new CairnClient({ url: d.urls[0]!, credentials: d.auth.auditor });

    // 1. Restricted reads by an authenticated client; each 200 is an acknowledged event. (Events
    //    are coalesced per principal, action and second: start in a second of our own.)
    await new Promise((r) => setTimeout(r, 2_100));
    const readStart = Date.now();
    let answered = 0;
    for (let i = 0; i < READS; i++) {
      const e = await auditor.getEntry(d.samples[i % d.samples.length]!);
      expect(e.status).toBe('final');
      answered++;
    }
    // 2. kill -9 of the whole process group, at once: the last events are still queued.
    process.kill(-peer.pid, 'SIGKILL');
    const exited = await d.exited;
    expect(exited).toMatchObject({ name: peer.name, signal: 'SIGKILL' });

    // 3. The same program on the same data directory.
    await d.startPeer(peer.name);
    const deadline = Date.now() + FINAL_MS;
    let counted = 0;
    let ids: string[] = [];
    for (;;) {
      counted = 0;
      ids = [];
      // Search answers only final entries, each page verified against the trust file.
      for await (const page of auditor.search({ action: 'cairn.read.entry', actor: 'key:auditor', fromMs: readStart - 1_000 }, { trust: t.trust, order: 'newest', maxPages: 20 })) {
        expect(page.verified).toBe(true);
        for (const e of page.entries as AuditEntry[]) {
          const data = e.data as { count?: number; firstAt?: string } | undefined;
          if (data?.firstAt === undefined || Date.parse(data.firstAt) < readStart) continue;
          counted += Number(data.count ?? 0);
          ids.push(e.id);
        }
      }
      if (counted >= answered || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`[meta-audit-start-crash] ${answered} reads answered before the kill; ${counted} counted in ${ids.length} final entries after the restart`);
    expect(counted, `reads counted in final entries (ids ${ids.join(', ')})`).toBe(answered);
    expect(new Set(ids).size).toBe(ids.length);
  }, 180_000);
});
