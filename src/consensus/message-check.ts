// Checks of untrusted consensus messages, in two stages:
//   1. shape: every field has the right type and lies within its limit (never throws, even for
//      objects that are not messages at all — the simulator and the network hand us anything);
//   2. signature: the message is signed by the validator it names, over sign-bytes that bind
//      the chain id (sign-bytes.ts). Only messages passing both are ever counted.
import type { ConsensusMessage, Validator } from './types.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { proposalSignBytes, voteSignBytes } from './sign-bytes.js';
import { HEIGHT_MAX, PROPOSAL_VALUE_BYTES_MAX, ROUND_MAX, SIGNATURE_BYTES, VALIDATORS_MAX, VALUE_ID_BYTES_MAX, VALUE_ID_BYTES_MIN } from './limits.js';

export type CheckResult = { ok: true } | { ok: false; code: string; message: string };

const OK: CheckResult = { ok: true };

function fail(code: string, message: string): CheckResult {
  return { ok: false, code, message };
}

function isIndex(v: unknown, below: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < below;
}

/**
 * Structural check of a message for a validator set of size n. Codes: MALFORMED (wrong types,
 * out-of-range numbers), UNKNOWN_VALIDATOR (index outside the set), VALUE_TOO_LARGE.
 */
export function checkMessageShape(m: unknown, n: number, maxValueBytes = PROPOSAL_VALUE_BYTES_MAX): CheckResult {
  if (typeof m !== 'object' || m === null) return fail('MALFORMED', 'message is not an object');
  const msg = m as Record<string, unknown>;
  const type = msg['type'];
  if (type !== 'proposal' && type !== 'prevote' && type !== 'precommit') return fail('MALFORMED', 'unknown message type');
  const height = msg['height'];
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0 || height > HEIGHT_MAX) {
    return fail('MALFORMED', 'height must be an integer in 0..HEIGHT_MAX');
  }
  const round = msg['round'];
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0 || round > ROUND_MAX) {
    return fail('MALFORMED', `round must be an integer in 0..${ROUND_MAX} (ROUND_MAX)`);
  }
  const validator = msg['validator'];
  if (typeof validator !== 'number' || !Number.isInteger(validator)) return fail('MALFORMED', 'validator index must be an integer');
  if (!isIndex(validator, Math.min(n, VALIDATORS_MAX))) return fail('UNKNOWN_VALIDATOR', `validator index ${validator} is outside the set of ${n}`);
  const sig = msg['signature'];
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return fail('MALFORMED', `signature must be ${SIGNATURE_BYTES} bytes`);
  if (type === 'proposal') {
    const value = msg['value'];
    if (!(value instanceof Uint8Array)) return fail('MALFORMED', 'proposal value must be bytes');
    if (value.length > maxValueBytes) return fail('VALUE_TOO_LARGE', `proposal value of ${value.length} bytes exceeds ${maxValueBytes} (maxValueBytes)`);
    const vr = msg['validRound'];
    // Paper L28: vr ≥ 0 ∧ vr < round_p, or -1 (L22) for "none".
    if (typeof vr !== 'number' || !Number.isInteger(vr) || vr < -1 || vr >= round) {
      return fail('MALFORMED', 'validRound must be -1 or an integer in 0..round-1');
    }
    return OK;
  }
  const id = msg['valueId'];
  if (id !== null && (!(id instanceof Uint8Array) || id.length < VALUE_ID_BYTES_MIN || id.length > VALUE_ID_BYTES_MAX)) {
    return fail('MALFORMED', `valueId must be null or ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX} (VALUE_ID_BYTES_MAX) bytes`);
  }
  return OK;
}

/** Sign-bytes of a shape-checked message. `proposalValueId` is id(v) for proposals. */
export function messageSignBytes(chainId: string, m: ConsensusMessage, proposalValueId: Uint8Array | null): Uint8Array {
  if (m.type === 'proposal') return proposalSignBytes(chainId, m.height, m.round, proposalValueId!, m.validRound);
  return voteSignBytes(chainId, m.type, m.height, m.round, m.valueId);
}

/**
 * Full check: shape, then the signature of validators[m.validator] over the sign-bytes.
 * Never throws. Codes: MALFORMED, UNKNOWN_VALIDATOR, VALUE_TOO_LARGE, BAD_SIGNATURE.
 */
export function checkMessage(
  m: unknown,
  validators: readonly Validator[],
  chainId: string,
  verifier: Ed25519Verifier,
  valueId: (value: Uint8Array) => Uint8Array,
  maxValueBytes = PROPOSAL_VALUE_BYTES_MAX,
): CheckResult {
  const shape = checkMessageShape(m, validators.length, maxValueBytes);
  if (!shape.ok) return shape;
  const msg = m as ConsensusMessage;
  let signBytes: Uint8Array;
  try {
    const id = msg.type === 'proposal' ? valueId(msg.value) : null;
    signBytes = messageSignBytes(chainId, msg, id);
  } catch (e) {
    return fail('MALFORMED', `cannot build sign-bytes: ${(e as Error).message}`);
  }
  const key = validators[msg.validator]!.publicKey;
  let good = false;
  try {
    good = verifier.verify(key, signBytes, msg.signature);
  } catch {
    good = false; // verifiers must not throw; treat a throwing one as a rejection
  }
  return good ? OK : fail('BAD_SIGNATURE', `signature of validator ${msg.validator} does not verify`);
}
