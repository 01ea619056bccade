// The exact bytes a validator signs for a consensus message.
//
// Tendermint paper §2 assumes messages are signed; Cairn's sign-bytes include
// the chain identity, the message type, height, round and value id, so that a signature can never
// be replayed in another chain, height, round or step. The payload is wrapped by
// domainMessage('cairn/consensus/v1', ...) so consensus signatures are disjoint from every other
// signature an organization key makes (entries, checkpoints).
//
// Payload layout (all integers big-endian, every field fixed-size or length-prefixed, so the
// encoding is injective):
//   u8  tag            1 = proposal, 2 = prevote, 3 = precommit
//   u8  chainIdLen     then chainId (UTF-8, 1..CHAIN_ID_BYTES_MAX bytes)
//   u64 height
//   u32 round
//   proposal:  u32 validRound + 1 (0 = none), u8 valueIdLen, valueId
//   vote:      u8 0 (nil) | u8 1, u8 valueIdLen, valueId
import { domainMessage } from '../crypto/domain.js';
import { utf8 } from '../encoding/bytes.js';
import { ConsensusError } from './errors.js';
import { CHAIN_ID_BYTES_MAX, HEIGHT_MAX, ROUND_MAX, VALUE_ID_BYTES_MAX, VALUE_ID_BYTES_MIN } from './limits.js';
import { ByteWriter } from './byte-io.js';

export const CONSENSUS_DOMAIN = 'cairn/consensus/v1';

export const TAG_PROPOSAL = 1;
export const TAG_PREVOTE = 2;
export const TAG_PRECOMMIT = 3;

function checkCommon(chainId: string, height: number, round: number): Uint8Array {
  const chain = utf8(chainId);
  if (chain.length < 1 || chain.length > CHAIN_ID_BYTES_MAX) {
    throw new ConsensusError('BAD_CHAIN_ID', `chain id must be 1..${CHAIN_ID_BYTES_MAX} (CHAIN_ID_BYTES_MAX) UTF-8 bytes`);
  }
  if (!Number.isSafeInteger(height) || height < 0 || height > HEIGHT_MAX) {
    throw new ConsensusError('BAD_HEIGHT', `height must be an integer in 0..HEIGHT_MAX, got ${height}`);
  }
  if (!Number.isSafeInteger(round) || round < 0 || round > ROUND_MAX) {
    throw new ConsensusError('BAD_ROUND', `round must be an integer in 0..${ROUND_MAX} (ROUND_MAX), got ${round}`);
  }
  return chain;
}

function checkValueId(valueId: Uint8Array): void {
  if (!(valueId instanceof Uint8Array) || valueId.length < VALUE_ID_BYTES_MIN || valueId.length > VALUE_ID_BYTES_MAX) {
    throw new ConsensusError('BAD_VALUE_ID', `value id must be ${VALUE_ID_BYTES_MIN}..${VALUE_ID_BYTES_MAX} (VALUE_ID_BYTES_MAX) bytes`);
  }
}

/** Sign-bytes of ⟨PROPOSAL, h, r, id(v), vr⟩ (paper L19). Throws ConsensusError on bad arguments. */
export function proposalSignBytes(chainId: string, height: number, round: number, valueId: Uint8Array, validRound: number): Uint8Array {
  const chain = checkCommon(chainId, height, round);
  checkValueId(valueId);
  // Paper L28 only accepts vr < round_p; -1 means "no valid round".
  if (!Number.isSafeInteger(validRound) || validRound < -1 || validRound >= round) {
    throw new ConsensusError('BAD_VALID_ROUND', `validRound must be -1 or in 0..round-1, got ${validRound}`);
  }
  const w = new ByteWriter(1 + 1 + chain.length + 8 + 4 + 4 + 1 + valueId.length);
  w.u8(TAG_PROPOSAL).u8(chain.length).bytes(chain).u64(height).u32(round).u32(validRound + 1).u8(valueId.length).bytes(valueId);
  return domainMessage(CONSENSUS_DOMAIN, w.finish());
}

/** Sign-bytes of ⟨PREVOTE|PRECOMMIT, h, r, id(v)|nil⟩ (paper L24/L40/L45). Throws ConsensusError on bad arguments. */
export function voteSignBytes(
  chainId: string,
  type: 'prevote' | 'precommit',
  height: number,
  round: number,
  valueId: Uint8Array | null,
): Uint8Array {
  const chain = checkCommon(chainId, height, round);
  if (type !== 'prevote' && type !== 'precommit') throw new ConsensusError('BAD_TYPE', `vote type must be prevote or precommit`);
  if (valueId !== null) checkValueId(valueId);
  const idLen = valueId === null ? 0 : 1 + valueId.length;
  const w = new ByteWriter(1 + 1 + chain.length + 8 + 4 + 1 + idLen);
  w.u8(type === 'prevote' ? TAG_PREVOTE : TAG_PRECOMMIT).u8(chain.length).bytes(chain).u64(height).u32(round);
  if (valueId === null) w.u8(0);
  else w.u8(1).u8(valueId.length).bytes(valueId);
  return domainMessage(CONSENSUS_DOMAIN, w.finish());
}

/**
 * Tag of a compact proposal's second signature (the block's header and leaf hashes instead of
 * the block). Not a consensus message: it authenticates the proposer BEFORE a peer fetches
 * entries to rebuild the block, whose own ⟨PROPOSAL⟩ signature (over id(v) of the whole block)
 * can only be checked after rebuilding. Disjoint from tags 1-3, so it never counts as a vote.
 */
export const TAG_COMPACT_PROPOSAL = 4;

/** Sign-bytes of a compact proposal: (h, r, vr) and SHA-256 of the compact form. */
export function compactProposalSignBytes(chainId: string, height: number, round: number, compactDigest: Uint8Array, validRound: number): Uint8Array {
  const chain = checkCommon(chainId, height, round);
  checkValueId(compactDigest);
  if (!Number.isSafeInteger(validRound) || validRound < -1 || validRound >= round) {
    throw new ConsensusError('BAD_VALID_ROUND', `validRound must be -1 or in 0..round-1, got ${validRound}`);
  }
  const w = new ByteWriter(1 + 1 + chain.length + 8 + 4 + 4 + 1 + compactDigest.length);
  w.u8(TAG_COMPACT_PROPOSAL).u8(chain.length).bytes(chain).u64(height).u32(round).u32(validRound + 1).u8(compactDigest.length).bytes(compactDigest);
  return domainMessage(CONSENSUS_DOMAIN, w.finish());
}
