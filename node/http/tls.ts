// HTTPS for the peer's API: the certificate and key come from files named in the peer config
// (`auth.tls`), optionally with a CA that client certificates must chain to. And the rule that
// keeps restricted content off the wire in clear text: with an access policy, plain HTTP is served
// only on a loopback address, unless the config says `allowPlainHttp: true` (a TLS-terminating
// proxy on the same host, for example).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { PeerError } from '../peer/errors.js';

/** PEM material for the HTTPS server. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** CA certificates that client certificates must chain to (with requestClientCert). */
  ca?: string;
  /**
   * Ask every client for a certificate signed by `ca` and refuse the connection without one
   * (mutual TLS as an extra transport-level fence; who the caller is still comes from its
   * bearer token or HTTP signature).
   */
  requestClientCert?: boolean;
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
  requestClientCert?: boolean;
}

/** Largest certificate, key or CA file read, in bytes. */
export const TLS_FILE_BYTES_MAX = 256 * 1024;

async function readPem(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PeerError('config_bad_tls', `cannot read TLS ${what} ${path}: ${(e as Error).message}`, `auth.tls.${what}`);
  }
  if (text.length > TLS_FILE_BYTES_MAX) throw new PeerError('config_bad_tls', `TLS ${what} ${path} is larger than ${TLS_FILE_BYTES_MAX} bytes`, `auth.tls.${what}`);
  if (!text.includes('-----BEGIN ')) throw new PeerError('config_bad_tls', `TLS ${what} ${path} is not PEM`, `auth.tls.${what}`);
  return text;
}

export async function loadTls(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([readPem(files.cert, 'cert'), readPem(files.key, 'key'), files.ca === undefined ? undefined : readPem(files.ca, 'ca')]);
  if (files.requestClientCert === true && ca === undefined) {
    throw new PeerError('config_bad_tls', 'requestClientCert needs a ca file (the CA client certificates must chain to)', 'auth.tls.ca');
  }
  return { cert, key, ...(ca !== undefined ? { ca } : {}), ...(files.requestClientCert === true ? { requestClientCert: true } : {}) };
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Refuses, at start, to serve an access policy's restricted content in clear text on an address
 * other hosts can reach. Throws PeerError config_plain_http (the process exits 2 with one line).
 */
export function checkTransport(o: { host: string; restricted: boolean; tls: boolean; allowPlainHttp: boolean }): void {
  if (!o.restricted || o.tls || o.allowPlainHttp || isLoopbackHost(o.host)) return;
  throw new PeerError(
    'config_plain_http',
    `refusing to serve restricted content over plain HTTP on ${o.host}: configure auth.tls (cert and key), listen on a loopback address, or set auth.allowPlainHttp: true (e.g. behind a TLS-terminating proxy on this host)`,
    'http',
  );
}
