// The timeline reader and analysis on synthetic logs of 4 processes with known times: idle entries
// (one with its final missing), loaded heights (one with a round change, one cut short), malformed
// lines, the quorum choice, and reading a directory of several files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTimelineDir } from '../../bench/timeline.js';
import { defaultQuorum, parseTimeline, timelineReport } from '../../bench/timeline-report.js';

const T = 1_700_000_000_000;
const L = (t: number, pid: number, rest: string): string => `${(T + t).toFixed(3)} ${pid} ${rest}`;

/** One idle entry submitted to S at t0, its block at height h, every offset scaled by k; O is another process. */
function idleEntry(t0: number, S: number, O: number, h: number, k: number): string[] {
  const at = (off: number, pid: number, rest: string) => L(t0 + off * k, pid, rest);
  const pv = (type: string, hh = h) => `consensus.send type=${type} h=${hh} r=0`;
  return [
    at(-5, 101, `height.start h=${h}`),
    at(0, S, 'http.submit'),
    at(0.3, S, 'http.submitted n=1'),
    at(0.5, 104, pv('prevote', h - 1)), // a late vote of the previous height: not this entry's
    at(1, 102, 'entries.receive n=1'),
    at(1.2, 103, 'entries.receive n=1'),
    at(1.5, 104, 'entries.receive n=1'),
    at(1.8, 102, 'signer.persist'),
    at(1.95, 102, 'signer.persisted'),
    at(2, 102, pv('proposal')),
    at(3, 101, pv('prevote')),
    at(3.5, 103, pv('prevote')),
    at(4, 104, pv('prevote')),
    at(4.5, 102, pv('prevote')),
    at(5, 102, pv('precommit')),
    at(5.5, 101, pv('precommit')),
    at(6, 103, pv('precommit')),
    at(7, 104, pv('precommit')),
    at(7.1, 101, `block.decide h=${h}`),
    at(7.2, 102, `block.decide h=${h}`),
    at(7.25, 101, 'store.write ops=3'),
    at(7.3, 103, `block.decide h=${h}`),
    at(8, 104, `block.decide h=${h}`),
    at(9.25, 101, 'store.written'),
    at(9.5, 101, `block.durable h=${h} n=1`),
    at(10, 102, `block.durable h=${h} n=1`),
    at(10, 101, `checkpoint.sign size=${h}`),
    at(10.5, 102, `checkpoint.sign size=${h}`),
    at(11, 103, `block.durable h=${h} n=1`),
    at(11.5, 103, `checkpoint.sign size=${h}`),
    at(12, 104, `block.durable h=${h} n=1`),
    at(12.5, 104, `checkpoint.sign size=${h}`),
    at(12.9, O, `checkpoint.final size=${h}`),
    at(13, S, `checkpoint.final size=${h}`),
    at(14, S, 'http.final'),
  ];
}

/** Three loaded heights from t=1000: 10 (plain), 11 (round 0 times out with 2 nil prevotes, decides in round 1), 12 (cut short). */
function loadLines(): string[] {
  const a = (t0: number) => (off: number, pid: number, rest: string) => L(t0 + off, pid, rest);
  const h10 = a(1000);
  const h11 = a(1010);
  const h12 = a(1020);
  const s = (type: string, h: number, r = 0) => `consensus.send type=${type} h=${h} r=${r}`;
  const rp = (h: number, r: number, v: number) => `consensus.receive type=proposal h=${h} r=${r} v=${v}`;
  return [
    h10(0, 101, 'height.start h=10'), h10(0.2, 102, 'height.start h=10'), h10(0.3, 103, 'height.start h=10'), h10(0.4, 104, 'height.start h=10'),
    h10(0.8, 103, 'signer.persist'), h10(0.9, 103, 'signer.persisted'),
    h10(1, 103, s('proposal', 10)), h10(1.2, 103, s('prevote', 10)),
    h10(1.5, 101, rp(10, 0, 2)), h10(1.6, 102, rp(10, 0, 2)), h10(1.7, 104, rp(10, 0, 2)),
    h10(2, 101, s('prevote', 10)), h10(2.5, 102, s('prevote', 10)), h10(3, 104, s('prevote', 10)),
    h10(3.2, 103, s('precommit', 10)), h10(3.4, 101, s('precommit', 10)), h10(3.6, 102, s('precommit', 10)), h10(3.9, 104, s('precommit', 10)),
    h10(4, 101, 'block.decide h=10'), h10(4.1, 102, 'block.decide h=10'), h10(4.2, 103, 'block.decide h=10'), h10(4.5, 104, 'block.decide h=10'),
    h10(4.3, 101, 'store.write ops=60'), h10(5.3, 101, 'store.written'),
    h10(5.5, 101, 'block.durable h=10 n=50'), h10(5.6, 102, 'block.durable h=10 n=50'), h10(5.8, 103, 'block.durable h=10 n=50'), h10(6, 104, 'block.durable h=10 n=50'),

    h11(0, 102, 'height.start h=11'), h11(0.1, 101, 'height.start h=11'), h11(0.2, 103, 'height.start h=11'), h11(0.3, 104, 'height.start h=11'),
    h11(1, 101, s('prevote', 11, 0)), h11(1.5, 103, s('prevote', 11, 0)),
    h11(2, 104, s('proposal', 11, 1)), h11(2.1, 104, s('prevote', 11, 1)),
    h11(2.3, 101, rp(11, 1, 3)), h11(2.4, 102, rp(11, 1, 3)), h11(2.5, 103, rp(11, 1, 3)),
    h11(2.6, 101, s('prevote', 11, 1)), h11(2.8, 102, s('prevote', 11, 1)), h11(3, 103, s('prevote', 11, 1)),
    h11(3.2, 101, s('precommit', 11, 1)), h11(3.3, 102, s('precommit', 11, 1)), h11(3.5, 103, s('precommit', 11, 1)), h11(3.6, 104, s('precommit', 11, 1)),
    h11(4, 101, 'block.decide h=11'), h11(4.1, 102, 'block.decide h=11'), h11(4.2, 103, 'block.decide h=11'), h11(4.3, 104, 'block.decide h=11'),
    h11(5, 101, 'block.durable h=11 n=40'), h11(5.2, 102, 'block.durable h=11 n=40'), h11(5.4, 103, 'block.durable h=11 n=40'), h11(5.5, 104, 'block.durable h=11 n=40'),

    h12(0, 103, 'height.start h=12'), h12(0.7, 103, s('proposal', 12)), h12(0.8, 103, s('prevote', 12)),
  ];
}

const MALFORMED = ['garbage', `${T}.5 abc http.submit`, L(1, 101, 'consensus.send type'), '17000000', ''];

function allLines(): string[] {
  return [
    ...idleEntry(0, 101, 102, 5, 1),
    ...idleEntry(100, 102, 101, 6, 2),
    // Submitted to 103, never answered final: excluded.
    L(200, 103, 'http.submit'), L(201, 101, 'entries.receive n=1'), L(205, 103, 'checkpoint.final size=7'),
    ...idleEntry(300, 104, 101, 7, 1),
    ...loadLines(),
    ...MALFORMED,
    L(2000, 101, 'some.future.event x=1'),
    L(2001, 102, 'timeline.dropped n=7'),
  ].reverse(); // input order must not matter: the report merges by t
}

describe('timeline parsing', () => {
  it('counts malformed lines, skips blank ones, keeps unknown events, and sorts by t', () => {
    const p = parseTimeline(allLines());
    expect(p.malformed).toBe(4);
    expect(p.events.some((e) => e.event === 'some.future.event')).toBe(true);
    for (let i = 1; i < p.events.length; i++) expect(p.events[i]!.t).toBeGreaterThanOrEqual(p.events[i - 1]!.t);
    expect(p.events[0]).toEqual({ t: T - 5, pid: 101, event: 'height.start', kv: { h: '5' } });
  });

  it('chooses the quorum as floor(2n/3)+1 of the distinct processes', () => {
    expect([1, 3, 4, 7, 10].map(defaultQuorum)).toEqual([1, 3, 3, 5, 7]);
    expect(timelineReport(allLines()).quorum).toBe(3);
    expect(timelineReport(allLines()).dropped).toBe(7);
    expect(timelineReport(allLines()).pids).toEqual([101, 102, 103, 104]);
  });
});

describe('idle report', () => {
  const r = timelineReport(allLines());

  it('takes one-at-a-time entries answered final and excludes the one whose final never came', () => {
    expect(r.idle.entries.map((e) => [e.pid, e.submitT - T, e.height])).toEqual([[101, 0, 5], [102, 100, 6], [104, 300, 7]]);
  });

  it('computes each milestone from all processes, restricted to the entry height', () => {
    expect(r.idle.entries[0]!.ms).toEqual({
      receive: 1, proposal: 2, prevote1: 3, prevoteQ: 4, precommit1: 5, precommitQ: 6,
      decide1: 7.1, decideQ: 7.3, durableQ: 11, signQ: 11.5, final: 13, http: 14,
    });
    expect(r.idle.entries[1]!.ms.decideQ).toBe(14.6);
    expect(r.idle.entries[1]!.ms.final).toBe(26); // its own process's final, not the other's at 25.8
  });

  it("counts only signatures and finality of the tree size that holds the entry, not an earlier size's arriving late", () => {
    // Entry at height 5 (size 5); a late final and signatures of size 4 land inside its window.
    const lines = idleEntry(0, 101, 102, 5, 1);
    lines.push(L(10.2, 103, 'checkpoint.sign size=4'), L(10.3, 104, 'checkpoint.sign size=4'), L(12.7, 101, 'checkpoint.final size=4'));
    const e = timelineReport(lines).idle.entries[0]!;
    expect(e.ms.signQ).toBe(11.5);
    expect(e.ms.final).toBe(13);
  });

  it('summarizes milestones and steps as p50/p90 over entries', () => {
    expect(r.idle.milestones.prevoteQ).toEqual({ count: 3, p50: 4, p90: 8, max: 8 });
    expect(r.idle.milestones.http).toEqual({ count: 3, p50: 14, p90: 28, max: 28 });
    const step = (from: string, to: string) => r.idle.steps.find((s) => s.from === from && s.to === to)?.ms;
    expect(step('submit', 'proposal')).toEqual({ count: 3, p50: 2, p90: 4, max: 4 });
    expect(step('prevote1', 'prevoteQ')).toEqual({ count: 3, p50: 1, p90: 2, max: 2 });
    expect(step('durableQ', 'signQ')).toEqual({ count: 3, p50: 0.5, p90: 1, max: 1 });
    expect(r.idle.steps.map((s) => s.to)).not.toContain('receive');
  });

  it('measures per-process writes inside the idle windows', () => {
    expect(r.idle.durations.signerPersist).toEqual({ count: 3, p50: 0.15, p90: 0.3, max: 0.3 });
    expect(r.idle.durations.decideToDurable).toEqual({ count: 12, p50: 3.7, p90: 7.4, max: 8 });
    expect(r.idle.durations.storeWrite).toEqual({ count: 3, p50: 2, p90: 4, max: 4 });
  });

  it('counts a quorum over distinct processes of the given size', () => {
    const q2 = timelineReport(allLines(), { quorum: 2 });
    expect(q2.idle.entries[0]!.ms.prevoteQ).toBe(3.5);
    expect(q2.idle.entries[0]!.ms.decideQ).toBe(7.2);
    expect(() => timelineReport(allLines(), { quorum: 0 })).toThrow(/quorum/);
  });
});

describe('per-height report', () => {
  const r = timelineReport(allLines());

  it('covers only heights started after the last idle entry', () => {
    expect(r.load.afterT).toBe(T + 314);
    expect(r.load.heights).toBe(3);
  });

  it('counts a vote quorum within one round, from the height first start', () => {
    expect(r.load.milestones.proposal).toEqual({ count: 3, p50: 1, p90: 2, max: 2 });
    // Height 11: two nil prevotes in round 0 plus one of round 1 are not a quorum (2.1); round 1's third is at 2.8.
    expect(r.load.milestones.prevoteQ).toEqual({ count: 2, p50: 2.5, p90: 2.8, max: 2.8 });
    expect(r.load.milestones.precommitQ).toEqual({ count: 2, p50: 3.5, p90: 3.6, max: 3.6 });
    expect(r.load.milestones.decideQ).toEqual({ count: 2, p50: 4.2, p90: 4.2, max: 4.2 });
    expect(r.load.milestones.durableQ).toEqual({ count: 2, p50: 5.4, p90: 5.8, max: 5.8 });
    expect(timelineReport(allLines(), { quorum: 2 }).load.milestones.prevoteQ).toEqual({ count: 2, p50: 1.5, p90: 2, max: 2 });
  });

  it('measures writes and follower proposal handling in the loaded period', () => {
    expect(r.load.durations.signerPersist).toEqual({ count: 1, p50: 0.1, p90: 0.1, max: 0.1 });
    expect(r.load.durations.decideToDurable).toEqual({ count: 8, p50: 1.2, p90: 1.6, max: 1.6 });
    expect(r.load.durations.storeWrite).toEqual({ count: 1, p50: 1, p90: 1, max: 1 });
    expect(r.load.proposalToPrevote).toEqual({ count: 6, p50: 0.5, p90: 1.3, max: 1.3 });
  });

  it('reports empty summaries as null when nothing was recorded', () => {
    const e = timelineReport(['']);
    expect(e.idle.entries).toEqual([]);
    expect(e.load.milestones.proposal).toEqual({ count: 0, p50: null, p90: null, max: null });
  });
});

describe('reading a timeline directory', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  it('merges the files of several processes by t and ignores other files', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-timeline-'));
    await writeFile(join(dir, 'timeline-101.log'), [L(0, 101, 'http.submit'), L(2, 101, 'block.decide h=3'), L(9, 101, 'http.final')].join('\n') + '\n');
    await writeFile(join(dir, 'timeline-102.log'), [L(1, 102, 'consensus.send type=proposal h=3 r=0'), L(3, 102, 'block.decide h=3'), 'torn'].join('\n'));
    await writeFile(join(dir, 'other.log'), L(5, 103, 'http.submit') + '\n');
    const d = await readTimelineDir(dir);
    expect(d.files).toEqual(['timeline-101.log', 'timeline-102.log']);
    const p = parseTimeline(d.lines);
    expect(p.malformed).toBe(1);
    expect(p.events.map((e) => `${e.pid} ${e.event}`)).toEqual(['101 http.submit', '102 consensus.send', '101 block.decide', '102 block.decide', '101 http.final']);
    const r = timelineReport(p, { quorum: 2 });
    expect(r.idle.entries[0]!.ms).toMatchObject({ proposal: 1, decide1: 2, decideQ: 3, http: 9 });
  });

  it('refuses a directory over the file-count or byte bounds, and one without timelines', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-timeline-'));
    await expect(readTimelineDir(dir)).rejects.toThrow(/no timeline/);
    await writeFile(join(dir, 'timeline-1.log'), L(0, 1, 'http.submit') + '\n');
    await writeFile(join(dir, 'timeline-2.log'), L(0, 2, 'http.submit') + '\n');
    await expect(readTimelineDir(dir, { maxFiles: 1 })).rejects.toThrow(/2 timeline files/);
    await expect(readTimelineDir(dir, { maxBytes: 10 })).rejects.toThrow(/bytes of timeline files/);
    expect((await readTimelineDir(dir)).files).toHaveLength(2);
  });
});
