// Per-peer configuration: where this organization's peer keeps its data and keys, and where it
// listens. One JSON file, relative paths resolved against the file's directory, and environment
// variables that override single fields (handy for containers and tests):
//   CAIRN_DATA_DIR, CAIRN_GENESIS, CAIRN_SIGNING_KEY, CAIRN_P2P_KEY,
//   CAIRN_LISTEN (comma-separated multiaddrs), CAIRN_HTTP (host:port), CAIRN_LOG_LEVEL,
//   CAIRN_SEARCH_INDEXES (on/off), CAIRN_PROOF_CACHE_MIB, CAIRN_VERIFY_WORKERS,
//   CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES (on/off), CAIRN_HEAP_GROWING_PERCENT.
//
// Two keys per organization, kept apart on purpose:
// - the signing key (the organization's Ed25519 seed, written by `cairn keygen`): signs consensus
//   votes and checkpoints; its public key is the validator's verifier key in the genesis;
// - the p2p key (libp2p identity): authenticates the transport (Noise) and gives the peer id.
//   Losing or rotating one must not force rotating the other.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey } from '@libp2p/interface';
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { randomSeed } from '../../src/crypto/noble.js';
import { ED25519_SEED_BYTES } from '../../src/crypto/types.js';
import { bytesEqual, fromBase64, fromHex, toHex } from '../../src/encoding/bytes.js';
import { failure, PeerError, type PeerFailure } from './errors.js';
import { checkKeysField } from './signing-keys.js';
import { HEAP_GROWING_PERCENT_MAX } from './v8-memory.js';
import { VERIFY_WORKERS_MAX } from './verify-pool.js';

/** Largest config or key file read, in bytes. */
export const CONFIG_BYTES_MAX = 64 * 1024;
/** Largest proofCacheMiB (a full level-0 tile per 16 KiB: 4 GiB covers ~64M entries). */
export const PROOF_CACHE_MIB_MAX = 4096;
/** Most listen addresses. */
export const LISTEN_ADDRS_MAX = 8;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The config file, after resolution of paths and env overrides. */
export interface PeerConfig {
  dataDir: string;
  genesis: string;
  signingKey: string;
  p2pKey: string;
  listen: string[];
  /** host:port of the HTTP API (served by a later component); null = none. */
  http: string | null;
  logLevel: LogLevel;
  /** Access control of the HTTP API (docs/access-control.md); null = every route open. */
  auth: PeerAuthConfig | null;
  /**
   * Write the search indexes in each block's batch (default true). false is for benchmarks only
   * (measuring what indexing costs): searches then answer index_incomplete, and a store written
   * so needs `cairn reindex` before it answers searches again (docs/search.md).
   */
  searchIndexes?: boolean;
  /** Bound of the search proof cache in MiB (default 16; 0 turns it off): docs/peer.md, Memory. */
  proofCacheMiB?: number;
  /** V8's heap growth between full collections, in percent (default 50; 0 = V8's own factor): node/peer/v8-memory.ts. */
  heapGrowingPercent?: number;
  /** Worker threads verifying client signatures (default 0 = in-thread): docs/peer.md. */
  verifyWorkers?: number;
  /** Catch-up checks every client signature of a certified block too (default false: docs/peer.md "Catch-up"). */
  syncVerifyClientSignatures?: boolean;
  /**
   * Addresses of other organizations' peers, as multiaddrs ending in `/p2p/<peer id>`: for
   * organizations added by governance after the genesis (whose records carry no address), or to
   * override a genesis address. A peer is dialed only while its id is admitted (docs/governance.md).
   */
  peers?: string[];
  /** Further signing key files of this organization (a rotation's next key): node/peer/signing-keys.ts. */
  keys?: { next: string[] };
}

/** Most entries in the config's `peers` list. */
export const CONFIG_PEERS_MAX = 64;

/** The `auth` section: where the policy is, TLS, and which web origins may read restricted routes. */
export interface PeerAuthConfig {
  /** Path of the access policy file (YAML or JSON; docs/access-control.md "Policy file reference"); null = no policy, every route open. */
  policy: string | null;
  /** HTTPS: PEM certificate (chain) and key files; `ca` + `requestClientCert` ask clients for certificates. */
  tls: { cert: string; key: string; ca?: string; requestClientCert?: boolean } | null;
  /** With a policy, serve plain HTTP on a non-loopback address anyway (TLS terminated by a proxy on this host). */
  allowPlainHttp: boolean;
  /** Origins (`scheme://host[:port]`) whose web pages may read restricted routes; public routes allow any origin. */
  corsOrigins: string[];
  /** Key file of the organization's meta-audit client (`<org>-meta-audit` in the genesis); null = reads are not recorded. */
  metaAuditKey: string | null;
}

/** Most CORS origins in the allow-list. */
export const CORS_ORIGINS_MAX = 64;

const FIELDS = ['dataDir', 'genesis', 'signingKey', 'p2pKey', 'listen', 'http', 'logLevel', 'auth', 'searchIndexes', 'proofCacheMiB', 'heapGrowingPercent', 'verifyWorkers', 'syncVerifyClientSignatures', 'peers', 'keys'];
const REQUIRED = ['dataDir', 'genesis', 'signingKey', 'p2pKey'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPath(v: unknown, field: string): PeerFailure | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096 || v.includes('\0')) {
    return failure('config_bad_path', 'must be a non-empty path string (at most 4096 characters)', field);
  }
  return null;
}

function checkListen(v: unknown, field: string): PeerFailure | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > LISTEN_ADDRS_MAX) {
    return failure('config_bad_listen', `listen must be 1..${LISTEN_ADDRS_MAX} (LISTEN_ADDRS_MAX) multiaddrs`, field);
  }
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    if (typeof a !== 'string' || a.length > 512) return failure('config_bad_listen', 'must be a multiaddr string', `${field}[${i}]`);
    try {
      multiaddr(a);
    } catch (e) {
      return failure('config_bad_listen', `not a valid multiaddr: ${(e as Error).message}`, `${field}[${i}]`);
    }
  }
  return null;
}

function checkPeers(v: unknown): PeerFailure | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length > CONFIG_PEERS_MAX) return failure('config_bad_peers', `peers must be an array of at most ${CONFIG_PEERS_MAX} (CONFIG_PEERS_MAX) multiaddrs`, 'peers');
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    if (typeof a !== 'string' || a.length > 512 || !/\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(a)) {
      return failure('config_bad_peers', 'must be a multiaddr string ending in /p2p/<peer id>', `peers[${i}]`);
    }
    try {
      multiaddr(a);
    } catch (e) {
      return failure('config_bad_peers', `not a valid multiaddr: ${(e as Error).message}`, `peers[${i}]`);
    }
  }
  return null;
}

function checkHttp(v: unknown, field: string): PeerFailure | null {
  if (v === null) return null;
  if (typeof v !== 'string' || !/^[^\s:]+:(\d{1,5})$/.test(v) || Number(v.split(':').pop()) > 65535) {
    return failure('config_bad_http', 'http must be "host:port" (port 0..65535) or null', field);
  }
  return null;
}

function checkAuth(v: unknown, abs: (p: string) => string): { ok: true; auth: PeerAuthConfig | null } | PeerFailure {
  if (v === undefined || v === null) return { ok: true, auth: null };
  if (!isPlainObject(v)) return failure('config_bad_auth', 'auth must be an object { policy, tls, allowPlainHttp, corsOrigins, metaAuditKey }', 'auth');
  for (const k of Object.keys(v)) if (!['policy', 'tls', 'allowPlainHttp', 'corsOrigins', 'metaAuditKey'].includes(k)) return failure('config_unknown_field', `unknown field "${k}"`, `auth.${k}`);
  let policy: string | null = null;
  if (v.policy !== undefined) {
    const bad = checkPath(v.policy, 'auth.policy');
    if (bad) return bad;
    policy = abs(v.policy as string);
  }
  let metaAuditKey: string | null = null;
  if (v.metaAuditKey !== undefined) {
    const bad = checkPath(v.metaAuditKey, 'auth.metaAuditKey');
    if (bad) return bad;
    metaAuditKey = abs(v.metaAuditKey as string);
  }
  let tls: PeerAuthConfig['tls'] = null;
  if (v.tls !== undefined) {
    const t = v.tls;
    if (!isPlainObject(t)) return failure('config_bad_tls', 'tls must be { cert, key, ca?, requestClientCert? }', 'auth.tls');
    for (const k of Object.keys(t)) if (!['cert', 'key', 'ca', 'requestClientCert'].includes(k)) return failure('config_unknown_field', `unknown field "${k}"`, `auth.tls.${k}`);
    for (const k of ['cert', 'key']) {
      const bad = checkPath(t[k], `auth.tls.${k}`);
      if (bad) return bad;
    }
    if (t.ca !== undefined) {
      const bad = checkPath(t.ca, 'auth.tls.ca');
      if (bad) return bad;
    }
    if (t.requestClientCert !== undefined && typeof t.requestClientCert !== 'boolean') return failure('config_bad_tls', 'must be true or false', 'auth.tls.requestClientCert');
    if (t.requestClientCert === true && t.ca === undefined) return failure('config_bad_tls', 'requestClientCert needs ca (the CA client certificates must chain to)', 'auth.tls.ca');
    tls = { cert: abs(t.cert as string), key: abs(t.key as string), ...(t.ca !== undefined ? { ca: abs(t.ca as string) } : {}), ...(t.requestClientCert === true ? { requestClientCert: true } : {}) };
  }
  if (v.allowPlainHttp !== undefined && typeof v.allowPlainHttp !== 'boolean') return failure('config_bad_auth', 'must be true or false', 'auth.allowPlainHttp');
  const origins: string[] = [];
  if (v.corsOrigins !== undefined) {
    if (!Array.isArray(v.corsOrigins) || v.corsOrigins.length > CORS_ORIGINS_MAX) return failure('config_bad_auth', `corsOrigins must be an array of at most ${CORS_ORIGINS_MAX} (CORS_ORIGINS_MAX) origins`, 'auth.corsOrigins');
    for (let i = 0; i < v.corsOrigins.length; i++) {
      const o: unknown = v.corsOrigins[i];
      // Browsers send the Origin header as scheme://host[:port], lower case, no path: compare exactly that.
      if (typeof o !== 'string' || o.length > 256 || (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/.test(o) && !/^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/.test(o))) {
        return failure('config_bad_auth', 'must be an origin: scheme://host[:port] in lower case, no path or trailing slash', `auth.corsOrigins[${i}]`);
      }
      origins.push(o);
    }
  }
  return { ok: true, auth: { policy, tls, allowPlainHttp: v.allowPlainHttp === true, corsOrigins: origins, metaAuditKey } };
}

/**
 * Parses a config object. `baseDir` resolves relative paths; `env` supplies overrides (pass
 * process.env in the program, a literal object in tests).
 */
export function parseConfig(input: unknown, baseDir: string, env: Record<string, string | undefined> = {}): { ok: true; config: PeerConfig } | PeerFailure {
  if (!isPlainObject(input)) return failure('config_bad_type', 'config must be a JSON object');
  for (const k of Object.keys(input)) if (!FIELDS.includes(k)) return failure('config_unknown_field', `unknown field "${k}"`, k);
  const o: Record<string, unknown> = { listen: ['/ip4/0.0.0.0/tcp/0'], http: null, logLevel: 'info', ...input };
  // Environment overrides, applied before validation so bad values are reported the same way.
  const overrides: [string, string, (s: string) => unknown][] = [
    ['CAIRN_DATA_DIR', 'dataDir', (s) => s],
    ['CAIRN_GENESIS', 'genesis', (s) => s],
    ['CAIRN_SIGNING_KEY', 'signingKey', (s) => s],
    ['CAIRN_P2P_KEY', 'p2pKey', (s) => s],
    ['CAIRN_LISTEN', 'listen', (s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)],
    ['CAIRN_HTTP', 'http', (s) => (s === '' || s === 'none' ? null : s)],
    ['CAIRN_LOG_LEVEL', 'logLevel', (s) => s],
    ['CAIRN_SEARCH_INDEXES', 'searchIndexes', (s) => (s === 'on' ? true : s === 'off' ? false : s)],
    ['CAIRN_PROOF_CACHE_MIB', 'proofCacheMiB', (s) => (/^[0-9]{1,5}$/.test(s) ? Number(s) : s)],
    ['CAIRN_HEAP_GROWING_PERCENT', 'heapGrowingPercent', (s) => (/^[0-9]{1,3}$/.test(s) ? Number(s) : s)],
    ['CAIRN_VERIFY_WORKERS', 'verifyWorkers', (s) => (/^[0-9]{1,2}$/.test(s) ? Number(s) : s)],
    ['CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES', 'syncVerifyClientSignatures', (s) => (s === 'on' ? true : s === 'off' ? false : s)],
  ];
  const fieldSource: Record<string, string> = {};
  for (const [envName, field, conv] of overrides) {
    const v = env[envName];
    if (v !== undefined) {
      o[field] = conv(v);
      fieldSource[field] = envName;
    }
  }
  const where = (f: string) => fieldSource[f] ?? f;
  for (const k of REQUIRED) if (o[k] === undefined) return failure('config_missing_field', `missing field "${k}"`, k);
  for (const k of ['dataDir', 'genesis', 'signingKey', 'p2pKey']) {
    const bad = checkPath(o[k], where(k));
    if (bad) return bad;
  }
  const badL = checkListen(o.listen, where('listen'));
  if (badL) return badL;
  const badH = checkHttp(o.http, where('http'));
  if (badH) return badH;
  const badP = checkPeers(o.peers);
  if (badP) return badP;
  if (typeof o.logLevel !== 'string' || !LOG_LEVELS.includes(o.logLevel as LogLevel)) {
    return failure('config_bad_log_level', `logLevel must be one of ${LOG_LEVELS.join(', ')}`, where('logLevel'));
  }
  if (o.searchIndexes !== undefined && typeof o.searchIndexes !== 'boolean') return failure('config_bad_search_indexes', 'searchIndexes must be true or false (CAIRN_SEARCH_INDEXES: on or off)', where('searchIndexes'));
  if (o.proofCacheMiB !== undefined && !(Number.isSafeInteger(o.proofCacheMiB) && (o.proofCacheMiB as number) >= 0 && (o.proofCacheMiB as number) <= PROOF_CACHE_MIB_MAX)) {
    return failure('config_bad_proof_cache', `proofCacheMiB must be an integer in 0..${PROOF_CACHE_MIB_MAX}`, where('proofCacheMiB'));
  }
  if (o.heapGrowingPercent !== undefined && !(Number.isSafeInteger(o.heapGrowingPercent) && (o.heapGrowingPercent as number) >= 0 && (o.heapGrowingPercent as number) <= HEAP_GROWING_PERCENT_MAX)) {
    return failure('config_bad_heap_growing_percent', `heapGrowingPercent must be an integer in 0..${HEAP_GROWING_PERCENT_MAX} (0: V8 chooses)`, where('heapGrowingPercent'));
  }
  if (o.syncVerifyClientSignatures !== undefined && typeof o.syncVerifyClientSignatures !== 'boolean') return failure('config_bad_sync_verify_client_signatures', 'syncVerifyClientSignatures must be true or false (CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES: on or off)', where('syncVerifyClientSignatures'));
  if (o.verifyWorkers !== undefined && !(Number.isSafeInteger(o.verifyWorkers) && (o.verifyWorkers as number) >= 0 && (o.verifyWorkers as number) <= VERIFY_WORKERS_MAX)) {
    return failure('config_bad_verify_workers', `verifyWorkers must be an integer in 0..${VERIFY_WORKERS_MAX}`, where('verifyWorkers'));
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const auth = checkAuth(o.auth, abs);
  if (!auth.ok) return auth;
  const keys = checkKeysField(o.keys, abs);
  if (!keys.ok) return keys;
  return {
    ok: true,
    config: {
      dataDir: abs(o.dataDir as string),
      genesis: abs(o.genesis as string),
      signingKey: abs(o.signingKey as string),
      p2pKey: abs(o.p2pKey as string),
      listen: [...(o.listen as string[])],
      http: o.http as string | null,
      logLevel: o.logLevel as LogLevel,
      auth: auth.auth,
      searchIndexes: o.searchIndexes !== false,
      ...(o.proofCacheMiB !== undefined ? { proofCacheMiB: o.proofCacheMiB as number } : {}),
      ...(o.heapGrowingPercent !== undefined ? { heapGrowingPercent: o.heapGrowingPercent as number } : {}),
      ...(o.verifyWorkers !== undefined ? { verifyWorkers: o.verifyWorkers as number } : {}),
      ...(o.syncVerifyClientSignatures === true ? { syncVerifyClientSignatures: true } : {}),
      peers: [...((o.peers as string[] | undefined) ?? [])],
      ...(keys.next.length > 0 ? { keys: { next: keys.next } } : {}),
    },
  };
}

async function readBounded(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PeerError('config_unreadable', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  if (text.length > CONFIG_BYTES_MAX) throw new PeerError('config_too_large', `${what} ${path} larger than ${CONFIG_BYTES_MAX} bytes (CONFIG_BYTES_MAX)`);
  return text;
}

/** Reads a config file and applies env overrides; throws PeerError on any problem. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<PeerConfig> {
  const text = await readBounded(path, 'config file');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PeerError('config_bad_json', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const r = parseConfig(json, dirname(resolve(path)), env);
  if (!r.ok) throw PeerError.from(r);
  return r.config;
}

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7), followed by the 32-byte seed. */
const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420')!;

/**
 * Parses the organization signing key file. Accepted forms: the signed-note signer key string
 * `PRIVATE+KEY+<name>+<keyid>+<base64>` and a PEM "PRIVATE KEY" (PKCS#8, RFC 8410) holding an
 * Ed25519 seed. Returns the 32-byte seed.
 */
export function parseSigningKeyText(text: string): { ok: true; seed: Uint8Array; name: string | null } | PeerFailure {
  const t = text.trim();
  if (t.startsWith('PRIVATE+KEY+')) {
    const r = parseSignerKey(t);
    if (!r.ok) return failure('config_bad_signing_key', `${r.code}: ${r.message}`);
    return { ok: true, seed: r.key.seed, name: r.key.name };
  }
  const m = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n-----END PRIVATE KEY-----$/.exec(t);
  if (m) {
    const der = fromBase64(m[1]!.replace(/\r?\n/g, ''));
    if (der === null || der.length !== PKCS8_ED25519_PREFIX.length + ED25519_SEED_BYTES || !bytesEqual(der.subarray(0, PKCS8_ED25519_PREFIX.length), PKCS8_ED25519_PREFIX)) {
      return failure('config_bad_signing_key', 'PEM private key is not an Ed25519 PKCS#8 key (RFC 8410)');
    }
    return { ok: true, seed: der.slice(PKCS8_ED25519_PREFIX.length), name: null };
  }
  return failure('config_bad_signing_key', 'signing key file must hold a PRIVATE+KEY+... signer key or a PEM "PRIVATE KEY"');
}

export async function loadSigningKey(path: string): Promise<{ seed: Uint8Array; name: string | null }> {
  const r = parseSigningKeyText(await readBounded(path, 'signing key file'));
  if (!r.ok) throw new PeerError(r.code, `${path}: ${r.message}`);
  return { seed: r.seed, name: r.name };
}

/** First line of a p2p key file; the second line is the hex of the 32-byte Ed25519 seed. */
const P2P_KEY_HEADER = 'cairn-p2p-ed25519-seed-v1';

export function formatP2PKey(seed: Uint8Array): string {
  return `${P2P_KEY_HEADER}\n${toHex(seed)}\n`;
}

export async function p2pKeyFromSeed(seed: Uint8Array): Promise<{ privateKey: PrivateKey; peerId: string }> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

export function parseP2PKeyText(text: string): { ok: true; seed: Uint8Array } | PeerFailure {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length !== 2 || lines[0] !== P2P_KEY_HEADER || !/^[0-9a-f]{64}$/.test(lines[1]!)) {
    return failure('config_bad_p2p_key', `p2p key file must be "${P2P_KEY_HEADER}" then 64 lowercase hex digits`);
  }
  return { ok: true, seed: fromHex(lines[1]!)! };
}

export async function loadP2PKey(path: string): Promise<{ privateKey: PrivateKey; peerId: string }> {
  const r = parseP2PKeyText(await readBounded(path, 'p2p key file'));
  if (!r.ok) throw new PeerError(r.code, `${path}: ${r.message}`);
  return p2pKeyFromSeed(r.seed);
}

/** Creates a new p2p key file (mode 0600, refuses to overwrite); returns the peer id. */
export async function generateP2PKeyFile(path: string): Promise<{ peerId: string; seed: Uint8Array }> {
  const seed = randomSeed();
  await mkdir(dirname(path), { recursive: true });
  try {
    await writeFile(path, formatP2PKey(seed), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new PeerError('config_key_exists', `cannot create p2p key file ${path}: ${(e as Error).message}`);
  }
  const { peerId } = await p2pKeyFromSeed(seed);
  return { peerId, seed };
}
