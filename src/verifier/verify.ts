// The light verifier: what an auditor (or a browser) checks with nothing but a trust root.
// Every function is pure and synchronous, never throws on bad input, and returns either what was
// verified or `{ ok: false, code, message }`. Ed25519 defaults to the portable strict noble
// verifier; pass `{ verifier: nodeVerifier }` on Node for speed (both accept the same signatures
// on vetted keys, and trust keys are vetted by parseVerifierKey).
import { verifyCheckpointQuorum, type Checkpoint, type CheckpointErrorCode } from '../checkpoint/checkpoint.js';
import type { NoteErrorCode } from '../checkpoint/note.js';
import { proofErrorCode, verifyReceiptWith, type ProofErrorCode, type ReceiptErrorCode } from '../checkpoint/receipt.js';
import { fail, type Failure } from '../checkpoint/result.js';
import { nobleVerifier } from '../crypto/noble.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { MAX_ENTRY_BYTES } from '../merkle/entry-bundle.js';
import { leafHash } from '../merkle/hash.js';
import { verifyConsistencyResult, verifyInclusionResult } from '../merkle/verify.js';
import type { TrustRoot } from './trust.js';

export interface VerifyOptions {
  /** Ed25519 implementation; default nobleVerifier (portable, strict RFC 8032). */
  readonly verifier?: Ed25519Verifier;
}

export type VerifierErrorCode =
  | NoteErrorCode
  | CheckpointErrorCode
  | ReceiptErrorCode
  | ProofErrorCode
  | 'entry_bad_input'
  | 'entry_too_large';

export type VerifyFailure = Failure<VerifierErrorCode>;

/** A checkpoint with a quorum of valid signatures from the trusted organizations. */
export interface VerifiedTreeHead {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** Organizations (key names) whose valid signatures were counted. */
  readonly signers: string[];
  readonly checkpoint: Checkpoint;
}

function treeHead(checkpoint: Checkpoint, signers: string[]): VerifiedTreeHead {
  return { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, signers, checkpoint };
}

/** Verifies a signed checkpoint note: origin, body and a quorum of organization signatures. */
export function verifyCheckpoint(
  trust: TrustRoot,
  note: Uint8Array | string,
  opts?: VerifyOptions,
): ({ ok: true } & VerifiedTreeHead) | VerifyFailure {
  const r = verifyCheckpointQuorum(note, trust, opts?.verifier ?? nobleVerifier);
  if (!r.ok) return r;
  return { ok: true, ...treeHead(r.checkpoint, r.signers) };
}

function entryLeafHash(entryLeaf: Uint8Array): { ok: true; hash: Uint8Array } | VerifyFailure {
  if (!(entryLeaf instanceof Uint8Array)) return fail('entry_bad_input', 'entry must be a Uint8Array (the logged leaf bytes)');
  if (entryLeaf.length > MAX_ENTRY_BYTES) return fail('entry_too_large', `entry is ${entryLeaf.length} bytes, limit MAX_ENTRY_BYTES = ${MAX_ENTRY_BYTES}`);
  return { ok: true, hash: leafHash(entryLeaf) };
}

export interface InclusionInput {
  /** The logged leaf bytes (RFC 9162 leaf data); its leaf hash is SHA-256(0x00 ‖ entryLeaf). */
  readonly entryLeaf: Uint8Array;
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note the proof is relative to. */
  readonly checkpoint: Uint8Array | string;
}

/** Verifies that `entryLeaf` is leaf `index` of the tree a quorum-signed checkpoint commits to. */
export function verifyInclusion(
  trust: TrustRoot,
  input: InclusionInput,
  opts?: VerifyOptions,
): ({ ok: true; index: number; leafHash: Uint8Array } & VerifiedTreeHead) | VerifyFailure {
  const leaf = entryLeafHash(input.entryLeaf);
  if (!leaf.ok) return leaf;
  const cp = verifyCheckpointQuorum(input.checkpoint, trust, opts?.verifier ?? nobleVerifier);
  if (!cp.ok) return cp;
  const { size, root } = cp.checkpoint;
  const r = verifyInclusionResult(leaf.hash, input.index, size, input.proof, root);
  if (!r.ok) return fail(proofErrorCode(r.code), `inclusion proof: ${r.message}`);
  return { ok: true, index: input.index, leafHash: leaf.hash, ...treeHead(cp.checkpoint, cp.signers) };
}

export interface ConsistencyInput {
  readonly old: Uint8Array | string;
  readonly new: Uint8Array | string;
  /** RFC 9162 §2.1.4 consistency proof from old.size to new.size. */
  readonly proof: readonly Uint8Array[];
}

/**
 * Verifies two quorum-signed checkpoints of the trusted log and that the older tree is a prefix
 * of the newer one (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal roots.
 */
export function verifyConsistency(
  trust: TrustRoot,
  input: ConsistencyInput,
  opts?: VerifyOptions,
): { ok: true; origin: string; old: VerifiedTreeHead; new: VerifiedTreeHead } | VerifyFailure {
  const verifier = opts?.verifier ?? nobleVerifier;
  const older = verifyCheckpointQuorum(input.old, trust, verifier);
  if (!older.ok) return { ...older, message: `old checkpoint: ${older.message}` };
  const newer = verifyCheckpointQuorum(input.new, trust, verifier);
  if (!newer.ok) return { ...newer, message: `new checkpoint: ${newer.message}` };
  const a = older.checkpoint;
  const b = newer.checkpoint;
  const r = verifyConsistencyResult(a.size, b.size, input.proof, a.root, b.root);
  if (!r.ok) return fail(proofErrorCode(r.code), `consistency proof from size ${a.size} to ${b.size}: ${r.message}`);
  return { ok: true, origin: a.origin, old: treeHead(a, older.signers), new: treeHead(b, newer.signers) };
}

/**
 * Verifies a C2SP tlog-proof receipt for `entryLeaf` (the logged leaf bytes): quorum-signed
 * checkpoint plus inclusion proof. The receipt's optional `extra` data is unauthenticated and is
 * returned only for the caller's information.
 */
export function verifyReceipt(
  trust: TrustRoot,
  receipt: Uint8Array | string,
  entryLeaf: Uint8Array,
  opts?: VerifyOptions,
): ({ ok: true; index: number; leafHash: Uint8Array; extra?: Uint8Array } & VerifiedTreeHead) | VerifyFailure {
  const leaf = entryLeafHash(entryLeaf);
  if (!leaf.ok) return leaf;
  const r = verifyReceiptWith(receipt, leaf.hash, trust, opts?.verifier ?? nobleVerifier);
  if (!r.ok) return r;
  const head = treeHead(r.checkpoint, r.signers);
  const base = { ok: true as const, index: r.index, leafHash: leaf.hash, ...head };
  return r.receipt.extra === undefined ? base : { ...base, extra: r.receipt.extra };
}
