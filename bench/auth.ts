// Credentials of the bench's HTTP clients when the peers run with an access policy (`--auth`):
//   signature  every read request is signed with RFC 9421 HTTP message signatures (Ed25519 key
//              named in the policy; fresh nonce per request), as the CLI and SDK do;
//   token      once per peer (and again before it expires), a signed POST /v1/auth/token gets a
//              peer token; reads then carry `Authorization: Bearer <token>` (a peer token is only
//              accepted by the peer that issued it, so there is one per peer URL).
// Entry submissions (POST /v1/entries) carry no credential: the entries are signed by genesis
// client keys, and the policy does not restrict submission. The bench key holds an auditor role
// (entry bundles, receipts) and an operator role (status, metrics): what the load generators and
// the bench's own status polls read.
import { randomBytes } from 'node:crypto';
import { signRequest } from '../src/auth/sign.js';
import { nodeSigner } from '../src/crypto/node.js';
import type { Ed25519Signer } from '../src/crypto/types.js';
import { fromHex, toHex } from '../src/encoding/bytes.js';
import { publicKeyFromSeed } from '../src/crypto/noble.js';

export type BenchAuthMode = 'none' | 'signature' | 'token';
export const BENCH_AUTH_MODES: readonly BenchAuthMode[] = ['none', 'signature', 'token'];

/** The RFC 9421 keyid of the bench's key in the generated policy. */
export const BENCH_KEY_NAME = 'bench';
/** A token is renewed when it has less than this left (tokens live at most 900 s). */
const TOKEN_RENEW_BEFORE_S = 60;

/** What the load generators need to authenticate (sent over IPC). */
export interface BenchAuthConfig {
  mode: BenchAuthMode;
  keyid: string;
  seedHex: string;
}

/** A fresh bench key and the access policy that grants it the auditor and operator roles. */
export function benchPolicy(): { config: BenchAuthConfig & { mode: 'signature' }; policy: Record<string, unknown> } {
  const seed = new Uint8Array(randomBytes(32));
  const policy = {
    keys: [{ name: BENCH_KEY_NAME, publicKey: toHex(publicKeyFromSeed(seed)), roles: ['bench-auditor', 'bench-operator'] }],
    roles: {
      'bench-auditor': { kind: 'auditor' },
      'bench-operator': { kind: 'operator' },
    },
  };
  return { config: { mode: 'signature', keyid: BENCH_KEY_NAME, seedHex: toHex(seed) }, policy };
}

/** Minimal HTTP access the token fetch needs (BenchHttp's raw request, without credentials). */
export type RawRequest = (url: string, opts: { method: string; body?: string; headers: Record<string, string>; timeoutMs: number }) => Promise<{ status: number; body: Buffer }>;

export class BenchCredentials {
  private readonly signer: Ed25519Signer;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  /** Requests signed, tokens fetched (for the report). */
  readonly counts = { signed: 0, tokenRequests: 0, bearer: 0 };

  constructor(
    readonly config: BenchAuthConfig,
    private readonly raw: RawRequest,
  ) {
    const seed = fromHex(config.seedHex);
    if (seed === null || seed.length !== 32) throw new Error('bench auth seed must be 64 hex digits');
    this.signer = nodeSigner(seed);
  }

  /** Whether this request carries a credential (never submissions; see the file comment). */
  static wants(method: string, url: string): boolean {
    return !(method === 'POST' && new URL(url).pathname === '/v1/entries');
  }

  private sign(method: string, url: string, body?: Uint8Array): Record<string, string> {
    this.counts.signed++;
    return signRequest({ method, url, ...(body !== undefined ? { body } : {}) }, { keyid: this.config.keyid, signer: this.signer });
  }

  private async token(origin: string): Promise<string> {
    const now = Date.now() / 1000;
    const have = this.tokens.get(origin);
    if (have !== undefined && have.expiresAt - now > TOKEN_RENEW_BEFORE_S) return have.token;
    const inFlight = this.pending.get(origin);
    if (inFlight !== undefined) return inFlight;
    const p = (async () => {
      const url = `${origin}/v1/auth/token`;
      this.counts.tokenRequests++;
      const r = await this.raw(url, { method: 'POST', headers: this.sign('POST', url), timeoutMs: 10_000 });
      if (r.status !== 200) throw new Error(`POST ${url}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      const j = JSON.parse(r.body.toString('utf8')) as { token?: unknown; expiresAt?: unknown };
      if (typeof j.token !== 'string' || typeof j.expiresAt !== 'number') throw new Error(`POST ${url}: no token in the answer`);
      this.tokens.set(origin, { token: j.token, expiresAt: j.expiresAt });
      return j.token;
    })();
    this.pending.set(origin, p);
    try {
      return await p;
    } finally {
      this.pending.delete(origin);
    }
  }

  /** Headers to add to one request (a new signature, hence a new nonce, for every attempt). */
  async headers(method: string, url: string, body?: Uint8Array): Promise<Record<string, string>> {
    if (this.config.mode === 'none' || !BenchCredentials.wants(method, url)) return {};
    if (this.config.mode === 'signature') return this.sign(method, url, body);
    const t = await this.token(new URL(url).origin);
    this.counts.bearer++;
    return { authorization: `Bearer ${t}` };
  }

  /** Environment for the `cairn` CLI (cairn audit) to use the same credential. */
  async cliEnv(keyFile: string, peerUrl: string): Promise<Record<string, string>> {
    if (this.config.mode === 'signature') return { CAIRN_AUTH_KEY: keyFile, CAIRN_AUTH_KEY_NAME: this.config.keyid };
    if (this.config.mode === 'token') return { CAIRN_TOKEN: await this.token(new URL(peerUrl).origin) };
    return {};
  }
}
