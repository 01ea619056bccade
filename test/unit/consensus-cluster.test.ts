// A tiny end-to-end check of several drivers talking over a perfect in-memory network with a
// virtual clock (the deterministic simulator in test/sim/ does the adversarial version).
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import { verifyCommitCertificate } from '../../src/consensus/certificate.js';
import type { ConsensusMessage, Effect } from '../../src/consensus/types.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { CHAIN, makeNet } from './consensus-support/harness.js';

interface Timer {
  at: number;
  seq: number;
  peer: number;
  height: number;
  round: number;
  step: 'propose' | 'prevote' | 'precommit';
}

function runCluster(n: number, silent: Set<number>, heights: number): { decided: Map<number, string>[]; rounds: number[] } {
  const net = makeNet(n);
  const drivers = Array.from({ length: n }, (_, i) => new ConsensusDriver(net.cfg(i, { getValue: (h, r) => utf8(`h${h} r${r} from ${i}`) })));
  const decided = drivers.map(() => new Map<number, string>());
  const rounds: number[] = [];
  const queue: { to: number; m: ConsensusMessage }[] = [];
  const timers: Timer[] = [];
  let now = 0;
  let seq = 0;
  const run = (peer: number, effects: Effect[]): void => {
    for (const e of effects) {
      if (e.kind === 'broadcast') {
        for (let j = 0; j < n; j++) if (j !== peer && !silent.has(j)) queue.push({ to: j, m: e.message });
      } else if (e.kind === 'schedule-timeout') {
        timers.push({ at: now + e.durationMs, seq: seq++, peer, height: e.height, round: e.round, step: e.step });
      } else if (e.kind === 'decide') {
        expect(verifyCommitCertificate(e.certificate, net.validators, CHAIN, nodeVerifier)).toEqual({ ok: true });
        decided[peer]!.set(e.height, toHex(e.value));
        if (peer === 0) rounds.push(e.round);
        if (e.height < heights) run(peer, drivers[peer]!.handle({ kind: 'start-height', height: e.height + 1 }));
      }
    }
  };
  for (let i = 0; i < n; i++) if (!silent.has(i)) run(i, drivers[i]!.handle({ kind: 'start-height', height: 1 }));
  for (let guard = 0; guard < 100_000; guard++) {
    const live = [...Array(n).keys()].filter((i) => !silent.has(i));
    if (live.every((i) => decided[i]!.size === heights)) break;
    const next = queue.shift();
    if (next !== undefined) {
      run(next.to, drivers[next.to]!.handle({ kind: 'message', message: next.m }));
      continue;
    }
    timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const t = timers.shift();
    if (t === undefined) break;
    now = t.at;
    run(t.peer, drivers[t.peer]!.handle({ kind: 'timeout', height: t.height, round: t.round, step: t.step }));
  }
  return { decided, rounds };
}

describe('drivers in a perfect network', () => {
  it('4 correct validators decide 5 heights in round 0, all the same values', () => {
    const { decided, rounds } = runCluster(4, new Set(), 5);
    for (let h = 1; h <= 5; h++) {
      const vals = decided.map((m) => m.get(h));
      expect(vals[0]).toBeDefined();
      expect(new Set(vals).size).toBe(1);
    }
    expect(rounds).toEqual([0, 0, 0, 0, 0]);
  });

  it('with one of 4 validators silent, the other 3 (= q) still decide every height (proposer rounds skipped by timeout)', () => {
    const { decided, rounds } = runCluster(4, new Set([2]), 6);
    for (let h = 1; h <= 6; h++) {
      const vals = [0, 1, 3].map((i) => decided[i]!.get(h));
      expect(vals[0]).toBeDefined();
      expect(new Set(vals).size).toBe(1);
    }
    expect(rounds.some((r) => r > 0)).toBe(true); // heights whose round-0 proposer was the silent one
  });

  it('n = 7 with two silent validators (f = 2) decides', () => {
    const { decided } = runCluster(7, new Set([0, 4]), 3);
    for (let h = 1; h <= 3; h++) expect(new Set([1, 2, 3, 5, 6].map((i) => decided[i]!.get(h))).size).toBe(1);
    expect(decided[1]!.size).toBe(3);
  });
});
