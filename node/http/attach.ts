// Wires the HTTP API into the peer process (node/peer/main.ts): one call after the peer started,
//
//   const http = await attachHttp(peer, config.http, log);
//
// starts the API on the configured "host:port" (nothing when it is null) and makes peer.stop()
// close the HTTP server first, so pending long-polls end and no request reaches a closed store.
import type { Peer } from '../peer/peer.js';
import { PeerError } from '../peer/errors.js';
import { createHash } from 'node:crypto';
import type { PeerAuthConfig } from '../peer/config.js';
import { loadPolicyFile } from '../auth/policy-file.js';
import type { MetaAudit } from './access-gate.js';
import type { HttpLimits } from './limits.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';
import { checkTransport, loadTls } from './tls.js';

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

/** Access control for attachHttp: the config's `auth` section, plus what only the process has. */
export interface AttachAccess {
  auth: PeerAuthConfig | null;
  /** The organization's signing seed: the key that signs peer tokens is derived from it, so tokens survive a restart. */
  signingSeed?: Uint8Array;
  /** Where restricted reads and denials are recorded (node/meta-audit). */
  metaAudit?: MetaAudit;
}

/** Key for peer tokens, derived (domain-separated) from the organization's seed: never the seed itself. */
export function tokenSeedFrom(signingSeed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('cairn/auth-token-key/v1\0').update(signingSeed).digest());
}

/**
 * Checks the auth section before anything starts (plain HTTP off loopback with a policy is refused)
 * and reads the policy and TLS files. Throws PeerError (the process exits 2 with one line).
 */
export async function prepareHttpAccess(http: string | null, a: AttachAccess | undefined): Promise<Partial<HttpServerOptions>> {
  const auth = a?.auth ?? null;
  if (http === null || auth === null) return a?.metaAudit ? { metaAudit: a.metaAudit } : {};
  const { host } = parseHostPort(http);
  checkTransport({ host, restricted: auth.policy !== null, tls: auth.tls !== null, allowPlainHttp: auth.allowPlainHttp });
  const out: Partial<HttpServerOptions> = { corsOrigins: auth.corsOrigins, allowPlainHttp: auth.allowPlainHttp };
  if (auth.tls !== null) out.tls = await loadTls(auth.tls);
  if (auth.policy !== null) {
    out.auth = { policy: await loadPolicyFile(auth.policy), ...(a?.signingSeed ? { tokenSeed: tokenSeedFrom(a.signingSeed) } : {}) };
  }
  if (a?.metaAudit) out.metaAudit = a.metaAudit;
  return out;
}

export async function attachHttp(peer: Peer, http: string | null, log?: AttachLogger, limits?: Partial<HttpLimits>, access?: AttachAccess): Promise<HttpServer | null> {
  if (http === null) return null;
  const { host, port } = parseHostPort(http);
  const errorLog = log?.error?.bind(log);
  const extra = await prepareHttpAccess(http, access);
  const server = await startHttpServer(peer, { host, port, ...extra, ...(limits ? { limits } : {}), ...(errorLog ? { log: { error: errorLog } } : {}) });
  const stopPeer = peer.stop.bind(peer);
  peer.stop = async () => {
    await server.close();
    await stopPeer();
  };
  log?.info({ http: server.url, accessControl: extra.auth !== undefined, tls: extra.tls !== undefined }, 'http api listening');
  return server;
}
