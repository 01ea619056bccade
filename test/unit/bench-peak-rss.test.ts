// The bench's per-phase peak RSS: resetPeakRss must really lower a live process's VmHWM to its
// current RSS (else a "peak during the step" is the whole-run peak in disguise), and must say false,
// not throw, when it cannot. The child is a real process that allocates and frees ~80 MiB.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerPeakRss } from '../../bench/peak-rss.js';
import { peakRssBytes, resetPeakRss } from '../../bench/procstat.js';
import { rssRows } from '../../bench/table.js';

const MiB = 2 ** 20;
const ALLOC_MIB = 80;

// Allocates on 'alloc' (Buffer.alloc with a fill value touches every page), drops the only reference
// and collects on 'free' (a buffer this large is its own mapping, unmapped when collected).
const CHILD = `
let buf = null;
process.on('message', (m) => {
  if (m === 'alloc') { buf = Buffer.alloc(${ALLOC_MIB} * 1024 * 1024, 7); process.send('allocated ' + buf[buf.length - 1]); }
  if (m === 'free') { buf = null; global.gc(); global.gc(); setTimeout(() => process.send('freed'), 100); }
});
process.send('ready');
setTimeout(() => process.exit(3), 60000);
`;

let child: ChildProcess | null = null;

afterEach(() => {
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = null;
});

/** The next IPC message from the child that starts with `prefix`, or a rejection after `ms`. */
function nextMessage(c: ChildProcess, prefix: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('message', onMessage);
      reject(new Error(`no '${prefix}' message from the child within ${ms} ms`));
    }, ms);
    const onMessage = (m: unknown) => {
      if (typeof m === 'string' && m.startsWith(prefix)) {
        clearTimeout(timer);
        c.off('message', onMessage);
        resolve(m);
      }
    };
    c.on('message', onMessage);
  });
}

async function rssBytes(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

describe('bench peak RSS reset', () => {
  it('lowers VmHWM of a live process from its peak to its current RSS', async () => {
    child = spawn(process.execPath, ['--expose-gc', '-e', CHILD], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const c = child;
    await nextMessage(c, 'ready', 20_000);
    const pid = c.pid!;
    const before = await peakRssBytes(pid);
    c.send('alloc');
    expect(await nextMessage(c, 'allocated', 20_000)).toBe('allocated 7');
    const peak = await peakRssBytes(pid);
    // The allocation really raised the peak: otherwise the assertion below would prove nothing.
    expect(peak, `VmHWM ${before / MiB} MiB -> ${peak / MiB} MiB`).toBeGreaterThan(before + (ALLOC_MIB - 10) * MiB);
    c.send('free');
    await nextMessage(c, 'freed', 20_000);
    const rssFreed = await rssBytes(pid);
    expect(rssFreed, 'the child gave the memory back').toBeLessThan(peak - 60 * MiB);
    // Not skipped when the machine refuses: a bench that cannot reset records null per step.
    expect(await resetPeakRss(pid), 'writing 5 to /proc/<pid>/clear_refs (needs Linux >= 4.0 and write access)').toBe(true);
    const after = await peakRssBytes(pid);
    expect(after, `VmHWM after the reset ${after / MiB} MiB, peak before ${peak / MiB} MiB`).toBeLessThan(peak - 40 * MiB);
    // The reset starts a new window: a new allocation raises VmHWM again.
    c.send('alloc');
    await nextMessage(c, 'allocated', 20_000);
    expect(await peakRssBytes(pid)).toBeGreaterThan(after + (ALLOC_MIB - 10) * MiB);
  }, 60_000);

  it('a step window reports the peak since its start, and the whole-run peak survives the reset', async () => {
    child = spawn(process.execPath, ['--expose-gc', '-e', CHILD], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const c = child;
    await nextMessage(c, 'ready', 20_000);
    const pid = c.pid!;
    const rss = new PeerPeakRss();
    c.send('alloc');
    await nextMessage(c, 'allocated', 20_000);
    c.send('free');
    await nextMessage(c, 'freed', 20_000);
    const peakMiB = (await peakRssBytes(pid)) / MiB;
    const w = await rss.start([pid]);
    expect(w.reset).toEqual([true]);
    const [inStep] = await rss.end(w);
    expect(inStep, `step peak ${inStep} MiB, process peak ${peakMiB} MiB`).toBeLessThan(peakMiB - 40);
    const [whole] = await rss.wholeRun([pid]);
    expect(whole).toBeGreaterThanOrEqual(Math.floor(peakMiB));
    // A window on a process that is gone is null, never a stale figure.
    c.kill('SIGKILL');
    await new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
    const gone = await rss.start([pid]);
    expect(await rss.end(gone)).toEqual([null]);
  }, 60_000);

  it('the table shows the max sustained step next to the whole run, and says when the reset failed', () => {
    const res = { peakRssMiB: [250.5, 240], peakRssMaxSustainedMiB: [120.25, 118], peakRssMaxSustainedStep: { id: 'sustained', offeredRate: 900 }, idlePeakRssMiB: [null, null] };
    const rows = Object.fromEntries(rssRows({ resources: res, steps: [{ offeredRate: 800, keepsUp: true, peakRssMiB: [110, 130] }, { offeredRate: 1280, keepsUp: false, peakRssMiB: [250, null] }] }));
    expect(rows['peak RSS per peer, whole run']).toMatch(/^250\.5 \/ 240\.0 MiB .*overloaded ladder steps/);
    expect(rows['peak RSS per peer, max sustained step']).toMatch(/^120\.3 \/ 118\.0 MiB \(step sustained at 900\/s offered/);
    expect(rows['peak RSS per peer, idle']).toMatch(/^not measured/);
    expect(rows['peak RSS by ladder step (largest peer)']).toBe('800/s 130.0, 1,280/s 250.0✗ MiB');
    const failed = Object.fromEntries(rssRows({ resources: { ...res, peakRssMaxSustainedMiB: [null, null] }, steps: [] }));
    expect(failed['peak RSS per peer, max sustained step']).toMatch(/^not measured/);
    // A result recorded before per-step peaks: the whole-run row only.
    expect(rssRows({ resources: { peakRssMiB: [1, 2] } })).toHaveLength(1);
  });

  it('answers false, without throwing, for a process that is gone or a bad pid', async () => {
    child = spawn(process.execPath, ['-e', 'process.exit(0)'], { stdio: 'ignore' });
    const c = child;
    const pid = c.pid!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child did not exit within 20 s')), 20_000);
      c.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(await resetPeakRss(pid)).toBe(false);
    expect(await resetPeakRss(0)).toBe(false);
    expect(await resetPeakRss(-1)).toBe(false);
    expect(await resetPeakRss(Number.NaN)).toBe(false);
  }, 30_000);
});
