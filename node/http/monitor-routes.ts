// Monitoring routes (registered with the stream route, see stream-routes.ts):
//   POST /v1/checkpoints/observe  {"checkpoint": "<signed note>"}  a checkpoint seen elsewhere (an
//        auditor, another peer): checked for a fork against this peer's final checkpoint of the
//        same size (node/monitor/integrity.ts). Public like GET /checkpoint: the note must carry
//        a quorum of valid genesis signatures to count, so it cannot be used to raise false alarms.
//   GET  /v1/alerts/status         the evaluator's, outbox's and integrity alarms' counters (admin.alerts)
//   POST /v1/alerts/reload         re-reads the rules file; a bad file keeps the rules (admin.alerts)
//   GET  /v1/alerts/recent         the newest alerts raised since start, with their entries'
//        indexes and leaf hashes (read.bundle: alerts summarize any entry, so a full scope)
// All answer 503 `unavailable` when the peer runs without alerts (CAIRN_ALERTS unset).
import type { FastifyInstance } from 'fastify';
import { NOTE_BYTES_MAX } from '../../src/checkpoint/note.js';
import { alertsOf } from '../alerts/peer-alerts.js';
import { recentAlertsOf, RECENT_ALERTS_MAX } from '../alerts/recent.js';
import type { RouteContext } from './context.js';
import { sendError } from './errors.js';

export const MONITOR_ROUTE_METHODS: Record<string, string[]> = {
  '/v1/checkpoints/observe': ['POST'],
  '/v1/alerts/status': ['GET'],
  '/v1/alerts/reload': ['POST'],
  '/v1/alerts/recent': ['GET'],
};

export function registerMonitorRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const notEnabled = 'alerts and integrity alarms are not enabled on this peer (CAIRN_ALERTS with an alarms section)';

  app.post('/v1/checkpoints/observe', async (req, reply) => {
    const body = req.body as { checkpoint?: unknown } | undefined;
    if (typeof body !== 'object' || body === null || typeof body.checkpoint !== 'string' || Object.keys(body).length !== 1) {
      return sendError(reply, 'bad_request', 'body must be {"checkpoint": "<signed checkpoint note>"}', 'checkpoint');
    }
    if (Buffer.byteLength(body.checkpoint) > NOTE_BYTES_MAX) return sendError(reply, 'bad_request', `checkpoint larger than ${NOTE_BYTES_MAX} bytes (NOTE_BYTES_MAX)`, 'checkpoint');
    if ((await ctx.gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const monitor = alertsOf(ctx.peer)?.monitor;
    if (!monitor) return sendError(reply, 'unavailable', notEnabled);
    const r = await monitor.observeCheckpoint(body.checkpoint);
    if (r.status === 'invalid') return sendError(reply, 'bad_request', `not a checkpoint of this log signed by a quorum: ${r.reason}`, 'checkpoint');
    return reply.code(200).send(r);
  });

  app.get('/v1/alerts/status', async (req, reply) => {
    const who = await ctx.gate.require(req, reply, 'admin.alerts');
    if (who === null) return reply;
    const a = alertsOf(ctx.peer);
    if (!a) return sendError(reply, 'unavailable', notEnabled);
    // The outbox's own alarm counters sit under outbox.alarms, the integrity monitor's under
    // integrity: one `alarms` key for both would hide one of them.
    const { alarms, outbox, ...rest } = a.stats();
    return reply.code(200).send({
      ...rest,
      outbox: { ...outbox, alarms },
      integrity: a.monitor ? { ...a.monitor.stats, scrub: a.monitor.scrubber?.stats ?? null } : null,
    });
  });

  app.get<{ Querystring: Record<string, string> }>('/v1/alerts/recent', async (req, reply) => {
    const q = req.query ?? {};
    for (const k of Object.keys(q)) if (k !== 'limit') return sendError(reply, 'bad_request', `unknown parameter ${k.slice(0, 40)}`, k.slice(0, 40));
    const limit = q.limit === undefined ? 50 : /^\d{1,4}$/.test(q.limit) ? Number(q.limit) : NaN;
    if (!(limit >= 1 && limit <= RECENT_ALERTS_MAX)) return sendError(reply, 'bad_request', `limit must be 1..${RECENT_ALERTS_MAX}`, 'limit');
    const who = await ctx.gate.require(req, reply, 'read.bundle');
    if (who === null) return reply;
    if (!alertsOf(ctx.peer)) return sendError(reply, 'unavailable', notEnabled);
    if (!(await ctx.gate.recordRead(req, who, { action: 'cairn.read.alerts', resource: { type: 'alerts', id: 'recent' } }))) {
      return sendError(reply, 'unavailable', 'the meta-audit queue is full and this peer fails closed: retry later');
    }
    return reply.code(200).header('cache-control', 'no-store').send({ alerts: recentAlertsOf(ctx.peer, limit) });
  });

  app.post('/v1/alerts/reload', async (req, reply) => {
    const who = await ctx.gate.require(req, reply, 'admin.alerts');
    if (who === null) return reply;
    const a = alertsOf(ctx.peer);
    if (!a) return sendError(reply, 'unavailable', notEnabled);
    const r = await a.reload();
    if (r.ok) return reply.code(200).send({ ok: true, rules: r.rules.rules.length });
    // 422-like: the file is wrong, the rules in force did not change.
    return sendError(reply, 'bad_request', r.error.message.slice(0, 4000));
  });
}
