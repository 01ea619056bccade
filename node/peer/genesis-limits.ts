// The protocol limits of the genesis (`limits`): defaults, the accepted range of each, and their
// strict parse; plus the object checks every part of the genesis parser shares.
import type { Timeouts } from '../../src/consensus/types.js';
import { GOV_PARAM_RANGES } from '../../src/governance/types.js';
import { failure, type PeerFailure } from './errors.js';

/**
 * Largest value of maxBlockBytes: a proposal carries the whole block in one gossip message, and
 * gossip frames are limited to 4 MiB (node/net/limits.ts); keep 256 KiB for the message envelope.
 * The same bound holds for a `params.set` (GOV_PARAM_RANGES), so no parameter change can make a
 * block that some peer's frame cap refuses.
 */
export const BLOCK_BYTES_CEILING = GOV_PARAM_RANGES.maxBlockBytes![1];

export interface GenesisLimits {
  /** Most entries in one block. */
  maxBlockEntries: number;
  /** Most bytes of entry leaves in one block. */
  maxBlockBytes: number;
  /** A proposer waits at most this long for more entries before proposing a non-full block. */
  blockIntervalMs: number;
  timeouts: Timeouts;
  /** Largest accepted distance between an entry's (or block's) time and the local clock. */
  maxClockSkewMs: number;
  mempoolMaxEntries: number;
  mempoolMaxBytes: number;
}

export const DEFAULT_LIMITS: GenesisLimits = {
  maxBlockEntries: 2_000,
  maxBlockBytes: 2 * 1024 * 1024,
  blockIntervalMs: 50,
  timeouts: { proposeMs: 3_000, prevoteMs: 1_000, precommitMs: 1_000, deltaMs: 500 },
  maxClockSkewMs: 10 * 60 * 1000,
  mempoolMaxEntries: 20_000,
  // Eight blocks of the default maxBlockBytes; at 300-byte entries mempoolMaxEntries binds first. Held in the
  // peer's heap, so it counts against the peer's memory (docs/peer.md, Memory).
  mempoolMaxBytes: 16 * 1024 * 1024,
};

type R<T> = { ok: true; value: T } | PeerFailure;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkKeys(o: Record<string, unknown>, allowed: string[], required: string[], path: string): PeerFailure | null {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) return failure('genesis_unknown_field', `unknown field "${k}"`, path === '' ? k : `${path}.${k}`);
  }
  for (const k of required) {
    if (!(k in o)) return failure('genesis_missing_field', `missing field "${k}"`, path === '' ? k : `${path}.${k}`);
  }
  return null;
}

function checkInt(v: unknown, name: string, field: string): R<number> {
  // One table for the genesis and for params.set: a change may set exactly what a genesis may.
  const range = GOV_PARAM_RANGES[name]!;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < range[0] || v > range[1]) {
    return failure('genesis_bad_limit', `${name} must be an integer in [${range[0]}, ${range[1]}]`, field);
  }
  return { ok: true, value: v };
}

export function parseLimits(v: unknown): R<GenesisLimits> {
  if (!isPlainObject(v)) return failure('genesis_bad_type', 'limits must be an object', 'limits');
  const names = ['maxBlockEntries', 'maxBlockBytes', 'blockIntervalMs', 'timeouts', 'maxClockSkewMs', 'mempoolMaxEntries', 'mempoolMaxBytes'];
  const bad = checkKeys(v, names, names, 'limits');
  if (bad) return bad;
  const out: Record<string, number> = {};
  for (const n of names) {
    if (n === 'timeouts') continue;
    const r = checkInt(v[n], n, `limits.${n}`);
    if (!r.ok) return r;
    out[n] = r.value;
  }
  const t = v.timeouts;
  if (!isPlainObject(t)) return failure('genesis_bad_type', 'timeouts must be an object', 'limits.timeouts');
  const tn = ['proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs'];
  const badT = checkKeys(t, tn, tn, 'limits.timeouts');
  if (badT) return badT;
  const timeouts: Record<string, number> = {};
  for (const n of tn) {
    const r = checkInt(t[n], n, `limits.timeouts.${n}`);
    if (!r.ok) return r;
    timeouts[n] = r.value;
  }
  if (out.mempoolMaxEntries! < out.maxBlockEntries!) {
    return failure('genesis_bad_limit', 'mempoolMaxEntries must be >= maxBlockEntries', 'limits.mempoolMaxEntries');
  }
  if (out.mempoolMaxBytes! < out.maxBlockBytes!) {
    return failure('genesis_bad_limit', 'mempoolMaxBytes must be >= maxBlockBytes', 'limits.mempoolMaxBytes');
  }
  return {
    ok: true,
    value: {
      maxBlockEntries: out.maxBlockEntries!,
      maxBlockBytes: out.maxBlockBytes!,
      blockIntervalMs: out.blockIntervalMs!,
      timeouts: timeouts as unknown as Timeouts,
      maxClockSkewMs: out.maxClockSkewMs!,
      mempoolMaxEntries: out.mempoolMaxEntries!,
      mempoolMaxBytes: out.mempoolMaxBytes!,
    },
  };
}

