// One HTTP request → one audit event (docs/integrations.md, "Middleware"). Framework-neutral: the
// Express and Fastify adapters fill a RequestInfo, this file decides what the entry says.
//
//   actor      the authenticated user (req.user / request.user: id, sub, username or email; name),
//              type "user"; without one { id: "anonymous", type: "anonymous" }; `actor` option overrides
//   action     "<prefix>.<method>.<static route segments>", e.g. POST /accounts/:id/transfers →
//              http.post.accounts.transfers; a request no route matched → http.<method>.unmatched
//   resource   the last route parameter: { type: the static segment before it, id: its value }
//              (GET /accounts/:id → { type: "accounts", id: "42" }); no parameter → { type:
//              "http.route", id: the route pattern (or the path when no route matched) }
//   outcome    status < 400 → success; 401, 403 → denied; any other ≥ 400 → failure
//   reason     "HTTP <status>" when not success
//   requestId  the X-Request-Id header, else the framework's request id
//   source     ip (IPv4-mapped IPv6 written as IPv4) and userAgent
//   time       when the request arrived
//   id         "mw-<random per process>-<counter>": a re-sent batch is recognized by the agent
//   data       { method, route, status, durationMs, params }
// The `adjust` hook sees the event and the request and returns the event to record (changed or
// not), or null to record nothing for that request.
import { randomBytes } from 'node:crypto';
import { isIpAddress } from '../../src/entry/ip.js';
import type { EntryActor, JsonObject } from '../../src/entry/types.js';

export interface RequestInfo {
  method: string;
  /** The matched route pattern ('/accounts/:id'), null when no route matched. */
  route: string | null;
  /** The request path without the query string. */
  path: string;
  params: Record<string, unknown>;
  status: number;
  /** The authenticated user as the application's auth layer left it, if any. */
  user: unknown;
  requestId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  startedAtMs: number;
  durationMs: number;
}

/** An agent event (docs/integrations.md): an unsigned entry without client and sig. */
export interface AuditEvent {
  id?: string;
  time?: string;
  actor: EntryActor;
  action: string;
  resource: { type: string; id: string; name?: string };
  outcome: 'success' | 'failure' | 'denied' | 'unknown';
  reason?: string;
  source?: { ip?: string; userAgent?: string };
  requestId?: string;
  tenant?: string;
  data?: JsonObject;
}

export interface MappingOptions {
  /** First action segment (default "http"). */
  actionPrefix?: string;
  /** Who acted; default: from RequestInfo.user (see the header). null → anonymous. */
  actor?: (info: RequestInfo) => EntryActor | null;
  /** Tenant of the request, if the application has one. */
  tenant?: (info: RequestInfo) => string | undefined;
  /** Adjust the event (return it) or drop it (return null). */
  adjust?: (event: AuditEvent, info: RequestInfo) => AuditEvent | null;
}

const SHORT_MAX = 256;
// Control, format (invisible) and separator characters the entry format refuses in text fields.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0]/gu;

function text(s: string, max = SHORT_MAX): string {
  const t = s.replace(UNPRINTABLE, '?').slice(0, max);
  return t.length > 0 ? t : '-';
}

function segment(s: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  return /^[a-z]/.test(t) ? t : `x${t}`;
}

function token(s: string, fallback: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9_.-]/g, '_').slice(0, 64);
  return /^[a-z]/.test(t) ? t : fallback;
}

function staticSegments(route: string): string[] {
  return route.split('/').filter((p) => p !== '' && !p.startsWith(':') && !p.startsWith('*') && !p.includes('{'));
}

export function actionOf(prefix: string, method: string, route: string | null): string {
  const segs = [segment(prefix), segment(method)];
  if (route === null) segs.push('unmatched');
  else {
    const st = staticSegments(route).map(segment);
    segs.push(...(st.length === 0 ? ['root'] : st));
  }
  if (segs.length > 8) segs.splice(7, segs.length - 7, segs.slice(7).join('_'));
  let a = segs.join('.');
  while (a.length > 128) a = a.slice(0, a.lastIndexOf('.'));
  return a;
}

export function resourceOf(route: string | null, path: string, params: Record<string, unknown>): { type: string; id: string } {
  const keys = Object.keys(params).filter((k) => params[k] !== undefined && params[k] !== '');
  if (route !== null && keys.length > 0) {
    const parts = route.split('/').filter((p) => p !== '');
    // The last parameter in the route's order, and the static segment just before it.
    let last: string | null = null;
    let before: string | null = null;
    let prevStatic: string | null = null;
    for (const p of parts) {
      const name = p.startsWith(':') ? p.slice(1).replace(/[?(].*$/, '') : null;
      if (name !== null && keys.includes(name)) {
        last = name;
        before = prevStatic;
      } else if (name === null && !p.startsWith('*')) prevStatic = p;
    }
    const k = last ?? keys[keys.length - 1]!;
    return { type: token(before ?? 'http.resource', 'http.resource'), id: text(String(params[k])) };
  }
  return { type: 'http.route', id: text(route ?? (path === '' ? '/' : path)) };
}

export function outcomeOf(status: number): AuditEvent['outcome'] {
  if (status === 401 || status === 403) return 'denied';
  if (status >= 400 || status < 100) return 'failure';
  return 'success';
}

function defaultActor(user: unknown): EntryActor | null {
  if (typeof user === 'string' && user !== '') return { id: text(user), type: 'user' };
  if (user === null || typeof user !== 'object') return null;
  const u = user as Record<string, unknown>;
  const id = [u.id, u.sub, u.username, u.email].find((v) => (typeof v === 'string' && v !== '') || typeof v === 'number');
  if (id === undefined) return null;
  const a: EntryActor = { id: text(String(id)), type: 'user' };
  if (typeof u.name === 'string' && u.name !== '') a.name = text(u.name);
  return a;
}

function ipOf(ip: string | undefined): string | undefined {
  if (ip === undefined) return undefined;
  const v = ip.startsWith('::ffff:') && isIpAddress(ip.slice(7)) ? ip.slice(7) : ip;
  return isIpAddress(v) ? v : undefined;
}

const INSTANCE = randomBytes(6).toString('hex');
let counter = 0;

/** The event for one request (before the `adjust` hook). */
export function requestEvent(info: RequestInfo, opts: MappingOptions = {}): AuditEvent {
  const actor = (opts.actor ?? ((i: RequestInfo) => defaultActor(i.user)))(info) ?? { id: 'anonymous', type: 'anonymous' };
  const outcome = outcomeOf(info.status);
  const params: JsonObject = {};
  for (const [k, v] of Object.entries(info.params).slice(0, 32)) if (k !== '__proto__' && v !== undefined) params[k.slice(0, 128)] = String(v).slice(0, 1024);
  const ev: AuditEvent = {
    id: `mw-${INSTANCE}-${counter++}`,
    time: new Date(info.startedAtMs).toISOString(),
    actor,
    action: actionOf(opts.actionPrefix ?? 'http', info.method, info.route),
    resource: resourceOf(info.route, info.path, info.params),
    outcome,
    data: { method: info.method.toUpperCase(), route: info.route, status: info.status, durationMs: Math.round(info.durationMs * 1000) / 1000, params },
  };
  if (outcome !== 'success') ev.reason = `HTTP ${info.status}`;
  const ip = ipOf(info.ip);
  const ua = info.userAgent === undefined || info.userAgent === '' ? undefined : text(info.userAgent, 512);
  if (ip !== undefined || ua !== undefined) ev.source = { ...(ip !== undefined ? { ip } : {}), ...(ua !== undefined ? { userAgent: ua } : {}) };
  if (info.requestId !== undefined && info.requestId !== '') ev.requestId = text(info.requestId);
  const tenant = opts.tenant?.(info);
  if (tenant !== undefined && tenant !== '') ev.tenant = text(tenant);
  return ev;
}

/** requestEvent, then the `adjust` hook: the event to record, or null. */
export function mapRequest(info: RequestInfo, opts: MappingOptions = {}): AuditEvent | null {
  const ev = requestEvent(info, opts);
  return opts.adjust === undefined ? ev : opts.adjust(ev, info);
}
