// What a peer must hold whole to apply any value a decision could be made on with its vote
// (docs/consensus-proposals.md "The WAL"). A PRECOMMIT for id(v) is our vote towards deciding v
// (paper L49), and we send it only by the L36-L43 rule, which also locks v (L38). The driver's
// `persist` effect of that step writes the signer state, lockedValue WHOLE, synced, before the
// precommit leaves. So the durable whole copy of every value we precommitted is the synced signer
// state, whoever proposed it, and the WAL keeps proposals, received or our own, compact (as on the wire).
// On restart the restored locked and valid values (and our last signed proposal) are handed back
// to the block assembly, so the compact WAL record of v is rebuilt without the mempool or any other
// peer, and v's entries are served again to peers that fetch them by hash.
import { invariant } from '../../../src/assert.js';
import { bytesEqual, toHex } from '../../../src/encoding/bytes.js';
import type { ConsensusMessage, SignerState } from '../../../src/consensus/index.js';

/** The distinct whole values a restored signer state holds: locked, valid, our last signed proposal's. */
export function restoredValues(s: SignerState, valueId: (v: Uint8Array) => Uint8Array): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  const last = s.lastSigned?.message;
  for (const v of [s.lockedValue, s.validValue, last?.type === 'proposal' && last.height === s.height ? last.value : null]) {
    if (v !== null) out.set(toHex(valueId(v)), v);
  }
  return [...out.values()];
}

/**
 * The locked value of the last signer state made durable. A non-nil precommit may leave only
 * when it names that value (L36-L38: lock, then precommit): otherwise a restart could find our
 * precommit counted towards a decision on a value we hold nowhere whole.
 */
export class SyncedLock {
  private value: Uint8Array | null = null;

  /** After the signer state `s` was written (synced) or restored. */
  note(s: SignerState): void {
    this.value = s.lockedValue;
  }

  /** Throws (INVARIANT: fail-stop before sending) when `m` is a precommit for a value not durable whole. */
  check(m: ConsensusMessage, valueId: (v: Uint8Array) => Uint8Array): void {
    if (m.type !== 'precommit' || m.valueId === null) return;
    const v = this.value;
    invariant(v !== null && bytesEqual(valueId(v), m.valueId), 'PRECOMMIT_NOT_DURABLE', () => `precommit of height ${m.height} round ${m.round} names a value the synced signer state does not hold as its locked value`);
  }
}
