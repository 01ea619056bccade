// OpenTelemetry logs (OTLP/HTTP, JSON encoding: an ExportLogsServiceRequest) → agent events.
// The mapping (docs/integrations.md, "Agent"):
//   id        attribute cairn.id, else "otel-" + 32 hex of SHA-256 over the canonical JSON of the
//             log record and its resource and scope: an exporter retrying the same batch sends
//             the same ids, so nothing is logged twice
//   time      timeUnixNano, else observedTimeUnixNano, else when the agent received it
//   actor     enduser.id / user.id / user.name (type "user"), else the resource's service.name
//             (type "service"), else "unknown"
//   action    cairn.action, else the record's eventName / event.name, else "otel.log.<severity>";
//             lower-cased, characters outside the action syntax replaced by "_"
//   resource  cairn.resource.type + cairn.resource.id, else { type: "service", id: service.name }
//   outcome   cairn.outcome or event.outcome when it is success / failure / denied / unknown,
//             else "unknown"
//   source.ip client.address / source.address when it is an IP address; userAgent from user_agent.original
//   requestId http.request.id, else the trace id
//   tenant    cairn.tenant / tenant.id
//   data      { body, severityText, severityNumber, attributes, resource, scope, traceId, spanId }
//             (attributes as a JSON object; the cairn.* ones are not repeated)
import { sha256 } from '../../src/crypto/hash.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { isIpAddress } from '../../src/entry/ip.js';
import type { JsonObject, JsonValue } from '../../src/entry/types.js';
import { jcs } from '../../src/entry/validate.js';

type AnyValue = Record<string, unknown>;
type KeyValue = { key?: unknown; value?: unknown };

/** Nesting of OTLP AnyValue kvlists/arrays followed at most (deeper values become a string). */
const ANY_DEPTH_MAX = 8;
/** Longest string kept for a single-line entry field (actor, resource id, ...). */
const SHORT_MAX = 256;

function anyToJson(v: unknown, depth = 0): JsonValue {
  if (v === null || typeof v !== 'object') return null;
  const a = v as AnyValue;
  if (typeof a.stringValue === 'string') return a.stringValue;
  if (typeof a.boolValue === 'boolean') return a.boolValue;
  if (a.intValue !== undefined) {
    const n = Number(a.intValue);
    return Number.isSafeInteger(n) ? n : String(a.intValue);
  }
  if (typeof a.doubleValue === 'number' && Number.isFinite(a.doubleValue)) return a.doubleValue;
  if (typeof a.bytesValue === 'string') return a.bytesValue;
  if (depth >= ANY_DEPTH_MAX) return '[nested too deep]';
  if (a.arrayValue !== null && typeof a.arrayValue === 'object') {
    const vals = (a.arrayValue as { values?: unknown }).values;
    return Array.isArray(vals) ? vals.map((x) => anyToJson(x, depth + 1)) : [];
  }
  if (a.kvlistValue !== null && typeof a.kvlistValue === 'object') return kvToJson((a.kvlistValue as { values?: unknown }).values, depth + 1);
  return null;
}

function kvToJson(list: unknown, depth = 0): JsonObject {
  const out: JsonObject = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as KeyValue[]) {
    if (kv === null || typeof kv !== 'object' || typeof kv.key !== 'string' || kv.key === '__proto__') continue;
    out[kv.key] = anyToJson(kv.value, depth);
  }
  return out;
}

function canonical(v: JsonValue): string {
  try {
    return jcs(v);
  } catch {
    return JSON.stringify(v); // a value JCS refuses (a lone surrogate): still deterministic
  }
}

function str(v: JsonValue | undefined): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v.slice(0, SHORT_MAX);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function token(s: string, fallback: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9_.-]/g, '_').replace(/^[^a-z]+/, '');
  return t.length > 0 ? t.slice(0, 64) : fallback;
}

/** Any text → an action: 2..8 dot-separated segments of [a-z][a-z0-9_-]*. */
export function toAction(s: string): string {
  const segs = s
    .toLowerCase()
    .split('.')
    .map((x) => x.replace(/[^a-z0-9_-]/g, '_').replace(/^[^a-z]+/, ''))
    .filter((x) => x.length > 0);
  if (segs.length === 0) return 'otel.log';
  if (segs.length === 1) segs.unshift('otel');
  const head = segs.slice(0, 7);
  if (segs.length > 8) head.push(segs.slice(7).join('_'));
  else head.push(...segs.slice(7));
  return head.join('.').slice(0, 128).replace(/\.$/, '');
}

function nanosToIso(v: unknown): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  let n: bigint;
  try {
    n = BigInt(v);
  } catch {
    return undefined;
  }
  if (n <= 0n) return undefined;
  const ms = Number(n / 1_000_000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() > 9999) return undefined;
  const sub = n % 1_000_000n;
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return sub === 0n ? iso : `${iso.slice(0, -1)}${sub.toString().padStart(6, '0').replace(/0+$/, '')}Z`;
}

export interface OtlpParse {
  events: Record<string, unknown>[];
  /** Log records that could not be turned into an event (counted in partialSuccess). */
  rejected: number;
  firstError: string | null;
}

/** Walks an ExportLogsServiceRequest; at most `max` log records (more: null). */
export function otlpLogsToEvents(body: unknown, max: number): OtlpParse | null {
  const out: OtlpParse = { events: [], rejected: 0, firstError: null };
  if (body === null || typeof body !== 'object') return out;
  const rls = (body as { resourceLogs?: unknown }).resourceLogs;
  if (!Array.isArray(rls)) return out;
  let n = 0;
  for (const rl of rls) {
    if (rl === null || typeof rl !== 'object') continue;
    const resource = kvToJson((rl as { resource?: { attributes?: unknown } }).resource?.attributes);
    const sls = (rl as { scopeLogs?: unknown }).scopeLogs;
    if (!Array.isArray(sls)) continue;
    for (const sl of sls) {
      if (sl === null || typeof sl !== 'object') continue;
      const scope = (sl as { scope?: { name?: unknown; version?: unknown } }).scope;
      const scopeName = typeof scope?.name === 'string' ? scope.name : undefined;
      const recs = (sl as { logRecords?: unknown }).logRecords;
      if (!Array.isArray(recs)) continue;
      for (const rec of recs) {
        if (++n > max) return null;
        if (rec === null || typeof rec !== 'object') {
          out.rejected++;
          out.firstError ??= 'a log record is not an object';
          continue;
        }
        out.events.push(logRecordToEvent(rec as Record<string, unknown>, resource, scopeName));
      }
    }
  }
  return out;
}

function logRecordToEvent(rec: Record<string, unknown>, resource: JsonObject, scopeName: string | undefined): Record<string, unknown> {
  const attrs = kvToJson(rec.attributes);
  const service = str(resource['service.name']);
  const user = str(attrs['enduser.id']) ?? str(attrs['user.id']) ?? str(attrs['user.name']);
  const actor = user !== undefined ? { id: user, type: 'user' } : { id: service ?? 'unknown', type: 'service' };
  const severityText = typeof rec.severityText === 'string' ? rec.severityText.slice(0, 64) : undefined;
  const named = str(attrs['cairn.action']) ?? (typeof rec.eventName === 'string' && rec.eventName !== '' ? rec.eventName : undefined) ?? str(attrs['event.name']);
  const action = toAction(named ?? `otel.log.${token(severityText ?? 'unspecified', 'unspecified')}`);
  const rType = str(attrs['cairn.resource.type']);
  const rId = str(attrs['cairn.resource.id']);
  const res = rType !== undefined && rId !== undefined ? { type: token(rType, 'other'), id: rId } : { type: 'service', id: service ?? 'unknown' };
  const oc = str(attrs['cairn.outcome']) ?? str(attrs['event.outcome']);
  const outcome = oc === 'success' || oc === 'failure' || oc === 'denied' || oc === 'unknown' ? oc : 'unknown';
  const traceId = typeof rec.traceId === 'string' && /^[0-9a-fA-F]{32}$/.test(rec.traceId) ? rec.traceId.toLowerCase() : undefined;
  const spanId = typeof rec.spanId === 'string' && /^[0-9a-fA-F]{16}$/.test(rec.spanId) ? rec.spanId.toLowerCase() : undefined;
  const time = nanosToIso(rec.timeUnixNano) ?? nanosToIso(rec.observedTimeUnixNano);
  const rest: JsonObject = {};
  for (const [k, v] of Object.entries(attrs)) if (!k.startsWith('cairn.')) rest[k] = v;
  const data: JsonObject = {};
  if (rec.body !== undefined) data.body = anyToJson(rec.body);
  if (severityText !== undefined) data.severityText = severityText;
  if (typeof rec.severityNumber === 'number') data.severityNumber = rec.severityNumber;
  if (Object.keys(rest).length > 0) data.attributes = rest;
  if (Object.keys(resource).length > 0) data.resource = resource;
  if (scopeName !== undefined) data.scope = scopeName;
  if (traceId !== undefined) data.traceId = traceId;
  if (spanId !== undefined) data.spanId = spanId;
  const ev: Record<string, unknown> = { actor, action, resource: res, outcome, data };
  if (time !== undefined) ev.time = time;
  const ip = str(attrs['client.address']) ?? str(attrs['source.address']);
  const ua = str(attrs['user_agent.original']);
  if ((ip !== undefined && isIpAddress(ip)) || ua !== undefined) ev.source = { ...(ip !== undefined && isIpAddress(ip) ? { ip } : {}), ...(ua !== undefined ? { userAgent: ua } : {}) };
  const reqId = str(attrs['http.request.id']) ?? traceId;
  if (reqId !== undefined) ev.requestId = reqId;
  const tenant = str(attrs['cairn.tenant']) ?? str(attrs['tenant.id']);
  if (tenant !== undefined) ev.tenant = tenant;
  const given = str(attrs['cairn.id']);
  ev.id = given ?? `otel-${toHex(sha256(utf8(canonical({ rec: rec as JsonValue, resource, scope: scopeName ?? null })))).slice(0, 32)}`;
  return ev;
}
