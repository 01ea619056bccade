// Binary records the peer persists or exchanges besides blocks: the consensus signer state, the
// equivocation evidence, and the catch-up protocol messages. Big-endian, versioned, explicit
// lengths, no trailing bytes; decoders never throw.
import { ByteReader, ByteWriter } from '../../src/consensus/byte-io.js';
import { decodeMessage, encodeMessage, checkSignerState, type ConsensusMessage, type Equivocation, type SignerState, type Step } from '../../src/consensus/index.js';
import { failure, type PeerFailure } from './errors.js';

const STEPS: Step[] = ['propose', 'prevote', 'precommit'];

function optBytesLen(b: Uint8Array | null): number {
  return 4 + (b === null ? 0 : b.length);
}

// Signer state (version 1):
//   u8 1 | u64 height | u32 round | u8 step | u32 lockedRound+1 | u32 len+1 (0 = null) ‖ lockedValue
//   | u32 validRound+1 | u32 len+1 ‖ validValue | u8 hasLast
//   [ u64 h | u32 r | u8 step | u8 idLen+1 (0 = nil) ‖ valueId | u32 len ‖ encoded message ]
export function encodeSignerState(s: SignerState): Uint8Array {
  const last = s.lastSigned;
  const msg = last === null ? null : encodeMessage(last.message);
  const size =
    1 + 8 + 4 + 1 + 4 + optBytesLen(s.lockedValue) + 4 + optBytesLen(s.validValue) + 1 +
    (last === null ? 0 : 8 + 4 + 1 + 1 + (last.valueId?.length ?? 0) + 4 + msg!.length);
  const w = new ByteWriter(size);
  w.u8(1).u64(s.height).u32(s.round).u8(STEPS.indexOf(s.step));
  w.u32(s.lockedRound + 1).u32(s.lockedValue === null ? 0 : s.lockedValue.length + 1);
  if (s.lockedValue !== null) w.bytes(s.lockedValue);
  w.u32(s.validRound + 1).u32(s.validValue === null ? 0 : s.validValue.length + 1);
  if (s.validValue !== null) w.bytes(s.validValue);
  if (last === null) {
    w.u8(0);
  } else {
    w.u8(1).u64(last.height).u32(last.round).u8(STEPS.indexOf(last.step));
    w.u8(last.valueId === null ? 0 : last.valueId.length + 1);
    if (last.valueId !== null) w.bytes(last.valueId);
    w.u32(msg!.length).bytes(msg!);
  }
  return w.finish();
}

export function decodeSignerState(b: Uint8Array): { ok: true; state: SignerState } | PeerFailure {
  const r = new ByteReader(b);
  const version = r.u8();
  if (version !== 1) return failure('signer_state_bad', `unknown signer state version ${version}`);
  const height = r.u64();
  const round = r.u32();
  const step = STEPS[r.u8()];
  const lockedRound = r.u32() - 1;
  const ll = r.u32();
  const lockedValue = ll === 0 ? null : r.bytes(ll - 1);
  const validRound = r.u32() - 1;
  const vl = r.u32();
  const validValue = vl === 0 ? null : r.bytes(vl - 1);
  const hasLast = r.u8();
  let lastSigned: SignerState['lastSigned'] = null;
  if (hasLast === 1) {
    const lh = r.u64();
    const lr = r.u32();
    const ls = STEPS[r.u8()];
    const il = r.u8();
    const valueId = il === 0 ? null : r.bytes(il - 1);
    const ml = r.u32();
    const mb = r.bytes(ml);
    if (r.truncated) return failure('signer_state_bad', 'signer state truncated');
    const m = decodeMessage(mb);
    if (!m.ok || ls === undefined) return failure('signer_state_bad', 'signer state last message does not decode');
    lastSigned = { height: lh, round: lr, step: ls, valueId, message: m.message };
  } else if (hasLast !== 0) {
    return failure('signer_state_bad', 'bad lastSigned flag');
  }
  if (r.truncated || r.remaining !== 0 || step === undefined || height < 0) return failure('signer_state_bad', 'signer state truncated or with trailing bytes');
  const state: SignerState = { version: 1, height, round, step, lockedValue, lockedRound, validValue, validRound, lastSigned };
  try {
    checkSignerState(state);
  } catch (e) {
    return failure('signer_state_bad', (e as Error).message);
  }
  return { ok: true, state };
}

// Evidence (version 1): u8 1 | u32 len ‖ first message | u32 len ‖ second message
export function encodeEvidence(e: Equivocation): Uint8Array {
  const a = encodeMessage(e.first);
  const b = encodeMessage(e.second);
  const w = new ByteWriter(1 + 4 + a.length + 4 + b.length);
  w.u8(1).u32(a.length).bytes(a).u32(b.length).bytes(b);
  return w.finish();
}

export function decodeEvidence(bytes: Uint8Array): { ok: true; first: ConsensusMessage; second: ConsensusMessage } | PeerFailure {
  const r = new ByteReader(bytes);
  const v = r.u8();
  const a = r.bytes(r.u32());
  const b = r.bytes(r.u32());
  if (r.truncated || r.remaining !== 0 || v !== 1) return failure('evidence_bad', 'evidence record malformed');
  const first = decodeMessage(a);
  const second = decodeMessage(b);
  if (!first.ok || !second.ok) return failure('evidence_bad', 'evidence messages do not decode');
  return { ok: true, first: first.message, second: second.message };
}

// Catch-up request (version 1): u8 1 | u64 fromHeight | u16 maxCount
export function encodeBlocksRequest(fromHeight: number, maxCount: number): Uint8Array {
  return new ByteWriter(11).u8(1).u64(fromHeight).u16(maxCount).finish();
}

export function decodeBlocksRequest(b: Uint8Array): { ok: true; fromHeight: number; maxCount: number } | PeerFailure {
  const r = new ByteReader(b);
  const v = r.u8();
  const fromHeight = r.u64();
  const maxCount = r.u16();
  if (r.truncated || r.remaining !== 0 || v !== 1 || fromHeight < 1 || maxCount < 1) return failure('sync_bad_request', 'blocks request malformed');
  return { ok: true, fromHeight, maxCount };
}

// Catch-up response (version 1): u8 1 | u64 peerHeight | u16 count | count × (u32 len ‖ block | u32 len ‖ certificate)
export function encodeBlocksResponse(peerHeight: number, blocks: { block: Uint8Array; certificate: Uint8Array }[]): Uint8Array {
  let size = 1 + 8 + 2;
  for (const x of blocks) size += 8 + x.block.length + x.certificate.length;
  const w = new ByteWriter(size);
  w.u8(1).u64(peerHeight).u16(blocks.length);
  for (const x of blocks) w.u32(x.block.length).bytes(x.block).u32(x.certificate.length).bytes(x.certificate);
  return w.finish();
}

export function decodeBlocksResponse(b: Uint8Array, maxCount: number): { ok: true; peerHeight: number; blocks: { block: Uint8Array; certificate: Uint8Array }[] } | PeerFailure {
  const r = new ByteReader(b);
  const v = r.u8();
  const peerHeight = r.u64();
  const count = r.u16();
  if (r.truncated || v !== 1 || peerHeight < 0) return failure('sync_bad_response', 'blocks response header malformed');
  if (count > maxCount) return failure('sync_bad_response', `response carries ${count} blocks, asked for at most ${maxCount}`);
  const blocks: { block: Uint8Array; certificate: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const bl = r.u32();
    if (bl > r.remaining) return failure('sync_bad_response', 'block length beyond the response');
    const block = r.bytes(bl);
    const cl = r.u32();
    if (cl > r.remaining) return failure('sync_bad_response', 'certificate length beyond the response');
    const certificate = r.bytes(cl);
    if (r.truncated) return failure('sync_bad_response', 'blocks response truncated');
    blocks.push({ block, certificate });
  }
  if (r.remaining !== 0) return failure('sync_bad_response', 'trailing bytes in blocks response');
  return { ok: true, peerHeight, blocks };
}

// Status response (version 1): u8 1 | u64 height | u64 treeSize | u64 finalSize
export function encodeStatus(s: { height: number; treeSize: number; finalSize: number }): Uint8Array {
  return new ByteWriter(25).u8(1).u64(s.height).u64(s.treeSize).u64(s.finalSize).finish();
}

export function decodeStatus(b: Uint8Array): { ok: true; height: number; treeSize: number; finalSize: number } | PeerFailure {
  const r = new ByteReader(b);
  const v = r.u8();
  const height = r.u64();
  const treeSize = r.u64();
  const finalSize = r.u64();
  if (r.truncated || r.remaining !== 0 || v !== 1 || height < 0 || treeSize < 0 || finalSize < 0) return failure('status_bad', 'status response malformed');
  return { ok: true, height, treeSize, finalSize };
}

// Entry gossip batch (version 1): u8 1 | u16 count | count × (u16 len ‖ leaf), each leaf 1..65,535 bytes.
export function encodeEntryBatch(leaves: Uint8Array[]): Uint8Array {
  let size = 3;
  for (const l of leaves) size += 2 + l.length;
  const w = new ByteWriter(size);
  w.u8(1).u16(leaves.length);
  for (const l of leaves) w.u16(l.length).bytes(l);
  return w.finish();
}

export function decodeEntryBatch(b: Uint8Array, maxEntries: number): { ok: true; leaves: Uint8Array[] } | PeerFailure {
  const r = new ByteReader(b);
  const v = r.u8();
  const count = r.u16();
  if (r.truncated || v !== 1) return failure('batch_malformed', 'entry batch header malformed');
  if (count === 0 || count > maxEntries) return failure('batch_malformed', `entry batch of ${count} entries (allowed 1..${maxEntries})`);
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u16();
    if (len === 0 || len > r.remaining) return failure('batch_malformed', `entry ${i} length ${len} invalid`);
    leaves.push(r.bytes(len));
  }
  if (r.truncated || r.remaining !== 0) return failure('batch_malformed', 'entry batch truncated or with trailing bytes');
  return { ok: true, leaves };
}
