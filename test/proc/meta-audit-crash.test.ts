// The meta-audit survives kill -9: a peer process records events (each line is printed only
// after record() resolved), is SIGKILLed while records are queued, submitted and final, restarts
// on the same data directory, and every event printed as recorded becomes a final entry naming
// its principal — exactly once (entry ids are unique).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { formatGenesis } from '../../node/peer/genesis.js';
import { makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { metaAuditClients } from '../peer-support/meta-audit.js';

const CHILD = fileURLToPath(new URL('./support/meta-audit-crash-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function startChild(dir: string, mode: string): { child: ChildProcess; lines: string[]; exited: Promise<void>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      if (lines.length < 20_000) lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, lines, exited, stderr: () => err };
}

async function until(what: string, cond: () => boolean, ms: number, info: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${info()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const RECORDED = /^recorded (\d+) queued (\d+) final (\d+)$/;

describe('meta-audit and kill -9', () => {
  it('every event whose record() resolved before the kill becomes a final entry after the restart, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-ma-crash-'));
    dirs.push(dir);
    const orgs = await makeOrgs(1, 'mac');
    const genesis = makeGenesis(orgs, metaAuditClients(orgs), { limits: { blockIntervalMs: 20, timeouts: { proposeMs: 500, prevoteMs: 200, precommitMs: 200, deltaMs: 100 } } });
    await writeFile(join(dir, 'genesis.json'), formatGenesis(genesis));

    const first = startChild(dir, 'record');
    // Kill once some entries are final and more events are still queued behind them.
    let last: RegExpExecArray | null = null;
    await until(
      'recorded events, some final, some queued',
      () => {
        const l = first.lines.at(-1);
        last = l === undefined ? null : RECORDED.exec(l);
        return last !== null && Number(last[3]) > 0 && Number(last[1]) >= 100 && Number(last[2]) > 0;
      },
      60_000,
      () => `${first.lines.slice(-3).join('\n')}\n${first.stderr()}`,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    // Every line printed before the kill: its event was durable when it was printed.
    const printed = first.lines.map((l) => RECORDED.exec(l)).filter((m) => m !== null);
    const lastIndex = Math.max(...printed.map((m) => Number(m[1])));
    const atKill = printed.at(-1)!;
    expect(Number(atKill[2])).toBeGreaterThan(0); // records were still queued at the kill

    const second = startChild(dir, 'drain');
    await until('the restarted peer drains its queue', () => second.lines.includes('done') || second.child.exitCode !== null, 90_000, () => `${second.lines.join('\n')}\n${second.stderr()}`);
    expect(second.lines, second.stderr()).toContain('queued 0');
    const entries = JSON.parse(second.lines.find((l) => l.startsWith('entries '))!.slice('entries '.length)) as [string, string, number][];
    // Exactly once: no id twice, one entry per principal, each carrying one event.
    expect(new Set(entries.map((e) => e[0])).size).toBe(entries.length);
    const actors = new Map(entries.map((e) => [e[1], e[2]]));
    expect(actors.size).toBe(entries.length);
    for (let i = 0; i <= lastIndex; i++) expect(actors.get(`key:user${i}`), `key:user${i}`).toBe(1);
  }, 180_000);
});
