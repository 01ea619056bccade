// The consensus topic's synchronous gossip validator (ConsensusRunner.validateGossip), cheap
// checks first: envelope and shape; height window (old and far-future heights are 'ignore'd: not
// kept, not relayed); a proposal from anyone but proposer(h, r) is 'reject'ed; a repeat of a
// message already handled at our height is 'ignore'd before its signature is checked; then the
// signature, against the validator set of the message's height. A compact proposal
// (runner/compact.ts) is checked the same way up to its compact signature: shape, height window,
// proposer(h, r), the compact form (size, count, entriesHash over its leaf hashes), then the
// signature over the compact form; its block is rebuilt and fully checked only after that.
import { toHex } from '../../src/encoding/bytes.js';
import { checkMessage, decodeMessage, proposer, type ConsensusConfig } from '../../src/consensus/index.js';
import { messageIdHex, type HeightAdmission } from './runner/admission.js';
import { openEnvelope } from './runner/envelope.js';
import { HEIGHTS_AHEAD_MAX } from './runner/limits.js';
import { checkCompactProposal, decodeCompactRecord, isCompactRecord } from './runner/compact.js';
import { compactBytes } from './block-compact.js';
import { BLOCK_CAPS } from './block.js';
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
  if (isCompactRecord(data)) return checkCompactGossip(c, data);
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

function checkCompactGossip(c: GossipCheckContext, data: Uint8Array): 'accept' | 'reject' | 'ignore' {
  const m = decodeCompactRecord(data, compactBytes(BLOCK_CAPS.maxBlockEntries));
  if (m === null) return 'reject';
  if (m.height < c.next || m.height > c.next + HEIGHTS_AHEAD_MAX) return 'ignore';
  const set = c.sets === null ? null : c.sets.at(m.height);
  const validators = set === null ? c.cfg.validators : set.validators;
  const wrong = set === null || set.known !== false ? 'reject' : 'ignore';
  if (m.validator !== proposer(m.height, m.round, validators.length)) return wrong;
  const r = checkCompactProposal(c.cfg.chainId, m, validators[m.validator]!.publicKey, c.cfg.verifier);
  if (r.ok) return 'accept';
  return r.code === 'BAD_SIGNATURE' ? wrong : 'reject';
}
