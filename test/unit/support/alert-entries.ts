// Entries for alert rule tests: a small log built in memory with real leaf hashes.
import { leafHash } from '../../../src/merkle/hash.js';
import { utf8 } from '../../../src/encoding/bytes.js';
import type { AuditEntry, Outcome } from '../../../src/entry/types.js';
import type { FinalEntry } from '../../../src/alerts/types.js';

export interface EntrySpec {
  time: string;
  action: string;
  actor: string;
  actorType?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: Outcome;
}

let counter = 0;

export function entry(s: EntrySpec): AuditEntry {
  return {
    v: 1,
    id: `e-${++counter}`,
    time: s.time,
    actor: { id: s.actor, type: s.actorType ?? 'user' },
    action: s.action,
    resource: { type: s.resourceType ?? 'app', id: s.resourceId ?? 'console' },
    outcome: s.outcome ?? 'success',
    client: 'a'.repeat(64),
    sig: 'b'.repeat(128),
  };
}

/** Final entries numbered from `start`, in the given order. */
export function log(specs: readonly EntrySpec[], start = 0): FinalEntry[] {
  return specs.map((s, i) => {
    const e = entry(s);
    return { index: start + i, leafHash: leafHash(utf8(JSON.stringify(e))), entry: e };
  });
}

/** ISO time `minutes` (may be fractional) after `base`. */
export function plus(base: string, minutes: number): string {
  return new Date(Date.parse(base) + Math.round(minutes * 60_000)).toISOString();
}
