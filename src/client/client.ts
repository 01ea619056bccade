// The Cairn client SDK (portable: only `fetch`, runs in Node 20+ and browsers). Talks to one peer's
// HTTP API (docs/api.md): submit signed entries, wait for finality, fetch receipts and verify them
// offline with the light verifier (src/verifier) — the peer is not trusted for the verdict.
import { signRequest, SignRequestError } from '../auth/sign.js';
import { nobleSigner } from '../crypto/noble.js';
import type { Ed25519Signer } from '../crypto/types.js';
import { bytesEqual, fromBase64, toHex } from '../encoding/bytes.js';
import { signEntry, EntrySignError } from '../entry/sign.js';
import { entryLeaf } from '../entry/leaf.js';
import type { AuditEntry, UnsignedEntry } from '../entry/types.js';
import { entryBundlePath, tilePath, TILE_WIDTH } from '../merkle/tiles.js';
import type { TrustRoot } from '../verifier/trust.js';
import { verifyInclusion, verifyReceipt as lightVerifyReceipt, type VerifyOptions } from '../verifier/verify.js';
import { readBounded } from './read-body.js';
import {
  CHECKPOINT_MAX_BYTES,
  CONSISTENCY_MAX_BYTES,
  ENTRY_RESPONSE_MAX_BYTES,
  entryBundleMaxBytes,
  RECEIPT_MAX_BYTES,
  searchPageMaxBytes,
  SMALL_JSON_MAX_BYTES,
  SUBMIT_RESPONSE_MAX_BYTES,
  tileMaxBytes,
} from './response-caps.js';
import { CairnApiError } from './errors.js';
import { searchPages, type SearchIterOptions, type SearchPageResult } from './search.js';
import type { SearchFilter } from '../search/fields.js';
import {
  SUBMIT_ARRAY_MAX,
  type ConsistencyResponse,
  type EntryResponse,
  type HealthResponse,
  type StatusResponse,
  type SubmitBatchResponse,
  type SubmitItem,
} from './types.js';

export interface CairnClientOptions {
  /** Base URL of a peer, e.g. http://127.0.0.1:8080 (a trailing slash is ignored). */
  url: string;
  /** fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout for ordinary requests (not long-polls), default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Who the client is, for peers whose policy restricts reads (docs/access-control.md). */
  credentials?: CairnCredentials;
}

/**
 * Credentials sent with every request: a bearer token (an OpenID Connect token from the
 * organization's identity provider, or a peer token from `authToken()`), or an Ed25519 key named
 * in the peer's policy that signs every request (RFC 9421: method, target URI, content digest of
 * any body, created time and a fresh nonce). A signing key never leaves the client.
 */
export type CairnCredentials =
  | { token: string }
  | { signingKey: { name: string; seed: Uint8Array } | { name: string; signer: Ed25519Signer } };

/** GET /v1/auth/whoami. */
export interface WhoamiResponse {
  /** `<issuer>#<subject>`, `key:<name>` or `anonymous`. */
  principal: string;
  kind: 'anonymous' | 'oidc' | 'key' | 'token';
  /** False when the peer has no access policy (every route is open). */
  accessControl?: boolean;
  /** Each role in force, with its kind and its scope expression (CEL; `true` = every entry). */
  roles: { name: string; kind: string; scope: string }[];
  /** Roles the credential's claims map to but that need MFA evidence it lacks. */
  rolesMissingMfa?: string[];
  /** `full`: every entry the peer serves; `scoped`: only entries matching the roles' scopes. */
  scope: string;
  sharing?: string;
  /** When the credential stops being valid (seconds since epoch). */
  expiresAt?: number;
}

/** POST /v1/auth/token. */
export interface AuthTokenResponse {
  token: string;
  /** Seconds since epoch. */
  expiresAt: number;
  roles?: string[];
}

/** Longest bearer token the SDK sends (the peer accepts 4,096-character peer tokens; JWTs vary). */
export const TOKEN_CHARS_MAX = 16 * 1024;
/** Signature key names as the peer's policy spells them (the RFC 9421 keyid). */
const KEY_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

type Authorizer = (method: string, url: string, body: Uint8Array | undefined) => Record<string, string>;

/** Checks credentials once, at construction, and returns what adds them to each request. */
export function credentialHeaders(c: CairnCredentials | undefined): Authorizer | null {
  if (c === undefined) return null;
  if (c !== null && typeof c === 'object' && 'token' in c) {
    const t = c.token;
    // A header value: visible ASCII only, so a stray newline cannot split the request.
    if (typeof t !== 'string' || t.length === 0 || t.length > TOKEN_CHARS_MAX || !/^[\x21-\x7e]+$/.test(t)) {
      throw new CairnApiError('bad_request', `credentials.token must be 1..${TOKEN_CHARS_MAX} visible ASCII characters`);
    }
    const h = { authorization: `Bearer ${t}` };
    return () => h;
  }
  if (c !== null && typeof c === 'object' && 'signingKey' in c && c.signingKey !== null && typeof c.signingKey === 'object') {
    const k = c.signingKey;
    if (typeof k.name !== 'string' || !KEY_NAME_RE.test(k.name)) {
      throw new CairnApiError('bad_request', 'credentials.signingKey.name must be a key name of the peer policy: [a-z0-9][a-z0-9._-]{0,63}');
    }
    let signer: Ed25519Signer;
    try {
      signer = 'signer' in k ? k.signer : nobleSigner(k.seed);
    } catch (e) {
      throw new CairnApiError('bad_request', `credentials.signingKey: ${(e as Error).message}`);
    }
    const keyid = k.name;
    return (method, url, body) => {
      try {
        return signRequest({ method, url, ...(body !== undefined ? { body } : {}) }, { keyid, signer });
      } catch (e) {
        if (e instanceof SignRequestError) throw new CairnApiError('bad_request', e.message);
        throw e;
      }
    };
  }
  throw new CairnApiError('bad_request', 'credentials must be { token } or { signingKey: { name, seed } }');
}

export interface WaitOptions {
  /** Give up after this long (default 30,000 ms). */
  timeoutMs?: number;
}

/** Longest single long-poll the SDK asks for; it re-polls until its own deadline. */
export const LONG_POLL_MS_MAX = 25_000;
const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
const WAIT_TIMEOUT_MS_DEFAULT = 30_000;
const WAIT_MANY_CONCURRENCY_DEFAULT = 32;
/** Slack added to a long-poll's fetch timeout over the server-side wait. */
const LONG_POLL_SLACK_MS = 5_000;
/** Immediate retries of a GET after a connection-level failure. */
const GET_RETRIES_MAX = 1;
const HEX64_RE = /^[0-9a-f]{64}$/;

/** A successful submit result. */
export type SubmitOk = Extract<SubmitItem, { status: string }>;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isSubmitItem(v: unknown): v is SubmitItem {
  if (!isObject(v)) return false;
  if (isObject(v.error)) return typeof v.error.code === 'string' && typeof v.error.message === 'string';
  return typeof v.status === 'string' && typeof v.leafHash === 'string';
}

function isEntryResponse(v: unknown): v is EntryResponse {
  return isObject(v) && typeof v.leafHash === 'string' && typeof v.status === 'string' && typeof v.leaf === 'string' && isObject(v.entry);
}

export class CairnClient {
  readonly url: string;
  private readonly fetchFn: typeof fetch;
  private readonly requestTimeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly authorize: Authorizer | null;

  constructor(opts: CairnClientOptions) {
    if (typeof opts?.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new CairnApiError('bad_request', 'url must be an http(s) URL');
    this.url = opts.url.replace(/\/+$/, '');
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new CairnApiError('network_error', 'no fetch implementation available');
    this.fetchFn = f.bind(globalThis);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
    this.headers = { ...(opts.headers ?? {}) };
    this.authorize = credentialHeaders(opts.credentials);
  }

  /** One request; resolves with the status and body text, throws CairnApiError on transport failure. */
  private async request(path: string, init: { method?: string; body?: string; accept?: string; timeoutMs?: number; cap?: number } = {}): Promise<{ status: number; text: string; bytes?: Uint8Array }> {
    const headers: Record<string, string> = { ...this.headers, accept: init.accept ?? 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = init.timeoutMs ?? this.requestTimeoutMs;
    const method = init.method ?? 'GET';
    // The exact bytes sent, so a signature's content digest covers what the peer receives.
    const body = init.body === undefined ? undefined : new TextEncoder().encode(init.body);
    let res: Response | null = null;
    // A GET is idempotent: one immediate retry covers a pooled keep-alive connection that the
    // server closed just as it was reused. POSTs are not retried (the caller decides; a retried
    // submission would anyway answer known-pending).
    for (let attempt = 0; res === null; attempt++) {
      // Signed afresh on every attempt: each signature carries its own nonce and created time.
      const auth = this.authorize === null ? {} : this.authorize(method, this.url + path, body);
      try {
        res = await this.fetchFn(this.url + path, {
          method,
          headers: { ...headers, ...auth },
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        const name = (e as Error)?.name;
        if (name === 'TimeoutError' || name === 'AbortError') throw new CairnApiError('timeout', `no answer from ${this.url}${path} within ${timeoutMs} ms`);
        if (method !== 'GET' || attempt >= GET_RETRIES_MAX) throw new CairnApiError('network_error', `${this.url}${path}: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    // What this route can legitimately answer (response-caps.ts). An error answer is small JSON on
    // most routes, but may carry the route's own results (an array submit refused entry by entry),
    // so it gets the larger of the two (a partial tile's cap may be smaller than its 404 body).
    const cap = res.status >= 200 && res.status < 300 ? (init.cap ?? SMALL_JSON_MAX_BYTES) : Math.max(init.cap ?? 0, SMALL_JSON_MAX_BYTES);
    let raw: Uint8Array;
    try {
      raw = await readBounded(res, cap, this.url + path);
    } catch (e) {
      if (e instanceof CairnApiError) throw e;
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new CairnApiError('timeout', `no full answer from ${this.url}${path} within ${timeoutMs} ms`);
      throw new CairnApiError('network_error', `${this.url}${path}: ${(e as Error)?.message ?? String(e)}`);
    }
    if (init.accept === 'application/octet-stream' && res.status === 200) return { status: res.status, text: '', bytes: raw };
    return { status: res.status, text: new TextDecoder().decode(raw) };
  }

  /** Throws the API's error from an error response (or bad_response when it has none). */
  private fail(status: number, text: string): never {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isObject(body) && isObject(body.error) && typeof body.error.code === 'string') {
      const e = body.error;
      throw new CairnApiError(e.code as string, typeof e.message === 'string' ? e.message : '', status, typeof e.field === 'string' ? e.field : undefined);
    }
    throw new CairnApiError('bad_response', `HTTP ${status} without an API error body: ${text.slice(0, 200)}`, status);
  }

  private json(status: number, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new CairnApiError('bad_response', `HTTP ${status} with a body that is not JSON`, status);
    }
  }

  /**
   * Submits one signed entry (resolves to its result; an error result throws CairnApiError) or an
   * array of up to 1,000 (resolves to per-entry results, errors included; only errors about the
   * request as a whole throw).
   */
  submit(entry: AuditEntry): Promise<SubmitOk>;
  submit(entries: AuditEntry[]): Promise<SubmitItem[]>;
  async submit(input: AuditEntry | AuditEntry[]): Promise<SubmitItem | SubmitItem[]> {
    if (Array.isArray(input) && input.length > SUBMIT_ARRAY_MAX) {
      throw new CairnApiError('too_many_entries', `${input.length} entries; at most ${SUBMIT_ARRAY_MAX} per request (SUBMIT_ARRAY_MAX)`, 0);
    }
    const { status, text } = await this.request('/v1/entries', { method: 'POST', body: JSON.stringify(input), cap: SUBMIT_RESPONSE_MAX_BYTES });
    if (!Array.isArray(input)) {
      if (status !== 200 && status !== 202) this.fail(status, text);
      const body = this.json(status, text);
      if (!isSubmitItem(body) || 'error' in body) throw new CairnApiError('bad_response', 'submit answer is not a result', status);
      return body;
    }
    const body = this.json(status, text) as Partial<SubmitBatchResponse>;
    if (!Array.isArray(body?.results)) this.fail(status, text);
    if (body.results.length !== input.length || !body.results.every(isSubmitItem)) {
      throw new CairnApiError('bad_response', `expected ${input.length} results`, status);
    }
    return body.results;
  }

  /** Signs `unsigned` with `signer` (client key = signer's public key) and submits it. */
  async signAndSubmit(unsigned: UnsignedEntry, signer: Ed25519Signer): Promise<{ entry: AuditEntry; leafHash: string; status: 'accepted' | 'known-pending' | 'known-final' }> {
    let entry: AuditEntry;
    try {
      entry = signEntry(unsigned, signer);
    } catch (e) {
      if (e instanceof EntrySignError) {
        // entry_invalid (with the validator's errors) or client_mismatch (entry.client is not the signer's key).
        const field = e.code === 'client_mismatch' ? 'client' : e.errors[0]?.field;
        throw new CairnApiError('invalid_entry', e.message, 0, field);
      }
      throw e;
    }
    const r = await this.submit(entry);
    return { entry, leafHash: r.leafHash, status: r.status };
  }

  private static entryPath(key: string | { client: string; id: string }): string {
    if (typeof key === 'string') {
      if (!HEX64_RE.test(key)) throw new CairnApiError('bad_request', 'leaf hash must be 64 lowercase hex digits', 0, 'hash');
      return `/v1/entries/${key}`;
    }
    return `/v1/entries/by-id/${encodeURIComponent(key.client)}/${encodeURIComponent(key.id)}`;
  }

  /** The entry by leaf hash or by (client, id): pending, logged or final (with proof and checkpoint). */
  async getEntry(key: string | { client: string; id: string }): Promise<EntryResponse> {
    const { status, text } = await this.request(CairnClient.entryPath(key), { cap: ENTRY_RESPONSE_MAX_BYTES });
    if (status !== 200) this.fail(status, text);
    const body = this.json(status, text);
    if (!isEntryResponse(body)) throw new CairnApiError('bad_response', 'entry answer has an unexpected shape', status);
    return body;
  }

  /**
   * Long-polls until the entry is final; resolves with it (index, proof, checkpoint). Throws
   * CairnApiError `timeout` when it is not final by `timeoutMs`, `entry_not_found` when the peer
   * still does not know the entry at that point.
   */
  async waitFinal(key: string | { client: string; id: string }, opts: WaitOptions = {}): Promise<EntryResponse> {
    return this.longPoll(key, 'application/json', opts.timeoutMs ?? WAIT_TIMEOUT_MS_DEFAULT, (status, text) => {
      const body = this.json(status, text);
      if (!isEntryResponse(body)) throw new CairnApiError('bad_response', 'entry answer has an unexpected shape', status);
      return body.status === 'final' ? body : null;
    });
  }

  /**
   * waitFinal for many entries with at most `concurrency` long-polls at a time (default 32, well
   * under a peer's waitersMax), so a bulk submitter does not trip 429 too_many_waiters. Resolves in
   * input order; the first failure rejects (with its CairnApiError) after the others settle.
   */
  async waitFinalMany(keys: (string | { client: string; id: string })[], opts: WaitOptions & { concurrency?: number } = {}): Promise<EntryResponse[]> {
    const concurrency = Math.max(1, Math.min(opts.concurrency ?? WAIT_MANY_CONCURRENCY_DEFAULT, keys.length || 1));
    const deadline = Date.now() + (opts.timeoutMs ?? WAIT_TIMEOUT_MS_DEFAULT);
    const out: EntryResponse[] = new Array(keys.length);
    let next = 0;
    let failure: unknown = null;
    const worker = async () => {
      while (failure === null && next < keys.length) {
        const i = next++;
        try {
          out[i] = await this.waitFinal(keys[i]!, { timeoutMs: Math.max(1, deadline - Date.now()) });
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (failure !== null) throw failure;
    return out;
  }

  /**
   * The C2SP tlog-proof receipt of a final entry (text). With `wait`, long-polls until it exists.
   * Throws `not_final` (without wait) or `timeout` (with wait) when the entry is not final yet.
   */
  async getReceipt(key: string | { client: string; id: string }, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<string> {
    if (opts.wait !== true) {
      const { status, text } = await this.request(CairnClient.entryPath(key), { accept: 'text/plain', cap: RECEIPT_MAX_BYTES });
      if (status !== 200) this.fail(status, text);
      return text;
    }
    return this.longPoll(key, 'text/plain', opts.timeoutMs ?? WAIT_TIMEOUT_MS_DEFAULT, (status, text) => (status === 200 ? text : null));
  }

  private async longPoll<T>(key: string | { client: string; id: string }, accept: string, timeoutMs: number, done: (status: number, text: string) => T | null): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const path = CairnClient.entryPath(key);
    let last: { status: number; text: string } | null = null;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const waitMs = Math.min(left, LONG_POLL_MS_MAX);
      const r = await this.request(`${path}?wait=final&timeout=${waitMs}ms`, { accept, timeoutMs: waitMs + LONG_POLL_SLACK_MS, cap: accept === 'text/plain' ? RECEIPT_MAX_BYTES : ENTRY_RESPONSE_MAX_BYTES });
      last = r;
      if (r.status === 200) {
        const v = done(r.status, r.text);
        if (v !== null) return v;
        continue;
      }
      // Not final yet (receipt) or not arrived yet (gossip may still bring it): poll again.
      if (r.status === 404) {
        const code = (() => {
          try {
            return (JSON.parse(r.text) as { error?: { code?: string } }).error?.code;
          } catch {
            return undefined;
          }
        })();
        if (code === 'not_final' || code === 'entry_not_found') {
          if (code === 'entry_not_found') await new Promise((res) => setTimeout(res, Math.min(250, Math.max(0, deadline - Date.now()))));
          continue;
        }
      }
      if (r.status === 429 || r.status === 503) {
        await new Promise((res) => setTimeout(res, Math.min(1000, Math.max(0, deadline - Date.now()))));
        continue;
      }
      this.fail(r.status, r.text);
    }
    if (last !== null && last.status === 404 && last.text.includes('"entry_not_found"')) this.fail(last.status, last.text);
    throw new CairnApiError('timeout', `entry not final within ${timeoutMs} ms`);
  }

  /** Who the peer takes this client for (GET /v1/auth/whoami): principal, kind, roles and scope. */
  async whoami(): Promise<WhoamiResponse> {
    const body = await this.getJson('/v1/auth/whoami');
    if (!isObject(body) || typeof body.principal !== 'string' || !Array.isArray(body.roles)) {
      throw new CairnApiError('bad_response', 'whoami answer has an unexpected shape', 200);
    }
    return body as unknown as WhoamiResponse;
  }

  /**
   * A short-lived bearer token for this client's signing key (POST /v1/auth/token), for tools that
   * can only send a bearer token. Needs `credentials.signingKey`.
   */
  async authToken(): Promise<AuthTokenResponse> {
    const { status, text } = await this.request('/v1/auth/token', { method: 'POST' });
    if (status !== 200 && status !== 201) this.fail(status, text);
    const body = this.json(status, text);
    if (!isObject(body) || typeof body.token !== 'string' || typeof body.expiresAt !== 'number') {
      throw new CairnApiError('bad_response', 'token answer has an unexpected shape', status);
    }
    return body as unknown as AuthTokenResponse;
  }

  /** Pages of GET /v1/search (docs/search.md), each verified against `opts.trust` when given. */
  search(filter: SearchFilter, opts: SearchIterOptions = {}): AsyncGenerator<SearchPageResult> {
    return searchPages((path) => this.getJson(path, searchPageMaxBytes(opts.limit, false)), '/v1/search', filter, true, opts);
  }

  /** Pages of GET /v1/resources/{type}/{id}/history (oldest first), verified like search. */
  history(type: string, id: string, opts: Omit<SearchIterOptions, 'order'> = {}): AsyncGenerator<SearchPageResult> {
    const path = `/v1/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/history`;
    return searchPages((p) => this.getJson(p, searchPageMaxBytes(opts.limit, true)), path, { resourceType: type, resourceId: id }, false, { ...opts, order: 'oldest' });
  }

  private async getJson(path: string, cap?: number): Promise<unknown> {
    const r = await this.request(path, cap === undefined ? {} : { cap });
    if (r.status !== 200) this.fail(r.status, r.text);
    return this.json(r.status, r.text);
  }

  /** The latest final checkpoint (signed note text). Verify it with verifyCheckpoint from src/verifier. */
  async checkpoint(): Promise<string> {
    const { status, text } = await this.request('/checkpoint', { accept: 'text/plain', cap: CHECKPOINT_MAX_BYTES });
    if (status !== 200) this.fail(status, text);
    return text;
  }

  async status(): Promise<StatusResponse> {
    const { status, text } = await this.request('/v1/status');
    if (status !== 200) this.fail(status, text);
    const body = this.json(status, text);
    if (!isObject(body) || typeof body.origin !== 'string') throw new CairnApiError('bad_response', 'status answer has an unexpected shape', status);
    return body as unknown as StatusResponse;
  }

  async health(): Promise<HealthResponse> {
    const { status, text } = await this.request('/healthz');
    if (status !== 200) this.fail(status, text);
    return this.json(status, text) as HealthResponse;
  }

  /** RFC 9162 consistency proof between two tree sizes (hashes decoded). */
  async consistency(from: number, to: number): Promise<{ from: number; to: number; proof: Uint8Array[] }> {
    const { status, text } = await this.request(`/v1/proofs/consistency?from=${from}&to=${to}`, { cap: CONSISTENCY_MAX_BYTES });
    if (status !== 200) this.fail(status, text);
    const body = this.json(status, text) as Partial<ConsistencyResponse>;
    const proof = Array.isArray(body?.proof) ? body.proof.map((b) => (typeof b === 'string' ? fromBase64(b) : null)) : null;
    if (proof === null || proof.some((h) => h === null || h.length !== 32)) throw new CairnApiError('bad_response', 'consistency proof is not a list of base64 hashes', status);
    return { from, to, proof: proof as Uint8Array[] };
  }

  /** A C2SP tlog-tiles hash tile (width 256 = full). */
  async tile(level: number, index: number, width = TILE_WIDTH): Promise<Uint8Array> {
    return this.binary('/' + tilePath({ level, index, width }), tileMaxBytes(width));
  }

  /** A C2SP tlog-tiles entry bundle (width 256 = full). */
  async entryBundle(index: number, width = TILE_WIDTH): Promise<Uint8Array> {
    return this.binary('/' + entryBundlePath({ index, width }), entryBundleMaxBytes(width));
  }

  private async binary(path: string, cap: number): Promise<Uint8Array> {
    const r = await this.request(path, { accept: 'application/octet-stream', cap });
    if (r.status !== 200 || r.bytes === undefined) this.fail(r.status, r.text);
    return r.bytes;
  }

  /**
   * Verifies a receipt offline against a trust root (quorum of organization signatures + RFC 9162
   * inclusion of `leaf`, the entry's logged bytes). Does not contact the peer.
   */
  verifyReceipt(trust: TrustRoot, receiptText: string, leaf: Uint8Array, opts?: VerifyOptions): ReturnType<typeof lightVerifyReceipt> {
    return verifyReceipt(trust, receiptText, leaf, opts);
  }
}

/**
 * Verifies a final EntryResponse offline (a JSON answer of getEntry / waitFinal): the quorum-signed
 * checkpoint, the RFC 9162 inclusion proof of `leaf` at `index`, that `leafHash` is that leaf's
 * hash, and that the displayed `entry` is exactly the proven leaf (its JCS bytes). The peer that
 * answered is not trusted for any of it.
 */
export function verifyEntryResponse(trust: TrustRoot, r: EntryResponse, opts?: VerifyOptions): ReturnType<typeof verifyInclusion> {
  if (r?.status !== 'final' || r.index === undefined || !Array.isArray(r.proof) || typeof r.checkpoint !== 'string') {
    return { ok: false, code: 'entry_bad_input', message: 'the entry response is not final (no index, proof and checkpoint)' };
  }
  const leaf = typeof r.leaf === 'string' ? fromBase64(r.leaf) : null;
  const proof = r.proof.map((b) => (typeof b === 'string' ? fromBase64(b) : null));
  if (leaf === null || proof.some((h) => h === null)) return { ok: false, code: 'entry_bad_input', message: 'leaf or proof is not canonical base64' };
  let canonical: Uint8Array;
  try {
    canonical = entryLeaf(r.entry);
  } catch {
    return { ok: false, code: 'entry_bad_input', message: 'the entry cannot be canonicalized' };
  }
  if (!bytesEqual(canonical, leaf)) return { ok: false, code: 'entry_bad_input', message: 'the entry shown is not the proven leaf (JCS bytes differ)' };
  const v = verifyInclusion(trust, { entryLeaf: leaf, index: r.index, proof: proof as Uint8Array[], checkpoint: r.checkpoint }, opts);
  if (v.ok && toHex(v.leafHash) !== r.leafHash) return { ok: false, code: 'entry_bad_input', message: 'leafHash does not match the leaf' };
  return v;
}

/** Standalone form of CairnClient.verifyReceipt (src/verifier's verifyReceipt). */
export function verifyReceipt(trust: TrustRoot, receiptText: string, leaf: Uint8Array, opts?: VerifyOptions): ReturnType<typeof lightVerifyReceipt> {
  return lightVerifyReceipt(trust, receiptText, leaf, opts);
}
