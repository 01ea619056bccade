// Wires the HTTP API into the peer process (node/peer/main.ts): one call after the peer started,
//
//   const http = await attachHttp(peer, config.http, log);
//
// starts the API on the configured "host:port" (nothing when it is null) and makes peer.stop()
// close the HTTP server first, so pending long-polls end and no request reaches a closed store.
import type { Peer } from '../peer/peer.js';
import { PeerError } from '../peer/errors.js';
import type { HttpLimits } from './limits.js';
import { startHttpServer, type HttpServer } from './server.js';

export interface AttachLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  /** Details of internal errors (500 answers carry only a request id); stderr when absent. */
  error?(fields: Record<string, unknown>, msg: string): void;
}

/** Splits the config's "host:port" (validated by node/peer/config.ts); throws PeerError config_bad_http. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i);
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !/^\d{1,5}$/.test(s.slice(i + 1)) || port > 65535) throw new PeerError('config_bad_http', `http must be "host:port", got ${JSON.stringify(s)}`, 'http');
  return { host, port };
}

export async function attachHttp(peer: Peer, http: string | null, log?: AttachLogger, limits?: Partial<HttpLimits>): Promise<HttpServer | null> {
  if (http === null) return null;
  const { host, port } = parseHostPort(http);
  const errorLog = log?.error?.bind(log);
  const server = await startHttpServer(peer, { host, port, ...(limits ? { limits } : {}), ...(errorLog ? { log: { error: errorLog } } : {}) });
  const stopPeer = peer.stop.bind(peer);
  peer.stop = async () => {
    await server.close();
    await stopPeer();
  };
  log?.info({ http: server.url }, 'http api listening');
  return server;
}
