// Compact proposals on the wire and in the WAL (docs/consensus-proposals.md). A proposal carries
// the block's header and leaf hashes (block-compact.ts) instead of the block; peers rebuild the
// block from the entries they hold and fetch the missing ones. The consensus value (and its id,
// which votes and certificates name) is still the whole block: a compact proposal is turned
// back into the ordinary ⟨PROPOSAL⟩ before the driver sees it.
//
// Record (version 1), inside the consensus gossip envelope and as a WAL record:
//   u8 COMPACT_MARK = 0xC2 (never a consensus message version) | u64 height | u32 round
//   | u16 validator | u32 validRound + 1 | 64 ⟨PROPOSAL⟩ signature (over id(whole block))
//   | 64 compact signature (compactProposalSignBytes over SHA-256 of the compact form)
//   | compact form (the rest)
// The compact signature lets a peer check the sender is proposer(h, r) BEFORE fetching anything;
// the ⟨PROPOSAL⟩ signature is checked by the driver once the block is rebuilt.
import { ByteReader, ByteWriter } from '../../../src/consensus/byte-io.js';
import { compactProposalSignBytes, HEIGHT_MAX, ROUND_MAX, VALIDATORS_MAX, type Proposal } from '../../../src/consensus/index.js';
import type { Ed25519Signer, Ed25519Verifier } from '../../../src/crypto/types.js';
import { decodeCompact } from '../block-compact.js';
import { fastSha256 } from './envelope.js';

export const COMPACT_MARK = 0xc2;
const SIG = 64;
const HEAD = 1 + 8 + 4 + 2 + 4 + SIG + SIG;

export interface CompactProposal {
  height: number;
  round: number;
  validator: number;
  validRound: number;
  signature: Uint8Array;
  compactSignature: Uint8Array;
  compact: Uint8Array;
}

export function isCompactRecord(b: Uint8Array): boolean {
  return b.length > 0 && b[0] === COMPACT_MARK;
}

/** Signs the compact form of our proposal `p` (whose value compacts to `compact`) and encodes the record. */
export function encodeCompactProposal(chainId: string, p: Proposal, compact: Uint8Array, signer: Ed25519Signer): Uint8Array {
  const compactSignature = signer.sign(compactProposalSignBytes(chainId, p.height, p.round, fastSha256(compact), p.validRound));
  return encodeCompactRecord({ height: p.height, round: p.round, validator: p.validator, validRound: p.validRound, signature: p.signature, compactSignature, compact });
}

export function encodeCompactRecord(c: CompactProposal): Uint8Array {
  const w = new ByteWriter(HEAD + c.compact.length);
  w.u8(COMPACT_MARK).u64(c.height).u32(c.round).u16(c.validator).u32(c.validRound + 1).bytes(c.signature).bytes(c.compactSignature).bytes(c.compact);
  return w.finish();
}

/** Shape only (ranges, sizes); never throws. The compact form itself is decoded by the caller. */
export function decodeCompactRecord(b: Uint8Array, maxCompactBytes: number): CompactProposal | null {
  if (!(b instanceof Uint8Array) || b.length <= HEAD || b.length > HEAD + maxCompactBytes || b[0] !== COMPACT_MARK) return null;
  const r = new ByteReader(b);
  r.u8();
  const height = r.u64();
  const round = r.u32();
  const validator = r.u16();
  const validRound = r.u32() - 1;
  const signature = r.bytes(SIG);
  const compactSignature = r.bytes(SIG);
  if (r.truncated || height < 1 || height > HEIGHT_MAX || round > ROUND_MAX || validator >= VALIDATORS_MAX || validRound < -1 || validRound >= round) return null;
  return { height, round, validator, validRound, signature, compactSignature, compact: b.subarray(HEAD) };
}

/**
 * The cheap checks of a compact proposal, in order: the compact form decodes within the
 * structural caps and its header names the record's height (entriesHash over the leaf hashes is
 * part of decoding), then the compact signature of `publicKey` (proposer(h, r), checked by the
 * caller). Nothing is fetched before this passes.
 */
export function checkCompactProposal(chainId: string, c: CompactProposal, publicKey: Uint8Array, verifier: Ed25519Verifier): { ok: true } | { ok: false; code: string } {
  const d = decodeCompact(c.compact);
  if (!d.ok) return { ok: false, code: d.code };
  if (d.compact.header.height !== c.height) return { ok: false, code: 'compact_wrong_height' };
  const ok = verifier.verify(publicKey, compactProposalSignBytes(chainId, c.height, c.round, fastSha256(c.compact), c.validRound), c.compactSignature);
  return ok ? { ok: true } : { ok: false, code: 'BAD_SIGNATURE' };
}

/** The ordinary ⟨PROPOSAL⟩ once the block is rebuilt (its signature is checked by the driver). */
export function toProposal(c: CompactProposal, value: Uint8Array): Proposal {
  return { type: 'proposal', height: c.height, round: c.round, value, validRound: c.validRound, validator: c.validator, signature: c.signature };
}

/** Rebuilds in flight per proposing validator, and in all (each may wait on a fetch). */
export const EXPANSIONS_PER_VALIDATOR_MAX = 2;
export const EXPANSIONS_MAX = 8;

/** Bounds the rebuilds in flight, per validator and in all. */
export class ExpansionSlots {
  private readonly byValidator = new Map<number, number>();
  private total = 0;

  take(validator: number): boolean {
    const mine = this.byValidator.get(validator) ?? 0;
    if (mine >= EXPANSIONS_PER_VALIDATOR_MAX || this.total >= EXPANSIONS_MAX) return false;
    this.byValidator.set(validator, mine + 1);
    this.total++;
    return true;
  }

  release(validator: number): void {
    const mine = (this.byValidator.get(validator) ?? 1) - 1;
    if (mine <= 0) this.byValidator.delete(validator);
    else this.byValidator.set(validator, mine);
    this.total = Math.max(0, this.total - 1);
  }
}
