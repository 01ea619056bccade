// Unit tests of the simulator's own parts: PRNG, event queue, network model, values, and the
// invariant checker (fed synthetic violations, to prove each invariant can fail).
import { describe, expect, test } from 'vitest';
import { Prng } from './prng.js';
import { EventQueue } from './clock.js';
import { Network, validateNetworkConfig, type NetworkConfig } from './network.js';
import { InvariantChecker } from './invariants.js';
import { makeSimCrypto } from './sim-crypto.js';
import { isValidValue, makeValue, VALUE_MARKER_INVALID } from './values.js';
import { buildPlan, validateSimConfig } from './scenario.js';
import { voteSignBytes, proposalSignBytes } from '../../src/consensus/sign-bytes.js';
import { sha256 } from '../../src/crypto/hash.js';
import type { CommitCertificate, Proposal, Vote } from '../../src/consensus/types.js';

describe('Prng', () => {
  test('same seed -> same stream; different seeds and labels -> different streams', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(xs);
    expect(new Prng(43).nextU32()).not.toBe(xs[0]);
    expect(Prng.derive(42, 'network').nextU32()).not.toBe(Prng.derive(42, 'crash').nextU32());
    // Seeds above 2^32 are distinct from their low 32 bits.
    expect(new Prng(2 ** 32 + 5).nextU32()).not.toBe(new Prng(5).nextU32());
  });

  test('int/range stay in bounds and cover them; chance(0/1) is exact', () => {
    const p = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      const x = p.int(10);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(10);
      seen.add(x);
      const y = p.range(-3, 3);
      expect(y).toBeGreaterThanOrEqual(-3);
      expect(y).toBeLessThanOrEqual(3);
      expect(p.chance(0)).toBe(false);
      expect(p.chance(1)).toBe(true);
    }
    expect(seen.size).toBe(10);
    const mean = Array.from({ length: 10_000 }, () => p.next()).reduce((s, x) => s + x, 0) / 10_000;
    expect(mean).toBeGreaterThan(0.47);
    expect(mean).toBeLessThan(0.53);
  });

  test('bad arguments throw RangeError with a code', () => {
    expect(() => new Prng(-1)).toThrow(/SIM_BAD_SEED/);
    expect(() => new Prng(1.5)).toThrow(/SIM_BAD_SEED/);
    expect(() => new Prng(0).int(0)).toThrow(/SIM_BAD_RANGE/);
    expect(() => new Prng(0).pick([])).toThrow(/SIM_BAD_RANGE/);
  });
});

describe('EventQueue', () => {
  test('pops by time, then by insertion order; the clock follows', () => {
    const q = new EventQueue<string>();
    q.schedule(10, 'c');
    q.schedule(5, 'a');
    q.schedule(10, 'd');
    q.schedule(5, 'b');
    q.schedule(0, 'first');
    const out: string[] = [];
    const times: number[] = [];
    for (let e = q.pop(); e !== null; e = q.pop()) {
      out.push(e.event);
      times.push(q.now);
    }
    expect(out).toEqual(['first', 'a', 'b', 'c', 'd']);
    expect(times).toEqual([0, 5, 5, 10, 10]);
  });

  test('the past cannot be scheduled (clamped to now); non-finite times throw', () => {
    const q = new EventQueue<number>();
    q.schedule(100, 1);
    q.pop();
    q.schedule(50, 2);
    expect(q.pop()!.atMs).toBe(100);
    expect(() => q.schedule(Number.NaN, 3)).toThrow(/SIM_BAD_TIME/);
  });

  test('heap order holds for many random events', () => {
    const q = new EventQueue<number>();
    const p = new Prng(1);
    for (let i = 0; i < 5_000; i++) q.schedule(p.int(1_000), i);
    let last = -1;
    let lastSeq = -1;
    for (let e = q.pop(); e !== null; e = q.pop()) {
      expect(e.atMs > last || (e.atMs === last && e.seq > lastSeq)).toBe(true);
      last = e.atMs;
      lastSeq = e.seq;
    }
  });
});

function netConfig(over: Partial<NetworkConfig> = {}): NetworkConfig {
  return {
    nodes: 4,
    latency: { minMs: 10, maxMs: 100 },
    tailProbability: 0,
    tailMaxMs: 100,
    latencyAfterGst: { minMs: 1, maxMs: 20 },
    dropRate: 0,
    duplicateRate: 0,
    reorderRate: 0,
    reorderExtraMs: 0,
    partitions: [],
    gstMs: 1_000,
    clockRates: [1, 1, 1, 1],
    ...over,
  };
}

describe('Network', () => {
  test('symmetric partition cuts both directions between groups; unlisted nodes are bridges', () => {
    const net = new Network(
      netConfig({ partitions: [{ kind: 'symmetric', startMs: 100, endMs: 500, groups: [[0, 1], [2]] }] }),
      new Prng(1),
    );
    expect(net.linkUp(0, 2, 50)).toBe(true); // before
    expect(net.linkUp(0, 2, 100)).toBe(false);
    expect(net.linkUp(2, 1, 300)).toBe(false);
    expect(net.linkUp(0, 1, 300)).toBe(true);
    expect(net.linkUp(3, 2, 300)).toBe(true); // node 3 is in no group
    expect(net.linkUp(0, 2, 500)).toBe(true); // after
    expect(net.route(0, 2, 200, 'prevote')).toEqual([]);
    expect(net.stats.cut).toBe(1);
  });

  test('asymmetric partition cuts one direction only', () => {
    const net = new Network(netConfig({ partitions: [{ kind: 'asymmetric', startMs: 0, endMs: 900, from: [0], to: [1, 2] }] }), new Prng(1));
    expect(net.linkUp(0, 1, 10)).toBe(false);
    expect(net.linkUp(1, 0, 10)).toBe(true);
    expect(net.linkUp(0, 3, 10)).toBe(true);
  });

  test('after GST: no loss, no partition, latency within the bound', () => {
    const net = new Network(
      netConfig({ dropRate: 1, partitions: [{ kind: 'symmetric', startMs: 0, endMs: 1e9, groups: [[0], [1]] }], duplicateRate: 0.5 }),
      new Prng(3),
    );
    expect(net.route(0, 1, 999, 'proposal')).toEqual([]); // before GST: partitioned
    for (let i = 0; i < 500; i++) {
      const ds = net.route(0, 1, 1_000 + i, 'precommit');
      expect(ds.length).toBeGreaterThanOrEqual(1);
      for (const d of ds) {
        expect(d).toBeGreaterThanOrEqual(1);
        expect(d).toBeLessThanOrEqual(20);
      }
    }
    expect(net.stats.duplicated).toBeGreaterThan(0);
  });

  test('a message sent before GST arrives by GST + Δ at the latest', () => {
    const net = new Network(netConfig({ tailProbability: 1, tailMaxMs: 50_000 }), new Prng(9));
    for (let i = 0; i < 200; i++) {
      const [d] = net.route(1, 2, 990, 'prevote');
      expect(990 + d!).toBeLessThanOrEqual(1_020);
    }
  });

  test('per-kind loss: only the targeted kind is lost', () => {
    const net = new Network(netConfig({ kinds: { precommit: { dropRate: 1 } } }), new Prng(2));
    for (let i = 0; i < 50; i++) {
      expect(net.route(0, 1, 10, 'precommit')).toEqual([]);
      expect(net.route(0, 1, 10, 'prevote').length).toBe(1);
    }
  });

  test('bad configs are rejected with SIM_BAD_NETWORK', () => {
    expect(() => validateNetworkConfig(netConfig({ dropRate: 2 }))).toThrow(/SIM_BAD_NETWORK/);
    expect(() => validateNetworkConfig(netConfig({ nodes: 0 }))).toThrow(/SIM_BAD_NETWORK/);
    expect(() => validateNetworkConfig(netConfig({ clockRates: [1] }))).toThrow(/SIM_BAD_NETWORK/);
    expect(() => validateNetworkConfig(netConfig({ latency: { minMs: 50, maxMs: 10 } }))).toThrow(/SIM_BAD_NETWORK/);
  });
});

describe('values and plans', () => {
  test('valid values pass isValidValue; marked, wrong-height and truncated ones do not', () => {
    const p = new Prng(5);
    const v = makeValue(p, 7, 2, true);
    expect(isValidValue(7, v)).toBe(true);
    expect(isValidValue(8, v)).toBe(false);
    expect(isValidValue(7, v.subarray(0, 5))).toBe(false);
    const bad = makeValue(p, 7, 2, false);
    expect(bad[0]).toBe(VALUE_MARKER_INVALID);
    expect(isValidValue(7, bad)).toBe(false);
  });

  test('plans respect n >= 3f + 1 and keep crashes before GST', () => {
    for (let seed = 0; seed < 200; seed++) {
      for (const n of [4, 5, 7, 10]) {
        const plan = buildPlan(seed, { n, heights: 2, faults: true });
        const byzValidators = new Set(plan.peers.filter((p) => p.behaviour !== 'correct').map((p) => p.validator));
        expect(byzValidators.size).toBeLessThanOrEqual(plan.f);
        expect(n).toBeGreaterThanOrEqual(3 * plan.f + 1);
        for (const c of plan.crashes) expect(c.atMs).toBeLessThan(plan.network.gstMs);
      }
    }
  });

  test('bad sim configs are rejected with SIM_BAD_CONFIG', () => {
    expect(() => validateSimConfig({ n: 0, heights: 1, faults: true })).toThrow(/SIM_BAD_CONFIG/);
    expect(() => validateSimConfig({ n: 4, heights: 0, faults: true })).toThrow(/SIM_BAD_CONFIG/);
    expect(() => validateSimConfig({ n: 4, heights: 1, faults: true, bug: 'nope' as never })).toThrow(/SIM_BAD_CONFIG/);
    expect(() => validateSimConfig({ n: 3, heights: 1, faults: true, scenario: 'split-brain' })).toThrow(/SIM_BAD_CONFIG/);
  });
});

describe('InvariantChecker catches each violation', () => {
  const chainId = 'cairn.sim/devnet';
  const crypto = makeSimCrypto(1, 4, false);
  const validators = crypto.keys.map((k, i) => ({ name: `org${i}`, publicKey: k.publicKey }));
  const vote = (validator: number, type: 'prevote' | 'precommit', h: number, r: number, id: Uint8Array | null): Vote => ({
    type,
    height: h,
    round: r,
    valueId: id,
    validator,
    signature: crypto.keys[validator]!.signer.sign(voteSignBytes(chainId, type, h, r, id)),
  });
  const cert = (h: number, r: number, id: Uint8Array, signers: number[]): CommitCertificate => ({
    height: h,
    round: r,
    valueId: id,
    signatures: signers.map((i) => ({ validator: i, signature: vote(i, 'precommit', h, r, id).signature })),
  });
  const fresh = () => new InvariantChecker(validators, chainId, crypto.verifier, sha256);
  const v1 = makeValue(new Prng(1), 1, 0, true);
  const v2 = makeValue(new Prng(2), 1, 0, true);
  const id1 = sha256(v1);
  const id2 = sha256(v2);

  test('fast signature scheme: verifies its own signatures, rejects tampering and other keys', () => {
    const msg = voteSignBytes(chainId, 'prevote', 1, 0, id1);
    const sig = crypto.keys[0]!.signer.sign(msg);
    expect(crypto.verifier.verify(validators[0]!.publicKey, msg, sig)).toBe(true);
    expect(crypto.verifier.verify(validators[1]!.publicKey, msg, sig)).toBe(false);
    const bad = sig.slice();
    bad[3]! ^= 1;
    expect(crypto.verifier.verify(validators[0]!.publicKey, msg, bad)).toBe(false);
    expect(crypto.verifier.verify(validators[0]!.publicKey, msg, sig.subarray(0, 63))).toBe(false);
  });

  test('double signing: same (h, r, step), different value — also nil vs value', () => {
    const c = fresh();
    c.onSigned(0, vote(0, 'prevote', 1, 0, id1), 1);
    c.onSigned(0, vote(0, 'prevote', 1, 0, id1), 2); // identical re-emission is fine
    c.onSigned(0, vote(0, 'prevote', 1, 1, id2), 3); // another round is fine
    expect(c.violations).toEqual([]);
    c.onSigned(0, vote(0, 'prevote', 1, 0, null), 4);
    expect(c.violations.map((v) => v.kind)).toEqual(['double-sign']);
    const p = (value: Uint8Array): Proposal => ({
      type: 'proposal',
      height: 2,
      round: 0,
      value,
      validRound: -1,
      validator: 1,
      signature: crypto.keys[1]!.signer.sign(proposalSignBytes(chainId, 2, 0, sha256(value), -1)),
    });
    c.onSigned(1, p(v1), 5);
    c.onSigned(1, p(v2), 6);
    expect(c.violations.map((v) => v.kind)).toEqual(['double-sign', 'double-sign']);
  });

  test('a broadcast with a bad signature is reported', () => {
    const c = fresh();
    const m = vote(2, 'precommit', 1, 0, id1);
    c.onSigned(2, { ...m, signature: new Uint8Array(64) }, 1);
    expect(c.violations.map((v) => v.kind)).toEqual(['bad-own-signature']);
  });

  test('agreement, validity and certificate violations are reported', () => {
    const c = fresh();
    c.onDecide(0, { height: 1, round: 0, value: v1, valueId: id1, certificate: cert(1, 0, id1, [0, 1, 2]) }, 1);
    c.onDecide(1, { height: 1, round: 0, value: v1, valueId: id1, certificate: cert(1, 0, id1, [1, 2, 3]) }, 2);
    expect(c.violations).toEqual([]);
    c.onDecide(2, { height: 1, round: 1, value: v2, valueId: id2, certificate: cert(1, 1, id2, [0, 2, 3]) }, 3);
    expect(c.violations.map((v) => v.kind)).toEqual(['agreement']);
    // q - 1 signatures
    c.onDecide(3, { height: 2, round: 0, value: makeValue(new Prng(3), 2, 0, true), valueId: id1, certificate: cert(2, 0, id1, [0, 1]) }, 4);
    expect(c.violations.map((v) => v.kind)).toContain('certificate');
    // invalid value
    const bad = makeValue(new Prng(4), 3, 0, false);
    c.onDecide(0, { height: 3, round: 0, value: bad, valueId: sha256(bad), certificate: cert(3, 0, sha256(bad), [0, 1, 2]) }, 5);
    expect(c.violations.map((v) => v.kind)).toContain('validity');
  });
});
