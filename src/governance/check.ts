// Who must sign what, checked against the organizations in force: shared by the state machine
// (every peer) and the light verifier (auditors), so both reach the same verdict on a record.
//
// Order (cheap facts first): every signature names this record -> signers are who the record type
// requires (members, the voucher, the old and new key, the added organization) -> no organization
// counted twice -> enough of them -> only then the Ed25519 verifications. Any invalid signature
// rejects the record, also one beyond the quorum: a record is either entirely valid or refused.
import { quorum } from '../consensus/quorum.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { toHex } from '../encoding/bytes.js';
import { parseVerifierKey, type VerifierKey } from '../checkpoint/keys.js';
import { sigBytes } from './parse.js';
import { govFail, type GovFailure, type GovRejectCode, type GovSig, type ParsedGovRecord } from './types.js';

/** An organization as far as signatures go: its name and current checkpoint/consensus key. */
export interface SigningOrg {
  readonly name: string;
  readonly key: VerifierKey;
}

type Check = { ok: true } | GovFailure<GovRejectCode>;
const OK: Check = { ok: true };

function keyHexOf(org: SigningOrg): string {
  return toHex(org.key.publicKey);
}

/** The new verifier key named by a rotate or add record (already validated by the parser). */
export function recordNewKey(text: string): VerifierKey {
  const k = parseVerifierKey(text);
  if (!k.ok) throw new Error(`governance: a parsed record holds an invalid key (${k.code})`); // parser guarantees it
  return k.key;
}

function verifyAll(parsed: ParsedGovRecord, sigs: readonly GovSig[], verifier: Ed25519Verifier): Check {
  for (let i = 0; i < sigs.length; i++) {
    const { key, sig } = sigBytes(sigs[i]!);
    if (!verifier.verify(key, parsed.statement, sig)) {
      return govFail('gov_sig_invalid', `signature ${i} (by ${sigs[i]!.by}) is not a valid Ed25519 signature over the record statement`);
    }
  }
  return OK;
}

function memberSig(s: GovSig, byName: ReadonlyMap<string, SigningOrg>, i: number): Check {
  const org = byName.get(s.by);
  if (org === undefined) return govFail('gov_sig_not_member', `signature ${i}: ${s.by} is not an organization in force at this height`);
  if (s.key !== keyHexOf(org)) return govFail('gov_sig_key_mismatch', `signature ${i}: key is not the current key of ${s.by}`);
  return OK;
}

/**
 * Checks the signatures of a parsed record against the organizations in force where it is applied.
 * `voucher` is required for client.revoke: the organization currently vouching for that client.
 */
export function checkGovSignatures(
  parsed: ParsedGovRecord,
  orgs: readonly SigningOrg[],
  verifier: Ed25519Verifier,
  voucher?: string,
): Check {
  const { record, id } = parsed;
  const sigs = record.sigs;
  for (let i = 0; i < sigs.length; i++) {
    if (sigs[i]!.proposal !== id) return govFail('gov_ballot_wrong_proposal', `signature ${i} (by ${sigs[i]!.by}) is for record ${sigs[i]!.proposal.slice(0, 16)}..., not this record ${id.slice(0, 16)}...`);
  }
  const byName = new Map(orgs.map((o) => [o.name, o]));
  switch (record.type) {
    case 'client.grant':
    case 'client.revoke': {
      const who = record.type === 'client.grant' ? record.body.client.vouchedBy : voucher;
      if (who === undefined || !byName.has(who)) return govFail('gov_voucher_not_member', `vouching organization ${who ?? '(none)'} is not an organization in force`);
      if (sigs.length !== 1) return govFail('gov_sig_unexpected', `a ${record.type} carries exactly one signature (the vouching organization's), got ${sigs.length}`);
      if (sigs[0]!.by !== who) return govFail('gov_voucher_signature', `signed by ${sigs[0]!.by}, but ${who} vouches for this client`);
      const m = memberSig(sigs[0]!, byName, 0);
      return m.ok ? verifyAll(parsed, sigs, verifier) : m;
    }
    case 'org.key.rotate': {
      const org = byName.get(record.body.org);
      if (org === undefined) return govFail('gov_org_unknown', `${record.body.org} is not an organization in force`);
      const oldHex = keyHexOf(org);
      const newHex = toHex(recordNewKey(record.body.key).publicKey);
      const hasOld = sigs.some((s) => s.by === org.name && s.key === oldHex);
      const hasNew = sigs.some((s) => s.by === org.name && s.key === newHex);
      if (sigs.length !== 2 || !hasOld || !hasNew || oldHex === newHex) {
        return govFail('gov_rotate_signatures', `a key rotation is signed by exactly the old and the new key of ${org.name}`);
      }
      return verifyAll(parsed, sigs, verifier);
    }
    case 'org.add':
    case 'org.remove':
    case 'params.set': {
      const added = record.type === 'org.add' ? record.body.org : null;
      const seen = new Set<string>();
      let ballots = 0;
      let consent = false;
      for (let i = 0; i < sigs.length; i++) {
        const s = sigs[i]!;
        if (seen.has(s.by)) return govFail('gov_ballot_duplicate', `signature ${i}: ${s.by} signed twice (a ballot counts once)`);
        seen.add(s.by);
        if (added !== null && s.by === added.name && !byName.has(s.by)) {
          // The added organization's consent proves it holds the key it is being admitted with.
          if (s.key !== toHex(recordNewKey(added.key).publicKey)) return govFail('gov_sig_key_mismatch', `signature ${i}: consent is not by the key being added`);
          consent = true;
          continue;
        }
        const m = memberSig(s, byName, i);
        if (!m.ok) return m;
        ballots++;
      }
      const q = quorum(orgs.length);
      if (ballots < q) return govFail('gov_quorum_not_met', `${ballots} ballot(s) from organizations in force; ${record.type} needs a quorum of ${q} of ${orgs.length}`);
      if (added !== null && !consent) return govFail('gov_consent_missing', `org.add needs the signature of ${added.name}'s new key (consent)`);
      return verifyAll(parsed, sigs, verifier);
    }
  }
}
