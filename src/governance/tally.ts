// Progress of a ballot-decided proposal before it is submitted (what `cairn gov vote` and
// `cairn gov list` show): which organizations in force have a valid ballot, which are missing, and
// whether the record would be accepted now. Ballots are gathered off the log and attached to the
// record; only the complete record is submitted.
import { quorum } from '../consensus/quorum.js';
import { nobleVerifier } from '../crypto/noble.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { toHex } from '../encoding/bytes.js';
import { sigBytes } from './parse.js';
import { applyGovernance } from './state.js';
import { validatorsAt } from './membership.js';
import type { GovRejectCode, GovState, ParsedGovRecord } from './types.js';

export interface BallotTally {
  /** Record id the ballots are for. */
  readonly record: string;
  /** Organizations in force at the height, and how many ballots are needed. */
  readonly organizations: readonly string[];
  readonly needed: number;
  /** Organizations in force with a valid ballot for this record, in signature order. */
  readonly approved: readonly string[];
  readonly missing: readonly string[];
  /** Signatures that do not count, with why (wrong proposal, not a member, bad signature, twice). */
  readonly ignored: readonly { index: number; by: string; reason: GovRejectCode }[];
  /** For org.add: whether the added organization's consent is attached. */
  readonly consent: boolean;
  /** null when the record would be accepted at `atHeight`, else the code it would be refused with. */
  readonly verdict: GovRejectCode | null;
}

/** Tallies the ballots of a parsed record against the organizations in force at `atHeight`. */
export function tallyBallots(state: GovState, parsed: ParsedGovRecord, atHeight: number, verifier: Ed25519Verifier = nobleVerifier): BallotTally {
  const epoch = validatorsAt(state, atHeight);
  const byName = new Map(epoch.orgs.map((o) => [o.name, o]));
  const approved: string[] = [];
  const ignored: { index: number; by: string; reason: GovRejectCode }[] = [];
  const sigs = parsed.record.sigs;
  const added = parsed.record.type === 'org.add' ? parsed.record.body.org.name : null;
  let consent = false;
  for (let i = 0; i < sigs.length; i++) {
    const s = sigs[i]!;
    if (s.by === added && !byName.has(s.by)) {
      consent = true; // checked with the rest by the verdict below
      continue;
    }
    const org = byName.get(s.by);
    const reason: GovRejectCode | null =
      s.proposal !== parsed.id
        ? 'gov_ballot_wrong_proposal'
        : org === undefined
          ? 'gov_sig_not_member'
          : approved.includes(s.by)
            ? 'gov_ballot_duplicate'
            : toHex(org.key.publicKey) !== s.key
              ? 'gov_sig_key_mismatch'
              : !verifier.verify(sigBytes(s).key, parsed.statement, sigBytes(s).sig)
                ? 'gov_sig_invalid'
                : null;
    if (reason === null) approved.push(s.by);
    else ignored.push({ index: i, by: s.by, reason });
  }
  const applied = applyGovernance(state, parsed, Math.max(atHeight, state.height), { verifier });
  return {
    record: parsed.id,
    organizations: epoch.orgs.map((o) => o.name),
    needed: quorum(epoch.orgs.length),
    approved,
    missing: epoch.orgs.map((o) => o.name).filter((n) => !approved.includes(n)),
    ignored,
    consent,
    verdict: applied.ok ? null : applied.code,
  };
}
