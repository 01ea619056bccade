// Row changes → Cairn entries. One decoded change (insert, update, delete, truncate) of a
// configured table becomes one unsigned entry whose content depends only on what PostgreSQL
// sent (the commit's LSN and time, the change's position in the transaction, the row images and
// the actor message before it), so capturing the same transaction again after a restart yields
// the same entry, and the log answers `known-pending` / `known-final` instead of taking it twice.
import { createHash } from 'node:crypto';
import { DATA_BYTES_MAX, DATA_OBJECT_KEYS_MAX, DATA_STRING_LENGTH_MAX, SHORT_STRING_LENGTH_MAX } from '../../src/entry/limits.js';
import type { JsonObject, JsonValue, UnsignedEntry } from '../../src/entry/types.js';
import { jcs } from '../../src/entry/validate.js';
import { formatLsn, pgTimeToIso, type ColumnValue, type Lsn, type Relation } from './pgoutput.js';

/** One configured table, resolved against the catalog. */
export interface TableSpec {
  schema: string;
  table: string;
  /** resource.type of its entries (a lowercase token), default `<schema>.<table>`. */
  resourceType: string;
  /** Columns whose values form resource.id, in order. */
  key: string[];
}

/** Who made the change, from the `cairn.actor` logical message the actor trigger emits. */
export interface ActorNote {
  /** The effective database role (after SET ROLE), as the server knows it. */
  role: string;
  /** The role that logged in. */
  login: string;
  /** The application's own claim (the `cairn.actor` setting), if it set one; not verified. */
  claimed: string | null;
}

export const ACTOR_MESSAGE_PREFIX = 'cairn.actor';

/** Parses the trigger's message; null when it is not one (anything else under the prefix). */
export function parseActorNote(content: Uint8Array): ActorNote | null {
  if (content.length > 4096) return null;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(content));
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.role !== 'string' || typeof o.login !== 'string') return null;
  return { role: o.role, login: o.login, claimed: typeof o.claimed === 'string' && o.claimed !== '' ? o.claimed : null };
}

/** Where a change sits: the commit it belongs to and its place in that transaction. */
export interface ChangeContext {
  idPrefix: string;
  commitLsn: Lsn;
  commitTime: bigint;
  xid: number;
  /** 0-based position of the change among the captured changes of its transaction. */
  position: number;
  actor: ActorNote | null;
}

const TYPE_BOOL = 16;
const INTEGER_TYPES = new Set([20, 21, 23, 26]); // int8, int2, int4, oid
const FLOAT_TYPES = new Set([700, 701]); // float4, float8
const JSON_TYPES = new Set([114, 3802]); // json, jsonb

/** Whether a parsed JSON value can go into `data` unchanged (integers within ±(2^53-1)). */
function exactJson(v: unknown, depth = 0): boolean {
  if (depth > 12) return false;
  if (typeof v === 'number') return Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v));
  if (Array.isArray(v)) return v.every((x) => exactJson(x, depth + 1));
  if (v !== null && typeof v === 'object') return Object.keys(v).every((k) => k !== '__proto__' && k.length <= 128 && exactJson((v as Record<string, unknown>)[k], depth + 1));
  return true;
}

/**
 * A column's text form as JSON: booleans and integers/floats that JSON carries exactly become
 * JSON booleans and numbers, json/jsonb become their JSON value (unless it holds numbers JSON
 * would round), everything else (numeric, timestamps, text, ...) stays the text PostgreSQL sent.
 */
export function columnJson(typeOid: number, text: string): JsonValue {
  if (typeOid === TYPE_BOOL) return text === 't' ? true : text === 'f' ? false : text;
  if (INTEGER_TYPES.has(typeOid)) {
    const n = Number(text);
    return /^-?\d+$/.test(text) && Number.isSafeInteger(n) ? n : text;
  }
  if (FLOAT_TYPES.has(typeOid)) {
    const n = Number(text);
    // Only when the shortest round trip gives the same text: no silent change of the value shown.
    return Number.isFinite(n) && String(n) === text ? n : text;
  }
  if (JSON_TYPES.has(typeOid) && text.length <= DATA_STRING_LENGTH_MAX) {
    try {
      const v = JSON.parse(text) as unknown;
      if (exactJson(v)) return v as JsonValue;
    } catch {
      // not JSON after all: keep the text
    }
  }
  return text;
}

/** A row image as a JSON object. Unchanged TOASTed values (not sent) are listed in `unchanged`. */
function rowImage(rel: Relation, tuple: ColumnValue[], onlyKey: boolean): { row: JsonObject; unchanged: string[] } {
  if (tuple.length > DATA_OBJECT_KEYS_MAX) throw new RowError(`${rel.schema}.${rel.table} has ${tuple.length} columns; an entry's row image holds at most DATA_OBJECT_KEYS_MAX (${DATA_OBJECT_KEYS_MAX})`);
  const row: JsonObject = {};
  const unchanged: string[] = [];
  tuple.forEach((v, i) => {
    const col = rel.columns[i];
    if (col === undefined) throw new RowError(`${rel.schema}.${rel.table}: tuple has more columns than its relation message`);
    if (onlyKey && !col.key) return;
    if (v.kind === 'null') row[col.name] = null;
    else if (v.kind === 'unchanged') unchanged.push(col.name);
    else row[col.name] = columnJson(col.typeOid, v.text);
  });
  return { row, unchanged };
}

export class RowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RowError';
  }
}

function keyOf(spec: TableSpec, rel: Relation, tuple: ColumnValue[]): string {
  const parts: string[] = [];
  for (const k of spec.key) {
    const i = rel.columns.findIndex((c) => c.name === k);
    const v = i < 0 ? undefined : tuple[i];
    if (v === undefined || v.kind !== 'text') throw new RowError(`${spec.schema}.${spec.table}: key column ${k} is not in the row image (is it the primary key or part of the replica identity?)`);
    parts.push(v.text);
  }
  // One key column: its text. Several: a JSON array of their texts (unambiguous whatever they hold).
  let id = parts.length === 1 ? parts[0]! : JSON.stringify(parts);
  // resource.id allows no control characters and at most 256 characters: such keys are named by
  // their hash (the row image in data still holds the key columns).
  if (id.length === 0 || id.length > SHORT_STRING_LENGTH_MAX || /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\p{Cf}]/u.test(id)) {
    id = 'sha256:' + createHash('sha256').update(id).digest('hex');
  }
  return id;
}

/** Replaces the longest string values of the images by their hash until `data` fits DATA_BYTES_MAX. */
function fitData(data: JsonObject): string[] {
  const omitted: string[] = [];
  const marker = (s: string): JsonObject => ({ omitted: true, chars: s.length, sha256: createHash('sha256').update(s).digest('hex') });
  // Single strings over the per-string limit first.
  for (const side of ['before', 'after'] as const) {
    const img = data[side];
    if (img === undefined || img === null || typeof img !== 'object' || Array.isArray(img)) continue;
    for (const [k, v] of Object.entries(img)) {
      if (typeof v === 'string' && v.length > DATA_STRING_LENGTH_MAX) {
        img[k] = marker(v);
        omitted.push(`${side}.${k}`);
      }
    }
  }
  // Leave room for the other fields of the entry (bytes counted as UTF-8 of the JCS form).
  const budget = DATA_BYTES_MAX - 1024;
  for (let guard = 0; guard < 2 * DATA_OBJECT_KEYS_MAX; guard++) {
    if (Buffer.byteLength(jcs(data), 'utf8') <= budget) return omitted;
    let best: { side: 'before' | 'after'; key: string; len: number } | null = null;
    for (const side of ['before', 'after'] as const) {
      const img = data[side];
      if (img === undefined || img === null || typeof img !== 'object' || Array.isArray(img)) continue;
      for (const [k, v] of Object.entries(img)) {
        const len = typeof v === 'string' ? v.length : typeof v === 'object' && v !== null && !('omitted' in v) ? JSON.stringify(v).length : 0;
        if (len > 64 && (best === null || len > best.len)) best = { side, key: k, len };
      }
    }
    if (best === null) break;
    const img = data[best.side] as JsonObject;
    const v = img[best.key]!;
    img[best.key] = marker(typeof v === 'string' ? v : JSON.stringify(v));
    omitted.push(`${best.side}.${best.key}`);
  }
  if (Buffer.byteLength(jcs(data), 'utf8') > budget) throw new RowError('row images do not fit an entry even with every long value replaced by its hash');
  return omitted;
}

export type Change =
  | { tag: 'insert'; newTuple: ColumnValue[] }
  | { tag: 'update'; oldTuple: ColumnValue[] | null; oldKind: 'key' | 'full' | null; newTuple: ColumnValue[] }
  | { tag: 'delete'; oldTuple: ColumnValue[]; oldKind: 'key' | 'full' }
  | { tag: 'truncate' };

/** The entry id: slot-derived prefix, commit LSN (16 hex digits) and position in the transaction. */
export function entryId(idPrefix: string, commitLsn: Lsn, position: number): string {
  return `${idPrefix}.${commitLsn.toString(16).padStart(16, '0')}.${position}`;
}

/** Builds the unsigned entry for one change. */
export function changeEntry(spec: TableSpec, rel: Relation, change: Change, ctx: ChangeContext): UnsignedEntry {
  const data: JsonObject = {};
  let id: string;
  const unchanged: string[] = [];
  if (change.tag === 'truncate') {
    id = '*';
  } else if (change.tag === 'insert') {
    const a = rowImage(rel, change.newTuple, false);
    data.after = a.row;
    id = keyOf(spec, rel, change.newTuple);
  } else if (change.tag === 'update') {
    const a = rowImage(rel, change.newTuple, false);
    if (change.oldTuple !== null) {
      const b = rowImage(rel, change.oldTuple, change.oldKind === 'key');
      data.before = b.row;
      if (change.oldKind === 'key') data.beforeKeyOnly = true;
      // A TOASTed value that did not change is not sent in the new image: take it from the old one.
      for (const c of a.unchanged) {
        if (Object.prototype.hasOwnProperty.call(b.row, c)) a.row[c] = b.row[c]!;
        else unchanged.push(c);
      }
    } else unchanged.push(...a.unchanged);
    data.after = a.row;
    id = keyOf(spec, rel, change.newTuple);
  } else {
    const b = rowImage(rel, change.oldTuple, change.oldKind === 'key');
    data.before = b.row;
    if (change.oldKind === 'key') data.beforeKeyOnly = true;
    unchanged.push(...b.unchanged);
    id = keyOf(spec, rel, change.oldTuple);
  }
  if (unchanged.length > 0) data.unsentColumns = unchanged;
  const omitted = fitData(data);
  if (omitted.length > 0) data.omitted = omitted;
  data.xid = ctx.xid;
  data.lsn = formatLsn(ctx.commitLsn);
  data.position = ctx.position;
  data.table = `${spec.schema}.${spec.table}`;
  if (ctx.actor !== null) {
    data.login = ctx.actor.login;
    if (ctx.actor.claimed !== null) data.claimedActor = ctx.actor.claimed.slice(0, 256);
  }
  return {
    v: 1,
    id: entryId(ctx.idPrefix, ctx.commitLsn, ctx.position),
    time: pgTimeToIso(ctx.commitTime),
    actor: { id: actorId(ctx.actor), type: 'db.role' },
    action: `db.${change.tag}`,
    resource: { type: spec.resourceType, id },
    outcome: 'success',
    data,
  };
}

/** The role name as an actor id: it must be 1..256 characters without control characters. */
function actorId(a: ActorNote | null): string {
  if (a === null) return 'unknown';
  const r = a.role;
  if (r.length === 0 || r.length > SHORT_STRING_LENGTH_MAX || /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\p{Cf}]/u.test(r)) return 'unknown';
  return r;
}
