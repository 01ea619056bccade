// kill -9 while blocks (with their search index records) are being applied: after each restart the
// indexes and the log agree record for record (verifyIndexes, as run by `cairn verify store`), and
// the log itself verifies. What this shows: applyBlock's single batch leaves no half-written block
// or index behind a killed process. It does not test fsync (the kernel keeps a killed process's
// writes), which durable.ts covers.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../node/storage/index.js';
import { verifyStore } from '../../node/storage/verify.js';
import { verifyIndexes } from '../../node/search/maintain.js';
import { TempDirs } from '../unit/support/storage-fixture.js';

const CHILD = fileURLToPath(new URL('./support/search-crash-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs = new TempDirs();
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await dirs.removeAll();
});

/** Runs the child until it reports `blocks` more applied blocks (deadline 60 s), then SIGKILLs it mid-work. */
async function runAndKill(dir: string, seed: string, blocks: number, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, seed], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let applied = 0;
  let last = 0;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/applied (\d+)/g)) {
      applied++;
      last = Number(m[1]);
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 60_000;
  while (applied < blocks) {
    if (child.exitCode !== null) throw new Error(`child exited early (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`child applied only ${applied} of ${blocks} blocks in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  // Kill at an arbitrary point of the next block's work.
  await new Promise((r) => setTimeout(r, extraMs));
  child.kill('SIGKILL');
  await exited;
  return last;
}

describe('search indexes and kill -9', () => {
  it('after each kill during block application, indexes and log agree (three kill/restart rounds)', async () => {
    const dir = await dirs.make();
    let size = 0;
    for (let round = 0; round < 3; round++) {
      const reported = await runAndKill(dir, `crash-${round}`, 4, 3 + round * 7);
      const store = await openStore(dir);
      try {
        const head = store.head()!;
        // Everything reported applied survived; at most the block in flight may have been added.
        expect(head.treeSize).toBeGreaterThanOrEqual(reported);
        expect(head.treeSize).toBeGreaterThan(size);
        size = head.treeSize;
        expect(await verifyStore(store)).toMatchObject({ ok: true, treeSize: size });
        expect(await verifyIndexes(store)).toMatchObject({ ok: true, treeSize: size });
      } finally {
        await store.close();
      }
    }
  }, 200_000);
});
