// Minimal HTTP/1.1 client for the bench (node:http with keep-alive): lower and steadier overhead
// than fetch at thousands of requests per second, and every request has a deadline. Loopback only:
// the bench refuses any URL whose host is not 127.0.0.1 / localhost.
import { Agent, request } from 'node:http';
import type { BenchCredentials } from './auth.js';

/** Largest response body read (an entry bundle is at most 256 × 65,537 bytes). */
export const RESPONSE_BYTES_MAX = 32 * 1024 * 1024;

export interface HttpResult {
  status: number;
  body: Buffer;
}

export function checkLoopback(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:' || !(u.hostname === '127.0.0.1' || u.hostname === 'localhost')) {
    throw new Error(`bench traffic goes to 127.0.0.1 only, refusing ${url}`);
  }
  return u;
}

type RequestOpts = { method?: string; body?: string | Buffer; contentType?: string; accept?: string; timeoutMs?: number; headers?: Record<string, string> };

export class BenchHttp {
  private readonly agent: Agent;
  /** Credentials added to each request when the peers run with an access policy (bench --auth). */
  credentials: BenchCredentials | null = null;
  constructor(maxSockets = 32) {
    // Idle sockets are closed after 2 s, before the server's keep-alive timeout (5 s) would.
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 2_000 });
  }

  /**
   * One request. A request that fails before any response on a reused keep-alive socket (the
   * server closed it while idle: ECONNRESET / EPIPE) is sent once more on a new socket; Cairn
   * submissions are idempotent (a re-sent entry is answered known-pending), reads are safe.
   */
  async request(url: string, opts: RequestOpts = {}): Promise<HttpResult> {
    try {
      return await this.once(url, opts);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ECONNRESET' && code !== 'EPIPE') throw e;
      return this.once(url, opts);
    }
  }

  private async once(url: string, opts: RequestOpts, withCredentials = true): Promise<HttpResult> {
    const u = checkLoopback(url);
    const method = opts.method ?? 'GET';
    // Signed per attempt: a retry carries a fresh nonce.
    const auth = this.credentials === null || !withCredentials ? {} : await this.credentials.headers(method, url, opts.body === undefined ? undefined : typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}), ...auth };
      if (opts.body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        headers['content-length'] = Buffer.byteLength(opts.body);
      }
      if (opts.accept !== undefined) headers.accept = opts.accept;
      const req = request(
        { agent: this.agent, hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, headers },
        (res) => {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n > RESPONSE_BYTES_MAX) {
              req.destroy(new Error(`response larger than ${RESPONSE_BYTES_MAX} bytes (RESPONSE_BYTES_MAX)`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`request to ${url} timed out after ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });
  }

  /** A request without the credentials (used by BenchCredentials itself to fetch tokens). */
  raw(url: string, opts: RequestOpts): Promise<HttpResult> {
    return this.once(url, opts, false);
  }

  async json<T>(url: string, timeoutMs = 10_000): Promise<{ status: number; value: T | null }> {
    const r = await this.request(url, { timeoutMs });
    try {
      return { status: r.status, value: JSON.parse(r.body.toString('utf8')) as T };
    } catch {
      return { status: r.status, value: null };
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
