// A Byzantine gossip module (test-only): messages a faulty validator can publish with its REAL
// signing key, so every one of them passes signature checks. Used by byzantine-peer.ts, which
// runs a real peer and publishes these through that peer's own libp2p gossip.
//
// Attacks (each a bounded stream: at most `max` messages, one every `everyMs`, stopped at the
// deadline):
//   walFlood      1-2 MiB junk proposals for the current height at rounds where we ARE the
//                 proposer (validly signed; many per round = equivocation), to fill the WAL.
//   junkVotes     prevotes/precommits for the current height, random rounds and value ids.
//   junkProposer  junk proposals for rounds where we are NOT the proposer.
//   farFuture     proposals and votes for heights head+10 ... head+2^40.
//   forgedSigs    checkpoint-signature lines claiming OTHER validators' names (their key ids,
//                 random signatures) for the current and future tree sizes.
// Messages the gossip validator can reject outright (forged signatures for the current tree size,
// proposals from a validator that is not the proposer) cost the sender gossipsub score (P4: minus
// the squared count of rejected messages, the count decaying by 10 %/s; RPCs of a peer below -80
// are ignored). Those two streams are sent slowly (1 per 4 s each, a steady count of ~5, score
// ~-25), like a careful attacker would, so a score ban does not mute the other streams: the point
// is to test what each peer does with what it receives.
import { randomBytes, randomInt } from 'node:crypto';
import { sha256 } from '../../../../src/crypto/hash.js';
import type { Ed25519Signer } from '../../../../src/crypto/types.js';
import { encodeMessage, proposalSignBytes, proposer, voteSignBytes, HEIGHT_MAX, type ConsensusMessage } from '../../../../src/consensus/index.js';
import { encodeEnvelope } from '../../../../node/peer/consensus-runner.js';
import { encodeCheckpointSig } from '../../../../node/peer/ledger.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Hard cap on any attack run, whatever the caller asks (a test must never flood forever). */
export const ATTACK_DURATION_MAX_MS = 120_000;
/** Rounds of the current height the junk is spread over (the driver keeps 16 above its round). */
const JUNK_ROUNDS = 64;
/** Far-future height offsets above the head: just past the future-height window up to 2^40. */
const FUTURE_OFFSETS = [10, 11, 100, 1_000, 100_000, 2 ** 20, 2 ** 32, 2 ** 40];
/** Forged checkpoint sizes above the current tree size. */
const FUTURE_SIZE_OFFSETS = [1, 2, 50, 10_000, 2 ** 20, 2 ** 32, 2 ** 40];

export type AttackName = 'walFlood' | 'junkVotes' | 'junkProposer' | 'farFuture' | 'forgedSigsFuture' | 'forgedSigsCurrent';

export interface StreamPlan {
  /** Pause between two messages of the stream. */
  everyMs: number;
  /** Most messages the stream publishes. */
  max: number;
}

export type AttackPlan = Record<AttackName, StreamPlan>;

/** Pause between two messages of each stream: ~5 flood proposals/s (7.5 MiB/s), the rest small and frequent. */
export const ATTACK_EVERY_MS: Record<AttackName, number> = {
  walFlood: 200,
  junkVotes: 50,
  // Slow on purpose (see the header): these two are rejected by the gossip validators.
  junkProposer: 4_000,
  forgedSigsCurrent: 4_000,
  farFuture: 100,
  forgedSigsFuture: 200,
};

/** The plan for a run of durationMs: each stream may send one message per everyMs, no more. */
export function planFor(durationMs: number): AttackPlan {
  const d = Math.min(durationMs, ATTACK_DURATION_MAX_MS);
  const plan = {} as AttackPlan;
  for (const [k, everyMs] of Object.entries(ATTACK_EVERY_MS) as [AttackName, number][]) plan[k] = { everyMs, max: Math.ceil(d / everyMs) };
  return plan;
}

export interface AttackTarget {
  /** The log origin (consensus chain id). */
  chainId: string;
  /** Every validator's name and C2SP key id, in genesis order. */
  validators: { name: string; keyId: Uint8Array }[];
  /** Our validator index and our real signing key. */
  selfIndex: number;
  signer: Ed25519Signer;
  /** Largest proposal value the peers decode (genesis maxBlockBytes + 1024). */
  maxValueBytes: number;
  /** Our peer's current head (the attack follows the chain). */
  head: () => { height: number; treeSize: number };
  /** Gossip publish; resolves to how many peers it was sent to. */
  publishConsensus: (data: Uint8Array) => Promise<{ recipients: number }>;
  publishCheckpointSig: (data: Uint8Array) => Promise<{ recipients: number }>;
}

export interface StreamStats {
  sent: number;
  /** Sent but reached no peer (not subscribed or not connected). */
  noRecipients: number;
  bytes: number;
  failed: number;
  lastError: string | null;
}

export type AttackStats = Record<AttackName, StreamStats> & { startedAtMs: number; elapsedMs: number; finished: boolean };

/** Random junk value of `len` bytes (a fresh random prefix over a shared random body, so every value id differs). */
function junkValue(body: Uint8Array, len: number): Uint8Array {
  const v = new Uint8Array(len);
  v.set(body.subarray(0, len));
  v.set(randomBytes(32), 0);
  return v;
}

export function signedProposal(t: AttackTarget, height: number, round: number, value: Uint8Array): ConsensusMessage {
  const signature = t.signer.sign(proposalSignBytes(t.chainId, height, round, sha256(value), -1));
  return { type: 'proposal', height, round, value, validRound: -1, validator: t.selfIndex, signature };
}

export function signedVote(t: AttackTarget, type: 'prevote' | 'precommit', height: number, round: number, valueId: Uint8Array | null): ConsensusMessage {
  const signature = t.signer.sign(voteSignBytes(t.chainId, type, height, round, valueId));
  return { type, height, round, valueId, validator: t.selfIndex, signature };
}

/** Rounds in [0, JUNK_ROUNDS) at which `self` is (or is not) the proposer of `height`. */
export function roundsWhere(height: number, n: number, self: number, isProposer: boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < JUNK_ROUNDS; r++) if ((proposer(height, r, n) === self) === isProposer) out.push(r);
  return out;
}

function pick<T>(xs: readonly T[]): T {
  return xs[randomInt(xs.length)]!;
}

/** Builds the next message of a stream (null = nothing to send right now). */
export function buildMessage(t: AttackTarget, name: AttackName, seq: number, body: Uint8Array): { topic: 'consensus' | 'sigs'; data: Uint8Array } | null {
  const n = t.validators.length;
  const head = t.head();
  const h = head.height + 1;
  const consensus = (m: ConsensusMessage) => ({ topic: 'consensus' as const, data: encodeEnvelope(encodeMessage(m), Date.now()) });
  switch (name) {
    case 'walFlood': {
      const max = Math.min(2 * MiB, t.maxValueBytes);
      const len = randomInt(Math.min(MiB, max), max + 1);
      return consensus(signedProposal(t, h, pick(roundsWhere(h, n, t.selfIndex, true)), junkValue(body, len)));
    }
    case 'junkProposer': {
      const len = randomInt(256 * KiB, Math.min(MiB, t.maxValueBytes) + 1);
      return consensus(signedProposal(t, h, pick(roundsWhere(h, n, t.selfIndex, false)), junkValue(body, len)));
    }
    case 'junkVotes': {
      const type = seq % 2 === 0 ? 'prevote' : 'precommit';
      return consensus(signedVote(t, type, h, randomInt(JUNK_ROUNDS), seq % 3 === 0 ? null : randomBytes(32)));
    }
    case 'farFuture': {
      const fh = Math.min(HEIGHT_MAX, head.height + FUTURE_OFFSETS[seq % FUTURE_OFFSETS.length]!);
      const round = randomInt(4);
      if (seq % 3 === 0) {
        // A proposal from the right proposer of that height, so only the height is wrong.
        const r = roundsWhere(fh, n, t.selfIndex, true)[0]!;
        return consensus(signedProposal(t, fh, r, junkValue(body, 4 * KiB)));
      }
      return consensus(signedVote(t, seq % 3 === 1 ? 'prevote' : 'precommit', fh, round, randomBytes(32)));
    }
    case 'forgedSigsFuture':
    case 'forgedSigsCurrent': {
      const others = t.validators.filter((_, i) => i !== t.selfIndex);
      const victim = others[seq % others.length]!;
      const size = name === 'forgedSigsCurrent' ? head.treeSize : head.treeSize + FUTURE_SIZE_OFFSETS[seq % FUTURE_SIZE_OFFSETS.length]!;
      if (size < 1) return null;
      const sig = { name: victim.name, keyId: victim.keyId, signature: randomBytes(64) };
      return { topic: 'sigs', data: encodeCheckpointSig(size, sig, Date.now()) };
    }
  }
}

function newStats(): StreamStats {
  return { sent: 0, noRecipients: 0, bytes: 0, failed: 0, lastError: null };
}

/**
 * Runs every stream of `plan` concurrently until `durationMs` (capped by ATTACK_DURATION_MAX_MS)
 * passes, each stream's `max` is reached, or `signal` aborts. `onProgress` sees the live stats.
 */
export async function runAttacks(t: AttackTarget, plan: AttackPlan, durationMs: number, signal: AbortSignal, onProgress?: (s: AttackStats) => void): Promise<AttackStats> {
  const startedAtMs = Date.now();
  const deadline = startedAtMs + Math.min(durationMs, ATTACK_DURATION_MAX_MS);
  const stats = {
    startedAtMs,
    elapsedMs: 0,
    finished: false,
    walFlood: newStats(),
    junkVotes: newStats(),
    junkProposer: newStats(),
    farFuture: newStats(),
    forgedSigsFuture: newStats(),
    forgedSigsCurrent: newStats(),
  } satisfies AttackStats;
  const body = randomBytes(Math.min(2 * MiB, t.maxValueBytes));
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, Math.min(ms, deadline - Date.now())));
      signal.addEventListener('abort', onAbort, { once: true });
    });
  const live = () => !signal.aborted && Date.now() < deadline;
  const stream = async (name: AttackName) => {
    const p = plan[name];
    const s = stats[name];
    for (let seq = 0; seq < p.max && live(); seq++) {
      const msg = buildMessage(t, name, seq, body);
      if (msg !== null) {
        try {
          const r = await (msg.topic === 'consensus' ? t.publishConsensus(msg.data) : t.publishCheckpointSig(msg.data));
          s.sent++;
          if (r.recipients === 0) s.noRecipients++;
          s.bytes += msg.data.length;
        } catch (e) {
          s.failed++;
          s.lastError = (e as Error).message.slice(0, 200);
        }
      }
      await sleep(p.everyMs);
    }
  };
  const progress = onProgress ? setInterval(() => onProgress({ ...stats, elapsedMs: Date.now() - startedAtMs }), 1_000) : null;
  try {
    await Promise.all((Object.keys(plan) as AttackName[]).map(stream));
  } finally {
    if (progress) clearInterval(progress);
  }
  return { ...stats, elapsedMs: Date.now() - startedAtMs, finished: true };
}
