// The governance state machine: a pure function from (state, record, height) to a new state or a
// rejection with a stable code. Every peer applies the records of each decided block in log order,
// so every peer reaches the same verdict and the same state (no clock, no I/O, no randomness).
//
// When changes take effect (H = height of the block carrying the record):
//   client.grant / client.revoke   from H+1 (the next block)
//   org.add / org.remove / params.set   from H+2 (GOV_ACTIVATION_DELAY): block H is final once
//                                   decided, and H+1 may already be proposed under the old set
//   org.key.rotate                  from the stated effectiveHeight >= H+2
// At most one validator-set or parameter change is pending at a time: a second one is refused
// (gov_change_pending) until the first is in force, so every change is decided by the set that
// will hand over to it, and a light verifier can follow changes one by one.
import type { Ed25519Verifier } from '../crypto/types.js';
import { nobleVerifier } from '../crypto/noble.js';
import { quorum } from '../consensus/quorum.js';
import { toHex } from '../encoding/bytes.js';
import { checkGovSignatures, recordNewKey } from './check.js';
import {
  GOV_ACTIVATION_DELAY,
  GOV_CLIENT_INTERVALS_MAX,
  GOV_CLIENTS_MAX,
  GOV_DEADLINE_WINDOW_MAX,
  GOV_EPOCHS_MAX,
  GOV_ORGS_MAX,
  GOV_PARAM_RANGES,
  GOV_ROTATION_DELAY_MAX,
  govFail,
  type ClientInterval,
  type GovClient,
  type GovFailure,
  type GovGenesis,
  type GovGenesisClient,
  type GovOrg,
  type GovParams,
  type GovParamsPatch,
  type GovRejectCode,
  type GovState,
  type GovType,
  type ParsedGovRecord,
  type PendingChange,
} from './types.js';

export interface ApplyOptions {
  /** Ed25519 implementation; peers pass node:crypto's, default is the portable strict noble one. */
  readonly verifier?: Ed25519Verifier;
}

/** What an accepted record does and from which height (for logs and `cairn gov` output). */
export interface GovEffect {
  readonly type: GovType;
  readonly record: string;
  readonly effectiveHeight: number;
  readonly summary: string;
}

export type ApplyResult = { ok: true; state: GovState; effect: GovEffect } | GovFailure<GovRejectCode>;

/** The state at height 0: the genesis validators, clients (open-ended grants) and limits. */
export function genesisGovState(genesis: GovGenesis): GovState {
  const orgs: GovOrg[] = genesis.validators.map((v) => ({ name: v.name, key: v.key, peerId: v.peerId }));
  const list: readonly GovGenesisClient[] = isClientList(genesis.clients) ? genesis.clients : [...genesis.clients.values()];
  const clients = new Map<string, GovClient>();
  for (const c of list) {
    clients.set(c.publicKeyHex, { name: c.name, publicKeyHex: c.publicKeyHex, vouchedBy: c.vouchedBy, intervals: [{ from: 0 }] });
  }
  return {
    origin: genesis.origin,
    height: 0,
    epochs: [{ fromHeight: 0, orgs, quorum: quorum(orgs.length) }],
    clients,
    paramEpochs: [{ fromHeight: 0, params: cloneParams(genesis.limits) }],
    pending: null,
    seen: new Map(),
  };
}

function isClientList(c: GovGenesis['clients']): c is readonly GovGenesisClient[] {
  return Array.isArray(c);
}

function cloneParams(p: GovParams): GovParams {
  return { ...p, timeouts: { ...p.timeouts } };
}

function isOpenAt(iv: ClientInterval, h: number): boolean {
  return iv.from <= h && (iv.until === undefined || h < iv.until);
}

/** Closes every interval of clients vouched by `names` at height `at` (their voucher left). */
function closeClientsOf(clients: ReadonlyMap<string, GovClient>, names: ReadonlySet<string>, at: number): Map<string, GovClient> {
  const out = new Map(clients);
  for (const [k, c] of clients) {
    if (!names.has(c.vouchedBy)) continue;
    const intervals = c.intervals.map((iv) => (iv.until === undefined || iv.until > at ? { from: iv.from, until: Math.max(iv.from, at) } : iv));
    out.set(k, { ...c, intervals });
  }
  return out;
}

/**
 * Moves the state to `height`: activates the pending change if its effective height is reached
 * and forgets replay ids whose deadline has passed (a record past its deadline is refused anyway).
 */
export function advanceGov(state: GovState, height: number): GovState {
  if (height <= state.height && (state.pending === null || state.pending.effectiveHeight > height)) return state;
  let { epochs, paramEpochs, clients, pending } = state;
  if (pending !== null && pending.effectiveHeight <= height) {
    const p = pending;
    if (p.orgs !== undefined) {
      const before = new Set(epochs[epochs.length - 1]!.orgs.map((o) => o.name));
      for (const o of p.orgs) before.delete(o.name);
      epochs = [...epochs, { fromHeight: p.effectiveHeight, orgs: p.orgs, quorum: quorum(p.orgs.length), record: p.record }];
      if (before.size > 0) clients = closeClientsOf(clients, before, p.effectiveHeight);
    }
    if (p.params !== undefined) paramEpochs = [...paramEpochs, { fromHeight: p.effectiveHeight, params: p.params, record: p.record }];
    pending = null;
  }
  let seen = state.seen;
  if (height > state.height) {
    const kept = new Map<string, number>();
    for (const [id, deadline] of seen) if (deadline >= height) kept.set(id, deadline);
    seen = kept;
  }
  return { ...state, height: Math.max(height, state.height), epochs, paramEpochs, clients, pending, seen };
}

/** `maxBlockEntries=5, timeouts.proposeMs=2000` (for the effect summary). */
function describePatch(patch: GovParamsPatch): string {
  const t = Object.entries(patch.timeouts ?? {}).map(([k, v]) => `timeouts.${k}=${String(v)}`);
  return [...Object.entries(patch).filter(([k]) => k !== 'timeouts').map(([k, v]) => `${k}=${String(v)}`), ...t].join(', ');
}

function paramsProblem(p: GovParams): string | null {
  for (const [k, v] of [...Object.entries(p).filter(([k]) => k !== 'timeouts'), ...Object.entries(p.timeouts)]) {
    const r = GOV_PARAM_RANGES[k];
    if (r === undefined || typeof v !== 'number' || v < r[0] || v > r[1]) return `${k} outside its range`;
  }
  if (p.mempoolMaxEntries < p.maxBlockEntries) return 'mempoolMaxEntries must be >= maxBlockEntries';
  if (p.mempoolMaxBytes < p.maxBlockBytes) return 'mempoolMaxBytes must be >= maxBlockBytes';
  return null;
}

function currentOrgs(s: GovState): readonly GovOrg[] {
  return s.epochs[s.epochs.length - 1]!.orgs;
}

/** Key or peer id already used by an organization other than `except` (now or pending). */
function identityInUse(orgs: readonly GovOrg[], keyHex: string, peerId: string, except: string | null): GovFailure<GovRejectCode> | null {
  for (const o of orgs) {
    if (o.name === except) continue;
    if (toHex(o.key.publicKey) === keyHex) return govFail('gov_key_in_use', `that key is already the key of ${o.name}`);
    if (o.peerId === peerId) return govFail('gov_peer_id_in_use', `that peer id is already the peer id of ${o.name}`);
  }
  return null;
}

/**
 * Applies one governance record carried by the block at `atHeight`. Records of one block are
 * applied in log order with the same `atHeight`; heights never go back. A rejection changes
 * nothing: the caller keeps the old state (and a block carrying a rejected record is invalid).
 */
export function applyGovernance(state: GovState, parsed: ParsedGovRecord, atHeight: number, opts?: ApplyOptions): ApplyResult {
  if (!Number.isSafeInteger(atHeight) || atHeight < state.height) {
    return govFail('gov_height_regress', `height ${atHeight} is below the state's height ${state.height}`);
  }
  const H = atHeight;
  const s = advanceGov(state, H);
  const { record, id } = parsed;
  const deadline = record.body.deadline;
  if (H > deadline) return govFail('gov_deadline_passed', `record deadline ${deadline} has passed (height ${H})`);
  if (deadline - H > GOV_DEADLINE_WINDOW_MAX) return govFail('gov_deadline_too_far', `deadline ${deadline} is more than ${GOV_DEADLINE_WINDOW_MAX} (GOV_DEADLINE_WINDOW_MAX) heights after ${H}`);
  if (s.seen.has(id)) return govFail('gov_replay', `record ${id.slice(0, 16)}... was already applied`);
  const verifier = opts?.verifier ?? nobleVerifier;
  const orgs = currentOrgs(s);
  const seen = new Map(s.seen).set(id, deadline);
  const done = (next: Partial<GovState>, effectiveHeight: number, summary: string): ApplyResult => ({
    ok: true,
    state: { ...s, ...next, seen, height: H },
    effect: { type: record.type, record: id, effectiveHeight, summary },
  });
  const pendingChange = (p: PendingChange, summary: string): ApplyResult => {
    if (s.pending !== null) return govFail('gov_change_pending', `another change (${s.pending.type}, record ${s.pending.record.slice(0, 16)}...) takes effect at ${s.pending.effectiveHeight}; one change at a time`);
    if (p.orgs !== undefined && (record.body as { epoch: number }).epoch !== s.epochs.length) {
      return govFail('gov_epoch_mismatch', `this change creates validator epoch ${(record.body as { epoch: number }).epoch}, but the next epoch is ${s.epochs.length}`);
    }
    if (s.epochs.length >= GOV_EPOCHS_MAX || s.paramEpochs.length >= GOV_EPOCHS_MAX) return govFail('gov_epochs_full', `more than ${GOV_EPOCHS_MAX} (GOV_EPOCHS_MAX) changes`);
    const sig = checkGovSignatures(parsed, orgs, verifier);
    if (!sig.ok) return sig;
    return done({ pending: p }, p.effectiveHeight, summary);
  };

  switch (record.type) {
    case 'client.grant': {
      const c = record.body.client;
      if (!orgs.some((o) => o.name === c.vouchedBy)) return govFail('gov_voucher_not_member', `${c.vouchedBy} is not an organization in force at ${H}`);
      if (orgs.some((o) => toHex(o.key.publicKey) === c.publicKey)) return govFail('gov_client_is_org', 'an organization key cannot be granted as a client key');
      if (c.expiresAt !== undefined && c.expiresAt <= H + 1) return govFail('gov_expiry_invalid', `expiresAt ${c.expiresAt} must be after the first height the grant is in force (${H + 1})`);
      const prev = s.clients.get(c.publicKey);
      if (prev !== undefined && prev.intervals.some((iv) => iv.until === undefined || iv.until > H + 1)) {
        return govFail('gov_client_active', `client key is already granted (to ${prev.name}); revoke it first`);
      }
      // Names label keys in logs and policies (the genesis requires them unique): one active key per name.
      for (const other of s.clients.values()) {
        if (other.name === c.name && other.publicKeyHex !== c.publicKey && other.intervals.some((iv) => iv.until === undefined || iv.until > H + 1)) {
          return govFail('gov_client_name_in_use', `client name ${c.name} belongs to another active key`);
        }
      }
      if (prev === undefined && s.clients.size >= GOV_CLIENTS_MAX) return govFail('gov_clients_full', `more than ${GOV_CLIENTS_MAX} (GOV_CLIENTS_MAX) client keys`);
      if (prev !== undefined && prev.intervals.length >= GOV_CLIENT_INTERVALS_MAX) return govFail('gov_clients_full', `client key granted more than ${GOV_CLIENT_INTERVALS_MAX} (GOV_CLIENT_INTERVALS_MAX) times`);
      const sig = checkGovSignatures(parsed, orgs, verifier);
      if (!sig.ok) return sig;
      const iv: ClientInterval = c.expiresAt === undefined ? { from: H + 1 } : { from: H + 1, until: c.expiresAt };
      const clients = new Map(s.clients).set(c.publicKey, { name: c.name, publicKeyHex: c.publicKey, vouchedBy: c.vouchedBy, intervals: [...(prev?.intervals ?? []), iv] });
      return done({ clients }, H + 1, `client ${c.name} (${c.publicKey.slice(0, 16)}...) vouched by ${c.vouchedBy} may submit from height ${H + 1}${c.expiresAt === undefined ? '' : ` until ${c.expiresAt}`}`);
    }
    case 'client.revoke': {
      const key = record.body.publicKey;
      const prev = s.clients.get(key);
      if (prev === undefined) return govFail('gov_client_unknown', 'no such client key');
      if (!prev.intervals.some((iv) => iv.until === undefined || iv.until > H + 1)) return govFail('gov_client_inactive', `client ${prev.name} is already revoked or expired`);
      const sig = checkGovSignatures(parsed, orgs, verifier, prev.vouchedBy);
      if (!sig.ok) return sig;
      const intervals = prev.intervals.map((iv) => (iv.until === undefined || iv.until > H + 1 ? { from: iv.from, until: Math.max(iv.from, H + 1) } : iv));
      const clients = new Map(s.clients).set(key, { ...prev, intervals });
      return done({ clients }, H + 1, `client ${prev.name} (${key.slice(0, 16)}...) is refused from height ${H + 1}; its earlier entries stay valid`);
    }
    case 'org.key.rotate': {
      const b = record.body;
      const org = orgs.find((o) => o.name === b.org);
      if (org === undefined) return govFail('gov_org_unknown', `${b.org} is not an organization in force at ${H}`);
      if (b.effectiveHeight < H + GOV_ACTIVATION_DELAY) return govFail('gov_effective_too_soon', `effectiveHeight ${b.effectiveHeight} must be at least ${H + GOV_ACTIVATION_DELAY} (record height + ${GOV_ACTIVATION_DELAY})`);
      if (b.effectiveHeight - H > GOV_ROTATION_DELAY_MAX) return govFail('gov_effective_too_far', `effectiveHeight more than ${GOV_ROTATION_DELAY_MAX} (GOV_ROTATION_DELAY_MAX) heights ahead`);
      const key = recordNewKey(b.key);
      const used = identityInUse(orgs, toHex(key.publicKey), b.peerId, org.name);
      if (used) return used;
      if (toHex(key.publicKey) === toHex(org.key.publicKey)) return govFail('gov_key_in_use', 'the new key equals the current key');
      const next = orgs.map((o) => (o.name === org.name ? { name: o.name, key, peerId: b.peerId } : o));
      return pendingChange({ record: id, type: record.type, effectiveHeight: b.effectiveHeight, orgs: next }, `${org.name} signs with ${key.text} and peer id ${b.peerId} from height ${b.effectiveHeight}; earlier checkpoints stay verifiable under its old key`);
    }
    case 'org.add': {
      const a = record.body.org;
      if (orgs.some((o) => o.name === a.name)) return govFail('gov_org_exists', `${a.name} is already an organization`);
      if (orgs.length >= GOV_ORGS_MAX) return govFail('gov_orgs_full', `at most ${GOV_ORGS_MAX} (GOV_ORGS_MAX) organizations`);
      const key = recordNewKey(a.key);
      const used = identityInUse(orgs, toHex(key.publicKey), a.peerId, null);
      if (used) return used;
      const next = [...orgs, { name: a.name, key, peerId: a.peerId }];
      const E = H + GOV_ACTIVATION_DELAY;
      return pendingChange({ record: id, type: record.type, effectiveHeight: E, orgs: next }, `${a.name} joins from height ${E}: ${next.length} organizations, quorum ${quorum(next.length)}`);
    }
    case 'org.remove': {
      const name = record.body.org;
      if (!orgs.some((o) => o.name === name)) return govFail('gov_org_unknown', `${name} is not an organization in force at ${H}`);
      if (orgs.length === 1) return govFail('gov_org_last', 'the last organization cannot be removed');
      const next = orgs.filter((o) => o.name !== name);
      const E = H + GOV_ACTIVATION_DELAY;
      return pendingChange({ record: id, type: record.type, effectiveHeight: E, orgs: next }, `${name} leaves from height ${E} (its clients too): ${next.length} organizations, quorum ${quorum(next.length)}`);
    }
    case 'params.set': {
      const cur = s.paramEpochs[s.paramEpochs.length - 1]!.params;
      const patch = record.body.params;
      const params: GovParams = { ...cur, ...patch, timeouts: { ...cur.timeouts, ...(patch.timeouts ?? {}) } } as GovParams;
      const problem = paramsProblem(params);
      if (problem !== null) return govFail('gov_params_invalid', problem);
      const E = H + GOV_ACTIVATION_DELAY;
      return pendingChange({ record: id, type: record.type, effectiveHeight: E, params }, `parameters ${describePatch(patch)} apply from height ${E}: blocks from ${E} on are built and checked with them, and each peer's timeouts, block interval and admission follow them from its next height ${E}`);
    }
  }
}
