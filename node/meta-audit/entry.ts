// A queued meta-audit record as a signed audit entry.
//
//   id        "ma-<queue instance>-<seq>": deterministic, so submitting the record again (after a
//             crash, or after the mempool dropped it) can never log it twice — the log refuses a
//             second entry with the same (client, id)
//   time      when it is submitted (entries must be within maxClockSkewMs of the peers' clocks, and a
//             record may wait longer than that for a quorum); the events' own times are in data
//   actor     { id: principal id, type: "principal" }
//   action    the event's action (cairn.read.<what> / cairn.auth.denied)
//   resource  the first resource; data.resources lists them all when there are several
//   outcome   success / denied (unknown for the catch-all overflow counter)
//   reason    the denial's reason code
//   source.ip the client address when it is an IP address (else data.address)
//   data      { count, firstAt, lastAt, resources?, overflow?, address? }
//
// Values the entry format does not accept as they are (longer than 256 characters, control or
// invisible characters, an action or type outside the token syntax) are replaced by
// "sha256:<hex>" and their percent-encoded text is kept in data (truncated), so the entry is
// always valid and nothing is silently dropped.
import { sha256 } from '../../src/crypto/hash.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { signEntry } from '../../src/entry/sign.js';
import type { AuditEntry, JsonObject, UnsignedEntry } from '../../src/entry/types.js';
import { validateUnsignedEntry } from '../../src/entry/validate.js';
import type { QueuedRecord } from './queue.js';

const PRINTABLE = /^[\x20-\x7e]+$/;
const TOKEN = /^[a-z][a-z0-9_.-]{0,63}$/;
const ACTION = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,7}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Longest percent-encoded original kept in data. */
const ORIGINAL_CHARS_MAX = 2_048;

export function metaAuditEntryId(instance: string, seq: number): string {
  return `ma-${instance}-${seq}`;
}

function digest(s: string): string {
  return `sha256:${toHex(sha256(utf8(s))).slice(0, 48)}`;
}

function encoded(s: string): string {
  try {
    return encodeURIComponent(s).slice(0, ORIGINAL_CHARS_MAX);
  } catch {
    return ''; // lone surrogates: nothing printable to keep
  }
}

/** `s` when it is a safe short string, else `fallback` (default its digest) and the original goes to data[key]. */
function safe(s: string, ok: (s: string) => boolean, data: JsonObject, key: string, fallback?: string): string {
  if (s.length > 0 && s.length <= 256 && PRINTABLE.test(s) && ok(s)) return s;
  data[key] = encoded(s);
  return fallback ?? digest(s);
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

function isIp(s: string): boolean {
  // IPv6 forms are many; accept what the entry validator accepts by trying it (below).
  return IPV4.test(s) || (s.includes(':') && /^[0-9A-Fa-f:.]+$/.test(s) && s.length <= 45);
}

/** The unsigned entry for a record. */
export function recordEntry(rec: QueuedRecord, instance: string, timeMs: number): UnsignedEntry {
  const data: JsonObject = { count: rec.count, firstAt: iso(rec.firstAt), lastAt: iso(rec.lastAt) };
  const actorId = safe(rec.actor, () => true, data, 'actorText');
  const action = safe(rec.action, (s) => ACTION.test(s) && s.length <= 128, data, 'actionText', 'cairn.read.other');
  const resources = rec.resources.map((r, i) => {
    const d: JsonObject = {};
    const out = { type: safe(r.type, (s) => TOKEN.test(s), d, 'typeText', 'other'), id: safe(r.id, () => true, d, 'idText') };
    if (Object.keys(d).length > 0) data[`resource${i}`] = d;
    return out;
  });
  if (rec.overflow) data.overflow = true;
  if (resources.length > 1) data.resources = resources.map((r) => ({ type: r.type, id: r.id }));
  const resource = resources[0] ?? { type: 'cairn.meta-audit', id: rec.catchAll ? 'overflow-all' : 'overflow' };
  const entry: UnsignedEntry = {
    v: 1,
    id: metaAuditEntryId(instance, rec.seq),
    time: iso(timeMs),
    actor: { id: actorId, type: 'principal' },
    action,
    resource,
    outcome: rec.outcome,
    data,
  };
  if (rec.reason !== undefined && rec.reason !== '') entry.reason = safe(rec.reason, () => true, data, 'reasonText');
  if (rec.address !== '') {
    if (isIp(rec.address)) entry.source = { ip: rec.address };
    else data.address = encoded(rec.address).slice(0, 256);
  }
  // A value the checks above let through but the validator refuses (an unusual IPv6 text form):
  // keep the address in data instead.
  if (!validateUnsignedEntry(entry).ok && entry.source !== undefined) {
    delete entry.source;
    data.address = encoded(rec.address).slice(0, 256);
  }
  // Too large with the original texts (many long resource names): keep their digests only.
  if (!validateUnsignedEntry(entry).ok) {
    for (const k of Object.keys(data)) if (k.endsWith('Text') || /^resource\d+$/.test(k)) delete data[k];
    data.originalsOmitted = true;
  }
  return entry;
}

/**
 * The signed entry for a record. Never throws for a record's content: if the entry still does not
 * validate, a minimal entry (same id, principal digest, count and times) is signed instead, so one
 * odd record can never block the queue behind it.
 */
export function signRecord(rec: QueuedRecord, instance: string, timeMs: number, signer: Ed25519Signer): AuditEntry {
  try {
    return signEntry(recordEntry(rec, instance, timeMs), signer);
  } catch {
    const minimal: UnsignedEntry = {
      v: 1,
      id: metaAuditEntryId(instance, rec.seq),
      time: iso(timeMs),
      actor: { id: digest(rec.actor), type: 'principal' },
      action: 'cairn.read.other',
      resource: { type: 'cairn.meta-audit', id: 'unrepresentable' },
      outcome: rec.outcome,
      data: { count: rec.count, firstAt: iso(rec.firstAt), lastAt: iso(rec.lastAt), actionDigest: digest(rec.action), resources: rec.resources.length },
    };
    return signEntry(minimal, signer);
  }
}
