// HTTP plumbing of the CLI commands that talk to a peer (`submit`, `get`, `receipt`, `status`,
// `verify --peer`, `audit`): URL checking, a deadline on every request, bounded response bodies
// and one-line errors that say which peer and what went wrong ("connection refused", "HTTP 404:
// entry_not_found: ..."). Bodies of error responses follow docs/api.md:
// {"error": {"code", "message", "field"?}}.
import { concatBytes } from '../../src/encoding/bytes.js';
import { credentialHeaders, type CliCredential } from './credentials.js';
import { CliError, EXIT_FAILURE, usageError } from './io.js';

/** Default deadline of one request, in milliseconds (long-polls add their own wait on top). */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
/** Largest JSON response read (a 1,000-entry submit answer, a status document). */
export const JSON_RESPONSE_BYTES_MAX = 8 * 1024 * 1024;
/** Longest peer URL accepted. */
export const PEER_URL_CHARS_MAX = 2048;

/** Parses a peer base URL (http or https, no query or fragment); returns it without a trailing slash. */
export function parsePeerUrl(text: string): string {
  if (typeof text !== 'string' || text.length === 0 || text.length > PEER_URL_CHARS_MAX) {
    throw usageError(`invalid peer URL: must be 1..${PEER_URL_CHARS_MAX} characters (PEER_URL_CHARS_MAX), e.g. http://127.0.0.1:8401`);
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw usageError(`invalid peer URL ${JSON.stringify(text)}: expected e.g. http://127.0.0.1:8401`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw usageError(`invalid peer URL ${JSON.stringify(text)}: the scheme must be http or https`);
  }
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw usageError(`invalid peer URL ${JSON.stringify(text)}: no query, fragment or credentials allowed`);
  }
  return u.toString().replace(/\/+$/, '');
}

/** Why fetch failed, in a few words ("connection refused"), from undici's error cause chain. */
function networkReason(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur !== undefined && cur !== null; depth++) {
    const err = cur as { name?: string; code?: string; message?: string; cause?: unknown };
    if (err.name === 'TimeoutError') return 'timed out';
    switch (err.code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ECONNRESET':
        return 'connection reset';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'host not found';
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return 'host unreachable';
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'connection timed out';
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return 'timed out';
      case 'UND_ERR_SOCKET':
        return 'connection closed by the peer';
      default:
    }
    cur = err.cause;
  }
  const m = (e as Error)?.message ?? String(e);
  return m === 'fetch failed' ? 'network error' : m;
}

export interface PeerRequest {
  method?: 'GET' | 'POST';
  accept?: string;
  body?: string;
  /** Deadline for the whole request, body included. */
  timeoutMs?: number;
  /** Largest body read; a larger one is an error naming `limitName`. */
  bytesMax?: number;
  limitName?: string;
  /** Credential for peers that restrict reads (credentials.ts); none: an anonymous request. */
  auth?: CliCredential | null;
}

export interface PeerResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
  url: string;
  /** The Retry-After header (seconds), if any. */
  retryAfter: string | null;
}

async function readBodyBounded(res: Response, bytesMax: number, limitName: string, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > bytesMax) {
    await res.body?.cancel().catch(() => undefined);
    throw new CliError(EXIT_FAILURE, `${url}: response of ${declared} bytes exceeds ${bytesMax} bytes (${limitName})`);
  }
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let len = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    len += value.length;
    if (len > bytesMax) {
      await reader.cancel().catch(() => undefined);
      throw new CliError(EXIT_FAILURE, `${url}: response larger than ${bytesMax} bytes (${limitName})`);
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}

/**
 * One request to `base` + `path`. Network failures and timeouts become one-line CliErrors
 * ("cannot reach peer <url>: connection refused"); every HTTP status is returned to the caller.
 */
export async function peerRequest(base: string, path: string, req: PeerRequest = {}): Promise<PeerResponse> {
  const url = `${base}${path}`;
  const timeoutMs = req.timeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  const headers: Record<string, string> = {};
  if (req.accept !== undefined) headers['accept'] = req.accept;
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  // The exact bytes sent, so a signature's content digest covers what the peer receives.
  const sent = req.body === undefined ? undefined : new TextEncoder().encode(req.body);
  const method = req.method ?? 'GET';
  Object.assign(headers, credentialHeaders(req.auth, method, url, sent));
  try {
    const res = await fetch(url, {
      method,
      headers,
      ...(sent !== undefined ? { body: sent as Uint8Array<ArrayBuffer> } : {}),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const body = await readBodyBounded(res, req.bytesMax ?? JSON_RESPONSE_BYTES_MAX, req.limitName ?? 'JSON_RESPONSE_BYTES_MAX', url);
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body, url, retryAfter: res.headers.get('retry-after') };
  } catch (e) {
    if (e instanceof CliError) throw e;
    const reason = networkReason(e);
    throw new CliError(EXIT_FAILURE, `cannot reach peer ${base}: ${reason === 'timed out' ? `no answer within ${timeoutMs} ms` : reason} (${req.method ?? 'GET'} ${path})`);
  }
}

/** The `{"error": {...}}` body of a failed request, if it has one. */
export function apiError(res: PeerResponse): { code: string; message: string; field?: string; reason?: string } | null {
  try {
    const j = JSON.parse(new TextDecoder().decode(res.body)) as { error?: { code?: unknown; message?: unknown; field?: unknown; reason?: unknown } };
    const e = j?.error;
    if (e && typeof e.code === 'string') {
      // Control characters from an untrusted peer never reach the terminal.
      const clean = (v: string) => v.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 500);
      return {
        code: clean(e.code),
        message: typeof e.message === 'string' ? clean(e.message) : '',
        ...(typeof e.field === 'string' ? { field: clean(e.field) } : {}),
        ...(typeof e.reason === 'string' ? { reason: clean(e.reason) } : {}),
      };
    }
  } catch {
    // not JSON: described by status alone
  }
  return null;
}

/**
 * "HTTP 404 from <url>: entry_not_found: no such entry (field x)". Refusals by the peer's access
 * policy lead with what to fix: "unauthenticated: signature_expired: ... (HTTP 401 from <url>)".
 */
export function describeHttpFailure(res: PeerResponse): string {
  const e = apiError(res);
  if (res.status === 401 || (e !== null && (e.code === 'unauthenticated' || e.code === 'forbidden'))) {
    const code = e?.code ?? 'unauthenticated';
    const reason = e?.reason !== undefined && e.reason !== code ? `${e.reason}: ` : '';
    const hint = res.status === 401 && e?.reason === 'credentials_missing' ? ' (give --token, --token-file or --auth-key)' : '';
    return `${code}: ${reason}${e?.message || 'credentials refused'}${hint} (HTTP ${res.status} from ${res.url})`;
  }
  if (e === null) return `HTTP ${res.status} from ${res.url}`;
  return `HTTP ${res.status} from ${res.url}: ${e.code}${e.message ? `: ${e.message}` : ''}${e.field ? ` (field ${e.field})` : ''}`;
}

/** Parses a JSON body; a body that is not JSON is a failure naming the URL. */
export function jsonBody<T = unknown>(res: PeerResponse): T {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(res.body)) as T;
  } catch {
    throw new CliError(EXIT_FAILURE, `${res.url}: the peer answered with a body that is not JSON (HTTP ${res.status})`);
  }
}

/** GET a JSON document; any status other than 200 is a failure with the API's error code. */
export async function getJson<T = unknown>(base: string, path: string, req: PeerRequest = {}): Promise<T> {
  const res = await peerRequest(base, path, { accept: 'application/json', ...req });
  if (res.status !== 200) throw new CliError(EXIT_FAILURE, describeHttpFailure(res));
  return jsonBody<T>(res);
}

/** Parses "--timeout" style durations: "10s", "500ms", "2m" or a bare number of seconds. */
export function parseDurationMs(text: string, what: string, maxMs: number): number {
  const m = /^(\d{1,9})(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw usageError(`invalid ${what} ${JSON.stringify(text)}: use e.g. 500ms, 10s or 2m`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms > maxMs) throw usageError(`${what} ${text} exceeds ${maxMs} ms`);
  return ms;
}
