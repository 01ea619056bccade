// In-process peers with their HTTP API: the in-process cluster helper (test/peer-support/cluster.ts)
// plus startHttpServer on 127.0.0.1:0 for each started peer.
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../../node/http/server.js';
import { makeCluster, type Cluster } from '../../peer-support/cluster.js';
import type { BuildGenesisInput } from '../../../node/peer/genesis.js';

export interface HttpCluster extends Cluster {
  http: (HttpServer | null)[];
  /** Starts peer i and its HTTP API (extra options for the API). */
  startWithHttp(i: number, opts?: Partial<HttpServerOptions>): Promise<HttpServer>;
}

export async function makeHttpCluster(n: number, opts: { clients?: number; limits?: BuildGenesisInput['limits']; label?: string } = {}): Promise<HttpCluster> {
  const c = await makeCluster(n, opts);
  const http: (HttpServer | null)[] = new Array(n).fill(null);
  const close = c.close.bind(c);
  const hc: HttpCluster = Object.assign(c, {
    http,
    async startWithHttp(i: number, o: Partial<HttpServerOptions> = {}) {
      const p = c.peers[i] ?? (await c.start(i));
      const s = await startHttpServer(p, { host: '127.0.0.1', port: 0, ...o });
      http[i] = s;
      return s;
    },
    async close() {
      await Promise.all(http.map((s) => s?.close()));
      await close();
    },
  });
  return hc;
}

/** fetch + JSON/text body, never throws on HTTP errors. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let json: any = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export function postJson(url: string, body: unknown): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  return call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
