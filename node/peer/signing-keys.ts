// This organization's signing keys beyond the current one: the next key of a key rotation (or
// the key of an organization being added), listed in the peer config as
//   "keys": { "next": ["org1-next.key"] }
// Which key signs at a height is decided by the validator set of that height
// (validator-sets.ts): the key whose public key is this organization's key there. So a peer
// given its next key before a rotation's effective height signs with the old key up to the
// height before it and with the new key from it on, without a restart; from the effective
// height the old key signs nothing.
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { failure, type PeerFailure } from './errors.js';
import { loadSigningKey } from './config.js';

/** Most additional signing keys (a rotation needs one; a few allow preparing ahead). */
export const NEXT_KEYS_MAX = 4;

/** Checks the config's `keys` field and resolves its paths; undefined = no extra key. */
export function checkKeysField(v: unknown, abs: (p: string) => string): { ok: true; next: string[] } | PeerFailure {
  if (v === undefined) return { ok: true, next: [] };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return failure('config_bad_keys', 'keys must be an object { next: [paths] }', 'keys');
  for (const k of Object.keys(v)) if (k !== 'next') return failure('config_unknown_field', `unknown field "${k}"`, `keys.${k}`);
  const next = (v as { next?: unknown }).next;
  if (!Array.isArray(next) || next.length > NEXT_KEYS_MAX) return failure('config_bad_keys', `keys.next must be an array of at most ${NEXT_KEYS_MAX} (NEXT_KEYS_MAX) key file paths`, 'keys.next');
  const out: string[] = [];
  for (let i = 0; i < next.length; i++) {
    const p: unknown = next[i];
    if (typeof p !== 'string' || p.length === 0 || p.length > 4096 || p.includes('\0')) return failure('config_bad_path', 'must be a non-empty path string (at most 4096 characters)', `keys.next[${i}]`);
    out.push(abs(p));
  }
  return { ok: true, next: out };
}

/** Loads the signers of `paths` (signing key files, same formats as signingKey). Throws PeerError. */
export async function loadNextSigners(paths: readonly string[]): Promise<Ed25519Signer[]> {
  const out: Ed25519Signer[] = [];
  for (const p of paths) out.push(nodeSigner((await loadSigningKey(p)).seed));
  return out;
}
