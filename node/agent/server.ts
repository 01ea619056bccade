// The agent's local HTTP API (loopback TCP or a Unix socket; it has no authentication, so it never
// listens elsewhere):
//   POST /v1/events   one event (JSON object) or an array of up to eventsPerRequestMax
//   POST /v1/logs     OTLP/HTTP logs, JSON encoding (ExportLogsServiceRequest)
//   GET  /v1/status   spool, in-flight entries, peers, counters (AgentStatus)
//   GET  /metrics     Prometheus
//   GET  /healthz     200, or 503 spool_full while the spool is full
// The answer to a POST is sent only after its events are synced to the spool.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { eventToEntry } from './event.js';
import { otlpLogsToEvents } from './otlp.js';
import type { Spool, SpoolItem } from './spool.js';
import { AGENT_ERROR_STATUS, type AgentErrorCode, type AgentLimits, type AgentStatus, type AgentCounters } from './types.js';

export interface IntakeDeps {
  spool: Spool;
  limits: AgentLimits;
  counters: AgentCounters;
  status: () => AgentStatus;
  metrics: Registry;
  now: () => number;
  onError: (e: Error) => void;
}

class HttpFail extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: HttpFail): void {
  const headers: Record<string, string> = e.code === 'spool_full' ? { 'retry-after': '1' } : {};
  if (e.code === 'body_too_large') headers.connection = 'close';
  send(res, AGENT_ERROR_STATUS[e.code], { error: { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) } }, headers);
}

/** The whole body, refused from Content-Length or as soon as it passes bodyBytesMax. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new HttpFail('body_too_large', `body is ${declared} bytes; at most ${max} (bodyBytesMax)`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new HttpFail('body_too_large', `body is larger than ${max} bytes (bodyBytesMax)`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, max: number, what: string): Promise<unknown> {
  const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/json') throw new HttpFail('unsupported_media_type', `${what} takes Content-Type: application/json`);
  const body = await readBody(req, max);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpFail('invalid_json', 'the body is not valid JSON');
  }
}

async function spoolOrFail(deps: IntakeDeps, items: SpoolItem[]): Promise<{ id: string; status: 'spooled' | 'duplicate' }[]> {
  let r;
  try {
    r = await deps.spool.add(items);
  } catch (e) {
    deps.onError(e as Error);
    throw new HttpFail('spool_error', 'the spool could not be written; nothing was accepted');
  }
  if (!r.ok) {
    if (r.code === 'spool_full') deps.counters.full++;
    throw new HttpFail(r.code, r.message, r.field);
  }
  for (const x of r.results) {
    if (x.status === 'spooled') deps.counters.accepted++;
    else deps.counters.duplicates++;
  }
  return r.results;
}

async function postEvents(req: IncomingMessage, res: ServerResponse, deps: IntakeDeps): Promise<void> {
  const body = await readJson(req, deps.limits.bodyBytesMax, 'POST /v1/events');
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new HttpFail('invalid_event', 'an empty array');
  if (list.length > deps.limits.eventsPerRequestMax) throw new HttpFail('too_many_events', `${list.length} events; at most ${deps.limits.eventsPerRequestMax} per request (eventsPerRequestMax)`);
  if (deps.spool.full) {
    deps.counters.full++;
    throw new HttpFail('spool_full', `spool full (${deps.spool.size} events, ${deps.spool.bytes} bytes); retry later`);
  }
  const now = deps.now();
  const items: SpoolItem[] = [];
  for (let i = 0; i < list.length; i++) {
    const r = eventToEntry(list[i], now);
    const prefix = Array.isArray(body) ? `[${i}]` : '';
    if (!r.ok) throw new HttpFail('invalid_event', r.message, prefix + (r.field === '' || prefix === '' ? r.field : `.${r.field}`));
    items.push({ entry: r.entry, appId: r.appId, digest: r.digest });
  }
  const results = await spoolOrFail(deps, items);
  send(res, 200, Array.isArray(body) ? { results } : results[0]);
}

async function postLogs(req: IncomingMessage, res: ServerResponse, deps: IntakeDeps): Promise<void> {
  const body = await readJson(req, deps.limits.bodyBytesMax, 'POST /v1/logs (OTLP/HTTP JSON; protobuf is not supported)');
  const parsed = otlpLogsToEvents(body, deps.limits.eventsPerRequestMax);
  if (parsed === null) throw new HttpFail('too_many_events', `more than ${deps.limits.eventsPerRequestMax} log records in one request (eventsPerRequestMax)`);
  if (deps.spool.full) {
    deps.counters.full++;
    throw new HttpFail('spool_full', `spool full (${deps.spool.size} events, ${deps.spool.bytes} bytes); retry later`);
  }
  const now = deps.now();
  const items: SpoolItem[] = [];
  let rejected = parsed.rejected;
  let firstError = parsed.firstError;
  for (const ev of parsed.events) {
    const r = eventToEntry(ev, now);
    if (!r.ok) {
      rejected++;
      firstError ??= `${r.field}: ${r.message}`;
      continue;
    }
    items.push({ entry: r.entry, appId: r.appId, digest: r.digest });
  }
  if (items.length > 0) await spoolOrFail(deps, items);
  // OTLP/HTTP: 200 with an ExportLogsServiceResponse; partialSuccess names records not accepted.
  send(res, 200, rejected > 0 ? { partialSuccess: { rejectedLogRecords: rejected, errorMessage: firstError ?? '' } } : {});
}

const ROUTES: Record<string, string> = { '/v1/events': 'POST', '/v1/logs': 'POST', '/v1/status': 'GET', '/metrics': 'GET', '/healthz': 'GET' };

export function createIntakeServer(deps: IntakeDeps): Server {
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const method = ROUTES[path];
      if (method === undefined) throw new HttpFail('not_found', `no route ${path}`);
      if (req.method !== method) {
        res.setHeader('allow', method);
        throw new HttpFail('method_not_allowed', `${path} takes ${method}`);
      }
      if (path === '/v1/events') return postEvents(req, res, deps);
      if (path === '/v1/logs') return postLogs(req, res, deps);
      if (path === '/v1/status') return send(res, 200, deps.status());
      if (path === '/healthz') {
        if (deps.spool.full) throw new HttpFail('spool_full', 'spool full');
        return send(res, 200, { ok: true, spooled: deps.spool.size });
      }
      const text = await deps.metrics.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.contentType });
      res.end(text);
    })().catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpFail) return sendError(res, e);
      deps.onError(e as Error);
      sendError(res, new HttpFail('spool_error', 'internal error'));
    });
  });
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  return server;
}
