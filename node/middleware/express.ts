// Express: `app.use(cairnExpress({ agent: 'http://127.0.0.1:8480' }))` before the routes records
// every request once its response is finished (or the connection closed). The route pattern and
// its parameters are read when the response ends, after the router matched them.
import { mapRequest, type RequestInfo } from './mapping.js';
import { sinkOf, type AuditMiddlewareOptions } from './options.js';
import type { EventSink } from './sink.js';

/** The parts of Express's req / res the middleware reads (no dependency on express itself). */
interface ExpressReq {
  method: string;
  originalUrl?: string;
  url: string;
  baseUrl?: string;
  route?: { path?: unknown };
  params?: Record<string, unknown>;
  ip?: string;
  user?: unknown;
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
}
interface ExpressRes {
  statusCode: number;
  locals?: Record<string, unknown>;
  once(event: 'finish' | 'close', f: () => void): unknown;
}

export type ExpressAuditMiddleware = ((req: ExpressReq, res: ExpressRes, next: (err?: unknown) => void) => void) & { sink: EventSink };

const header = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);

export function cairnExpress(opts: AuditMiddlewareOptions): ExpressAuditMiddleware {
  const sink = sinkOf(opts);
  const mw = (req: ExpressReq, res: ExpressRes, next: (err?: unknown) => void) => {
    const started = Date.now();
    const t0 = performance.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      try {
        const routePath = req.route !== undefined && typeof req.route.path === 'string' ? req.route.path : null;
        const info: RequestInfo = {
          method: req.method,
          route: routePath === null ? null : `${req.baseUrl ?? ''}${routePath}`,
          path: (req.originalUrl ?? req.url).split('?')[0]!,
          params: req.params ?? {},
          status: res.statusCode,
          user: req.user ?? res.locals?.user,
          requestId: header(req.headers['x-request-id']),
          ip: req.ip ?? req.socket?.remoteAddress,
          userAgent: header(req.headers['user-agent']),
          startedAtMs: started,
          durationMs: performance.now() - t0,
        };
        const ev = mapRequest(info, opts);
        if (ev !== null) sink.record(ev);
      } catch (e) {
        opts.onError?.(e as Error);
      }
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
  return Object.assign(mw, { sink });
}
