// Building and signing governance records (what `cairn gov ...` and tests use). Signing is pure:
// the caller passes the keys and, for the carrying entry, the time.
import type { Ed25519Signer } from '../crypto/types.js';
import { toHex } from '../encoding/bytes.js';
import type { UnsignedEntry, EntryActor } from '../entry/types.js';
import { govAction, govStatement } from './parse.js';
import { GOV_RECORD_VERSION, type GovRecord, type GovSig } from './types.js';

/** The record before signatures: `{v, type, body}` of any record type. */
export type UnsignedGovRecord = Omit<GovRecord, 'sigs'>;

/** One organization's signer (`name` = organization name; for an added organization, its new name). */
export interface GovSigner {
  readonly name: string;
  readonly signer: Ed25519Signer;
}

export function unsignedGovRecord<R extends GovRecord>(type: R['type'], body: R['body']): UnsignedGovRecord {
  return { v: GOV_RECORD_VERSION, type, body } as UnsignedGovRecord;
}

/** One signature (ballot) over the record statement, naming the record id. */
export function signGov(record: UnsignedGovRecord, s: GovSigner): GovSig {
  const { statement, id } = govStatement(record);
  return { by: s.name, key: toHex(s.signer.publicKey), proposal: id, sig: toHex(s.signer.sign(statement)) };
}

/** The record with the given signatures attached (ballots may be gathered separately with signGov). */
export function withSigs(record: UnsignedGovRecord, sigs: readonly GovSig[]): GovRecord {
  return { ...record, sigs: [...sigs] } as GovRecord;
}

/** Signs with every signer, in order. */
export function signGovRecord(record: UnsignedGovRecord, signers: readonly GovSigner[]): GovRecord {
  return withSigs(record, signers.map((s) => signGov(record, s)));
}

/**
 * The audit entry that carries `record` (sign it with any authorized client key, e.g. the
 * organization's own client): action `cairn.gov.<type>`, resource {type: 'cairn.gov', id}, data =
 * the record. `time` is an RFC 3339 UTC string supplied by the caller.
 */
export function govEntry(record: GovRecord, meta: { time: string; actor: EntryActor; id?: string }): UnsignedEntry {
  const { id } = govStatement(record);
  return {
    v: 1,
    id: meta.id ?? `gov-${id.slice(0, 32)}`,
    time: meta.time,
    actor: meta.actor,
    action: govAction(record.type),
    resource: { type: 'cairn.gov', id },
    outcome: 'success',
    data: JSON.parse(JSON.stringify(record)),
  };
}
