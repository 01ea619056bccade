// The genesis fields that say who may read what across the consortium (parsed here, used by
// node/peer/genesis.ts; both optional so existing genesis files keep their hash):
//
//   "sharing": "consortium" | "own-clients"   (absent = "consortium")
//     consortium  — every organization's peer may serve every entry to its own authorized principals;
//     own-clients — a peer serves only entries whose client its organization vouches for, except to
//                   the consortium auditors below, who may read every entry from any peer.
//   "auditors": [{ "name": "<name>", "publicKey": "<64 lowercase hex, Ed25519>" }]   (absent = none)
//     the consortium auditors' keys (RFC 9421 request signatures), at most GENESIS_AUDITORS_MAX.
//
// Each organization's meta-audit client (the key its peer signs `cairn.read.*` / `cairn.auth.denied`
// entries with) is an ordinary genesis client named `<org>-meta-audit` and vouched by that
// organization: no new field, so every existing tool (entry checks, vouching, `cairn genesis
// --client`) already handles it. metaAuditClientFor finds it.
import { vetPublicKey } from '../../src/crypto/vet.js';
import { fromHex, utf8 } from '../../src/encoding/bytes.js';
import { failure, type PeerFailure } from './errors.js';

export type SharingMode = 'consortium' | 'own-clients';
export const SHARING_MODES: readonly SharingMode[] = ['consortium', 'own-clients'];
/** Most consortium auditors in one genesis. */
export const GENESIS_AUDITORS_MAX = 64;
/** Suffix of the client name that marks an organization's meta-audit client. */
export const META_AUDIT_CLIENT_SUFFIX = '-meta-audit';

export interface GenesisAuditorDoc {
  name: string;
  /** Lowercase hex of the 32-byte Ed25519 public key. */
  publicKey: string;
}

export interface GenesisAuditor {
  name: string;
  publicKeyHex: string;
  publicKey: Uint8Array;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_BYTES_MAX = 64;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseSharing(v: unknown): { ok: true; value: SharingMode } | PeerFailure {
  if (v === undefined) return { ok: true, value: 'consortium' };
  if (typeof v !== 'string' || !(SHARING_MODES as readonly string[]).includes(v)) {
    return failure('genesis_bad_sharing', `sharing must be one of ${SHARING_MODES.map((m) => `"${m}"`).join(', ')}`, 'sharing');
  }
  return { ok: true, value: v as SharingMode };
}

export function parseAuditors(v: unknown): { ok: true; value: GenesisAuditor[] } | PeerFailure {
  if (v === undefined) return { ok: true, value: [] };
  if (!Array.isArray(v) || v.length > GENESIS_AUDITORS_MAX) {
    return failure('genesis_bad_auditors', `auditors must be an array of at most ${GENESIS_AUDITORS_MAX} (GENESIS_AUDITORS_MAX) entries`, 'auditors');
  }
  const out: GenesisAuditor[] = [];
  const names = new Set<string>();
  const keys = new Set<string>();
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    const p = `auditors[${i}]`;
    if (!isPlainObject(a)) return failure('genesis_bad_type', 'auditor must be an object', p);
    for (const k of Object.keys(a)) if (k !== 'name' && k !== 'publicKey') return failure('genesis_unknown_field', `unknown field "${k}"`, `${p}.${k}`);
    for (const k of ['name', 'publicKey']) if (!(k in a)) return failure('genesis_missing_field', `missing field "${k}"`, `${p}.${k}`);
    if (typeof a.name !== 'string' || !NAME_PATTERN.test(a.name) || utf8(a.name).length > NAME_BYTES_MAX) {
      return failure('genesis_bad_name', `must be 1..${NAME_BYTES_MAX} (NAME_BYTES_MAX) characters of [A-Za-z0-9._-], starting alphanumeric`, `${p}.name`);
    }
    if (names.has(a.name)) return failure('genesis_duplicate', `auditor name "${a.name}" appears twice`, `${p}.name`);
    if (typeof a.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(a.publicKey)) {
      return failure('genesis_bad_key', 'auditor publicKey must be 64 lowercase hex characters', `${p}.publicKey`);
    }
    const pub = fromHex(a.publicKey)!;
    // Same vetting as every other key: node:crypto and noble must agree on its signatures.
    const vet = vetPublicKey(pub);
    if (!vet.ok) return failure('genesis_bad_key', `auditor key rejected (${vet.code}): ${vet.message}`, `${p}.publicKey`);
    if (keys.has(a.publicKey)) return failure('genesis_duplicate', 'auditor public key appears twice', `${p}.publicKey`);
    names.add(a.name);
    keys.add(a.publicKey);
    out.push({ name: a.name, publicKeyHex: a.publicKey, publicKey: pub });
  }
  return { ok: true, value: out };
}

/** The conventional name of an organization's meta-audit client. */
export function metaAuditClientName(orgName: string): string {
  return `${orgName}${META_AUDIT_CLIENT_SUFFIX}`;
}

/**
 * The meta-audit client of organization `orgName`: the genesis client named `<org>-meta-audit`
 * AND vouched by that organization (a client merely named so but vouched by another organization
 * does not count). undefined when the genesis names none.
 */
export function metaAuditClientFor<C extends { name: string; vouchedBy: string }>(genesis: { clients: ReadonlyMap<string, C> }, orgName: string): C | undefined {
  const want = metaAuditClientName(orgName);
  for (const c of genesis.clients.values()) if (c.name === want && c.vouchedBy === orgName) return c;
  return undefined;
}
