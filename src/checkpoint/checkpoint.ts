// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed-note text of a log's tree head.
//
//   <origin>\n              non-empty; Cairn's origins are schema-less URLs without spaces or "+"
//   <tree size>\n           ASCII decimal, no leading zeros ("0" for the empty tree)
//   <base64 root hash>\n    standard padded base64 of the 32-byte RFC 6962 root
//   [<extension line>\n]*   "opaque and OPTIONAL ... MUST be non-empty ... NOT RECOMMENDED"
//
// Extension lines: parseCheckpoint accepts them (they are valid checkpoints, and other tools may
// produce them) and returns them in `extensions`; formatCheckpoint never produces any, and the
// Cairn verifier ignores them (their meaning is not defined by Cairn and they are not auditable).
//
// Quorum (Cairn): each of the n organizations' peers signs the checkpoint of a decided block; the
// checkpoint is final with valid signatures from at least q = ⌊2n/3⌋+1 distinct organizations.
import { quorum as consensusQuorum } from '../consensus/quorum.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { bytesEqual, fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes.js';
import type { VerifierKey } from './keys.js';
import { decodeNoteInput, parseNote, verifyNoteSignatures, NOTE_BYTES_MAX, type Note, type NoteErrorCode } from './note.js';
import { fail, FormatError, parseCanonicalDecimal, type Failure } from './result.js';

/** Bytes of a SHA-256 root hash. */
export const CHECKPOINT_ROOT_BYTES = 32;
/** Longest origin line accepted or produced, in UTF-8 bytes. */
export const CHECKPOINT_ORIGIN_BYTES_MAX = 1024;
/** Most extension lines accepted on parse (Cairn itself produces none). */
export const CHECKPOINT_EXTENSION_LINES_MAX = 16;
/** Largest tree size represented: Number.MAX_SAFE_INTEGER (2^53 - 1). */
export const CHECKPOINT_SIZE_MAX = Number.MAX_SAFE_INTEGER;
/** Most organizations in a trust configuration (also bounded by NOTE_SIGNATURES_MAX signatures). */
export const ORGANIZATIONS_MAX = 100;

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** 32-byte RFC 6962 Merkle tree root. */
  readonly root: Uint8Array;
  /** Extension lines (without newlines) of a parsed checkpoint; always empty for Cairn's own. */
  readonly extensions: readonly string[];
}

export type CheckpointErrorCode =
  | 'checkpoint_too_few_lines'
  | 'checkpoint_missing_final_newline'
  | 'checkpoint_bad_origin'
  | 'checkpoint_bad_size'
  | 'checkpoint_size_too_large'
  | 'checkpoint_bad_root'
  | 'checkpoint_bad_extension'
  | 'checkpoint_origin_mismatch'
  | 'checkpoint_quorum_not_met'
  | 'trust_invalid';

/** q = ⌊2n/3⌋+1: the smallest number of organizations strictly greater than 2n/3 (same rule as consensus). */
export function quorumSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new FormatError('trust_invalid', `number of organizations must be a positive integer, got ${n}`);
  return consensusQuorum(n);
}

function originProblem(origin: string): string | null {
  if (origin.length === 0) return 'origin must be non-empty';
  if (utf8(origin).length > CHECKPOINT_ORIGIN_BYTES_MAX) return `origin longer than ${CHECKPOINT_ORIGIN_BYTES_MAX} bytes (CHECKPOINT_ORIGIN_BYTES_MAX)`;
  return null;
}

/**
 * The checkpoint note text (three lines, no extension lines). The origin must also satisfy the
 * spec's SHOULD: no Unicode spaces and no "+", so it can double as a key name.
 */
export function formatCheckpoint(cp: { origin: string; size: number; root: Uint8Array }): string {
  const problem = originProblem(cp.origin);
  if (problem !== null) throw new FormatError('checkpoint_bad_origin', problem);
  if (/[\p{White_Space}+]/u.test(cp.origin) || /[\x00-\x1f\x7f]/.test(cp.origin)) {
    throw new FormatError('checkpoint_bad_origin', 'origin must not contain spaces, "+" or control characters');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) {
    throw new FormatError('checkpoint_bad_size', `tree size must be an integer in 0..${CHECKPOINT_SIZE_MAX} (CHECKPOINT_SIZE_MAX)`);
  }
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== CHECKPOINT_ROOT_BYTES) {
    throw new FormatError('checkpoint_bad_root', `root hash must be ${CHECKPOINT_ROOT_BYTES} bytes`);
  }
  const text = `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n`;
  const check = decodeNoteInput(text, NOTE_BYTES_MAX, 'checkpoint');
  if (!check.ok) throw new FormatError('checkpoint_bad_origin', check.message);
  return text;
}

/** Strictly parses a checkpoint note text (the note body, not the signed note). */
export function parseCheckpoint(text: string | Uint8Array): { ok: true; checkpoint: Checkpoint } | Failure<CheckpointErrorCode | NoteErrorCode> {
  const decoded = decodeNoteInput(text, NOTE_BYTES_MAX, 'checkpoint');
  if (!decoded.ok) return decoded;
  const s = decoded.text;
  if (!s.endsWith('\n')) return fail('checkpoint_missing_final_newline', 'checkpoint text must end with a newline');
  const lines = s.slice(0, -1).split('\n');
  if (lines.length < 3) return fail('checkpoint_too_few_lines', `checkpoint needs origin, size and root lines, got ${lines.length} line(s)`);
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  const problem = originProblem(origin);
  if (problem !== null) return fail('checkpoint_bad_origin', problem);
  const size = parseCanonicalDecimal(sizeLine);
  if (size === null) return fail('checkpoint_bad_size', `tree size ${JSON.stringify(sizeLine.slice(0, 40))} is not a decimal without leading zeros`);
  if (size < 0) return fail('checkpoint_size_too_large', `tree size exceeds ${CHECKPOINT_SIZE_MAX} (CHECKPOINT_SIZE_MAX)`);
  const root = fromBase64(rootLine);
  if (root === null || root.length !== CHECKPOINT_ROOT_BYTES) {
    return fail('checkpoint_bad_root', `root hash must be canonical base64 of ${CHECKPOINT_ROOT_BYTES} bytes`);
  }
  const extensions = lines.slice(3);
  if (extensions.length > CHECKPOINT_EXTENSION_LINES_MAX) {
    return fail('checkpoint_bad_extension', `more than ${CHECKPOINT_EXTENSION_LINES_MAX} extension lines (CHECKPOINT_EXTENSION_LINES_MAX)`);
  }
  if (extensions.some((l) => l.length === 0)) return fail('checkpoint_bad_extension', 'extension lines must be non-empty');
  return { ok: true, checkpoint: { origin, size, root, extensions } };
}

/** What a verifier trusts: the log origin, the organizations' keys, and the quorum q. */
export interface QuorumTrust {
  readonly origin: string;
  readonly keys: readonly VerifierKey[];
  readonly quorum: number;
}

/** Checks the invariants of a trust configuration built in code (parseTrustFile checks them too). */
export function checkTrust(trust: QuorumTrust): { ok: true } | Failure<'trust_invalid'> {
  const n = trust.keys.length;
  if (n < 1 || n > ORGANIZATIONS_MAX) return fail('trust_invalid', `trust must list 1..${ORGANIZATIONS_MAX} organization keys (ORGANIZATIONS_MAX), got ${n}`);
  if (!Number.isSafeInteger(trust.quorum) || trust.quorum < quorumSize(n) || trust.quorum > n) {
    return fail('trust_invalid', `quorum ${trust.quorum} is outside ${quorumSize(n)}..${n} for ${n} organizations (q >= floor(2n/3)+1)`);
  }
  const names = new Set<string>();
  const pubs = new Set<string>();
  for (const k of trust.keys) {
    const pub = toHex(k.publicKey);
    if (names.has(k.name)) return fail('trust_invalid', `organization key name ${k.name} is listed twice`);
    if (pubs.has(pub)) return fail('trust_invalid', `public key of ${k.name} is listed twice`);
    names.add(k.name);
    pubs.add(pub);
  }
  if (originProblem(trust.origin) !== null) return fail('trust_invalid', 'trust origin must be a non-empty string');
  return { ok: true };
}

export interface VerifiedCheckpoint {
  readonly ok: true;
  readonly checkpoint: Checkpoint;
  /** Names of the distinct organizations whose valid signatures were counted. */
  readonly signers: string[];
  /** The parsed note, e.g. to re-serialize or merge more signatures. */
  readonly note: Note;
}

/**
 * Verifies a signed checkpoint against a trust configuration: note signatures per signed-note
 * (unknown keys ignored, any invalid known-key signature rejects), body per tlog-checkpoint,
 * origin equal to the trusted origin, and at least `trust.quorum` distinct organizations signed.
 */
export function verifyCheckpointQuorum(
  noteBytes: Uint8Array | string,
  trust: QuorumTrust,
  verifier: Ed25519Verifier,
): VerifiedCheckpoint | Failure<CheckpointErrorCode | NoteErrorCode> {
  const trustOk = checkTrust(trust);
  if (!trustOk.ok) return trustOk;
  const parsed = parseNote(noteBytes);
  if (!parsed.ok) return parsed;
  const body = parseCheckpoint(parsed.note.text);
  if (!body.ok) return body;
  const cp = body.checkpoint;
  if (cp.origin !== trust.origin) {
    return fail('checkpoint_origin_mismatch', `checkpoint origin ${JSON.stringify(cp.origin.slice(0, 80))} is not the trusted origin ${JSON.stringify(trust.origin)}`);
  }
  const verified = verifyNoteSignatures(parsed.note, trust.keys, verifier);
  if (!verified.ok) return verified;
  // Distinct organizations: verifyNoteSignatures lists each key once, and checkTrust guarantees
  // one key (name and public key) per organization, so one signer = one organization.
  const signers = verified.signers.map((k) => k.name);
  if (signers.length < trust.quorum) {
    return fail(
      'checkpoint_quorum_not_met',
      `checkpoint signed by ${signers.length} of ${trust.keys.length} organizations${signers.length > 0 ? ` (${signers.join(', ')})` : ''}; quorum is ${trust.quorum}`,
    );
  }
  return { ok: true, checkpoint: cp, signers, note: parsed.note };
}

/** True when two checkpoints describe the same tree head (origin, size, root). */
export function sameTreeHead(a: Checkpoint, b: Checkpoint): boolean {
  return a.origin === b.origin && a.size === b.size && bytesEqual(a.root, b.root);
}
