// The alert outbox survives kill -9 during delivery: a child process delivering to a slow webhook
// receiver is SIGKILLed while a request is in flight, then restarted on the same LevelDB. After
// the restart every alert reaches the receiver; the only repeats are of alerts whose delivery was
// interrupted, under the same id (the receiver's idempotency key).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../unit/support/storage-fixture.js';

const CHILD = fileURLToPath(new URL('./support/alerts-outbox-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs = new TempDirs();
const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const c of closers.splice(0)) await c();
  await dirs.removeAll();
});

const N = 30;

function startChild(dir: string, url: string): { child: ChildProcess; lines: string[]; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, url, String(N)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => {
    if (child.exitCode !== 0 && child.signalCode === null) lines.push(`child failed: ${stderr}`);
  });
  return { child, lines, exited };
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('alert outbox and kill -9', () => {
  it('after a kill during delivery and a restart, no alert is missing; repeats carry the same id', async () => {
    // Slow receiver: each request is answered 150 ms after it arrived.
    const received: string[] = [];
    let inFlight: string | undefined;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        received.push(id);
        inFlight = id;
        setTimeout(() => {
          res.statusCode = 200;
          res.end();
        }, 150);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const dir = await dirs.make();

    const first = startChild(dir, url);
    await until('first run to enqueue', () => first.lines.some((l) => l.startsWith('enqueued')), 30_000);
    expect(first.lines[0]).toBe(`enqueued ${N} duplicates 0 pending ${N}`);
    // Kill while the 8th request is being answered.
    await until('8 requests', () => received.length >= 8, 30_000);
    const interrupted = inFlight!;
    first.child.kill('SIGKILL');
    await first.exited;
    const beforeRestart = received.length;
    expect(beforeRestart).toBeLessThan(N);

    const second = startChild(dir, url);
    await until('second run to finish', () => second.lines.includes('done') || second.lines.some((l) => l.startsWith('child failed')), 60_000);
    expect(second.lines.filter((l) => l.startsWith('child failed'))).toEqual([]);
    // Every alert was accepted before the kill: the restart enqueues nothing new.
    const pendingAfter = Number(/pending (\d+)/.exec(second.lines[0]!)![1]);
    expect(second.lines[0]).toMatch(new RegExp(`^enqueued 0 duplicates ${N} pending \\d+$`));
    expect(pendingAfter).toBe(N - (beforeRestart - 1));

    const distinct = new Set(received);
    expect(distinct.size).toBe(N);
    // The interrupted delivery is repeated after the restart under the same id; nothing else repeats.
    const repeats = received.filter((id, i) => received.indexOf(id) !== i);
    expect(repeats).toEqual([interrupted]);
    expect(received.length).toBe(N + 1);
  });
});
