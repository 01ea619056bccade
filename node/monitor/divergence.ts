// Comparing a checkpoint seen elsewhere with this peer's own final log, and the poll that feeds
// the comparison with the other peers' latest final checkpoints (the catch-up protocol's
// `checkpoint/1`, which every peer serves) so that a peer whose log diverged from ours is named
// without anyone posting to /v1/checkpoints/observe.
//
// Order of checks, cheapest first: quorum signatures of the set that signs that size (else: not evidence)
// → size against our final size (larger: nothing to compare yet) → our final checkpoint of the
// same size (roots compared) → otherwise a consistency proof from their size to our latest final
// checkpoint, built from our own tiles (O(log n) hashes) and verified against their root.
import { verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { bytesEqual } from '../../src/encoding/bytes.js';
import { verifyConsistency } from '../../src/merkle/verify.js';
import type { Peer } from '../peer/peer.js';
import { PROTO_CHECKPOINT } from '../peer/sync.js';
import { checkpointSetOf } from '../peer/validator-sets.js';

export type Comparison =
  | { status: 'consistent' }
  /** Larger than our final size (or nothing final here yet): compared once we get there. */
  | { status: 'unknown_size' }
  | { status: 'invalid'; reason: string }
  | {
      status: 'conflict';
      /** `root`: same size, other root; `consistency`: their tree is not a prefix of ours. */
      how: 'root' | 'consistency';
      size: number;
      theirRoot: Uint8Array;
      ourSize: number;
      ourRoot: Uint8Array;
      /** Validators whose signatures are on both checkpoints (sorted). */
      doubleSigners: string[];
    };

export async function compareCheckpoint(peer: Peer, note: string | Uint8Array): Promise<Comparison> {
  // Each size is signed by the validator set in force at its height (membership changes through
  // governance): verify with that set, never with the genesis one.
  const ledger = peer.internals.ledger;
  const claimed = checkpointSetOf(note, ledger);
  if (!claimed.ok) return { status: 'invalid', reason: `${claimed.code}: ${claimed.message}` };
  const theirs = verifyCheckpointQuorum(note, claimed.trust, nodeVerifier);
  if (!theirs.ok) return { status: 'invalid', reason: `${theirs.code}: ${theirs.message}` };
  const size = theirs.checkpoint.size;
  const store = peer.internals.store;
  if (size > ledger.finalSize()) return { status: 'unknown_size' };
  const rec = await store.getCheckpoint(size);
  let ourNote: Uint8Array | undefined = rec !== undefined && rec.final ? rec.note : undefined;
  const how: 'root' | 'consistency' = ourNote !== undefined ? 'root' : 'consistency';
  ourNote ??= await store.latestFinalCheckpoint();
  if (ourNote === undefined) return { status: 'unknown_size' };
  const ourClaim = checkpointSetOf(ourNote, ledger);
  if (!ourClaim.ok) return { status: 'invalid', reason: `our own checkpoint does not parse: ${ourClaim.code}` };
  const ours = verifyCheckpointQuorum(ourNote, ourClaim.trust, nodeVerifier);
  if (!ours.ok) return { status: 'invalid', reason: `our own checkpoint does not verify: ${ours.code}` };
  const ourSize = ours.checkpoint.size;
  let agree: boolean;
  if (ourSize === size) agree = bytesEqual(ours.checkpoint.root, theirs.checkpoint.root);
  else if (ourSize < size) return { status: 'unknown_size' };
  else if (size === 0) agree = true;
  else agree = verifyConsistency(size, ourSize, await peer.consistencyProof(size, ourSize), theirs.checkpoint.root, ours.checkpoint.root);
  if (agree) return { status: 'consistent' };
  return {
    status: 'conflict',
    how,
    size,
    theirRoot: theirs.checkpoint.root,
    ourSize,
    ourRoot: ours.checkpoint.root,
    doubleSigners: theirs.signers.filter((n) => ours.signers.includes(n)).sort(),
  };
}

/** Largest checkpoint note accepted from a peer (the note carries one line per validator). */
export const PEER_CHECKPOINT_BYTES_MAX = 256 * 1024;

/** Bound of one poll round: every due peer is asked at once, answers later than this are skipped. */
export const PEER_POLL_TIMEOUT_MS = 3_000;

/**
 * The latest final checkpoint of each connected validator peer, asked at most once per
 * `everyMs` per peer (one request of a few hundred bytes; the catch-up poll asks for the same).
 * The due peers are asked concurrently and the round waits at most `timeoutMs` in all, however
 * many peers there are (asked one after another, n silent peers would hold the integrity checks
 * n × the timeout); peers that did not answer by then are skipped until the next round. The
 * answers are then compared one at a time (local reads and signature checks).
 */
export async function pollPeerCheckpoints(
  peer: Peer,
  lastAsked: Map<string, number>,
  everyMs: number,
  now: number,
  onNote: (from: { name: string; peerId: string }, note: Uint8Array) => Promise<void>,
  timeoutMs: number = PEER_POLL_TIMEOUT_MS,
): Promise<void> {
  const due = peer.status().peers.filter((p) => p.connected && now - (lastAsked.get(p.peerId) ?? -Infinity) >= everyMs);
  if (due.length === 0) return;
  for (const p of due) lastAsked.set(p.peerId, now);
  let timer: NodeJS.Timeout | undefined;
  // The request's own timeout is the same bound; the race makes the bound hold for the round.
  const deadline = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
  const ask = (peerId: string): Promise<Uint8Array | null> =>
    peer.internals.net.request(peerId, PROTO_CHECKPOINT, new Uint8Array(0), { timeoutMs, maxResponseBytes: PEER_CHECKPOINT_BYTES_MAX }).catch(() => null);
  let notes: (Uint8Array | null)[];
  try {
    notes = await Promise.all(due.map((p) => Promise.race([ask(p.peerId), deadline])));
  } finally {
    clearTimeout(timer);
  }
  for (let i = 0; i < due.length; i++) {
    const note = notes[i];
    if (note === null || note === undefined || note.length === 0) continue;
    await onNote({ name: due[i]!.name, peerId: due[i]!.peerId }, note);
  }
}
