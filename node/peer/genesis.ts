// The genesis file: the one JSON document all organizations of a Cairn network share.
//
// It fixes the log identity (`origin`, the first line of every C2SP tlog-checkpoint body), the
// validators (one per organization: name, C2SP verifier key used both for checkpoint signatures
// and consensus votes, libp2p peer id and addresses), the client keys allowed to submit entries
// and the organization vouching for each, the protocol limits, and optionally the sharing mode and
// consortium auditors (node/peer/genesis-sharing.ts). Peers exchange
// `genesisHash` = SHA-256(JCS(genesis)) (RFC 8785) when they connect and refuse a peer whose hash
// differs, so two organizations with different files never silently fork.
//
// Parsing is strict: unknown fields are rejected, every limit has a floor and a ceiling, and every
// validator and client public key must pass vetPublicKey (so node:crypto and noble agree on every
// signature made with it; Ed25519 libraries disagree on adversarial keys such as small-order points).
import { readFile } from 'node:fs/promises';
import canonicalizeModule from 'canonicalize';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { sha256 } from '../../src/crypto/hash.js';
import { vetPublicKey } from '../../src/crypto/vet.js';
import { fromHex, toHex, utf8 } from '../../src/encoding/bytes.js';
import { parseVerifierKey, type VerifierKey } from '../../src/checkpoint/keys.js';
import { quorum } from '../../src/consensus/quorum.js';
import type { Timeouts } from '../../src/consensus/types.js';
import { failure, PeerError, type PeerFailure } from './errors.js';
import { checkKeys, DEFAULT_LIMITS, isPlainObject, parseLimits, type GenesisLimits } from './genesis-limits.js';
import { parseAuditors, parseSharing, type GenesisAuditor, type GenesisAuditorDoc, type SharingMode } from './genesis-sharing.js';

export { BLOCK_BYTES_CEILING, DEFAULT_LIMITS, type GenesisLimits } from './genesis-limits.js';
export { GENESIS_AUDITORS_MAX, metaAuditClientFor, metaAuditClientName, type GenesisAuditor, type GenesisAuditorDoc, type SharingMode } from './genesis-sharing.js';

// canonicalize is CommonJS (`module.exports = serialize`) while its .d.ts declares a default export;
// under nodenext the runtime default import is the function itself. Accept both shapes.
const canonicalize = ((canonicalizeModule as unknown as { default?: unknown }).default ?? canonicalizeModule) as (v: unknown) => string | undefined;

/** Genesis file format version. */
export const GENESIS_VERSION = 1;
/** Largest genesis file accepted, in bytes. */
export const GENESIS_BYTES_MAX = 4 * 1024 * 1024;
/** Most validators (organizations) in one network. */
export const GENESIS_VALIDATORS_MAX = 64;
/** Most authorized client keys. */
export const GENESIS_CLIENTS_MAX = 10_000;
/** Most listen addresses per validator. */
export const GENESIS_ADDRS_MAX = 8;
/** Longest origin, in bytes (C2SP tlog-checkpoint puts it on the first line of every checkpoint). */
export const ORIGIN_BYTES_MAX = 255;
/** Longest validator or client name. */
export const NAME_BYTES_MAX = 64;
export interface GenesisValidatorDoc {
  name: string;
  /** C2SP verifier key string `<name>+<keyid>+<base64(0x01‖pub)>`; the name must equal `name`. */
  verifierKey: string;
  /** libp2p peer id (base58 or CID form). */
  peerId: string;
  addrs: string[];
}

export interface GenesisClientDoc {
  name: string;
  /** Lowercase hex of the 32-byte Ed25519 public key (as in the entry's `client` field). */
  publicKey: string;
  /** Name of the validator (organization) vouching for this client. */
  vouchedBy: string;
}

/** The JSON document, as written to disk. */
export interface GenesisDoc {
  version: 1;
  origin: string;
  validators: GenesisValidatorDoc[];
  clients: GenesisClientDoc[];
  limits: GenesisLimits;
  /** What each organization's peer may serve (node/peer/genesis-sharing.ts); absent = "consortium". */
  sharing?: SharingMode;
  /** Consortium auditors' Ed25519 keys; absent = none. */
  auditors?: GenesisAuditorDoc[];
}

export interface GenesisValidator {
  index: number;
  name: string;
  key: VerifierKey;
  publicKey: Uint8Array;
  peerId: string;
  addrs: string[];
}

export interface GenesisClient {
  name: string;
  publicKeyHex: string;
  publicKey: Uint8Array;
  vouchedBy: string;
}

/** A parsed, checked genesis. */
export interface Genesis {
  doc: GenesisDoc;
  /** SHA-256 of the JCS (RFC 8785) of the document. */
  hash: Uint8Array;
  hashHex: string;
  origin: string;
  validators: GenesisValidator[];
  /** Client keys by lowercase hex public key. */
  clients: Map<string, GenesisClient>;
  limits: GenesisLimits;
  /** The sharing mode ("consortium" when the document omits it). */
  sharing: SharingMode;
  /** Consortium auditors (empty when the document omits them). */
  auditors: GenesisAuditor[];
  /** q = ⌊2n/3⌋+1 */
  quorum: number;
}

const ORIGIN_PATTERN = /^[\x21-\x7e]+$/; // printable ASCII, no spaces: one line of a checkpoint
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkName(v: unknown, field: string): PeerFailure | null {
  if (typeof v !== 'string' || !NAME_PATTERN.test(v) || utf8(v).length > NAME_BYTES_MAX) {
    return failure('genesis_bad_name', `must be 1..${NAME_BYTES_MAX} (NAME_BYTES_MAX) characters of [A-Za-z0-9._-], starting alphanumeric`, field);
  }
  return null;
}

function parseAddr(a: unknown, field: string): PeerFailure | null {
  if (typeof a !== 'string' || a.length === 0 || a.length > 512) return failure('genesis_bad_addr', 'address must be a multiaddr string of 1..512 characters', field);
  try {
    multiaddr(a);
  } catch (e) {
    return failure('genesis_bad_addr', `not a valid multiaddr: ${(e as Error).message}`, field);
  }
  return null;
}

/** Strictly parses and checks a genesis document (already JSON-decoded). */
export function parseGenesis(input: unknown): { ok: true; genesis: Genesis } | PeerFailure {
  if (!isPlainObject(input)) return failure('genesis_bad_type', 'genesis must be a JSON object', '');
  const bad = checkKeys(input, ['version', 'origin', 'validators', 'clients', 'limits', 'sharing', 'auditors'], ['version', 'origin', 'validators', 'clients', 'limits'], '');
  if (bad) return bad;
  if (input.version !== GENESIS_VERSION) return failure('genesis_bad_version', `version must be ${GENESIS_VERSION}`, 'version');
  const origin = input.origin;
  if (typeof origin !== 'string' || !ORIGIN_PATTERN.test(origin) || origin.length > ORIGIN_BYTES_MAX) {
    return failure('genesis_bad_origin', `origin must be 1..${ORIGIN_BYTES_MAX} (ORIGIN_BYTES_MAX) printable ASCII characters without spaces, e.g. cairn.example/devnet`, 'origin');
  }
  // Organization keys sign checkpoint bodies (raw note text, first line = origin) and
  // domain-separated messages (`cairn/<purpose>/v1\n…`, src/crypto/domain.ts). Keeping origins out
  // of the `cairn/` namespace keeps the two kinds of signed bytes disjoint by construction.
  if (origin.startsWith('cairn/')) return failure('genesis_bad_origin', 'origins starting with "cairn/" are reserved for signature domains', 'origin');
  if (!Array.isArray(input.validators) || input.validators.length === 0 || input.validators.length > GENESIS_VALIDATORS_MAX) {
    return failure('genesis_bad_validators', `validators must be an array of 1..${GENESIS_VALIDATORS_MAX} (GENESIS_VALIDATORS_MAX) entries`, 'validators');
  }
  const validators: GenesisValidator[] = [];
  const names = new Set<string>();
  const peerIds = new Set<string>();
  const pubs = new Set<string>();
  for (let i = 0; i < input.validators.length; i++) {
    const v: unknown = input.validators[i];
    const p = `validators[${i}]`;
    if (!isPlainObject(v)) return failure('genesis_bad_type', 'validator must be an object', p);
    const badV = checkKeys(v, ['name', 'verifierKey', 'peerId', 'addrs'], ['name', 'verifierKey', 'peerId', 'addrs'], p);
    if (badV) return badV;
    const badN = checkName(v.name, `${p}.name`);
    if (badN) return badN;
    const name = v.name as string;
    if (names.has(name)) return failure('genesis_duplicate', `validator name "${name}" appears twice`, `${p}.name`);
    names.add(name);
    if (typeof v.verifierKey !== 'string') return failure('genesis_bad_key', 'verifierKey must be a string', `${p}.verifierKey`);
    // parseVerifierKey also vets the public key (vetPublicKey) and checks the key ID.
    const key = parseVerifierKey(v.verifierKey);
    if (!key.ok) return failure('genesis_bad_key', `${key.code}: ${key.message}`, `${p}.verifierKey`);
    if (key.key.name !== name) return failure('genesis_bad_key', `verifier key name "${key.key.name}" differs from validator name "${name}"`, `${p}.verifierKey`);
    const pubHex = toHex(key.key.publicKey);
    if (pubs.has(pubHex)) return failure('genesis_duplicate', 'two validators share one public key', `${p}.verifierKey`);
    pubs.add(pubHex);
    if (typeof v.peerId !== 'string' || v.peerId.length === 0 || v.peerId.length > 128) {
      return failure('genesis_bad_peer_id', 'peerId must be a libp2p peer id string', `${p}.peerId`);
    }
    let peerId: string;
    try {
      peerId = peerIdFromString(v.peerId).toString();
    } catch (e) {
      return failure('genesis_bad_peer_id', `not a libp2p peer id: ${(e as Error).message}`, `${p}.peerId`);
    }
    if (peerId !== v.peerId) return failure('genesis_bad_peer_id', `peer id must be in canonical form ${peerId}`, `${p}.peerId`);
    if (peerIds.has(peerId)) return failure('genesis_duplicate', 'two validators share one peer id', `${p}.peerId`);
    peerIds.add(peerId);
    if (!Array.isArray(v.addrs) || v.addrs.length > GENESIS_ADDRS_MAX) {
      return failure('genesis_bad_addr', `addrs must be an array of at most ${GENESIS_ADDRS_MAX} (GENESIS_ADDRS_MAX) multiaddrs`, `${p}.addrs`);
    }
    for (let j = 0; j < v.addrs.length; j++) {
      const badA = parseAddr(v.addrs[j], `${p}.addrs[${j}]`);
      if (badA) return badA;
    }
    validators.push({ index: i, name, key: key.key, publicKey: key.key.publicKey, peerId, addrs: [...(v.addrs as string[])] });
  }
  if (!Array.isArray(input.clients) || input.clients.length > GENESIS_CLIENTS_MAX) {
    return failure('genesis_bad_clients', `clients must be an array of at most ${GENESIS_CLIENTS_MAX} (GENESIS_CLIENTS_MAX) entries`, 'clients');
  }
  const clients = new Map<string, GenesisClient>();
  const clientNames = new Set<string>();
  for (let i = 0; i < input.clients.length; i++) {
    const c: unknown = input.clients[i];
    const p = `clients[${i}]`;
    if (!isPlainObject(c)) return failure('genesis_bad_type', 'client must be an object', p);
    const badC = checkKeys(c, ['name', 'publicKey', 'vouchedBy'], ['name', 'publicKey', 'vouchedBy'], p);
    if (badC) return badC;
    const badN = checkName(c.name, `${p}.name`);
    if (badN) return badN;
    if (clientNames.has(c.name as string)) return failure('genesis_duplicate', `client name "${String(c.name)}" appears twice`, `${p}.name`);
    clientNames.add(c.name as string);
    if (typeof c.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(c.publicKey)) {
      return failure('genesis_bad_key', 'client publicKey must be 64 lowercase hex characters', `${p}.publicKey`);
    }
    const pub = fromHex(c.publicKey)!;
    const vet = vetPublicKey(pub);
    if (!vet.ok) return failure('genesis_bad_key', `client key rejected (${vet.code}): ${vet.message}`, `${p}.publicKey`);
    if (clients.has(c.publicKey)) return failure('genesis_duplicate', 'client public key appears twice', `${p}.publicKey`);
    if (typeof c.vouchedBy !== 'string' || !names.has(c.vouchedBy)) {
      return failure('genesis_bad_voucher', 'vouchedBy must name a validator of this genesis', `${p}.vouchedBy`);
    }
    clients.set(c.publicKey, { name: c.name as string, publicKeyHex: c.publicKey, publicKey: pub, vouchedBy: c.vouchedBy });
  }
  const limits = parseLimits(input.limits);
  if (!limits.ok) return limits;
  const sharing = parseSharing(input.sharing);
  if (!sharing.ok) return sharing;
  const auditors = parseAuditors(input.auditors);
  if (!auditors.ok) return auditors;
  const doc: GenesisDoc = {
    version: 1,
    origin,
    validators: validators.map((v) => ({ name: v.name, verifierKey: v.key.text, peerId: v.peerId, addrs: [...v.addrs] })),
    clients: [...clients.values()].map((c) => ({ name: c.name, publicKey: c.publicKeyHex, vouchedBy: c.vouchedBy })),
    limits: limits.value,
    // Kept only when the file has them: a genesis written before these fields existed keeps its hash.
    ...(input.sharing !== undefined ? { sharing: sharing.value } : {}),
    ...(input.auditors !== undefined ? { auditors: auditors.value.map((a) => ({ name: a.name, publicKey: a.publicKeyHex })) } : {}),
  };
  const hash = genesisHash(doc);
  return {
    ok: true,
    genesis: {
      doc,
      hash,
      hashHex: toHex(hash),
      origin,
      validators,
      clients,
      limits: limits.value,
      sharing: sharing.value,
      auditors: auditors.value,
      quorum: quorum(validators.length),
    },
  };
}

/** SHA-256 over the RFC 8785 (JCS) serialization of the document. */
export function genesisHash(doc: GenesisDoc): Uint8Array {
  const jcs = canonicalize(doc);
  if (jcs === undefined) throw new PeerError('genesis_bad_type', 'genesis cannot be canonicalized');
  return sha256(utf8(jcs));
}

/** Parses genesis JSON text (bounded by GENESIS_BYTES_MAX). */
export function parseGenesisText(text: string): { ok: true; genesis: Genesis } | PeerFailure {
  if (text.length > GENESIS_BYTES_MAX) return failure('genesis_too_large', `genesis file larger than ${GENESIS_BYTES_MAX} bytes (GENESIS_BYTES_MAX)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return failure('genesis_bad_json', `genesis is not valid JSON: ${(e as Error).message}`);
  }
  return parseGenesis(json);
}

/** Reads and parses a genesis file; throws PeerError with the parse code on failure. */
export async function loadGenesis(path: string): Promise<Genesis> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PeerError('genesis_unreadable', `cannot read genesis file ${path}: ${(e as Error).message}`);
  }
  const r = parseGenesisText(text);
  if (!r.ok) throw PeerError.from(r);
  return r.genesis;
}

export interface BuildGenesisInput {
  origin: string;
  validators: GenesisValidatorDoc[];
  clients?: GenesisClientDoc[];
  limits?: Partial<Omit<GenesisLimits, 'timeouts'>> & { timeouts?: Partial<Timeouts> };
  sharing?: SharingMode;
  auditors?: GenesisAuditorDoc[];
}

/** Builds a checked genesis (defaults for omitted limits); throws PeerError when invalid. */
export function buildGenesis(input: BuildGenesisInput): Genesis {
  const limits: GenesisLimits = {
    ...DEFAULT_LIMITS,
    ...(input.limits ?? {}),
    timeouts: { ...DEFAULT_LIMITS.timeouts, ...(input.limits?.timeouts ?? {}) },
  };
  const r = parseGenesis({
    version: 1,
    origin: input.origin,
    validators: input.validators,
    clients: input.clients ?? [],
    limits,
    ...(input.sharing !== undefined ? { sharing: input.sharing } : {}),
    ...(input.auditors !== undefined ? { auditors: input.auditors } : {}),
  });
  if (!r.ok) throw PeerError.from(r);
  return r.genesis;
}

/** Pretty JSON for writing the genesis file (the hash is over JCS, so formatting is free). */
export function formatGenesis(g: Genesis): string {
  return JSON.stringify(g.doc, null, 2) + '\n';
}
