// Vetting of Ed25519 public keys at registration time (organization and client keys).
//
// Ed25519 libraries disagree on adversarial keys (OpenSSL, noble ZIP-215 vs strict, libsodium).
// Cairn's rule: peers all verify with node:crypto, and every key is vetted when registered, so
// that for every key in the system all verifiers give the same answer and no signature can be
// valid for more than one message by accident. A key passes only if it is the canonical encoding
// of a point of the prime-order subgroup, other than the identity.
import * as ed from '@noble/ed25519';
import { ED25519_PUBLIC_KEY_BYTES } from './types.js';
import { bytesEqual } from '../encoding/bytes.js';

export type VetResult = { ok: true } | { ok: false; code: VetCode; message: string };
export type VetCode = 'key_length' | 'key_noncanonical' | 'key_not_on_curve' | 'key_small_order' | 'key_torsion';

/** True only for keys vetPublicKey accepts; may be stricter, never laxer. */
export type FastKeyCheck = (pub: Uint8Array) => boolean;
let fastKeyCheck: FastKeyCheck | null = null;
let fastKeyCheckName = 'noble';

/**
 * Vetting one key with noble takes ~1 ms (the [L]P subgroup check), so a peer vetting its genesis
 * keys spends a quarter of a second at every start. Node code may install a check with the same
 * criteria (libsodium's crypto_core_ed25519_is_valid_point: canonical, on the curve, in the
 * prime-order subgroup, not of small order): a key it accepts is accepted at once; a key it refuses
 * still goes through noble, which names the reason, so a refusal reads the same either way. The
 * check must refuse the identity, a small-order point, a mixed-order point and a non-canonical
 * encoding and accept the base point: `setFastKeyCheck` tries those before accepting it. Passing
 * null restores noble alone.
 */
export function setFastKeyCheck(fn: FastKeyCheck | null, name = 'custom'): void {
  if (fn === null) {
    fastKeyCheck = null;
    fastKeyCheckName = 'noble';
    return;
  }
  const T8 = ed.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[0] = 0xf0; // y = p + 3 (2^255 - 16): a non-canonical encoding of the point with y = 3
  nonCanonical[31] = 0x7f;
  const refuse = [ed.Point.ZERO.toBytes(), T8.toBytes(), ed.Point.BASE.add(T8).toBytes(), nonCanonical];
  if (!fn(ed.Point.BASE.toBytes()) || refuse.some((k) => fn(k))) throw new Error(`${name} fails the Ed25519 key-check known answers`);
  fastKeyCheck = fn;
  fastKeyCheckName = name;
}

/** Which check accepts keys first (for start-up logs and benches). */
export function keyCheckImplementation(): string {
  return fastKeyCheckName;
}

export function vetPublicKey(pub: Uint8Array): VetResult {
  if (!(pub instanceof Uint8Array) || pub.length !== ED25519_PUBLIC_KEY_BYTES) {
    return { ok: false, code: 'key_length', message: `an Ed25519 public key is exactly ${ED25519_PUBLIC_KEY_BYTES} bytes (ED25519_PUBLIC_KEY_BYTES)` };
  }
  if (fastKeyCheck !== null && fastKeyCheck(pub)) return { ok: true };
  let point: ed.Point;
  try {
    // Permissive (ZIP-215) decoding first, so that a non-canonical encoding of a real point is
    // reported as such instead of as "not on the curve".
    point = ed.Point.fromBytes(pub, true);
  } catch {
    return { ok: false, code: 'key_not_on_curve', message: 'the bytes do not encode a point on edwards25519 (no square root for x)' };
  }
  // RFC 8032 §5.1.3: y must be < p and x = 0 must not carry a sign bit. Both hold exactly when
  // re-encoding the decoded point gives back the same bytes.
  if (!bytesEqual(point.toBytes(), pub)) {
    return { ok: false, code: 'key_noncanonical', message: 'non-canonical point encoding (y >= p, or x = 0 with the sign bit set)' };
  }
  if (point.isSmallOrder()) {
    return {
      ok: false,
      code: 'key_small_order',
      message: point.is0() ? 'the identity point is not a usable public key' : 'small-order point (order divides 8) is not a usable public key',
    };
  }
  // [L]P == identity iff P has no torsion component (mixed-order points fail this).
  if (!point.isTorsionFree()) {
    return { ok: false, code: 'key_torsion', message: 'point has a small-order (torsion) component: [L]P is not the identity' };
  }
  return { ok: true };
}
