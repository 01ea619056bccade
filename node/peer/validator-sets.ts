// The validator set of every height, as consensus, checkpoints and catch-up need it, and this
// organization's place (index, signing key) in each.
//
// - Sets come from the governance state (node/peer/governance.ts): a record in block H changes
//   the set from H+2 at the earliest, so after head H the sets of heights <= H+2 are final; a
//   later height gets the best knowledge, marked `known: false` (consensus re-checks what it
//   verified against it).
// - Our identity is our signing keys, not a name or an index: at each height we are the
//   organization whose key in that height's set is one of our keys, and we sign with that key.
//   So after a key rotation comes in force the old key signs nothing, and an added
//   organization's peer becomes a validator at its first height without a restart.
// - Checkpoints are signed per tree size: the checkpoint of the tree after block h is signed by
//   the set in force at h. Blocks are never empty, so sizes map to heights one to one: a set in
//   force from height F signs every size greater than the tree size after block F−1 (what the
//   light verifier's trust chain calls `afterSize`).
// Without a governance tracker every answer is the genesis set's, as before.
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import type { VerifierKey } from '../../src/checkpoint/keys.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { quorum } from '../../src/consensus/quorum.js';
import type { HeightValidators, Validator } from '../../src/consensus/index.js';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import type { ValidatorEpoch } from '../../src/governance/index.js';
import type { Genesis } from './genesis.js';
import type { GovTracker } from './governance.js';

/** One validator set as every part of the peer uses it. */
export interface SetView {
  /** First height of this set. */
  readonly fromHeight: number;
  readonly orgs: readonly { name: string; key: VerifierKey; peerId: string }[];
  /** Consensus view (name, public key), same order: the validator index is the position. */
  readonly validators: readonly Validator[];
  readonly quorum: number;
  /** Our organization in this set (index, name, signer of our key there), or null. */
  readonly self: { index: number; name: string; signer: Ed25519Signer } | null;
}

export class ValidatorSets {
  private readonly byEpoch = new WeakMap<ValidatorEpoch, SetView>();
  private readonly genesisView: SetView;
  private readonly signers: Map<string, Ed25519Signer>;
  private readonly heightCache = new WeakMap<SetView, { known: HeightValidators; unknown: HeightValidators }>();

  constructor(
    genesis: Pick<Genesis, 'validators'>,
    private readonly gov: GovTracker | null,
    /** Every signing key this organization holds (current and next): selected per height by its public key. */
    signers: readonly Ed25519Signer[],
  ) {
    this.signers = new Map(signers.map((s) => [toHex(s.publicKey), s]));
    this.genesisView = this.makeView(0, genesis.validators);
  }

  private makeView(fromHeight: number, orgs: readonly { name: string; key: VerifierKey; peerId: string }[]): SetView {
    let self: SetView['self'] = null;
    for (let i = 0; i < orgs.length && self === null; i++) {
      const s = this.signers.get(toHex(orgs[i]!.key.publicKey));
      if (s !== undefined) self = { index: i, name: orgs[i]!.name, signer: s };
    }
    return {
      fromHeight,
      orgs,
      validators: orgs.map((o) => ({ name: o.name, publicKey: o.key.publicKey })),
      quorum: quorum(orgs.length),
      self,
    };
  }

  private viewOf(e: ValidatorEpoch): SetView {
    if (e.fromHeight === 0 && e.record === undefined) return this.genesisView;
    let v = this.byEpoch.get(e);
    if (v === undefined) {
      v = this.makeView(e.fromHeight, e.orgs);
      this.byEpoch.set(e, v);
    }
    return v;
  }

  /** The set in force at `height`. */
  view(height: number): SetView {
    return this.gov === null ? this.genesisView : this.viewOf(this.gov.epochAt(height));
  }

  /** Every set known, oldest first (the decided-but-pending one last). */
  views(): SetView[] {
    return this.gov === null ? [this.genesisView] : this.gov.epochList().map((e) => this.viewOf(e));
  }

  /** True when the set of `height` can no longer change. */
  known(height: number): boolean {
    return this.gov === null || this.gov.setKnown(height);
  }

  /** True when `publicKey` is one of our signing keys (the configured one or a next key). */
  isOwnKey(publicKey: Uint8Array): boolean {
    return this.signers.has(toHex(publicKey));
  }

  /**
   * The name of validator `index` at `height`, for messages and alarms (evidence names validators
   * by index in the set of its height). A height whose set is not final yet (ahead of our head)
   * is named by the newest set we know.
   */
  nameAt(height: number, index: number): string {
    const v = this.known(height) ? this.view(height) : this.views().at(-1);
    return v?.orgs[index]?.name ?? `validator #${index}`;
  }

  /** Consensus: the set of `height` and our index and signer in it (RunnerSets). */
  at(height: number): HeightValidators {
    const v = this.view(height);
    let c = this.heightCache.get(v);
    if (c === undefined) {
      const base = { validators: v.validators, selfIndex: v.self?.index ?? null, signer: v.self?.signer ?? null };
      c = { known: { ...base, known: true }, unknown: { ...base, known: false } };
      this.heightCache.set(v, c);
    }
    return this.known(height) ? c.known : c.unknown;
  }

  /** The validator named `name` with key id `keyId` in `view`, or null. */
  static member(view: SetView, name: string, keyId: Uint8Array): SetView['orgs'][number] | null {
    const o = view.orgs.find((x) => x.name === name);
    return o === undefined || !bytesEqual(o.key.keyId, keyId) ? null : o;
  }
}

/** What a checkpoint of some tree size must satisfy: the origin, the keys and quorum of the set that signs that size. */
export interface CheckpointTrust {
  origin: string;
  keys: VerifierKey[];
  quorum: number;
}

/**
 * The one lookup of which validator set signs a checkpoint note, for everything that checks this
 * log's checkpoints outside consensus (the monitors): the note's claimed tree size and signer
 * names, read before any signature is checked (the size picks the set), and that set's trust
 * (the ledger's checkpointTrust). Membership changes through governance, so never the
 * genesis set. The caller then verifies the signatures against `trust`.
 */
export function checkpointSetOf(
  note: string | Uint8Array,
  ledger: { checkpointTrust(size: number): CheckpointTrust },
): { ok: true; size: number; signers: string[]; trust: CheckpointTrust } | { ok: false; code: string; message: string } {
  const n = parseNote(note);
  if (!n.ok) return n;
  const c = parseCheckpoint(n.note.text);
  if (!c.ok) return c;
  return { ok: true, size: c.checkpoint.size, signers: n.note.signatures.map((sig) => sig.name), trust: ledger.checkpointTrust(c.checkpoint.size) };
}
