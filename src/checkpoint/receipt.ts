// C2SP tlog-proof (https://c2sp.org/tlog-proof): an offline-verifiable inclusion receipt.
//
//   c2sp.org/tlog-proof@v1\n
//   [extra <base64 opaque data>\n]     optional; "If no extra data is present, this line is omitted"
//   index <i>\n                        zero-based, decimal, no leading zeros
//   <base64 hash>\n*                   inclusion proof, leaf's sibling first, one SHA-256 per line
//   \n
//   <checkpoint signed note, verbatim>
//
// The extra data is NOT authenticated ("Applications MUST NOT implicitly trust the extra data"):
// it is returned as bytes and never used in verification. Cairn does not emit it.
import type { Ed25519Verifier } from '../crypto/types.js';
import { fromBase64, toBase64 } from '../encoding/bytes.js';
import { verifyInclusionResult, type VerifyFailureCode } from '../merkle/verify.js';
import {
  verifyCheckpointQuorum,
  CHECKPOINT_ROOT_BYTES,
  type Checkpoint,
  type CheckpointErrorCode,
  type QuorumTrust,
} from './checkpoint.js';
import { decodeNoteInput, parseNote, NOTE_BYTES_MAX, type NoteErrorCode } from './note.js';
import { fail, FormatError, parseCanonicalDecimal, type Failure } from './result.js';

export const RECEIPT_HEADER = 'c2sp.org/tlog-proof@v1';
/**
 * Most proof hashes accepted: an inclusion proof in a tree of at most 2^53 - 1 leaves
 * (CHECKPOINT_SIZE_MAX) has at most 53 hashes; 64 also covers any 2^64 tree.
 */
export const RECEIPT_PROOF_HASHES_MAX = 64;
/** Largest extra data accepted, in decoded bytes. */
export const RECEIPT_EXTRA_BYTES_MAX = 16 * 1024;
/** Largest receipt accepted: the checkpoint note plus a header with extra data and proof lines. */
export const RECEIPT_BYTES_MAX = NOTE_BYTES_MAX + 32 * 1024;

export interface Receipt {
  readonly index: number;
  /** Inclusion proof hashes, 32 bytes each, from the leaf's sibling up. */
  readonly proof: readonly Uint8Array[];
  /** The checkpoint signed note, verbatim. */
  readonly checkpoint: string;
  /** Unauthenticated opaque data from the optional `extra` line; undefined when absent. */
  readonly extra?: Uint8Array;
}

export type ReceiptErrorCode =
  | 'receipt_bad_header'
  | 'receipt_bad_extra'
  | 'receipt_bad_index'
  | 'receipt_index_too_large'
  | 'receipt_bad_proof_hash'
  | 'receipt_proof_too_long'
  | 'receipt_missing_checkpoint'
  | 'receipt_index_out_of_range'
  | 'receipt_bad_leaf_hash'
  | ProofErrorCode;

/**
 * Merkle proof failures, from src/merkle's RFC 9162 verifier codes in lower case with a `proof_`
 * prefix: proof_root_mismatch, proof_too_long / proof_proof_too_short, proof_root1_mismatch, ...
 */
export type ProofErrorCode = `proof_${Lowercase<VerifyFailureCode>}`;

export function proofErrorCode(code: VerifyFailureCode): ProofErrorCode {
  return `proof_${code.toLowerCase() as Lowercase<VerifyFailureCode>}`;
}

/** Serializes a receipt. Throws FormatError on malformed fields. */
export function formatReceipt(r: Receipt): string {
  if (!Number.isSafeInteger(r.index) || r.index < 0) throw new FormatError('receipt_bad_index', 'index must be a non-negative safe integer');
  if (r.proof.length > RECEIPT_PROOF_HASHES_MAX) {
    throw new FormatError('receipt_proof_too_long', `more than ${RECEIPT_PROOF_HASHES_MAX} proof hashes (RECEIPT_PROOF_HASHES_MAX)`);
  }
  let out = RECEIPT_HEADER + '\n';
  if (r.extra !== undefined) {
    if (r.extra.length === 0 || r.extra.length > RECEIPT_EXTRA_BYTES_MAX) {
      throw new FormatError('receipt_bad_extra', `extra data must be 1..${RECEIPT_EXTRA_BYTES_MAX} bytes (RECEIPT_EXTRA_BYTES_MAX); omit it when empty`);
    }
    out += `extra ${toBase64(r.extra)}\n`;
  }
  out += `index ${r.index}\n`;
  for (const h of r.proof) {
    if (!(h instanceof Uint8Array) || h.length !== CHECKPOINT_ROOT_BYTES) throw new FormatError('receipt_bad_proof_hash', 'proof hashes are 32 bytes');
    out += toBase64(h) + '\n';
  }
  const note = parseNote(r.checkpoint);
  if (!note.ok) throw new FormatError(note.code, `receipt checkpoint: ${note.message}`);
  return out + '\n' + r.checkpoint;
}

/** Strictly parses a receipt (not verified: see verifyReceiptWith / src/verifier). */
export function parseReceipt(input: string | Uint8Array): { ok: true; receipt: Receipt } | Failure<ReceiptErrorCode | NoteErrorCode> {
  const decoded = decodeNoteInput(input, RECEIPT_BYTES_MAX, 'receipt');
  if (!decoded.ok) return decoded;
  const s = decoded.text;
  // The header has no empty line; the first empty line ends the proof and starts the checkpoint.
  const split = s.indexOf('\n\n');
  if (split < 0) return fail('receipt_missing_checkpoint', 'receipt has no empty line before the checkpoint');
  const header = s.slice(0, split).split('\n');
  const checkpoint = s.slice(split + 2);
  let i = 0;
  if (header[i++] !== RECEIPT_HEADER) return fail('receipt_bad_header', `receipt must start with the line ${RECEIPT_HEADER}`);
  let extra: Uint8Array | undefined;
  if (header[i]?.startsWith('extra ')) {
    const raw = fromBase64(header[i]!.slice('extra '.length));
    if (raw === null || raw.length === 0) return fail('receipt_bad_extra', 'extra data must be non-empty canonical standard base64');
    if (raw.length > RECEIPT_EXTRA_BYTES_MAX) return fail('receipt_bad_extra', `extra data larger than ${RECEIPT_EXTRA_BYTES_MAX} bytes (RECEIPT_EXTRA_BYTES_MAX)`);
    extra = raw;
    i++;
  }
  const indexLine = header[i++];
  if (indexLine === undefined || !indexLine.startsWith('index ')) return fail('receipt_bad_index', 'expected the line "index <i>"');
  const index = parseCanonicalDecimal(indexLine.slice('index '.length));
  if (index === null) return fail('receipt_bad_index', 'index must be a decimal without leading zeros');
  if (index < 0) return fail('receipt_index_too_large', `index exceeds ${Number.MAX_SAFE_INTEGER}`);
  const hashLines = header.slice(i);
  if (hashLines.length > RECEIPT_PROOF_HASHES_MAX) {
    return fail('receipt_proof_too_long', `more than ${RECEIPT_PROOF_HASHES_MAX} proof hashes (RECEIPT_PROOF_HASHES_MAX)`);
  }
  const proof: Uint8Array[] = [];
  for (const line of hashLines) {
    const h = fromBase64(line);
    if (h === null || h.length !== CHECKPOINT_ROOT_BYTES) {
      return fail('receipt_bad_proof_hash', `proof line ${proof.length + 1} is not canonical base64 of a 32-byte hash`);
    }
    proof.push(h);
  }
  if (checkpoint.length === 0) return fail('receipt_missing_checkpoint', 'receipt has no checkpoint after the empty line');
  // The checkpoint must at least be a well-formed note; its signatures are checked on verify.
  const note = parseNote(checkpoint);
  if (!note.ok) return note;
  return { ok: true, receipt: extra === undefined ? { index, proof, checkpoint } : { index, proof, checkpoint, extra } };
}

export interface VerifiedReceipt {
  readonly ok: true;
  readonly receipt: Receipt;
  readonly checkpoint: Checkpoint;
  readonly signers: string[];
  readonly index: number;
}

/**
 * Verifies a receipt for the leaf whose RFC 6962 leaf hash is `leafHash`: the checkpoint must
 * carry a quorum of trusted signatures, and the proof must lead from the leaf to its root.
 */
export function verifyReceiptWith(
  input: string | Uint8Array | Receipt,
  leafHash: Uint8Array,
  trust: QuorumTrust,
  verifier: Ed25519Verifier,
): VerifiedReceipt | Failure<ReceiptErrorCode | NoteErrorCode | CheckpointErrorCode> {
  let receipt: Receipt;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const parsed = parseReceipt(input);
    if (!parsed.ok) return parsed;
    receipt = parsed.receipt;
  } else {
    receipt = input;
  }
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== CHECKPOINT_ROOT_BYTES) {
    return fail('receipt_bad_leaf_hash', `leaf hash must be ${CHECKPOINT_ROOT_BYTES} bytes`);
  }
  const cp = verifyCheckpointQuorum(receipt.checkpoint, trust, verifier);
  if (!cp.ok) return cp;
  const { size, root } = cp.checkpoint;
  if (receipt.index >= size) {
    return fail('receipt_index_out_of_range', `index ${receipt.index} is not below the checkpoint tree size ${size}`);
  }
  const proofOk = verifyInclusionResult(leafHash, receipt.index, size, receipt.proof, root);
  if (!proofOk.ok) return fail(proofErrorCode(proofOk.code), `inclusion proof: ${proofOk.message}`);
  return { ok: true, receipt, checkpoint: cp.checkpoint, signers: cp.signers, index: receipt.index };
}
