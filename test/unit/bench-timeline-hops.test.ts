// Gossip hop delays from synthetic timelines of 4 processes (pids 101..104 are validators 0..3):
// each process's validator index found from what it never receives, consensus sends matched to
// receives by sender, type, height and round (a re-send counts from the first send), and entry
// batches matched to the first receive on each other process.
import { describe, expect, it } from 'vitest';
import { parseTimeline, timelineReport } from '../../bench/timeline-report.js';
import { gossipHops, validatorsOfProcesses } from '../../bench/timeline-hops.js';

const T = 1_700_000_000_000;
const L = (t: number, pid: number, rest: string): string => `${(T + t).toFixed(3)} ${pid} ${rest}`;
const send = (t: number, pid: number, type: string, h = 1, r = 0) => L(t, pid, `consensus.send type=${type} h=${h} r=${r}`);
const recv = (t: number, pid: number, type: string, v: number, h = 1, r = 0) => L(t, pid, `consensus.receive type=${type} h=${h} r=${r} v=${v}`);

function lines(): string[] {
  const out: string[] = [];
  // Entry batch published by 101 at 0; received by 102 at 1 and 103 at 2 (102's second receive is another batch's).
  out.push(L(0, 101, 'entries.publish n=1'), L(1, 102, 'entries.receive n=1'), L(2, 103, 'entries.receive n=1'), L(2.5, 102, 'entries.receive n=1'));
  // Proposal of validator 1 (pid 102) at 3, received 1, 1.5 and 2 ms later.
  out.push(send(3, 102, 'proposal'), recv(4, 101, 'proposal', 1), recv(4.5, 103, 'proposal', 1), recv(5, 104, 'proposal', 1));
  // Prevotes: every process sends at 6; each receives the other three, 3 ms after for validator 0,
  // 5 ms after for the others; validator 3 re-sends at 8 (the hop still counts from 6).
  const pids = [101, 102, 103, 104];
  pids.forEach((p) => out.push(send(6, p, 'prevote')));
  out.push(send(8, 104, 'prevote'));
  pids.forEach((p, v) => pids.forEach((q) => p !== q && out.push(recv(v === 0 ? 9 : 11, q, 'prevote', v))));
  // Precommit of validator 2 received by 101 only, 4 ms after; a receive from an unknown validator 9 is ignored.
  out.push(send(12, 103, 'precommit'), recv(16, 101, 'precommit', 2), recv(17, 101, 'precommit', 9));
  return out;
}

describe('gossip hops in a timeline', () => {
  it('finds each process by the validator it never hears from', () => {
    // A fifth index 9, heard only by 101: the others now miss two indexes each and are ambiguous.
    const evs = parseTimeline(lines()).events;
    expect(Object.fromEntries(validatorsOfProcesses(evs))).toEqual({ 101: 0 });
    const clean = parseTimeline(lines().filter((l) => !l.endsWith('v=9'))).events;
    expect(Object.fromEntries(validatorsOfProcesses(clean))).toEqual({ 101: 0, 102: 1, 103: 2, 104: 3 });
  });

  it('measures send → receive per message type and publish → first receive for entries', () => {
    const h = gossipHops(parseTimeline(lines().filter((l) => !l.endsWith('v=9'))).events);
    expect(h.validators).toEqual({ 101: 0, 102: 1, 103: 2, 104: 3 });
    expect(h.entries).toEqual([1, 2]);
    expect(h.proposal).toEqual([1, 1.5, 2]);
    // 12 prevote receives: 3 from validator 0 at 3 ms, 9 from the others at 5 ms (validator 3's re-send does not restart its clock).
    expect(h.prevote).toEqual([3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    expect(h.precommit).toEqual([4]);
    // A range keeps only what was received (or, for entries, published) inside it.
    const late = gossipHops(parseTimeline(lines().filter((l) => !l.endsWith('v=9'))).events, (t) => t >= T + 10);
    expect(late.entries).toEqual([]);
    expect(late.proposal).toEqual([]);
    expect(late.prevote).toHaveLength(9);
  });

  it('is part of the timeline report, summarized', () => {
    const r = timelineReport(lines().filter((l) => !l.endsWith('v=9')));
    // No idle entry (no http.submit): everything counts as load.
    expect(r.idle.hops.prevote.count).toBe(0);
    expect(r.load.hops.prevote).toEqual({ count: 12, p50: 5, p90: 5, max: 5 });
    expect(r.load.hops.entries).toEqual({ count: 2, p50: 1, p90: 2, max: 2 });
  });
});
