// The auditor's chain of trust across membership changes (the TUF root-rotation / light-client
// pattern): start from the genesis trust root and accept a new organization set only through a
// governance record (org.add, org.remove, org.key.rotate) that is
//   1. signed as its type requires by the set in force (a quorum of ballots; old and new key), and
//   2. final under a quorum of that same set: included in a checkpoint that set signed.
// Every checkpoint is then verified with the set in force at its tree size, so checkpoints made
// before a rotation stay verifiable under the old key.
//
// Where a set hands over, in tree sizes: checkpoints have no height, so each step's checkpoint
// marks it. The set in force signed it (size S); sizes <= S stay with that set, sizes > S belong to
// the new one. Peers serve, as the step's checkpoint, the one of the last height before the change
// takes effect. A peer serving an earlier one only makes later old-set checkpoints fail (never
// accepts more); a later one needs a quorum of the previous set to have signed it, which is the
// trust an auditor already places in that set.
//
// Height rules (deadline, effective height) are not visible to an auditor: they are enforced by
// every peer, which refuses a block carrying a record that applyGovernance rejects, so a record
// that is final under a quorum was accepted by that quorum.
import { quorumSize } from '../checkpoint/checkpoint.js';
import type { VerifierKey } from '../checkpoint/keys.js';
import { parseNote } from '../checkpoint/note.js';
import { parseCheckpoint } from '../checkpoint/checkpoint.js';
import { parseReceipt, proofErrorCode, RECEIPT_PROOF_HASHES_MAX } from '../checkpoint/receipt.js';
import { verifyConsistencyResult } from '../merkle/verify.js';
import { fail, type Failure } from '../checkpoint/result.js';
import { nobleVerifier } from '../crypto/noble.js';
import { toHex } from '../encoding/bytes.js';
import { parseLeaf } from '../entry/leaf.js';
import { checkGovSignatures, recordNewKey } from '../governance/check.js';
import { govRecordFromEntry } from '../governance/parse.js';
import { GOV_MEMBERSHIP_TYPES, type GovErrorCode, type GovType, type ParsedGovRecord } from '../governance/types.js';
import { MAX_ENTRY_BYTES } from '../merkle/entry-bundle.js';
import type { TrustRoot } from './trust.js';
import { verifyCheckpoint, verifyInclusion, verifyReceipt, type VerifiedTreeHead, type VerifierErrorCode, type VerifyOptions } from './verify.js';

/** Most organization sets a trust chain holds (one per membership change). */
export const TRUST_EPOCHS_MAX = 1024;
/** Most steps one updateTrustChain call accepts (bounds the work per call). */
export const TRUST_STEPS_MAX = 256;

/** One organization set and the tree sizes it signs: every size > afterSize (until the next set). */
export interface TrustEpoch {
  /** -1 for the root set (every size). */
  readonly afterSize: number;
  readonly keys: readonly VerifierKey[];
  readonly quorum: number;
  /** Id of the governance record that created this set; absent for the root. */
  readonly record?: string;
}

export interface TrustChain {
  readonly origin: string;
  /** epochs[0] is the root (the genesis trust file); afterSize strictly increases. */
  readonly epochs: readonly TrustEpoch[];
}

export type ChainErrorCode =
  | VerifierErrorCode
  | GovErrorCode
  | 'trust_step_bad_input'
  | 'trust_step_entry_invalid'
  | 'trust_step_not_membership'
  | 'trust_step_replay'
  | 'trust_step_gap'
  | 'trust_step_out_of_order'
  | 'trust_step_stale_checkpoint'
  | 'trust_step_org_unknown'
  | 'trust_step_too_many'
  | 'trust_epochs_full';

export type ChainFailure = Failure<ChainErrorCode>;

/** A chain holding only the root set of a (version 1) trust file. */
export function trustChainFromRoot(root: TrustRoot): TrustChain {
  return { origin: root.origin, epochs: [{ afterSize: -1, keys: root.keys, quorum: root.quorum }] };
}

function rootOf(chain: TrustChain, e: TrustEpoch): TrustRoot {
  return { origin: chain.origin, keys: e.keys, quorum: e.quorum };
}

/** The set that signs checkpoints of tree size `size`. */
export function trustAtSize(chain: TrustChain, size: number): TrustRoot {
  let e = chain.epochs[0]!;
  for (const x of chain.epochs) if (size > x.afterSize) e = x;
  return rootOf(chain, e);
}

/** The newest set, as a version 1 trust root (what `cairn trust export` writes for static tools). */
export function currentTrust(chain: TrustChain): TrustRoot {
  return rootOf(chain, chain.epochs[chain.epochs.length - 1]!);
}

function checkpointSize(note: Uint8Array | string): { ok: true; size: number } | ChainFailure {
  const n = parseNote(note);
  if (!n.ok) return n;
  const cp = parseCheckpoint(n.note.text);
  if (!cp.ok) return cp;
  return { ok: true, size: cp.checkpoint.size };
}

/** Verifies a checkpoint with the organization set in force at its tree size. */
export function verifyCheckpointAt(chain: TrustChain, note: Uint8Array | string, opts?: VerifyOptions): ({ ok: true } & VerifiedTreeHead) | ChainFailure {
  const s = checkpointSize(note);
  if (!s.ok) return s;
  return verifyCheckpoint(trustAtSize(chain, s.size), note, opts);
}

/** Verifies a tlog-proof receipt with the organization set in force at its checkpoint's size. */
export function verifyReceiptAt(chain: TrustChain, receipt: Uint8Array | string, entryLeaf: Uint8Array, opts?: VerifyOptions): ReturnType<typeof verifyReceipt> {
  const r = parseReceipt(receipt);
  if (!r.ok) return r;
  const s = checkpointSize(r.receipt.checkpoint);
  if (!s.ok) return s as ReturnType<typeof verifyReceipt>;
  return verifyReceipt(trustAtSize(chain, s.size), receipt, entryLeaf, opts);
}

/** Verifies two checkpoints, each with the set in force at its size, and that the older tree is a
 *  prefix of the newer one (RFC 9162 consistency proof): works across membership changes. */
export function verifyConsistencyAt(
  chain: TrustChain,
  input: { readonly old: Uint8Array | string; readonly new: Uint8Array | string; readonly proof: readonly Uint8Array[] },
  opts?: VerifyOptions,
): { ok: true; origin: string; old: VerifiedTreeHead; new: VerifiedTreeHead } | ChainFailure {
  const older = verifyCheckpointAt(chain, input.old, opts);
  if (!older.ok) return { ...older, message: `old checkpoint: ${older.message}` };
  const newer = verifyCheckpointAt(chain, input.new, opts);
  if (!newer.ok) return { ...newer, message: `new checkpoint: ${newer.message}` };
  const r = verifyConsistencyResult(older.size, newer.size, input.proof, older.root, newer.root);
  if (!r.ok) return fail(proofErrorCode(r.code), `consistency proof from size ${older.size} to ${newer.size}: ${r.message}`);
  const head = (h: VerifiedTreeHead): VerifiedTreeHead => ({ origin: h.origin, size: h.size, root: h.root, signers: h.signers, checkpoint: h.checkpoint });
  return { ok: true, origin: chain.origin, old: head(older), new: head(newer) };
}

/** One membership change as served by a peer: the logged governance entry, its position and
 *  inclusion proof, and a checkpoint signed by the set in force that includes it. */
export interface TrustStep {
  readonly entryLeaf: Uint8Array;
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  readonly checkpoint: Uint8Array | string;
}

export interface AppliedStep {
  readonly record: string;
  readonly type: GovType;
  readonly afterSize: number;
  readonly keys: readonly VerifierKey[];
  readonly quorum: number;
}

function nextKeys(keys: readonly VerifierKey[], parsed: ParsedGovRecord): { ok: true; keys: VerifierKey[] } | ChainFailure {
  const r = parsed.record;
  if (r.type === 'org.add') return { ok: true, keys: [...keys, recordNewKey(r.body.org.key)] };
  const name = r.type === 'org.remove' || r.type === 'org.key.rotate' ? r.body.org : '';
  if (!keys.some((k) => k.name === name)) return fail('trust_step_org_unknown', `${name} is not in the set in force`);
  if (r.type === 'org.remove') return { ok: true, keys: keys.filter((k) => k.name !== name) };
  const key = recordNewKey((r as Extract<typeof r, { type: 'org.key.rotate' }>).body.key);
  return { ok: true, keys: keys.map((k) => (k.name === name ? key : k)) };
}

function applyStep(chain: TrustChain, step: TrustStep, opts?: VerifyOptions): { ok: true; chain: TrustChain; applied: AppliedStep } | ChainFailure {
  // Cheap facts first: the entry and its record parse, the type, replay, ordering; then the
  // checkpoint's quorum signatures and the inclusion proof; then the record's own signatures.
  if (step === null || typeof step !== 'object' || !Number.isSafeInteger(step.index) || step.index < 0) return fail('trust_step_bad_input', 'a step needs a non-negative integer index');
  if (!Array.isArray(step.proof) || step.proof.length > RECEIPT_PROOF_HASHES_MAX || !step.proof.every((h) => h instanceof Uint8Array)) {
    return fail('trust_step_bad_input', `a step's proof is an array of at most ${RECEIPT_PROOF_HASHES_MAX} hashes`);
  }
  if (typeof step.checkpoint !== 'string' && !(step.checkpoint instanceof Uint8Array)) return fail('trust_step_bad_input', "a step's checkpoint is a signed note (text or bytes)");
  if (!(step.entryLeaf instanceof Uint8Array) || step.entryLeaf.length > MAX_ENTRY_BYTES) return fail('entry_too_large', `entry must be at most ${MAX_ENTRY_BYTES} bytes`);
  const leaf = parseLeaf(step.entryLeaf);
  if (!leaf.ok) return fail('trust_step_entry_invalid', `the step's entry is not a valid logged entry: ${leaf.errors[0]?.code}`);
  const gov = govRecordFromEntry(leaf.entry);
  if (!gov.ok) return gov;
  const parsed = gov.parsed;
  if (!GOV_MEMBERSHIP_TYPES.includes(parsed.record.type)) return fail('trust_step_not_membership', `a ${parsed.record.type} record does not change the organization set`);
  if (chain.epochs.some((e) => e.record === parsed.id)) return fail('trust_step_replay', `record ${parsed.id.slice(0, 16)}... is already in the chain`);
  if (chain.epochs.length >= TRUST_EPOCHS_MAX) return fail('trust_epochs_full', `more than ${TRUST_EPOCHS_MAX} (TRUST_EPOCHS_MAX) organization sets`);
  const latest = chain.epochs[chain.epochs.length - 1]!;
  const setNumber = (parsed.record.body as { epoch: number }).epoch;
  if (setNumber !== chain.epochs.length) {
    return fail('trust_step_gap', `the record creates organization set ${setNumber}, but the next one is ${chain.epochs.length}: ${setNumber > chain.epochs.length ? 'a change was skipped' : 'already followed'}`);
  }
  if (step.index < latest.afterSize) {
    return fail('trust_step_out_of_order', `record at index ${step.index} precedes the previous change's handover (size ${latest.afterSize}); changes apply one at a time, in log order`);
  }
  const size = checkpointSize(step.checkpoint);
  if (!size.ok) return size;
  if (size.size <= latest.afterSize) return fail('trust_step_stale_checkpoint', `checkpoint size ${size.size} is not signed by the set in force (it signs sizes > ${latest.afterSize})`);
  const verifier = opts?.verifier ?? nobleVerifier;
  const included = verifyInclusion(rootOf(chain, latest), { entryLeaf: step.entryLeaf, index: step.index, proof: step.proof, checkpoint: step.checkpoint }, { verifier });
  if (!included.ok) return included;
  const orgs = latest.keys.map((k) => ({ name: k.name, key: k }));
  const sigs = checkGovSignatures(parsed, orgs, verifier);
  if (!sigs.ok) return sigs;
  const next = nextKeys(latest.keys, parsed);
  if (!next.ok) return next;
  const names = new Set(next.keys.map((k) => k.name));
  const pubs = new Set(next.keys.map((k) => toHex(k.publicKey)));
  if (next.keys.length === 0 || names.size !== next.keys.length || pubs.size !== next.keys.length) {
    return fail('gov_key_in_use', 'the resulting set would be empty or list a name or key twice');
  }
  const epoch: TrustEpoch = { afterSize: included.size, keys: next.keys, quorum: quorumSize(next.keys.length), record: parsed.id };
  return {
    ok: true,
    chain: { origin: chain.origin, epochs: [...chain.epochs, epoch] },
    applied: { record: parsed.id, type: parsed.record.type, afterSize: epoch.afterSize, keys: epoch.keys, quorum: epoch.quorum },
  };
}

/**
 * Follows membership changes in log order. Returns the extended chain, or the first failing step
 * (`step` = its index) with nothing applied from it on: steps before it are kept in `chain`.
 */
export function updateTrustChain(
  chain: TrustChain,
  steps: readonly TrustStep[],
  opts?: VerifyOptions,
): { ok: true; chain: TrustChain; applied: AppliedStep[] } | (ChainFailure & { step: number; chain: TrustChain; applied: AppliedStep[] }) {
  const applied: AppliedStep[] = [];
  if (!Array.isArray(steps)) return { ...fail('trust_step_bad_input', 'steps must be an array'), step: 0, chain, applied };
  if (steps.length > TRUST_STEPS_MAX) return { ...fail('trust_step_too_many', `more than ${TRUST_STEPS_MAX} (TRUST_STEPS_MAX) steps in one update`), step: TRUST_STEPS_MAX, chain, applied };
  let cur = chain;
  for (let i = 0; i < steps.length; i++) {
    const r = applyStep(cur, steps[i]!, opts);
    if (!r.ok) return { ...r, message: `step ${i}: ${r.message}`, step: i, chain: cur, applied };
    cur = r.chain;
    applied.push(r.applied);
  }
  return { ok: true, chain: cur, applied };
}
