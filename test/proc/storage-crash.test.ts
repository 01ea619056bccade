// Crash consistency of the store with a real process kill: a child applies blocks in a loop and
// is SIGKILLed at arbitrary moments (mid-batch most of the time). Every block the child reported
// applied (after applyBlock resolved) must survive, the store must pass its open-time head check
// and a full verifyStore, and the signer state must be one the child wrote. This shows that a
// killed process never leaves a half-written block (LevelDB batches are atomic); it does NOT
// show that writes were synced to disk: the page cache survives SIGKILL, so an unsynced write
// survives too. The sync of every durable write is checked in test/unit/storage-durable.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { openStore, verifyStore } from '../../node/storage/index.js';
import { TempDirs } from '../unit/support/storage-fixture.js';

const CHILD = fileURLToPath(new URL('./support/storage-crash-child.ts', import.meta.url));
/** This checkout (`--import tsx` resolves from the working directory). */
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs = new TempDirs();
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await dirs.removeAll();
});

/** Runs the child until it has reported `minApplied` more blocks plus a random delay, then SIGKILLs it. */
async function runAndKill(dir: string, minApplied: number, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let lastApplied = 0;
  let seen = 0;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`child made no progress in 30 s (applied ${seen}); stderr: ${stderr}`)), 30_000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^applied (\d+)$/.exec(line);
        if (m === null) continue;
        lastApplied = Number(m[1]);
        if (++seen === minApplied) {
          clearTimeout(deadline);
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, extraMs);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited early (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  return lastApplied;
}

describe('storage is crash-consistent when its process is SIGKILLed during writes (not a power-loss test)', () => {
  it('every reported block survives; head check and verifyStore pass after each of 4 kills', async () => {
    const dir = await dirs.make();
    for (const [round, extraMs] of [3, 17, 41, 0].entries()) {
      const reported = await runAndKill(dir, 3 + round, extraMs);
      const store = await openStore(dir); // runs the open-time head check
      try {
        const head = store.head()!;
        expect(head.height).toBeGreaterThanOrEqual(reported);
        expect(head.treeSize).toBe(head.height * 200);
        const v = await verifyStore(store);
        expect(v).toMatchObject({ ok: true, treeSize: head.treeSize });
        const s = fromUtf8((await store.getSignerState())!);
        expect(s).toMatch(/^signer state at \d+$/);
        expect(Number(s.split(' ').pop())).toBeGreaterThanOrEqual(reported);
        expect(await store.walRead(reported)).toHaveLength(2);
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});
