// The consensus topic's synchronous gossip validator (ConsensusRunner.validateGossip), cheap
// checks first: envelope and shape; height window (old and far-future heights are 'ignore'd: not
// kept, not relayed); a proposal from anyone but proposer(h, r) is 'reject'ed; a repeat of a
// message already handled at our height is 'ignore'd before its signature is checked; then the
// signature, against the validator set of the message's height.
import { toHex } from '../../src/encoding/bytes.js';
import { checkMessage, decodeMessage, proposer, type ConsensusConfig } from '../../src/consensus/index.js';
import { messageIdHex, type HeightAdmission } from './runner/admission.js';
import { openEnvelope } from './runner/envelope.js';
import { HEIGHTS_AHEAD_MAX } from './runner/limits.js';
import type { RunnerSets } from './runner/ports.js';

/** What the check reads of the runner. */
export interface GossipCheckContext {
  cfg: ConsensusConfig;
  sets: RunnerSets | null;
  admission: HeightAdmission;
  valueId: (v: Uint8Array) => Uint8Array;
  /** The height being decided next (head + 1). */
  next: number;
}

export function checkGossip(c: GossipCheckContext, envelope: Uint8Array): 'accept' | 'reject' | 'ignore' {
  const data = openEnvelope(envelope);
  if (data === null) return 'reject';
  const d = decodeMessage(data, c.cfg.maxValueBytes);
  if (!d.ok) return 'reject';
  const m = d.message;
  if (m.height < c.next || m.height > c.next + HEIGHTS_AHEAD_MAX) return 'ignore';
  // The set of the message's height. One not final yet (a change decided in a block we do not
  // have could come in force there) cannot prove the sender wrong: 'ignore', never 'reject'.
  const set = c.sets === null ? null : c.sets.at(m.height);
  const validators = set === null ? c.cfg.validators : set.validators;
  const wrong = set === null || set.known !== false ? 'reject' : 'ignore';
  if (m.type === 'proposal' && m.validator !== proposer(m.height, m.round, validators.length)) return wrong;
  const id = m.type === 'proposal' ? c.valueId(m.value) : null;
  if (m.height === c.admission.height) {
    const a = c.admission.classify(m, id === null ? messageIdHex(m, c.valueId) : toHex(id));
    if (a === 'duplicate' || a === 'excess') return 'ignore';
  }
  const r = checkMessage(m, validators, c.cfg.chainId, c.cfg.verifier, id === null ? c.valueId : () => id, c.cfg.maxValueBytes);
  return r.ok ? 'accept' : wrong;
}
