// The opt-in pipeline timeline (node/timeline/recorder.ts): line format, order, bounds, and that a
// process with CAIRN_TIMELINE_DIR set writes its events at exit while one without it writes nothing,
// and that a directory it cannot append to costs counted drops and one warning, never the process.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TimelineRecorder, timelineOn } from '../../node/timeline/recorder.js';

const LINE = /^(\d+\.\d{3}) (\d+) ([a-z.]+)(?: (.*))?$/;
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cairn-timeline-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('timeline recorder', () => {
  it('appends "<epoch ms> <pid> <event> [detail]" lines in order', async () => {
    const dir = await tempDir();
    const r = new TimelineRecorder(dir, 4242);
    const before = Date.now();
    r.record('height.start', 'h=7');
    r.record('signer.persist');
    r.record('consensus.send', 'type=prevote h=7 r=0');
    await r.flush();
    const lines = (await readFile(join(dir, 'timeline-4242.log'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const parsed = lines.map((l) => LINE.exec(l));
    expect(parsed.every((m) => m !== null)).toBe(true);
    expect(parsed.map((m) => [m![2], m![3], m![4]])).toEqual([
      ['4242', 'height.start', 'h=7'],
      ['4242', 'signer.persist', undefined],
      ['4242', 'consensus.send', 'type=prevote h=7 r=0'],
    ]);
    const times = parsed.map((m) => Number(m![1]));
    expect(times[0]).toBeGreaterThanOrEqual(before - 50);
    expect(times[0]).toBeLessThanOrEqual(Date.now() + 50);
    expect(times[1]).toBeGreaterThanOrEqual(times[0]!);
    expect(times[2]).toBeGreaterThanOrEqual(times[1]!);
  });

  it('flushes by itself after a while, appending to what is there', async () => {
    const dir = await tempDir();
    const r = new TimelineRecorder(dir, 7);
    r.record('a.one');
    await r.flush();
    r.record('a.two');
    const file = join(dir, 'timeline-7.log');
    const deadline = Date.now() + 5_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await readFile(file, 'utf8');
      if (text.includes('a.two')) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(text.trimEnd().split('\n').map((l) => LINE.exec(l)?.[3])).toEqual(['a.one', 'a.two']);
  });

  it('holds at most maxEvents between flushes and reports how many it dropped', async () => {
    const dir = await tempDir();
    const r = new TimelineRecorder(dir, 9, 2);
    for (let i = 0; i < 5; i++) r.record('x.y', `i=${i}`);
    r.flushSync();
    const lines = (await readFile(join(dir, 'timeline-9.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => `${LINE.exec(l)?.[3]} ${LINE.exec(l)?.[4]}`)).toEqual(['x.y i=0', 'x.y i=1', 'timeline.dropped n=3']);
  });

  it('counts the events of a failed append as dropped and warns once', async () => {
    const dir = join(await tempDir(), 'missing');
    const warnings: string[] = [];
    const r = new TimelineRecorder(dir, 11, 100, (line) => warnings.push(line));
    for (let i = 0; i < 3; i++) r.record('x.y', `i=${i}`);
    await r.flush();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(join(dir, 'timeline-11.log'));
    expect(warnings[0]).toContain('(ENOENT)');
    expect(warnings[0]).toContain(': 3 events dropped');
    r.record('x.y', 'i=3');
    r.record('x.y', 'i=4');
    await r.flush();
    expect(warnings).toHaveLength(1);
    // Once the directory is there, the next append carries the count of all the lost events.
    await mkdir(dir);
    r.record('x.z');
    r.flushSync();
    const lines = (await readFile(join(dir, 'timeline-11.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => `${LINE.exec(l)?.[3]} ${LINE.exec(l)?.[4]}`)).toEqual(['x.z undefined', 'timeline.dropped n=5']);
    expect(warnings).toHaveLength(1);
  });

  it('a process whose CAIRN_TIMELINE_DIR does not exist exits normally and warns once with the count', async () => {
    const dir = join(await tempDir(), 'missing');
    const root = resolve(__dirname, '../..');
    // Two events go to the periodic flush, which fails; once the test has seen the warning it
    // writes to stdin, and the child records one more event and lets the exit flush fail too.
    const script = [
      "import('./node/timeline/recorder.ts').then((m) => {",
      "  m.timeline('t.one'); m.timeline('t.two', 'k=2');",
      "  process.stdin.once('data', () => { m.timeline('t.three'); process.stdin.destroy(); console.log(String(m.timelineOn)); });",
      '})',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env: { ...process.env, CAIRN_TIMELINE_DIR: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
      await new Promise<void>((res, rej) => {
        const late = setTimeout(() => rej(new Error(`no warning within 60 s; stderr: ${stderr}`)), 60_000);
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          if (/cairn timeline:.*\n/.test(stderr)) {
            clearTimeout(late);
            res();
          }
        });
        child.on('close', () => rej(new Error(`child exited before warning; stderr: ${stderr}`)));
      });
      child.stdin.end('go\n');
      expect(await exited).toBe(0);
      expect(stdout.trim()).toBe('true');
      const warnings = stderr.split('\n').filter((l) => l.startsWith('cairn timeline:'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`cairn timeline: cannot append to ${join(dir, `timeline-${child.pid}.log`)} (ENOENT): 2 events dropped;`);
      await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    }
  }, 90_000);

  it('is off unless CAIRN_TIMELINE_DIR is set', () => {
    expect(process.env.CAIRN_TIMELINE_DIR).toBeUndefined();
    expect(timelineOn).toBe(false);
  });

  it('a process started with CAIRN_TIMELINE_DIR writes its events at exit; one without it writes none', async () => {
    const dir = await tempDir();
    const root = resolve(__dirname, '../..');
    const script = "import('./node/timeline/recorder.ts').then((m) => { m.timeline('t.on', 'k=1'); console.log(String(m.timelineOn)); })";
    const run = (env: NodeJS.ProcessEnv) => execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env, encoding: 'utf8', timeout: 60_000 }).trim();
    const { CAIRN_TIMELINE_DIR: _unset, ...base } = process.env;
    expect(run(base)).toBe('false');
    expect(await readdir(dir)).toEqual([]);
    expect(run({ ...base, CAIRN_TIMELINE_DIR: dir })).toBe('true');
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^timeline-\d+\.log$/);
    const line = (await readFile(join(dir, files[0]!), 'utf8')).trimEnd();
    const m = LINE.exec(line);
    expect(m?.[3]).toBe('t.on');
    expect(m?.[4]).toBe('k=1');
    expect(files[0]).toBe(`timeline-${m?.[2]}.log`);
  }, 90_000);
});
