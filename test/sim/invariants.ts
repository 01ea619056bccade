// Safety invariants checked online during every simulation run (liveness is checked by run.ts at
// the end of a run, since it is a property of the whole run). Only CORRECT validators are held to
// them; Byzantine validators (including both instances of a Twins pair) may do anything.
//
// - agreement (paper Lemma "Agreement"): no two correct processes decide different values at one
//   height — and no correct process decides twice differently;
// - validity: every value decided by a correct process passes the ledger's valid(v) (L22/L28);
// - no double signing: a correct validator never signs two different messages for one
//   (height, round, step) — checked over EVERY message it ever broadcast, across crashes and
//   restarts (the record lives outside the simulated process), which is what the persisted
//   SignerState must guarantee (it is persisted before the signature leaves the process);
// - every signed message of a correct validator verifies under its key (sign-bytes agree);
// - every decision carries a commit certificate that verifyCommitCertificate accepts, for the
//   decided (height, round, valueId).

import type { CommitCertificate, ConsensusMessage, Validator } from '../../src/consensus/types.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { verifyCommitCertificate } from '../../src/consensus/certificate.js';
import { proposalSignBytes, voteSignBytes } from '../../src/consensus/sign-bytes.js';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import { isValidValue } from './values.js';

export type ViolationKind =
  | 'agreement'
  | 'validity'
  | 'double-sign'
  | 'bad-own-signature'
  | 'certificate'
  | 'liveness'
  | 'codec'
  | 'exception'
  | 'unexpected-rejection'
  | 'limit';

export interface Violation {
  kind: ViolationKind;
  atMs: number;
  node?: number;
  validator?: number;
  height?: number;
  detail: string;
}

export const SAFETY_KINDS: ReadonlySet<ViolationKind> = new Set([
  'agreement',
  'validity',
  'double-sign',
  'bad-own-signature',
  'certificate',
]);

/** Most violations recorded per run (the first one is what matters; the rest is context). */
export const VIOLATIONS_KEPT_MAX = 20;

interface Decided {
  node: number;
  valueIdHex: string;
  round: number;
}

export interface DecideRecord {
  height: number;
  round: number;
  value: Uint8Array;
  valueId: Uint8Array;
  certificate: CommitCertificate;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** First signed message per (validator, height, round, step), as a fingerprint. */
  private readonly signed = new Map<string, string>();
  /** First correct decision per height. */
  private readonly decided = new Map<number, Decided>();
  /** Per node: height -> valueId hex, to catch a node deciding one height twice differently. */
  private readonly decidedByNode = new Map<string, string>();

  constructor(
    /** The validator set of each height (index = position). */
    validators: readonly Validator[] | ((height: number) => readonly Validator[]),
    private readonly chainId: string,
    private readonly verifier: Ed25519Verifier,
    private readonly valueId: (v: Uint8Array) => Uint8Array,
  ) {
    this.validatorsAt = typeof validators === 'function' ? validators : () => validators;
  }

  /** The validator set of each height (index = position). */
  private readonly validatorsAt: (height: number) => readonly Validator[];

  report(v: Violation): void {
    if (this.violations.length < VIOLATIONS_KEPT_MAX) this.violations.push(v);
  }

  get safetyViolated(): boolean {
    return this.violations.some((v) => SAFETY_KINDS.has(v.kind));
  }

  /** A correct validator broadcast `m` (called for every broadcast effect, before sending). */
  onSigned(node: number, m: ConsensusMessage, atMs: number): void {
    const key = `${m.validator}|${m.height}|${m.round}|${m.type}`;
    let fp: string;
    let signBytes: Uint8Array;
    if (m.type === 'proposal') {
      const id = this.valueId(m.value);
      fp = `${toHex(id)}|vr=${m.validRound}`;
      signBytes = proposalSignBytes(this.chainId, m.height, m.round, id, m.validRound);
    } else {
      fp = m.valueId === null ? 'nil' : toHex(m.valueId);
      signBytes = voteSignBytes(this.chainId, m.type, m.height, m.round, m.valueId);
    }
    const v = this.validatorsAt(m.height)[m.validator];
    if (v === undefined || !this.verifier.verify(v.publicKey, signBytes, m.signature)) {
      this.report({
        kind: 'bad-own-signature',
        atMs,
        node,
        validator: m.validator,
        height: m.height,
        detail: `correct validator ${m.validator} broadcast a ${m.type} (h=${m.height}, r=${m.round}) whose signature does not verify`,
      });
    }
    const prev = this.signed.get(key);
    if (prev === undefined) {
      this.signed.set(key, fp);
    } else if (prev !== fp) {
      this.report({
        kind: 'double-sign',
        atMs,
        node,
        validator: m.validator,
        height: m.height,
        detail: `correct validator ${m.validator} signed two different ${m.type}s at h=${m.height} r=${m.round}: ${short(prev)} then ${short(fp)}`,
      });
    }
  }

  /** A correct node decided. */
  onDecide(node: number, d: DecideRecord, atMs: number): void {
    const idHex = toHex(d.valueId);
    if (!bytesEqual(this.valueId(d.value), d.valueId)) {
      this.report({ kind: 'validity', atMs, node, height: d.height, detail: `decided valueId is not valueId(value) at h=${d.height}` });
    }
    if (!isValidValue(d.height, d.value)) {
      this.report({
        kind: 'validity',
        atMs,
        node,
        height: d.height,
        detail: `node ${node} decided a value that fails valid(v) at h=${d.height} (marker 0x${(d.value[0] ?? 0).toString(16)})`,
      });
    }
    const c = d.certificate;
    const certOk = verifyCommitCertificate(c, this.validatorsAt(c.height), this.chainId, this.verifier);
    if (!certOk.ok) {
      this.report({ kind: 'certificate', atMs, node, height: d.height, detail: `commit certificate rejected: ${certOk.code}: ${certOk.message}` });
    } else if (c.height !== d.height || c.round !== d.round || !bytesEqual(c.valueId, d.valueId)) {
      this.report({
        kind: 'certificate',
        atMs,
        node,
        height: d.height,
        detail: `certificate is for (h=${c.height}, r=${c.round}, ${short(toHex(c.valueId))}) but the decision is (h=${d.height}, r=${d.round}, ${short(idHex)})`,
      });
    }
    const nodeKey = `${node}|${d.height}`;
    const prevOwn = this.decidedByNode.get(nodeKey);
    if (prevOwn !== undefined && prevOwn !== idHex) {
      this.report({ kind: 'agreement', atMs, node, height: d.height, detail: `node ${node} decided h=${d.height} twice: ${short(prevOwn)} then ${short(idHex)}` });
    }
    this.decidedByNode.set(nodeKey, idHex);
    const first = this.decided.get(d.height);
    if (first === undefined) {
      this.decided.set(d.height, { node, valueIdHex: idHex, round: d.round });
    } else if (first.valueIdHex !== idHex) {
      this.report({
        kind: 'agreement',
        atMs,
        node,
        height: d.height,
        detail: `h=${d.height}: node ${first.node} decided ${short(first.valueIdHex)} (r=${first.round}) but node ${node} decided ${short(idHex)} (r=${d.round})`,
      });
    }
  }

  /** Round in which height h was first decided by a correct node, if any. */
  decisionRound(height: number): number | undefined {
    return this.decided.get(height)?.round;
  }
}

function short(s: string): string {
  return s.length > 16 ? `${s.slice(0, 12)}…` : s;
}
