// C2SP signed-note (https://c2sp.org/signed-note), Ed25519 signatures only.
//
//   <text: one or more lines, each ending in "\n">
//   <empty line>
//   — <key name> <base64(4-byte key ID ‖ signature)>\n      (one or more; "—" is U+2014)
//
// Spec rules implemented here (quoted from signed-note "Format" and "Signatures"):
// - "Signed notes MUST be valid UTF-8 and MUST NOT contain any ASCII control characters (those
//   below U+0020) other than newline."
// - "the text is separated from the signatures by the last empty line in the note."
// - "Verifiers MUST ignore signatures from unknown keys, even if they share a name or ID (but not
//   both) with a known key. If the key name and ID match a known key, verifiers MUST verify the
//   signature. If a signature from a known key fails to verify, clients SHOULD reject the whole
//   note. If no signature from a known key verifies successfully, clients MUST reject the note."
//   Cairn rejects on ANY invalid known-key signature line, including a repeated line from a key
//   that also has a valid one (stricter than golang.org/x/mod/sumdb/note, which skips repeats).
// - "Verifiers SHOULD apply a maximum limit to the number of signatures in a note ... but MUST
//   accept at least up to 16 signatures": NOTE_SIGNATURES_MAX = 100 (as the Go implementation).
// Deliberate strictness: base64 in signature lines must be canonical (padded, zero trailing bits);
// every tool that implements signed-note emits canonical base64.
import type { Ed25519Signer, Ed25519Verifier } from '../crypto/types.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from '../crypto/types.js';
import { bytesEqual, concatBytes, fromBase64, fromUtf8, toBase64, toHex, utf8 } from '../encoding/bytes.js';
import { isValidKeyName, keyId, KEY_ID_BYTES, type VerifierKey } from './keys.js';
import { fail, findControlCharacter, FormatError, hasLoneSurrogate, type Failure } from './result.js';

export {
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  keyId,
  parseSignerKey,
  parseVerifierKey,
  verifierKey,
  KEY_ID_BYTES,
  KEY_NAME_BYTES_MAX,
  KEY_STRING_CHARS_MAX,
  SIGNATURE_TYPE_ED25519,
  type KeyErrorCode,
  type SignerKey,
  type VerifierKey,
} from './keys.js';

/** Most signature lines accepted in one note (same bound as golang.org/x/mod/sumdb/note). */
export const NOTE_SIGNATURES_MAX = 100;
/**
 * Largest note accepted, in bytes. The spec asks verifiers to accept at least 16 signatures of
 * up to ~5 kB (post-quantum); 256 KiB leaves room for that plus a long text.
 */
export const NOTE_BYTES_MAX = 256 * 1024;

/** "— " : U+2014 EM DASH then a space, the start of every signature line. */
export const SIGNATURE_LINE_PREFIX = '\u2014 ';

/** One signature line: key name, 4-byte key ID and the signature bytes that follow the ID. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array;
}

/** A parsed (not yet verified) note. `text` includes its final newline. */
export interface Note {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export type NoteErrorCode =
  | 'note_not_string_or_bytes'
  | 'note_too_large'
  | 'note_not_utf8'
  | 'note_control_character'
  | 'note_missing_final_newline'
  | 'note_no_signature_block'
  | 'note_no_signatures'
  | 'note_too_many_signatures'
  | 'note_bad_signature_line'
  | 'note_bad_key_name'
  | 'note_bad_signature_base64'
  | 'note_text_mismatch'
  | 'note_ambiguous_key'
  | 'note_invalid_signature'
  | 'note_no_verified_signature';

export interface NoteLimits {
  /** Defaults to NOTE_SIGNATURES_MAX; values below 16 are raised to 16 (spec minimum). */
  signaturesMax?: number;
  /** Defaults to NOTE_BYTES_MAX. */
  bytesMax?: number;
}

function limits(opts: NoteLimits | undefined): { signaturesMax: number; bytesMax: number } {
  const signaturesMax = Math.max(16, Math.floor(opts?.signaturesMax ?? NOTE_SIGNATURES_MAX));
  const bytesMax = Math.max(1, Math.floor(opts?.bytesMax ?? NOTE_BYTES_MAX));
  return { signaturesMax, bytesMax };
}

/** Decodes note input to a string, enforcing size, UTF-8 and the control-character ban. */
export function decodeNoteInput(
  input: Uint8Array | string,
  bytesMax: number,
  what = 'note',
): { ok: true; text: string } | Failure<NoteErrorCode> {
  let s: string;
  if (typeof input === 'string') {
    // A JS string can hold lone surrogates that have no UTF-8 encoding: treat them as invalid UTF-8.
    if (input.length > bytesMax) return fail('note_too_large', `${what} larger than ${bytesMax} bytes (NOTE_BYTES_MAX)`);
    if (hasLoneSurrogate(input)) return fail('note_not_utf8', `${what} is not valid UTF-8 (unpaired surrogate)`);
    if (utf8(input).length > bytesMax) return fail('note_too_large', `${what} larger than ${bytesMax} bytes (NOTE_BYTES_MAX)`);
    s = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > bytesMax) return fail('note_too_large', `${what} larger than ${bytesMax} bytes (NOTE_BYTES_MAX)`);
    try {
      s = fromUtf8(input);
    } catch {
      return fail('note_not_utf8', `${what} is not valid UTF-8`);
    }
  } else {
    return fail('note_not_string_or_bytes', `${what} must be a string or a Uint8Array`);
  }
  const ctl = findControlCharacter(s);
  if (ctl >= 0) {
    return fail('note_control_character', `${what} contains control character 0x${s.charCodeAt(ctl).toString(16).padStart(2, '0')} at offset ${ctl} (only newline is allowed)`);
  }
  return { ok: true, text: s };
}

/**
 * Parses one signature line WITHOUT its trailing newline: `— <name> <base64(keyID ‖ sig)>`.
 * The decoded signature must hold the 4-byte key ID and at least one signature byte.
 */
function parseSignatureLineBody(line: string): { ok: true; signature: NoteSignature } | Failure<NoteErrorCode> {
  if (!line.startsWith(SIGNATURE_LINE_PREFIX)) {
    return fail('note_bad_signature_line', `signature line must start with "— " (U+2014, space): ${JSON.stringify(line.slice(0, 40))}`);
  }
  const rest = line.slice(SIGNATURE_LINE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) return fail('note_bad_signature_line', 'signature line must be "— <key name> <base64 signature>"');
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) return fail('note_bad_key_name', `invalid key name ${JSON.stringify(name.slice(0, 40))} in signature line (empty, or contains spaces or "+")`);
  const raw = fromBase64(b64);
  if (raw === null) return fail('note_bad_signature_base64', `signature of ${name} is not canonical standard base64`);
  if (raw.length < KEY_ID_BYTES + 1) return fail('note_bad_signature_base64', `signature of ${name} is shorter than a key ID plus one byte`);
  return { ok: true, signature: { name, keyId: raw.slice(0, KEY_ID_BYTES), signature: raw.slice(KEY_ID_BYTES) } };
}

/** Parses a single gossiped signature line, which must end with exactly one "\n". */
export function parseSignatureLine(line: string): { ok: true; signature: NoteSignature } | Failure<NoteErrorCode> {
  const decoded = decodeNoteInput(line, 64 * 1024, 'signature line');
  if (!decoded.ok) return decoded;
  if (!line.endsWith('\n')) return fail('note_missing_final_newline', 'signature line must end with a newline');
  const body = line.slice(0, -1);
  if (body.includes('\n')) return fail('note_bad_signature_line', 'a signature line is a single line');
  return parseSignatureLineBody(body);
}

/** Strictly parses a signed note. Does not verify anything: see verifyNote. */
export function parseNote(input: Uint8Array | string, opts?: NoteLimits): { ok: true; note: Note } | Failure<NoteErrorCode> {
  const { signaturesMax, bytesMax } = limits(opts);
  const decoded = decodeNoteInput(input, bytesMax);
  if (!decoded.ok) return decoded;
  const s = decoded.text;
  if (!s.endsWith('\n')) return fail('note_missing_final_newline', 'note must end with a newline');
  // The last empty line separates text and signatures (signature lines are never empty).
  const split = s.lastIndexOf('\n\n');
  if (split < 0) return fail('note_no_signature_block', 'note has no empty line separating the text from the signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0) return fail('note_no_signatures', 'note has no signature lines');
  // Count lines before parsing any of them, so work is bounded by the limit, not by the input.
  let lines = 0;
  for (let i = block.indexOf('\n'); i >= 0; i = block.indexOf('\n', i + 1)) {
    if (++lines > signaturesMax) {
      return fail('note_too_many_signatures', `note has more than ${signaturesMax} signature lines (NOTE_SIGNATURES_MAX)`);
    }
  }
  const signatures: NoteSignature[] = [];
  for (const line of block.slice(0, -1).split('\n')) {
    const parsed = parseSignatureLineBody(line);
    if (!parsed.ok) return parsed;
    signatures.push(parsed.signature);
  }
  return { ok: true, note: { text, signatures } };
}

function checkTextForFormat(text: string): void {
  const decoded = decodeNoteInput(text, NOTE_BYTES_MAX, 'note text');
  if (!decoded.ok) throw new FormatError(decoded.code, decoded.message);
  if (!text.endsWith('\n')) throw new FormatError('note_missing_final_newline', 'note text must end with a newline');
}

/** `— <name> <base64(keyID ‖ sig)>\n` for a raw signature already made over the note text. */
export function formatSignatureLine(sig: NoteSignature): string {
  if (!isValidKeyName(sig.name)) throw new FormatError('note_bad_key_name', `invalid key name ${JSON.stringify(sig.name)}`);
  if (sig.keyId.length !== KEY_ID_BYTES || sig.signature.length === 0) {
    throw new FormatError('note_bad_signature_line', 'a signature has a 4-byte key ID and a non-empty signature');
  }
  return `${SIGNATURE_LINE_PREFIX}${sig.name} ${toBase64(concatBytes(sig.keyId, sig.signature))}\n`;
}

/** The signature line for an Ed25519 signature `sig` by key (name, pub). */
export function signatureLine(name: string, publicKey: Uint8Array, sig: Uint8Array): string {
  if (!(sig instanceof Uint8Array) || sig.length !== ED25519_SIGNATURE_BYTES) {
    throw new FormatError('note_bad_signature_line', `an Ed25519 signature is ${ED25519_SIGNATURE_BYTES} bytes`);
  }
  return formatSignatureLine({ name, keyId: keyId(name, publicKey), signature: sig });
}

/** One organization's key, for signing. */
export interface NoteSigner {
  readonly name: string;
  readonly signer: Ed25519Signer;
}

/** Signs the note text with one key (what a peer gossips before the signatures are merged). */
export function signText(text: string, s: NoteSigner): NoteSignature {
  checkTextForFormat(text);
  const pub = s.signer.publicKey;
  if (pub.length !== ED25519_PUBLIC_KEY_BYTES) throw new FormatError('key_bad_length', `an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  return { name: s.name, keyId: keyId(s.name, pub), signature: s.signer.sign(utf8(text)) };
}

/** Serializes a note. Identical signature lines are written once; throws FormatError on bad input. */
export function formatNote(note: Note): string {
  checkTextForFormat(note.text);
  const sigs = dedupeSignatures(note.signatures);
  if (sigs.length === 0) throw new FormatError('note_no_signatures', 'a note needs at least one signature');
  if (sigs.length > NOTE_SIGNATURES_MAX) {
    throw new FormatError('note_too_many_signatures', `more than ${NOTE_SIGNATURES_MAX} signatures (NOTE_SIGNATURES_MAX)`);
  }
  const out = note.text + '\n' + sigs.map(formatSignatureLine).join('');
  if (utf8(out).length > NOTE_BYTES_MAX) throw new FormatError('note_too_large', `note larger than ${NOTE_BYTES_MAX} bytes (NOTE_BYTES_MAX)`);
  return out;
}

/** Signs `text` with every signer and serializes the note (signature lines in signer order). */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  return formatNote({ text, signatures: signers.map((s) => signText(text, s)) });
}

function signatureKey(sig: NoteSignature): string {
  return `${sig.name} ${toHex(sig.keyId)} ${toHex(sig.signature)}`;
}

function dedupeSignatures(sigs: readonly NoteSignature[]): NoteSignature[] {
  const seen = new Set<string>();
  const out: NoteSignature[] = [];
  for (const sig of sigs) {
    const k = signatureKey(sig);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(sig);
    }
  }
  return out;
}

/**
 * Adds signatures to a note (e.g. lines gossiped by other peers). Byte-identical lines are kept
 * once; the result must stay within NOTE_SIGNATURES_MAX. Nothing is verified here.
 */
export function addSignatures(note: Note, sigs: readonly NoteSignature[]): { ok: true; note: Note } | Failure<NoteErrorCode> {
  const merged = dedupeSignatures([...note.signatures, ...sigs]);
  if (merged.length > NOTE_SIGNATURES_MAX) {
    return fail('note_too_many_signatures', `merged note would have more than ${NOTE_SIGNATURES_MAX} signatures (NOTE_SIGNATURES_MAX)`);
  }
  return { ok: true, note: { text: note.text, signatures: merged } };
}

/** Merges the signatures of two notes over the same text. */
export function mergeNotes(a: Note, b: Note): { ok: true; note: Note } | Failure<NoteErrorCode> {
  if (a.text !== b.text) return fail('note_text_mismatch', 'cannot merge notes with different texts');
  return addSignatures(a, b.signatures);
}

/** Known keys, indexed by (name, key ID) — the tuple that identifies a key in signed-note. */
export type KeyIndex = ReadonlyMap<string, VerifierKey>;

function indexId(name: string, id: Uint8Array): string {
  return `${name}+${toHex(id)}`;
}

/**
 * Indexes verifier keys by (name, key ID). Two different public keys under one (name, ID) make
 * the configuration ambiguous and are refused; the same key listed twice is kept once.
 */
export function indexKeys(keys: Iterable<VerifierKey>): { ok: true; index: KeyIndex } | Failure<NoteErrorCode> {
  const index = new Map<string, VerifierKey>();
  for (const key of keys) {
    const id = indexId(key.name, key.keyId);
    const prev = index.get(id);
    if (prev !== undefined && !bytesEqual(prev.publicKey, key.publicKey)) {
      return fail('note_ambiguous_key', `two different keys share name and key ID ${id}`);
    }
    index.set(id, key);
  }
  return { ok: true, index };
}

export interface VerifiedNote {
  readonly ok: true;
  readonly note: Note;
  readonly text: string;
  /** Known keys with a valid signature, each once, in order of first appearance. */
  readonly signers: readonly VerifierKey[];
  /** Signature lines from keys that are not known (ignored, as the spec requires). */
  readonly unknownSignatures: number;
}

function callVerifier(verifier: Ed25519Verifier, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  // The interface promises never to throw; a verifier that does anyway must not crash us.
  try {
    return verifier.verify(pub, msg, sig) === true;
  } catch {
    return false;
  }
}

/**
 * Verifies every signature line from a known key. Returns the distinct known signers, which may
 * be none: callers decide how many they need (verifyNote: at least one; checkpoints: a quorum).
 */
export function verifyNoteSignatures(
  note: Note,
  keys: KeyIndex | Iterable<VerifierKey>,
  verifier: Ed25519Verifier,
): VerifiedNote | Failure<NoteErrorCode> {
  let index: KeyIndex;
  if (keys instanceof Map) {
    index = keys;
  } else {
    const built = indexKeys(keys as Iterable<VerifierKey>);
    if (!built.ok) return built;
    index = built.index;
  }
  if (note.signatures.length > NOTE_SIGNATURES_MAX) {
    return fail('note_too_many_signatures', `note has more than ${NOTE_SIGNATURES_MAX} signature lines (NOTE_SIGNATURES_MAX)`);
  }
  const msg = utf8(note.text);
  const signers: VerifierKey[] = [];
  const signed = new Set<string>();
  // Byte-identical lines give identical results: verify each distinct line once, so padding a
  // note with copies of one valid line costs parsing only, not up to 100 Ed25519 verifications.
  const verifiedLines = new Set<string>();
  let unknownSignatures = 0;
  for (const sig of note.signatures) {
    const id = indexId(sig.name, sig.keyId);
    const key = index.get(id);
    if (key === undefined) {
      unknownSignatures++;
      continue;
    }
    const line = signatureKey(sig);
    if (verifiedLines.has(line)) continue;
    if (sig.signature.length !== ED25519_SIGNATURE_BYTES || !callVerifier(verifier, key.publicKey, msg, sig.signature)) {
      return fail('note_invalid_signature', `invalid signature from known key ${id}: the note is rejected`);
    }
    verifiedLines.add(line);
    if (!signed.has(id)) {
      signed.add(id);
      signers.push(key);
    }
  }
  return { ok: true, note, text: note.text, signers, unknownSignatures };
}

/**
 * Parses (if needed) and verifies a note against known keys, per signed-note "Signatures":
 * unknown keys are ignored, any invalid signature from a known key rejects the note, and at least
 * one known key must have signed.
 */
export function verifyNote(
  input: Note | Uint8Array | string,
  keys: KeyIndex | Iterable<VerifierKey>,
  verifier: Ed25519Verifier,
  opts?: NoteLimits,
): VerifiedNote | Failure<NoteErrorCode> {
  let note: Note;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const parsed = parseNote(input, opts);
    if (!parsed.ok) return parsed;
    note = parsed.note;
  } else {
    note = input;
  }
  const verified = verifyNoteSignatures(note, keys, verifier);
  if (!verified.ok) return verified;
  if (verified.signers.length === 0) {
    return fail('note_no_verified_signature', `note has no signature from a known key (${verified.unknownSignatures} from unknown keys ignored)`);
  }
  return verified;
}

/**
 * Verifies one signature (e.g. a line gossiped by a peer) over `text` against the known keys.
 * Unknown (name, key ID) → `note_no_verified_signature`; known but invalid → `note_invalid_signature`.
 */
export function verifySignature(
  text: string,
  sig: NoteSignature,
  keys: KeyIndex | Iterable<VerifierKey>,
  verifier: Ed25519Verifier,
): { ok: true; key: VerifierKey } | Failure<NoteErrorCode> {
  const r = verifyNote({ text, signatures: [sig] }, keys, verifier);
  if (!r.ok) return r;
  return { ok: true, key: r.signers[0]! };
}
