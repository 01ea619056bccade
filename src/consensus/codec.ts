// Wire format of consensus messages and commit certificates: strict, versioned, size-limited.
// Strict = exactly one encoding per message: fixed-width big-endian integers, explicit lengths,
// no trailing bytes, every field range-checked on decode (same rules as message-check.ts).
//
// Message (version 1):
//   u8 version = 1 | u8 tag (1 proposal, 2 prevote, 3 precommit) | u64 height | u32 round | u16 validator
//   proposal: u32 validRound + 1 (0 = none) | u32 valueLen | value
//   vote:     u8 0 (nil) | u8 1, u8 valueIdLen, valueId
//   64-byte signature
// Certificate (version 1):
//   u8 version = 1 | u8 tag = 0x10 | u64 height | u32 round | u8 valueIdLen | valueId
//   u16 count | count × (u16 validator | 64-byte signature)
import type { CommitCertificate, ConsensusMessage } from './types.js';
import { ByteReader, ByteWriter } from './byte-io.js';
import { ConsensusError } from './errors.js';
import { checkMessageShape } from './message-check.js';
import { HEIGHT_MAX, PROPOSAL_VALUE_BYTES_MAX, ROUND_MAX, SIGNATURE_BYTES, VALIDATORS_MAX, VALUE_ID_BYTES_MAX, VALUE_ID_BYTES_MIN } from './limits.js';
import { TAG_PRECOMMIT, TAG_PREVOTE, TAG_PROPOSAL } from './sign-bytes.js';

export const CODEC_VERSION = 1;
export const TAG_CERTIFICATE = 0x10;
/** Largest encoded message: header + proposal fields + the largest value + signature. */
export const MESSAGE_BYTES_MAX = 1 + 1 + 8 + 4 + 2 + 4 + 4 + PROPOSAL_VALUE_BYTES_MAX + SIGNATURE_BYTES;
/** Most signatures in a certificate (one per validator). */
export const CERTIFICATE_SIGNATURES_MAX = VALIDATORS_MAX;
/** Largest encoded certificate. */
export const CERTIFICATE_BYTES_MAX = 1 + 1 + 8 + 4 + 1 + VALUE_ID_BYTES_MAX + 2 + CERTIFICATE_SIGNATURES_MAX * (2 + SIGNATURE_BYTES);

export type DecodeMessageResult = { ok: true; message: ConsensusMessage } | { ok: false; code: string; message: string };
export type DecodeCertificateResult = { ok: true; certificate: CommitCertificate } | { ok: false; code: string; message: string };

function bad(code: string, message: string): { ok: false; code: string; message: string } {
  return { ok: false, code, message };
}

/** Encodes a message. Throws ConsensusError (code of checkMessageShape) if the message is malformed. */
export function encodeMessage(m: ConsensusMessage): Uint8Array {
  const shape = checkMessageShape(m, VALIDATORS_MAX);
  if (!shape.ok) throw new ConsensusError(shape.code, shape.message);
  const head = 1 + 1 + 8 + 4 + 2;
  if (m.type === 'proposal') {
    const w = new ByteWriter(head + 4 + 4 + m.value.length + SIGNATURE_BYTES);
    w.u8(CODEC_VERSION).u8(TAG_PROPOSAL).u64(m.height).u32(m.round).u16(m.validator);
    w.u32(m.validRound + 1).u32(m.value.length).bytes(m.value).bytes(m.signature);
    return w.finish();
  }
  const idLen = m.valueId === null ? 1 : 2 + m.valueId.length;
  const w = new ByteWriter(head + idLen + SIGNATURE_BYTES);
  w.u8(CODEC_VERSION).u8(m.type === 'prevote' ? TAG_PREVOTE : TAG_PRECOMMIT).u64(m.height).u32(m.round).u16(m.validator);
  if (m.valueId === null) w.u8(0);
  else w.u8(1).u8(m.valueId.length).bytes(m.valueId);
  w.bytes(m.signature);
  return w.finish();
}

/**
 * Decodes a message. Never throws. Codes: NOT_BYTES, TOO_LARGE, TRUNCATED, TRAILING_BYTES,
 * BAD_VERSION, BAD_TYPE, BAD_HEIGHT, BAD_ROUND, BAD_VALIDATOR, BAD_VALID_ROUND, BAD_VALUE_ID,
 * BAD_NIL_FLAG, VALUE_TOO_LARGE. (Validator-index range against the actual set is the driver's check.)
 */
export function decodeMessage(bytes: Uint8Array, maxValueBytes = PROPOSAL_VALUE_BYTES_MAX): DecodeMessageResult {
  if (!(bytes instanceof Uint8Array)) return bad('NOT_BYTES', 'input is not a Uint8Array');
  if (bytes.length > MESSAGE_BYTES_MAX) return bad('TOO_LARGE', `message of ${bytes.length} bytes exceeds ${MESSAGE_BYTES_MAX} (MESSAGE_BYTES_MAX)`);
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (r.truncated) return bad('TRUNCATED', 'empty input');
  if (version !== CODEC_VERSION) return bad('BAD_VERSION', `unsupported message version ${version}`);
  const tag = r.u8();
  const height = r.u64();
  const round = r.u32();
  const validator = r.u16();
  if (r.truncated) return bad('TRUNCATED', 'message header is truncated');
  if (tag !== TAG_PROPOSAL && tag !== TAG_PREVOTE && tag !== TAG_PRECOMMIT) return bad('BAD_TYPE', `unknown message tag ${tag}`);
  if (height < 0 || height > HEIGHT_MAX) return bad('BAD_HEIGHT', 'height exceeds HEIGHT_MAX');
  if (round > ROUND_MAX) return bad('BAD_ROUND', `round exceeds ${ROUND_MAX} (ROUND_MAX)`);
  if (validator >= VALIDATORS_MAX) return bad('BAD_VALIDATOR', `validator index ${validator} exceeds ${VALIDATORS_MAX - 1} (VALIDATORS_MAX)`);
  let message: ConsensusMessage;
  if (tag === TAG_PROPOSAL) {
    const vrPlusOne = r.u32();
    const valueLen = r.u32();
    if (r.truncated) return bad('TRUNCATED', 'proposal header is truncated');
    // Paper L28: vr < round_p; encoded as vr + 1 so "none" (-1) is 0.
    if (vrPlusOne > round) return bad('BAD_VALID_ROUND', `validRound ${vrPlusOne - 1} is not below round ${round}`);
    if (valueLen > maxValueBytes) return bad('VALUE_TOO_LARGE', `proposal value of ${valueLen} bytes exceeds ${maxValueBytes} (maxValueBytes)`);
    const value = r.bytes(valueLen);
    const signature = r.bytes(SIGNATURE_BYTES);
    if (r.truncated) return bad('TRUNCATED', 'proposal body is truncated');
    message = { type: 'proposal', height, round, value, validRound: vrPlusOne - 1, validator, signature };
  } else {
    const flag = r.u8();
    let valueId: Uint8Array | null = null;
    if (flag === 1) {
      const idLen = r.u8();
      if (r.truncated) return bad('TRUNCATED', 'vote is truncated');
      if (idLen < VALUE_ID_BYTES_MIN || idLen > VALUE_ID_BYTES_MAX) {
        return bad('BAD_VALUE_ID', `value id length ${idLen} is outside ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX} (VALUE_ID_BYTES_MAX)`);
      }
      valueId = r.bytes(idLen);
    } else if (flag !== 0 && !r.truncated) {
      return bad('BAD_NIL_FLAG', `nil flag must be 0 or 1, got ${flag}`);
    }
    const signature = r.bytes(SIGNATURE_BYTES);
    if (r.truncated) return bad('TRUNCATED', 'vote is truncated');
    message = { type: tag === TAG_PREVOTE ? 'prevote' : 'precommit', height, round, valueId, validator, signature };
  }
  if (r.remaining !== 0) return bad('TRAILING_BYTES', `${r.remaining} bytes after the end of the message`);
  return { ok: true, message };
}

/** Encodes a certificate. Throws ConsensusError on malformed fields or too many signatures. */
export function encodeCertificate(c: CommitCertificate): Uint8Array {
  if (!Number.isSafeInteger(c.height) || c.height < 0) throw new ConsensusError('BAD_HEIGHT', 'certificate height must be a non-negative integer');
  if (!Number.isSafeInteger(c.round) || c.round < 0 || c.round > ROUND_MAX) throw new ConsensusError('BAD_ROUND', `certificate round must be in 0..${ROUND_MAX} (ROUND_MAX)`);
  if (!(c.valueId instanceof Uint8Array) || c.valueId.length < VALUE_ID_BYTES_MIN || c.valueId.length > VALUE_ID_BYTES_MAX) {
    throw new ConsensusError('BAD_VALUE_ID', `value id must be ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX} (VALUE_ID_BYTES_MAX) bytes`);
  }
  if (!Array.isArray(c.signatures) || c.signatures.length > CERTIFICATE_SIGNATURES_MAX) {
    throw new ConsensusError('TOO_MANY_SIGNATURES', `a certificate carries at most ${CERTIFICATE_SIGNATURES_MAX} (CERTIFICATE_SIGNATURES_MAX) signatures`);
  }
  const w = new ByteWriter(1 + 1 + 8 + 4 + 1 + c.valueId.length + 2 + c.signatures.length * (2 + SIGNATURE_BYTES));
  w.u8(CODEC_VERSION).u8(TAG_CERTIFICATE).u64(c.height).u32(c.round).u8(c.valueId.length).bytes(c.valueId).u16(c.signatures.length);
  for (const s of c.signatures) {
    if (!Number.isInteger(s.validator) || s.validator < 0 || s.validator >= VALIDATORS_MAX) {
      throw new ConsensusError('BAD_VALIDATOR', `validator index must be in 0..${VALIDATORS_MAX - 1} (VALIDATORS_MAX)`);
    }
    if (!(s.signature instanceof Uint8Array) || s.signature.length !== SIGNATURE_BYTES) {
      throw new ConsensusError('BAD_SIGNATURE_LENGTH', `signature must be ${SIGNATURE_BYTES} bytes`);
    }
    w.u16(s.validator).bytes(s.signature);
  }
  return w.finish();
}

/**
 * Decodes a certificate. Never throws. Codes: NOT_BYTES, TOO_LARGE, TRUNCATED, TRAILING_BYTES,
 * BAD_VERSION, BAD_TYPE, BAD_HEIGHT, BAD_ROUND, BAD_VALUE_ID, TOO_MANY_SIGNATURES, BAD_VALIDATOR.
 * Signatures are NOT checked here: use verifyCommitCertificate (certificate.ts).
 */
export function decodeCertificate(bytes: Uint8Array): DecodeCertificateResult {
  if (!(bytes instanceof Uint8Array)) return bad('NOT_BYTES', 'input is not a Uint8Array');
  if (bytes.length > CERTIFICATE_BYTES_MAX) return bad('TOO_LARGE', `certificate of ${bytes.length} bytes exceeds ${CERTIFICATE_BYTES_MAX} (CERTIFICATE_BYTES_MAX)`);
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (r.truncated) return bad('TRUNCATED', 'empty input');
  if (version !== CODEC_VERSION) return bad('BAD_VERSION', `unsupported certificate version ${version}`);
  const tag = r.u8();
  const height = r.u64();
  const round = r.u32();
  const idLen = r.u8();
  if (r.truncated) return bad('TRUNCATED', 'certificate header is truncated');
  if (tag !== TAG_CERTIFICATE) return bad('BAD_TYPE', `tag ${tag} is not a certificate`);
  if (height < 0) return bad('BAD_HEIGHT', 'height exceeds HEIGHT_MAX');
  if (round > ROUND_MAX) return bad('BAD_ROUND', `round exceeds ${ROUND_MAX} (ROUND_MAX)`);
  if (idLen < VALUE_ID_BYTES_MIN || idLen > VALUE_ID_BYTES_MAX) return bad('BAD_VALUE_ID', `value id length ${idLen} is outside ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX}`);
  const valueId = r.bytes(idLen);
  const count = r.u16();
  if (r.truncated) return bad('TRUNCATED', 'certificate header is truncated');
  if (count > CERTIFICATE_SIGNATURES_MAX) return bad('TOO_MANY_SIGNATURES', `${count} signatures exceed ${CERTIFICATE_SIGNATURES_MAX} (CERTIFICATE_SIGNATURES_MAX)`);
  const signatures: { validator: number; signature: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const validator = r.u16();
    const signature = r.bytes(SIGNATURE_BYTES);
    if (r.truncated) return bad('TRUNCATED', `signature ${i} is truncated`);
    if (validator >= VALIDATORS_MAX) return bad('BAD_VALIDATOR', `validator index ${validator} exceeds ${VALIDATORS_MAX - 1} (VALIDATORS_MAX)`);
    signatures.push({ validator, signature });
  }
  if (r.remaining !== 0) return bad('TRAILING_BYTES', `${r.remaining} bytes after the end of the certificate`);
  return { ok: true, certificate: { height, round, valueId, signatures } };
}
