// Governance records: changes to a Cairn network's membership, client keys and parameters that are
// decided by the organizations and carried in the log itself, so that every peer and every auditor
// computes the same membership at every height from the genesis and the records alone.
// Format, signers and activation rules: docs/governance.md.
import type { VerifierKey } from '../checkpoint/keys.js';
import type { Timeouts } from '../consensus/types.js';

/** Record format version (the `v` field). */
export const GOV_RECORD_VERSION = 1;
/** Audit entry action prefix of governance records: action = `cairn.gov.` + record type. */
export const GOV_ACTION_PREFIX = 'cairn.gov.';
/** Signature domain of every governance signature (see src/crypto/domain.ts for why domains exist). */
export const GOV_SIGNATURE_DOMAIN = 'cairn/gov/v1';
/** Domain of the record id hash (distinct from the signature domain: an id is never a signed message). */
export const GOV_ID_DOMAIN = 'cairn/gov-id/v1';

export const GOV_TYPES = ['client.grant', 'client.revoke', 'org.key.rotate', 'org.add', 'org.remove', 'params.set'] as const;
export type GovType = (typeof GOV_TYPES)[number];
/** Types decided by a quorum of ballots of the current organizations. */
export const GOV_BALLOT_TYPES: readonly GovType[] = ['org.add', 'org.remove', 'params.set'];
/** Types that change the validator set (what a light verifier follows). */
export const GOV_MEMBERSHIP_TYPES: readonly GovType[] = ['org.add', 'org.remove', 'org.key.rotate'];

// ------------------------------------------------------------------------------------------ bounds
/** Largest record, as JCS UTF-8 bytes (it travels as the `data` of an audit entry: DATA_BYTES_MAX is 48 KiB). */
export const GOV_RECORD_BYTES_MAX = 45_000;
/** Most signatures (ballots) on one record: one per organization, plus the consent of an added one. */
export const GOV_SIGS_MAX = 101;
/** Longest nonce (it makes two otherwise identical proposals distinct records). */
export const GOV_NONCE_LENGTH_MAX = 64;
/** Longest organization or client name, in bytes (same rule as the genesis). */
export const GOV_NAME_BYTES_MAX = 64;
/** Longest free-text reason on a revocation. */
export const GOV_REASON_LENGTH_MAX = 256;
/** Longest libp2p peer id string. */
export const GOV_PEER_ID_LENGTH_MAX = 128;
/** A record's deadline may be at most this many heights after the height it is applied at. This
 *  bounds how long a record id must be remembered to refuse its replay. */
export const GOV_DEADLINE_WINDOW_MAX = 100_000;
/** Ballot-decided changes (add, remove, params) take effect this many heights after the accepting
 *  block: block H is final once decided, and H+1 is already being proposed by then (CometBFT: H+2). */
export const GOV_ACTIVATION_DELAY = 2;
/** A key rotation's stated effective height must be at least GOV_ACTIVATION_DELAY and at most this
 *  many heights after the block that carries it. */
export const GOV_ROTATION_DELAY_MAX = 100_000;
/** Most validator-set epochs a state keeps (one per add, remove or rotation). */
export const GOV_EPOCHS_MAX = 10_000;
/** Most organizations (same as the genesis bound). */
export const GOV_ORGS_MAX = 64;
/** Most client keys known to the state (granted, revoked or expired). */
export const GOV_CLIENTS_MAX = 100_000;
/** Most grant intervals remembered per client key (grant, revoke, re-grant...). */
export const GOV_CLIENT_INTERVALS_MAX = 16;
/** Largest height (kept exactly representable). */
export const GOV_HEIGHT_MAX = Number.MAX_SAFE_INTEGER;

// ------------------------------------------------------------------------------------------ params
/** Network parameters a `params.set` may change: the genesis `limits`. */
export interface GovParams {
  maxBlockEntries: number;
  maxBlockBytes: number;
  blockIntervalMs: number;
  timeouts: Timeouts;
  maxClockSkewMs: number;
  mempoolMaxEntries: number;
  mempoolMaxBytes: number;
}
export type GovParamsPatch = Partial<Omit<GovParams, 'timeouts'>> & { timeouts?: Partial<Timeouts> };

/** [min, max] of each parameter: the same ranges the genesis parser enforces. */
export const GOV_PARAM_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  maxBlockEntries: [1, 100_000],
  maxBlockBytes: [65_536, 4 * 1024 * 1024 - 256 * 1024],
  blockIntervalMs: [0, 60_000],
  maxClockSkewMs: [1_000, 24 * 3600 * 1000],
  mempoolMaxEntries: [1, 10_000_000],
  mempoolMaxBytes: [65_536, 4 * 1024 * 1024 * 1024],
  proposeMs: [10, 600_000],
  prevoteMs: [10, 600_000],
  precommitMs: [10, 600_000],
  deltaMs: [0, 600_000],
};

// ------------------------------------------------------------------------------------------ records
export interface GrantBody {
  client: { name: string; publicKey: string; vouchedBy: string; expiresAt?: number };
  deadline: number;
  nonce: string;
}
export interface RevokeBody {
  publicKey: string;
  reason?: string;
  deadline: number;
  nonce: string;
}
/** Membership records name the validator epoch they create (1 for the first change after the
 *  genesis set, then 2, ...): a record cannot be applied out of sequence, and a light verifier
 *  given a change with a gap (a skipped change) refuses it instead of following a wrong set. */
export interface RotateBody {
  epoch: number;
  org: string;
  /** The new C2SP verifier key string; its name must equal `org`. */
  key: string;
  /** The organization's new libp2p peer id. */
  peerId: string;
  effectiveHeight: number;
  deadline: number;
  nonce: string;
}
export interface AddBody {
  epoch: number;
  org: { name: string; key: string; peerId: string };
  deadline: number;
  nonce: string;
}
export interface RemoveBody {
  epoch: number;
  org: string;
  deadline: number;
  nonce: string;
}
export interface ParamsBody {
  params: GovParamsPatch;
  deadline: number;
  nonce: string;
}

export type GovBody = GrantBody | RevokeBody | RotateBody | AddBody | RemoveBody | ParamsBody;

/**
 * One signature (a ballot, a voucher's signature, a rotation signature or an added organization's
 * consent). `sig` is Ed25519 over statementBytes(record); `proposal` repeats the record id so that a
 * ballot copied from another proposal is refused by name, before any signature check.
 */
export interface GovSig {
  /** Organization name (for an added organization's consent: its new name). */
  by: string;
  /** 64 lowercase hex: the signing public key. */
  key: string;
  /** 64 lowercase hex: the record id this signature is for. */
  proposal: string;
  /** 128 lowercase hex. */
  sig: string;
}

interface RecordBase<T extends GovType, B> {
  v: 1;
  type: T;
  body: B;
  sigs: GovSig[];
}
export type GovRecord =
  | RecordBase<'client.grant', GrantBody>
  | RecordBase<'client.revoke', RevokeBody>
  | RecordBase<'org.key.rotate', RotateBody>
  | RecordBase<'org.add', AddBody>
  | RecordBase<'org.remove', RemoveBody>
  | RecordBase<'params.set', ParamsBody>;

/** A parsed record plus what every check needs: its id and signed bytes (computed once). */
export interface ParsedGovRecord {
  record: GovRecord;
  /** 64 lowercase hex: SHA-256(domainMessage(GOV_ID_DOMAIN, JCS({v, type, body}))). */
  id: string;
  /** domainMessage(GOV_SIGNATURE_DOMAIN, JCS({v, type, body})): what every signature covers. */
  statement: Uint8Array;
}

// ------------------------------------------------------------------------------------------ errors
export const GOV_PARSE_CODES = [
  'gov_too_large',
  'gov_not_utf8',
  'gov_not_json',
  'gov_noncanonical',
  'gov_not_object',
  'gov_version',
  'gov_type',
  'gov_field_unknown',
  'gov_field_missing',
  'gov_field_type',
  'gov_name',
  'gov_key',
  'gov_peer_id',
  'gov_height',
  'gov_nonce',
  'gov_reason',
  'gov_params',
  'gov_sigs_count',
  'gov_sig_format',
  'gov_entry_action',
] as const;

export const GOV_REJECT_CODES = [
  'gov_height_regress',
  'gov_deadline_passed',
  'gov_deadline_too_far',
  'gov_replay',
  'gov_ballot_wrong_proposal',
  'gov_ballot_duplicate',
  'gov_sig_not_member',
  'gov_sig_key_mismatch',
  'gov_sig_invalid',
  'gov_sig_unexpected',
  'gov_quorum_not_met',
  'gov_voucher_not_member',
  'gov_voucher_signature',
  'gov_rotate_signatures',
  'gov_consent_missing',
  'gov_client_active',
  'gov_client_unknown',
  'gov_client_inactive',
  'gov_client_is_org',
  'gov_client_name_in_use',
  'gov_clients_full',
  'gov_org_exists',
  'gov_org_unknown',
  'gov_org_last',
  'gov_orgs_full',
  'gov_key_in_use',
  'gov_peer_id_in_use',
  'gov_effective_too_soon',
  'gov_effective_too_far',
  'gov_expiry_invalid',
  'gov_change_pending',
  'gov_epoch_mismatch',
  'gov_params_invalid',
  'gov_epochs_full',
] as const;

export type GovParseCode = (typeof GOV_PARSE_CODES)[number];
export type GovRejectCode = (typeof GOV_REJECT_CODES)[number];
export type GovErrorCode = GovParseCode | GovRejectCode;

export interface GovFailure<C extends string = GovErrorCode> {
  readonly ok: false;
  readonly code: C;
  readonly message: string;
}

export function govFail<C extends string>(code: C, message: string): GovFailure<C> {
  return { ok: false, code, message };
}

// ------------------------------------------------------------------------------------------ state
/** One organization (validator) as of some height. Equal voting power: no weights. */
export interface GovOrg {
  name: string;
  key: VerifierKey;
  peerId: string;
}

/** The validator set in force from `fromHeight` on (until the next epoch's fromHeight). */
export interface ValidatorEpoch {
  fromHeight: number;
  orgs: readonly GovOrg[];
  /** ⌊2n/3⌋+1 */
  quorum: number;
  /** Id of the record that created this epoch; absent for the genesis epoch. */
  record?: string;
}

export interface ParamsEpoch {
  fromHeight: number;
  params: GovParams;
  record?: string;
}

/** Heights [from, until) during which a client key may submit; until undefined = open-ended. */
export interface ClientInterval {
  from: number;
  until?: number;
}

export interface GovClient {
  name: string;
  publicKeyHex: string;
  vouchedBy: string;
  intervals: readonly ClientInterval[];
}

/** A decided change that is not in force yet (at most one at a time). */
export interface PendingChange {
  record: string;
  type: 'org.key.rotate' | 'org.add' | 'org.remove' | 'params.set';
  effectiveHeight: number;
  orgs?: readonly GovOrg[];
  params?: GovParams;
}

/** Deterministic governance state. Treat as immutable: applyGovernance returns a new one. */
export interface GovState {
  readonly origin: string;
  /** Highest height whose records have been applied (or the height it was advanced to). */
  readonly height: number;
  readonly epochs: readonly ValidatorEpoch[];
  readonly clients: ReadonlyMap<string, GovClient>;
  /** Parameters in force, each from its fromHeight on (same shape of history as epochs). */
  readonly paramEpochs: readonly ParamsEpoch[];
  readonly pending: PendingChange | null;
  /** Applied record ids -> their deadline; pruned once the height passes the deadline. */
  readonly seen: ReadonlyMap<string, number>;
}

/** What the governance layer needs from the genesis (the peer's parsed Genesis satisfies it). */
export interface GovGenesis {
  origin: string;
  validators: readonly { name: string; key: VerifierKey; peerId: string }[];
  clients: ReadonlyMap<string, GovGenesisClient> | readonly GovGenesisClient[];
  limits: GovParams;
}
export interface GovGenesisClient {
  name: string;
  publicKeyHex: string;
  vouchedBy: string;
}
