// The HTTP API of one peer (docs/api.md), on fastify 5. Limits (docs/api.md "Limits"), cheapest
// first: connections in total and per client address (admission.ts, before the HTTP parser),
// request rate per address and requests in flight (onRequest hook below), request-body bytes in
// flight, body size, JSON depth/entries/values before parsing (body.ts), array length
// (submit.ts), long-poll waiters (waiters.ts), and slow-client timeouts on the Node server itself
// (requestTimeout, headersTimeout, keepAliveTimeout, idle socket timeout).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { API_ERROR_STATUS, WAITED_HEADER, type HealthResponse, type StatusResponse } from '../../src/client/types.js';
import type { Peer } from '../peer/peer.js';
import { AccessControl, type Policy } from '../auth/index.js';
import { randomSeed } from '../../src/crypto/noble.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { allowAllGate, PolicyGate, type AccessGate, type MetaAudit } from './access-gate.js';
import { registerAuthRoutes } from './auth-routes.js';
import { applySharing } from './sharing.js';
import { checkTransport, type TlsMaterial } from './tls.js';
import { authorizeRead as allowAll, type AuthorizeRead } from './auth.js';
import { BodyBudget, capConnections, clientAddress, RateLimiter } from './admission.js';
import { registerJsonBodyParser } from './body.js';
import { allowRead, watchClient, type RouteContext } from './context.js';
import { registerEntryRoutes } from './entries.js';
import { ApiError, errorBody, sendError } from './errors.js';
import { BundleGzipCache, type GzipCacheStats } from './gzip-cache.js';
import { resolveHttpLimits, type HttpLimits } from './limits.js';
import { registerLogRoutes } from './log-routes.js';
import { registerStreamRoutes, STREAM_ROUTE_METHODS } from './stream-routes.js';
import { registerSearchRoutes, SEARCH_ROUTE_METHODS } from './search-routes.js';
import { registerGovRoutes, GOV_ROUTE_METHODS } from './gov-routes.js';
import { registerUiRoutes } from './ui-routes.js';
import { createPeerMetrics, type PeerMetrics } from './metrics.js';
import { FinalityWaiters } from './waiters.js';

export interface HttpServerOptions {
  host: string;
  /** 0 = an ephemeral port (read it back from `url`). */
  port: number;
  limits?: Partial<HttpLimits>;
  /** Read authorization hook; default allows every read (auth.ts). */
  authorizeRead?: AuthorizeRead;
  /** An explicit access gate (embedding, tests); default: built from `auth`, else everything open. */
  gate?: AccessGate;
  /** Access control from an organization's policy (docs/access-control.md). */
  auth?: HttpAuthOptions;
  /** Serve HTTPS with this certificate and key (and optional client-certificate CA). */
  tls?: TlsMaterial;
  /** Origins (`scheme://host[:port]`) whose web pages may read restricted routes; public routes allow any. */
  corsOrigins?: string[];
  /** With a policy, serve plain HTTP on a non-loopback address anyway (TLS terminated by a local proxy). */
  allowPlainHttp?: boolean;
  /** Where restricted reads and denials are recorded (node/meta-audit). */
  metaAudit?: MetaAudit;
  /** Where the details of internal errors go (500 answers carry only a request id). */
  log?: HttpLogger;
}

export interface HttpAuthOptions {
  policy: Policy;
  /** Seed of the key that signs the peer's bearer tokens; default a random one (tokens end with the process). */
  tokenSeed?: Uint8Array;
  /** `scheme://host[:port]` clients use to reach the peer when it is behind a proxy (for signatures). */
  origin?: string;
  /** Timeout of identity-provider discovery and key fetches. */
  fetchTimeoutMs?: number;
}

/** Routes whose answers hold hashes and signatures only (public unless publicRequiresAuth). The
 *  governance routes carry signed records, proofs and checkpoints the auditor verifies itself. */
export function isPublicPath(path: string): boolean {
  return path === '/checkpoint' || path === '/healthz' || path === '/v1/proofs/consistency' || path === '/v1/checkpoints/observe' || path.startsWith('/v1/governance/') || (path.startsWith('/tile/') && !path.startsWith('/tile/entries/'));
}

/** The Access-Control-Allow-Origin for a request (null: none): `*` on public routes, else the
 *  origin if listed. One rule for every route, including those that write raw headers (the stream). */
export type AllowOrigin = (path: string, origin: string | undefined) => string | null;
export function corsAllowOrigin(o: { corsOrigins: readonly string[] | undefined; restricted: boolean; publicRequiresAuth: boolean }): AllowOrigin {
  const listed = o.corsOrigins === undefined ? null : new Set(o.corsOrigins);
  return (path, origin) => {
    if (listed === null && !o.restricted) return '*'; // no policy, no list: everything is open
    if (isPublicPath(path) && !o.publicRequiresAuth) return '*';
    return origin !== undefined && listed?.has(origin) === true ? origin : null;
  };
}

function buildGate(peer: Peer, opts: HttpServerOptions, log: HttpLogger): PolicyGate | null {
  if (opts.auth === undefined) return null;
  const self = peer.status().validator?.name ?? null;
  const { policy, sharing } = applySharing(opts.auth.policy, peer.genesis, self);
  const access = new AccessControl(policy, {
    peerName: self ?? peer.peerId,
    tokenSigner: nodeSigner(opts.auth.tokenSeed ?? randomSeed()),
    ...(opts.auth.origin !== undefined ? { origin: opts.auth.origin } : {}),
    ...(opts.auth.fetchTimeoutMs !== undefined ? { fetchTimeoutMs: opts.auth.fetchTimeoutMs } : {}),
  });
  return new PolicyGate({ access, sharing, ...(opts.metaAudit ? { metaAudit: opts.metaAudit } : {}), log });
}

export interface HttpLogger {
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Internal errors are logged to stderr when the embedder gives no logger: never lost, never sent. */
const STDERR_LOG: HttpLogger = { error: (fields, msg) => console.error(msg, JSON.stringify(fields)) };

/** Header carrying the id of a 500 answer, which also names it in the log. */
export const REQUEST_ID_HEADER = 'cairn-request-id';

/** The CORS headers of one answer: Access-Control-Allow-Origin when allowed, `vary: origin` when
 *  the answer depends on the origin, and the headers a page may read. */
export function corsHeaders(allow: AllowOrigin, path: string, origin: string | undefined): Record<string, string> {
  const a = allow(path, origin);
  return {
    ...(a !== '*' ? { vary: 'origin' } : {}),
    ...(a !== null ? { 'access-control-allow-origin': a } : {}),
    'access-control-expose-headers': `retry-after, www-authenticate, ${WAITED_HEADER}, ${REQUEST_ID_HEADER}`,
  };
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly metrics: PeerMetrics;
  readonly limits: HttpLimits;
  /** Admission counters, for tests and operators. */
  stats(): { connections: number; bodyBytesInFlight: number; inFlight: number; bundleGzip: GzipCacheStats };
  /** Ends pending long-polls, closes every connection, stops listening. Idempotent. */
  close(): Promise<void>;
}

/** How long browsers may cache a CORS preflight answer. */
const CORS_MAX_AGE_S = 600;

/** Longest URL path parameter the router accepts. */
export const URL_PARAM_CHARS_MAX = 256;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

/** Maps fastify's own request errors to API codes; null for an internal error. */
function mapFastifyError(err: FastifyError, limits: HttpLimits): { code: keyof typeof API_ERROR_STATUS; message: string } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'body_too_large', message: `request body larger than ${limits.bodyBytesMax} bytes (bodyBytesMax)` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', message: err.message };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'invalid_json', message: err.message };
  }
  if (err instanceof SyntaxError) return { code: 'invalid_json', message: `request body is not valid JSON: ${err.message}` };
  const status = err.statusCode ?? 500;
  if (status === 413) return { code: 'body_too_large', message: err.message };
  if (status === 415) return { code: 'unsupported_media_type', message: err.message };
  if (status >= 400 && status < 500) return { code: 'bad_request', message: err.message };
  return null;
}

/** A raw HTTP response for errors raised before fastify sees a request (slow or broken clients). */
function rawErrorResponse(status: number, reason: string, code: 'request_timeout' | 'bad_request', message: string): string {
  const body = JSON.stringify(errorBody(code, message));
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export async function startHttpServer(peer: Peer, opts: HttpServerOptions): Promise<HttpServer> {
  const limits = resolveHttpLimits(opts.limits);
  const metrics = createPeerMetrics(peer);
  const waiters = new FinalityWaiters(peer.events, limits.waitersMax);
  const bundleGzip = new BundleGzipCache(limits.bundleGzipCacheBytesMax);
  const log = opts.log ?? STDERR_LOG;
  const policyGate = buildGate(peer, opts, log);
  const gate = opts.gate ?? policyGate ?? allowAllGate();
  const restricted = gate.restricted === true;
  checkTransport({ host: opts.host, restricted, tls: opts.tls !== undefined, allowPlainHttp: opts.allowPlainHttp === true });
  const publicRequiresAuth = policyGate?.policy.publicRequiresAuth === true;
  const allowOrigin = corsAllowOrigin({ corsOrigins: opts.corsOrigins, restricted, publicRequiresAuth });
  const corsOf = (req: FastifyRequest): Record<string, string> =>
    corsHeaders(allowOrigin, (req.raw.url ?? req.url).split('?')[0]!, typeof req.headers.origin === 'string' ? req.headers.origin : undefined);
  const ctx: RouteContext = { peer, limits, waiters, metrics, authorizeRead: opts.authorizeRead ?? allowAll, gate, bundleGzip };
  const rate = new RateLimiter(limits.requestsPerSecondPerAddress, limits.requestBurstPerAddress, limits.addressesTrackedMax);
  const bodies = new BodyBudget(limits.bodyBytesInFlightMax, limits.bodyBytesInFlightPerAddressMax);
  let connections = () => 0;

  let server: Server | null = null;
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: limits.bodyBytesMax,
    forceCloseConnections: true,
    // The API closes before the peer (attach.ts), so requests arriving while it closes are still
    // served normally instead of getting fastify's non-API 503 body.
    return503OnClosing: false,
    // Hash, client and id parameters are at most 128 characters; longer ones answer 400 below.
    routerOptions: { maxParamLength: URL_PARAM_CHARS_MAX },
    // Errors the router raises before any route runs (malformed URL encoding, overlong parameter).
    frameworkErrors: (err, _req, reply) =>
      sendError(reply, 'bad_request', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a URL parameter is longer than ${URL_PARAM_CHARS_MAX} characters (URL_PARAM_CHARS_MAX)` : `malformed URL: ${err.message}`),
    // The Node server is built here so that every slow-client timeout is set on it, including
    // how often Node checks them (connectionsCheckingInterval, default 30 s, too coarse).
    serverFactory: (handler) => {
      const timeouts = {
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.requestTimeoutMs / 2))),
      };
      const h = handler as (req: IncomingMessage, res: ServerResponse) => void;
      const t = opts.tls;
      // HTTPS: the same timeouts and caps; a slow TLS handshake is bounded like a slow request.
      const s = (
        t === undefined
          ? createServer(timeouts, h)
          : createHttpsServer(
              {
                ...timeouts,
                cert: t.cert,
                key: t.key,
                handshakeTimeout: limits.requestTimeoutMs,
                minVersion: 'TLSv1.2',
                ...(t.ca !== undefined ? { ca: t.ca } : {}),
                ...(t.requestClientCert === true ? { requestCert: true, rejectUnauthorized: true } : {}),
              },
              h,
            )
      ) as Server;
      s.setTimeout(limits.connectionTimeoutMs);
      connections = capConnections(s, limits.connectionsMax, limits.connectionsPerAddressMax);
      server = s;
      return s;
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
        socket.destroy();
        return;
      }
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      socket.end(
        timeout
          ? rawErrorResponse(408, 'Request Timeout', 'request_timeout', `request not received within ${limits.requestTimeoutMs} ms (requestTimeoutMs)`)
          : rawErrorResponse(400, 'Bad Request', 'bad_request', `malformed HTTP request: ${err.code ?? err.message}`),
      );
    },
  });
  // Only JSON bodies are accepted (POST /v1/entries); text/plain would otherwise parse as a string.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app, limits, bodies);

  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    const wait = rate.take(clientAddress(req.raw.socket?.remoteAddress));
    if (wait !== null) {
      return sendError(reply, 'rate_limited', `this client address sends more than ${limits.requestsPerSecondPerAddress} requests per second (requestsPerSecondPerAddress, burst requestBurstPerAddress ${limits.requestBurstPerAddress}); retry later`, undefined, wait);
    }
    if (inFlight >= limits.inFlightMax) {
      return sendError(reply, 'too_many_requests', `${inFlight} requests in flight (inFlightMax ${limits.inFlightMax}); retry later`);
    }
    inFlight++;
    // 'close' fires once the response is sent or the connection died: exactly one decrement.
    reply.raw.once('close', () => {
      inFlight--;
    });
    watchClient(req, reply);
    return undefined;
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.observeHttp(req.routeOptions.url ?? 'unmatched', reply.statusCode);
  });
  // CORS: the client SDK and light verifier also run in browsers. Public routes (hashes and
  // signatures) may be read by any page. Restricted routes answer only pages of the listed
  // origins: otherwise any web page could read an intranet peer through a visitor's browser.
  // No cookies are involved (credentials are headers the page must hold), so no
  // Access-Control-Allow-Credentials.
  app.addHook('onSend', async (req, reply, payload) => {
    for (const [k, v] of Object.entries(corsOf(req))) {
      const prior = k === 'vary' ? reply.getHeader('vary') : undefined;
      reply.header(k, prior === undefined ? v : `${String(prior)}, ${v}`);
    }
    return payload;
  });
  app.options('*', async (_req, reply) =>
    reply
      .code(204)
      .header('access-control-allow-methods', 'GET, HEAD, POST')
      .header('access-control-allow-headers', 'content-type, accept, authorization, signature, signature-input, content-digest')
      .header('access-control-max-age', String(CORS_MAX_AGE_S))
      .send(),
  );
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      if (err.close) reply.header('connection', 'close');
      return sendError(reply, err.code, err.message, undefined, err.retryAfterS);
    }
    const m = mapFastifyError(err, limits);
    if (m !== null) return sendError(reply, m.code, m.message);
    // Internal errors (storage, bugs) may carry file paths, LevelDB messages or stacks: the answer
    // names only a request id, the details go to the log under that id.
    const requestId = randomUUID();
    log.error({ requestId, method: req.method, url: req.url, error: err.message, stack: err.stack }, 'http internal error');
    reply.header(REQUEST_ID_HEADER, requestId);
    return sendError(reply, 'internal', `internal error (request id ${requestId}); the details are in the peer's log`);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));

  registerEntryRoutes(app, ctx);
  registerLogRoutes(app, ctx);
  registerAuthRoutes(app, policyGate);
  registerStreamRoutes(app, ctx, corsOf);
  registerSearchRoutes(app, ctx);
  registerGovRoutes(app, ctx);
  registerUiRoutes(app);

  app.get('/v1/status', async (req, reply) => {
    if (!(await allowRead(ctx, req, reply, { kind: 'status' }))) return reply;
    const who = await gate.require(req, reply, 'read.status');
    if (who === null) return reply;
    if (!(await gate.recordRead(req, who, { action: 'cairn.read.status', resource: { type: 'status', id: 'status' } }))) {
      return sendError(reply, 'unavailable', 'the meta-audit queue is full and this peer fails closed: retry later');
    }
    // Typed as the wire shape so the SDK's StatusResponse cannot drift from PeerStatus unnoticed.
    const body: StatusResponse = peer.status();
    return reply.code(200).send(body);
  });
  app.get('/healthz', async (req, reply) => {
    if ((await gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const s = peer.status();
    if (s.problem !== null) return sendError(reply, 'unhealthy', s.problem);
    const body: HealthResponse = { ok: true, height: s.height, treeSize: s.treeSize, finalSize: s.finalSize };
    return reply.code(200).send(body);
  });
  app.get('/metrics', async (req, reply) => {
    if (!(await allowRead(ctx, req, reply, { kind: 'metrics' }))) return reply;
    const who = await gate.require(req, reply, 'read.metrics');
    if (who === null) return reply;
    if (!(await gate.recordRead(req, who, { action: 'cairn.read.metrics', resource: { type: 'metrics', id: 'metrics' } }))) {
      return sendError(reply, 'unavailable', 'the meta-audit queue is full and this peer fails closed: retry later');
    }
    metrics.setInFlight(inFlight);
    metrics.setWaiters(waiters.size);
    return reply.code(200).type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Known paths with a wrong method answer 405, not 404.
  const allowed: Record<string, string[]> = {
    '/v1/entries': ['POST'],
    '/v1/entries/:hash': ['GET'],
    '/v1/entries/by-id/:client/:id': ['GET'],
    '/checkpoint': ['GET'],
    '/tile/*': ['GET'],
    '/v1/proofs/consistency': ['GET'],
    '/v1/status': ['GET'],
    '/healthz': ['GET'],
    '/metrics': ['GET'],
    '/v1/auth/token': ['POST'],
    '/v1/auth/whoami': ['GET'],
    ...SEARCH_ROUTE_METHODS,
    ...GOV_ROUTE_METHODS,
    ...STREAM_ROUTE_METHODS,
  };
  for (const [url, ok] of Object.entries(allowed)) {
    const other = METHODS.filter((m) => !ok.includes(m));
    app.route({
      method: other,
      url,
      handler: async (_req, reply) => sendError(reply.header('allow', ok.join(', ')), 'method_not_allowed', `${url} allows ${ok.join(', ')}`),
    });
  }

  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    // e.g. EADDRINUSE: leave nothing attached to the peer.
    waiters.close();
    metrics.close();
    await app.close().catch(() => undefined);
    throw e;
  }
  const addr = (server as Server | null)?.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | null = null;
  return {
    url: `${opts.tls !== undefined ? 'https' : 'http'}://${hostPart}:${port}`,
    port,
    metrics,
    limits,
    stats: () => ({ connections: connections(), bodyBytesInFlight: bodies.bytes, inFlight, bundleGzip: bundleGzip.stats() }),
    close: () => {
      closing ??= (async () => {
        waiters.close();
        await app.close();
        metrics.close();
      })();
      return closing;
    },
  };
}
