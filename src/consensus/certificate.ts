// Commit certificates: the q precommits that decided a value (paper L49: "2f+1 ⟨PRECOMMIT, h, r,
// id(v)⟩"; here q = ⌊2n/3⌋+1). Anyone holding the validator set can check a decision offline.
import type { CommitCertificate, Validator } from './types.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { voteSignBytes } from './sign-bytes.js';
import { quorum } from './quorum.js';
import { ROUND_MAX, SIGNATURE_BYTES, VALIDATORS_MAX, VALUE_ID_BYTES_MAX, VALUE_ID_BYTES_MIN } from './limits.js';

export type CertificateResult = { ok: true } | { ok: false; code: string; message: string };

/**
 * Verifies that `cert` carries at least q = ⌊2n/3⌋+1 valid precommit signatures from DISTINCT
 * validators for cert.valueId at (cert.height, cert.round) under chainId.
 * Never throws. Codes: MALFORMED, TOO_MANY_SIGNATURES, UNKNOWN_VALIDATOR, BAD_SIGNATURE,
 * INSUFFICIENT_SIGNATURES. A signature from an unknown validator or an invalid signature makes
 * the whole certificate invalid (a certificate is produced by us; junk in it means tampering);
 * a repeated validator is counted once.
 */
export function verifyCommitCertificate(
  cert: CommitCertificate,
  validators: readonly Validator[],
  chainId: string,
  verifier: Ed25519Verifier,
): CertificateResult {
  const n = validators.length;
  if (n < 1 || n > VALIDATORS_MAX) return { ok: false, code: 'MALFORMED', message: `validator set size must be 1..${VALIDATORS_MAX} (VALIDATORS_MAX)` };
  if (typeof cert !== 'object' || cert === null) return { ok: false, code: 'MALFORMED', message: 'certificate is not an object' };
  if (!Number.isSafeInteger(cert.height) || cert.height < 0) return { ok: false, code: 'MALFORMED', message: 'height must be a non-negative integer' };
  if (!Number.isSafeInteger(cert.round) || cert.round < 0 || cert.round > ROUND_MAX) {
    return { ok: false, code: 'MALFORMED', message: `round must be in 0..${ROUND_MAX} (ROUND_MAX)` };
  }
  if (!(cert.valueId instanceof Uint8Array) || cert.valueId.length < VALUE_ID_BYTES_MIN || cert.valueId.length > VALUE_ID_BYTES_MAX) {
    return { ok: false, code: 'MALFORMED', message: `value id must be ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX} bytes` };
  }
  if (!Array.isArray(cert.signatures)) return { ok: false, code: 'MALFORMED', message: 'signatures must be an array' };
  // Bound the work: at most one signature per validator plus as many repeats again.
  if (cert.signatures.length > 2 * n) {
    return { ok: false, code: 'TOO_MANY_SIGNATURES', message: `${cert.signatures.length} signatures for ${n} validators (limit 2n)` };
  }
  let signBytes: Uint8Array;
  try {
    signBytes = voteSignBytes(chainId, 'precommit', cert.height, cert.round, cert.valueId);
  } catch (e) {
    return { ok: false, code: 'MALFORMED', message: (e as Error).message };
  }
  const seen = new Set<number>();
  for (const s of cert.signatures) {
    if (typeof s !== 'object' || s === null || !(s.signature instanceof Uint8Array) || s.signature.length !== SIGNATURE_BYTES) {
      return { ok: false, code: 'MALFORMED', message: `each signature must be ${SIGNATURE_BYTES} bytes` };
    }
    if (!Number.isInteger(s.validator) || s.validator < 0 || s.validator >= n) {
      return { ok: false, code: 'UNKNOWN_VALIDATOR', message: `validator index ${s.validator} is outside the set of ${n}` };
    }
    if (seen.has(s.validator)) continue; // duplicate validator: counted once
    let good = false;
    try {
      good = verifier.verify(validators[s.validator]!.publicKey, signBytes, s.signature);
    } catch {
      good = false;
    }
    if (!good) return { ok: false, code: 'BAD_SIGNATURE', message: `precommit signature of validator ${s.validator} does not verify` };
    seen.add(s.validator);
  }
  const q = quorum(n);
  if (seen.size < q) {
    return { ok: false, code: 'INSUFFICIENT_SIGNATURES', message: `${seen.size} distinct valid precommits, quorum is ${q} of ${n}` };
  }
  return { ok: true };
}
