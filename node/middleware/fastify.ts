// Fastify: `await app.register(cairnFastify, { agent: 'http://127.0.0.1:8480' })` records every
// request in an onResponse hook. The plugin is not encapsulated (skip-override, what fastify-plugin
// sets), so its hook sees the routes of the whole application.
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { mapRequest, type RequestInfo } from './mapping.js';
import { sinkOf, type AuditMiddlewareOptions } from './options.js';
import type { EventSink } from './sink.js';

const header = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);

const plugin: FastifyPluginCallback<AuditMiddlewareOptions> = (app: FastifyInstance, opts, done) => {
  const sink: EventSink = sinkOf(opts);
  app.decorate('cairnAuditSink', sink);
  app.addHook('onResponse', (request, reply, next) => {
    try {
      const route = request.routeOptions.url;
      const info: RequestInfo = {
        method: request.method,
        route: route === undefined || route === '' ? null : route,
        path: request.url.split('?')[0]!,
        params: (request.params ?? {}) as Record<string, unknown>,
        status: reply.statusCode,
        user: (request as unknown as { user?: unknown }).user,
        requestId: header(request.headers['x-request-id']) ?? request.id,
        ip: request.ip,
        userAgent: header(request.headers['user-agent']),
        startedAtMs: Date.now() - reply.elapsedTime,
        durationMs: reply.elapsedTime,
      };
      const ev = mapRequest(info, opts);
      if (ev !== null) sink.record(ev);
    } catch (e) {
      opts.onError?.(e as Error);
    }
    next();
  });
  app.addHook('onClose', (_app, next) => {
    sink.close().then(() => next(), () => next());
  });
  done();
};
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(plugin as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] = 'cairn-audit';

export const cairnFastify = plugin;
