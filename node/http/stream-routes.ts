// GET /v1/stream?after=<index>&filter=<CEL>: every final entry after `after` (exclusive; omitted:
// from index 0) matching the filter and the reader's scope; `from=<index>` (inclusive, = after+1) is
// accepted as an alias, both at once is a 400, as NDJSON or, with `Accept: text/event-stream`, as server-sent events
// whose id is the index to resume from (so EventSource's Last-Event-ID resumes it). Long-lived:
// after the existing entries it waits for new final checkpoints; heartbeats keep idle connections
// open and tell a filtered consumer how far the peer has looked. Wire format:
// node/export/stream-wire.ts; docs/monitoring.md ("Streaming").
//
// Order of checks, cheapest first: query-string bytes → parameters → filter compiles → access gate
// (401/403) → streams per address, then in total → reader's scope → meta-audit record → stream.
// Bounded: streams per address and in total; the bytes waiting in one stream's socket buffer (a
// consumer that does not drain it below the bound within streamStallMs is disconnected with a
// final error line; the peer never buffers more for it); entries read per step.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { compileFilter, type Filter } from '../../src/filter/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { checkpointOf, type StreamLine } from '../export/stream-wire.js';
import { clientAddress } from './admission.js';
import { clientGone, type RouteContext } from './context.js';
import { sendError } from './errors.js';
import { MONITOR_ROUTE_METHODS, registerMonitorRoutes } from './monitor-routes.js';

/** Methods of the stream and monitoring paths (a wrong one answers 405 with Allow; server.ts). */
export const STREAM_ROUTE_METHODS: Record<string, string[]> = {
  '/v1/stream': ['GET'],
  ...MONITOR_ROUTE_METHODS,
};

/** Stream limits; overridable through the server's `limits` option (same names). */
export interface StreamLimits {
  streamsMax: number;
  streamsPerAddressMax: number;
  /** Bytes that may wait in one stream's socket buffer before the peer stops reading entries for it. */
  streamBufferBytesMax: number;
  /** How long a consumer may leave its buffer full before it is disconnected. */
  streamStallMs: number;
  streamHeartbeatMs: number;
}
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  streamsMax: 64,
  streamsPerAddressMax: 4,
  streamBufferBytesMax: 1024 * 1024,
  streamStallMs: 30_000,
  streamHeartbeatMs: 15_000,
};
/** Entries read from the store per step (leaves are at most 64 KiB: at most 4 MiB per stream per step). */
export const STREAM_READ_CHUNK = 64;
export const STREAM_QUERY_BYTES_MAX = 8192;

interface StreamMetrics {
  open: Gauge;
  entries: Counter;
  ended: Counter;
}
const metricsOf = new WeakMap<Registry, StreamMetrics>();
function streamMetrics(registry: Registry): StreamMetrics {
  let m = metricsOf.get(registry);
  if (m === undefined) {
    const registers = [registry];
    m = {
      open: new Gauge({ name: 'cairn_stream_open', help: 'Open GET /v1/stream connections', registers }),
      entries: new Counter({ name: 'cairn_stream_entries_total', help: 'Entries sent on GET /v1/stream', registers }),
      ended: new Counter({ name: 'cairn_stream_ended_total', help: 'GET /v1/stream connections ended, by reason (client, until, slow_consumer, error)', labelNames: ['reason'], registers }),
    };
    metricsOf.set(registry, m);
  }
  return m;
}

function limitsOf(ctx: RouteContext): StreamLimits {
  const l = ctx.limits as unknown as Partial<StreamLimits>;
  return { ...DEFAULT_STREAM_LIMITS, ...Object.fromEntries(Object.entries(l).filter(([k]) => k in DEFAULT_STREAM_LIMITS)) };
}

/** `cors` gives the server's CORS headers for a request: the stream writes its headers raw (after
 *  reply.hijack()), past the onSend hook that adds them to every other answer. */
export function registerStreamRoutes(app: FastifyInstance, ctx: RouteContext, cors: (req: FastifyRequest) => Record<string, string>): void {
  // The monitoring routes come with the stream (one registration line in server.ts).
  registerMonitorRoutes(app, ctx);
  const lim = limitsOf(ctx);
  const metrics = streamMetrics(ctx.metrics.registry);
  const perAddress = new Map<string, number>();
  let total = 0;
  const peer = ctx.peer;
  // One 'final' listener for all streams (not one each: the peer's emitter warns past 10).
  const finalWaiters = new Set<() => void>();
  const onFinalAll = (): void => {
    for (const w of [...finalWaiters]) w();
  };
  peer.events.on('final', onFinalAll);
  app.addHook('onClose', async () => {
    peer.events.off('final', onFinalAll);
  });

  app.get('/v1/stream', async (req: FastifyRequest, reply: FastifyReply) => {
    const qi = req.url.indexOf('?');
    if (qi >= 0 && req.url.length - qi - 1 > STREAM_QUERY_BYTES_MAX) return sendError(reply, 'bad_request', `query string longer than ${STREAM_QUERY_BYTES_MAX} bytes`);
    const q = req.query as Record<string, unknown>;
    for (const [k, v] of Object.entries(q)) {
      if (k !== 'after' && k !== 'from' && k !== 'filter' && k !== 'until') return sendError(reply, 'bad_request', `unknown parameter ${k} (after, from, filter, until)`, k);
      if (typeof v !== 'string') return sendError(reply, 'bad_request', `${k} given more than once`, k);
    }
    // Two ways to say where to start would let them disagree: one only.
    if (q.after !== undefined && q.from !== undefined) return sendError(reply, 'bad_request', 'give after (exclusive) or from (inclusive), not both', 'after');
    let next: number;
    if (q.after !== undefined) {
      const a = q.after as string;
      if (!/^\d{1,16}$/.test(a) || !Number.isSafeInteger(Number(a) + 1)) return sendError(reply, 'bad_request', 'after must be a non-negative integer (the last index already received; omit it to start at 0)', 'after');
      next = Number(a) + 1;
    } else {
      const lastId = req.headers['last-event-id'];
      const fromText = (q.from as string | undefined) ?? (typeof lastId === 'string' ? lastId : '0');
      if (!/^\d{1,16}$/.test(fromText) || !Number.isSafeInteger(Number(fromText))) return sendError(reply, 'bad_request', 'from must be a non-negative integer (the first index to send)', 'from');
      next = Number(fromText);
    }
    // until: end the stream (with a heartbeat naming the position) once every entry before it was
    // looked at: a one-shot export of what is final now.
    let until = Number.POSITIVE_INFINITY;
    if (q.until !== undefined) {
      if (!/^\d{1,16}$/.test(q.until as string)) return sendError(reply, 'bad_request', 'until must be a non-negative integer', 'until');
      until = Number(q.until);
    }
    let filter: Filter | null = null;
    if (q.filter !== undefined) {
      const c = compileFilter(q.filter as string);
      if (!c.ok) return sendError(reply, 'bad_request', `filter: ${c.error.message}${c.error.position ? ` (column ${c.error.position.column})` : ''} [${c.error.code}]`, 'filter');
      filter = c.filter.full ? null : c.filter;
    }
    const principal = await ctx.gate.require(req, reply, 'read.stream');
    if (principal === null) return reply;
    const address = clientAddress(req.raw.socket?.remoteAddress);
    const mine = perAddress.get(address) ?? 0;
    if (mine >= lim.streamsPerAddressMax) return sendError(reply, 'too_many_requests', `this address has ${mine} streams open (streamsPerAddressMax ${lim.streamsPerAddressMax})`);
    if (total >= lim.streamsMax) return sendError(reply, 'overloaded', `${total} streams open (streamsMax ${lim.streamsMax}); retry later`);
    // Counted before any await below, so concurrent requests cannot overshoot the bounds.
    perAddress.set(address, mine + 1);
    total++;
    const release = (): void => {
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
      total--;
    };
    let released = false;
    try {
      const scope = await ctx.gate.scope(req);
      const resource = { type: 'stream', id: `from=${next}${filter ? ` filter=${filter.source}` : ''}` };
      if (!(await ctx.gate.recordRead(req, principal, { action: 'cairn.read.stream', resource }))) {
        return sendError(reply, 'unavailable', 'the meta-audit log cannot record this read now; retry later');
      }
      const sse = /\btext\/event-stream\b/.test(String(req.headers.accept ?? ''));
      const gone = clientGone(req);
      if (gone.aborted) return reply;
      reply.hijack();
      released = true;
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        ...cors(req),
      });
      metrics.open.inc();
      let reason = 'client';
      try {
        reason = await stream(res, sse, gone, scope.full ? null : scope.matches);
      } catch {
        reason = 'error';
      } finally {
        metrics.open.dec();
        metrics.ended.inc({ reason });
        release();
        if (!res.writableEnded) res.end();
      }
      return reply;
    } finally {
      if (!released) release();
    }

    async function stream(res: FastifyReply['raw'], sse: boolean, gone: AbortSignal, scopeMatches: ((e: AuditEntry) => boolean) | null): Promise<string> {
      const write = (line: StreamLine): void => {
        const json = JSON.stringify(line);
        res.write(sse ? `${line.type === 'entry' ? `id: ${line.index + 1}\n` : line.type === 'heartbeat' ? `id: ${line.next}\n` : ''}data: ${json}\n\n` : `${json}\n`);
      };
      // The error line and the end wait behind the unread bytes; a consumer that still does not
      // read them is cut after one more stall period, so the buffer is freed either way.
      const endSlow = (): string => {
        write({ type: 'error', code: 'slow_consumer', message: `the consumer left more than ${lim.streamBufferBytesMax} bytes unread for ${lim.streamStallMs} ms; resume from next`, next });
        res.end();
        setTimeout(() => res.destroy(), lim.streamStallMs).unref();
        return 'slow_consumer';
      };
      let lastWrite = Date.now();
      let sentNote = -1;
      // Waits until the socket buffer drained below the bound; false when the consumer is too slow.
      const drained = async (): Promise<boolean> => {
        if (res.writableLength < lim.streamBufferBytesMax) return true;
        const ok = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => done(false), lim.streamStallMs);
          const onDrain = (): void => done(true);
          const onGone = (): void => done(true);
          function done(v: boolean): void {
            clearTimeout(t);
            res.off('drain', onDrain);
            gone.removeEventListener('abort', onGone);
            resolve(v);
          }
          res.once('drain', onDrain);
          gone.addEventListener('abort', onGone, { once: true });
        });
        return ok;
      };
      for (;;) {
        if (gone.aborted) return 'client';
        const noteText = await peer.latestCheckpoint();
        const cp = noteText === null ? null : checkpointOf(noteText);
        const fin = cp?.treeSize ?? 0;
        if (next >= until && next <= fin) {
          write({ type: 'heartbeat', next, finalSize: fin });
          res.end();
          return 'until';
        }
        if (next < fin && cp !== null) {
          if (sentNote !== fin) {
            write({ type: 'checkpoint', treeSize: fin, note: noteText! });
            sentNote = fin;
          }
          const count = Math.min(STREAM_READ_CHUNK, fin - next, Math.max(1, until - next));
          const leaves = await peer.internals.store.getLeaves(next, count);
          let sent = 0;
          for (const leaf of leaves) {
            // Checked before every line: the buffer holds at most the bound plus one line.
            if (res.writableLength >= lim.streamBufferBytesMax) {
              metrics.entries.inc(sent);
              sent = 0;
              if (!(await drained())) return endSlow();
              if (gone.aborted) return 'client';
            }
            const index = next;
            next++;
            if (filter !== null || scopeMatches !== null) {
              const entry = JSON.parse(fromUtf8(leaf)) as AuditEntry;
              if (scopeMatches !== null && !scopeMatches(entry)) continue;
              if (filter !== null && !filter.matches(entry)) continue;
            }
            write({ type: 'entry', index, leafHash: toHex(leafHash(leaf)), leaf: fromUtf8(leaf), checkpoint: cp });
            sent++;
          }
          metrics.entries.inc(sent);
          if (sent > 0) lastWrite = Date.now();
          else if (Date.now() - lastWrite >= Math.min(1000, lim.streamHeartbeatMs)) {
            // A long run of non-matching entries: tell the consumer how far we looked.
            write({ type: 'heartbeat', next, finalSize: fin });
            lastWrite = Date.now();
          }
          if (!(await drained())) {
            return endSlow();
          }
          // Other requests get the event loop between steps of a long catch-up.
          await new Promise((r) => setImmediate(r));
          continue;
        }
        // Caught up: wait for a new final checkpoint, the heartbeat, or the client leaving.
        const wait = Math.max(0, lim.streamHeartbeatMs - (Date.now() - lastWrite));
        const woke = await new Promise<'final' | 'beat' | 'gone'>((resolve) => {
          const t = setTimeout(() => done('beat'), wait);
          const onFinal = (): void => done('final');
          const onGone = (): void => done('gone');
          function done(v: 'final' | 'beat' | 'gone'): void {
            clearTimeout(t);
            finalWaiters.delete(onFinal);
            gone.removeEventListener('abort', onGone);
            resolve(v);
          }
          finalWaiters.add(onFinal);
          gone.addEventListener('abort', onGone, { once: true });
        });
        if (woke === 'gone') return 'client';
        if (woke === 'beat') {
          write({ type: 'heartbeat', next, finalSize: fin });
          lastWrite = Date.now();
          if (!(await drained())) {
            return endSlow();
          }
        }
      }
    }
  });
}
