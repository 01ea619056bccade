// Events → unsigned entries, and the versions of an entry the agent signs.
//
// An event is an audit entry without `client` and `sig` (docs/entry-format.md), with `v`, `id`,
// `time` and `outcome` optional. The agent fills in:
//   id       the event's own `id` when given (its idempotency key: a re-sent event with the same id
//            is recognized), else "ag-<spool instance>-<spool sequence>", assigned when the event
//            is durably spooled, so it survives a crash between signing and submitting
//   time     when the event was accepted, unless given
//   outcome  "unknown", unless given
//
// Versions: an entry's time must be within the genesis maxClockSkewMs (10 min by default) of the
// peers' clocks when it is logged. An event that waited longer (an outage of hours) is signed
// again with a fresh `time`, its original time kept in data.cairnOriginalTime under the same id.
// The log accepts one entry per (client, id), so at most one version is ever logged. Ed25519
// signatures are deterministic (RFC 8032) and entries are canonical (JCS): re-signing a version
// gives the same bytes, so only the versions' times need to be stored, never the signatures.
import { sha256 } from '../../src/crypto/hash.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { LEAF_BYTES_MAX } from '../../src/entry/limits.js';
import type { JsonObject, UnsignedEntry } from '../../src/entry/types.js';
import { jcs, validateUnsignedEntry } from '../../src/entry/validate.js';

/** Key in `data` holding the original time of a re-signed version. Reserved: events may not use it. */
export const ORIGINAL_TIME_KEY = 'cairnOriginalTime';
/** Longest generated id: "ag-" + 16 hex + "-" + up to 16 digits. */
const PLACEHOLDER_ID = 'ag-0000000000000000-0000000000000000';
/** Bytes `client` and `sig` add to the JCS of an unsigned entry (,"client":"<64>","sig":"<128>"). */
const SIGNED_BYTES = 12 + 64 + 9 + 128;
/** Bytes a re-signed version may add (the original time in data). */
const VERSION_BYTES = ORIGINAL_TIME_KEY.length + 48;

export function generatedId(instance: string, seq: number): string {
  return `ag-${instance}-${seq}`;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export type EventResult =
  | { ok: true; entry: UnsignedEntry; appId: string | null; digest: string | null; bytes: number }
  | { ok: false; field: string; message: string };

function fail(field: string, message: string): EventResult {
  return { ok: false, field, message };
}

/** The unsigned entry of version `timeMs` (undefined: the first version, the event's own time). */
export function versionEntry(e: UnsignedEntry, timeMs: number | undefined): UnsignedEntry {
  if (timeMs === undefined) return e;
  const data: JsonObject = { ...(e.data ?? {}), [ORIGINAL_TIME_KEY]: e.time };
  return { ...e, time: isoTime(timeMs), data };
}

/**
 * Checks one event and turns it into an unsigned entry (id still a placeholder when the event has
 * none). Cheap checks first; the entry validator names the first problem's field.
 */
export function eventToEntry(raw: unknown, nowMs: number): EventResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('', 'an event is a JSON object');
  const ev = raw as Record<string, unknown>;
  if ('client' in ev || 'sig' in ev) return fail('client' in ev ? 'client' : 'sig', 'events are unsigned: the agent adds client and sig');
  if (ev.v !== undefined && ev.v !== 1) return fail('v', 'v must be 1 when given');
  const data = ev.data;
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && Object.prototype.hasOwnProperty.call(data, ORIGINAL_TIME_KEY)) {
    return fail(`data.${ORIGINAL_TIME_KEY}`, `data.${ORIGINAL_TIME_KEY} is reserved for the agent`);
  }
  const appId = typeof ev.id === 'string' ? ev.id : null;
  if (ev.id !== undefined && appId === null) return fail('id', 'id must be a string when given');
  const entry = { ...ev, v: 1, id: appId ?? PLACEHOLDER_ID, time: ev.time ?? isoTime(nowMs), outcome: ev.outcome ?? 'unknown' } as UnsignedEntry;
  const r = validateUnsignedEntry(entry);
  if (!r.ok) {
    const e = r.errors[0]!;
    return fail(e.field, `${e.message} [${e.code}]`);
  }
  const bytes = utf8(jcs(r.entry)).length;
  if (bytes + SIGNED_BYTES + VERSION_BYTES > LEAF_BYTES_MAX) {
    return fail('', `the signed entry would exceed ${LEAF_BYTES_MAX} bytes (LEAF_BYTES_MAX)`);
  }
  // A re-signed version must validate too (data gains one key), or the event could get stuck.
  const v = validateUnsignedEntry(versionEntry(r.entry, nowMs));
  if (!v.ok) return fail(v.errors[0]!.field, `no room for data.${ORIGINAL_TIME_KEY}: ${v.errors[0]!.message}`);
  // The idempotency digest covers the event as sent (not the filled-in time), so a re-sent event is
  // recognized as the same one.
  const digest = appId === null ? null : toHex(sha256(utf8(jcs(raw)))).slice(0, 32);
  return { ok: true, entry: r.entry, appId, digest, bytes };
}
