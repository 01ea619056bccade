// One synced signer-state write for several signed messages of one driver step.
import { invariant } from '../../../src/assert.js';
import type { Effect, SignerState } from '../../../src/consensus/index.js';

/**
 * The run of effects from the persist at `start` that one synced signer-state write may cover, and
 * the state to write: its LAST persist. The proposer's step is [persist S1, broadcast proposal
 * (paper L19), persist S2, broadcast prevote (L22-L27: the driver ingests its own proposal at
 * once)]: writing S2 alone,
 * then sending both, is as safe as two writes. S2's last-signed slot (prevote, h, r) is later than
 * the proposal's, so after a crash the signer guard refuses every slot up to it: no other proposal
 * for (h, r) is ever signed; and nothing leaves before the state covering it is durable. A crash
 * before the write loses both messages unsent (liveness only: the round times out). The run holds
 * only persist and broadcast effects (a decide or timeout ends it) and ends after a precommit, so
 * the state written before a precommit locks the value it names (L36-L43; PRECOMMIT_NOT_DURABLE).
 */
export function coalescedRun(effects: readonly Effect[], start: number): { end: number; state: SignerState } {
  const first = effects[start]!;
  invariant(first.kind === 'persist', 'COALESCE_START', () => `coalescedRun starts at a ${first.kind} effect`);
  let state = first.state;
  let end = start + 1;
  while (end < effects.length) {
    const e = effects[end]!;
    if (e.kind === 'persist') state = e.state;
    else if (e.kind !== 'broadcast') break;
    end++;
    if (e.kind === 'broadcast' && e.message.type === 'precommit') break;
  }
  return { end, state };
}
