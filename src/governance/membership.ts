// Membership at any height, computed from the genesis and the governance records alone.
//
// A record in block H affects heights > H only (clients from H+1, validators and parameters from
// H+2 or later), so the membership at height h depends only on records of blocks < h: consensus
// knows the validator set of h+1 as soon as h is decided, and catch-up can check every height
// against the set in force there.
import { sha256 } from '../crypto/hash.js';
import { toHex, utf8 } from '../encoding/bytes.js';
import { jcs } from '../entry/validate.js';
import { advanceGov, applyGovernance, genesisGovState, type ApplyOptions } from './state.js';
import type { GovClient, GovErrorCode, GovFailure, GovGenesis, GovOrg, GovParams, GovState, ParamsEpoch, ParsedGovRecord, ValidatorEpoch } from './types.js';

/** A governance record with the height of the block that carries it (records in log order). */
export interface PlacedGovRecord {
  readonly parsed: ParsedGovRecord;
  readonly height: number;
}

export interface Membership {
  readonly height: number;
  /** Validators in force at `height`, in validator-index order (genesis order, then additions). */
  readonly validators: readonly GovOrg[];
  /** ⌊2n/3⌋+1 of `validators`. */
  readonly quorum: number;
  /** Client keys allowed to submit at `height`, by lowercase hex public key. */
  readonly clients: ReadonlyMap<string, GovClient>;
  readonly params: GovParams;
}

function lastFrom<T extends { fromHeight: number }>(list: readonly T[], height: number): T {
  let found = list[0]!;
  for (const e of list) if (e.fromHeight <= height) found = e;
  return found;
}

/** The validator epoch in force at `height` (final for heights up to state.height + 1). */
export function validatorsAt(state: GovState, height: number): ValidatorEpoch {
  const p = state.pending;
  if (p?.orgs !== undefined && p.effectiveHeight <= height) return advanceGov(state, p.effectiveHeight).epochs.at(-1)!;
  return lastFrom(state.epochs, height);
}

/** The parameters in force at `height`. */
export function paramsAt(state: GovState, height: number): GovParams {
  const p = state.pending;
  if (p?.params !== undefined && p.effectiveHeight <= height) return p.params;
  return lastFrom<ParamsEpoch>(state.paramEpochs, height).params;
}

/** Whether a client key may submit entries in the block at `height`. */
export function clientAuthorizedAt(state: GovState, publicKeyHex: string, height: number): boolean {
  // Advancing applies a pending removal (which closes the removed organization's clients).
  const c = advanceGov(state, Math.max(height, state.height)).clients.get(publicKeyHex);
  if (c === undefined) return false;
  return c.intervals.some((iv) => iv.from <= height && (iv.until === undefined || height < iv.until));
}

/** Applies records in order (all must be accepted: the log only carries accepted records). */
export function replayGovernance(
  genesis: GovGenesis,
  records: readonly PlacedGovRecord[],
  opts?: ApplyOptions & { untilHeight?: number },
): { ok: true; state: GovState } | (GovFailure<GovErrorCode> & { index: number }) {
  let state = genesisGovState(genesis);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (opts?.untilHeight !== undefined && r.height >= opts.untilHeight) break;
    const applied = applyGovernance(state, r.parsed, r.height, opts);
    if (!applied.ok) return { ...applied, index: i, message: `record ${i} at height ${r.height}: ${applied.message}` };
    state = applied.state;
  }
  return { ok: true, state };
}

/**
 * Validators, clients and parameters in force at `height`, from the genesis and the records
 * (records at heights >= `height` cannot affect it and are ignored).
 */
export function membershipAt(
  genesis: GovGenesis,
  records: readonly PlacedGovRecord[],
  height: number,
  opts?: ApplyOptions,
): { ok: true; membership: Membership } | (GovFailure<GovErrorCode> & { index: number }) {
  const r = replayGovernance(genesis, records, { ...opts, untilHeight: height });
  if (!r.ok) return r;
  const state = advanceGov(r.state, Math.max(height, r.state.height));
  const epoch = validatorsAt(state, height);
  const clients = new Map<string, GovClient>();
  for (const [k, c] of state.clients) {
    if (c.intervals.some((iv) => iv.from <= height && (iv.until === undefined || height < iv.until))) clients.set(k, c);
  }
  return { ok: true, membership: { height, validators: epoch.orgs, quorum: epoch.quorum, clients, params: paramsAt(state, height) } };
}

/** A plain, canonical view of the state (Maps as sorted arrays, keys as verifier key strings). */
export function govStateView(state: GovState): unknown {
  const orgs = (os: readonly GovOrg[]) => os.map((o) => ({ name: o.name, key: o.key.text, peerId: o.peerId }));
  return {
    origin: state.origin,
    height: state.height,
    epochs: state.epochs.map((e) => ({ fromHeight: e.fromHeight, quorum: e.quorum, orgs: orgs(e.orgs), record: e.record ?? null })),
    clients: [...state.clients.values()].sort((a, b) => (a.publicKeyHex < b.publicKeyHex ? -1 : 1)).map((c) => ({ ...c, intervals: c.intervals.map((iv) => ({ from: iv.from, until: iv.until ?? null })) })),
    paramEpochs: state.paramEpochs.map((p) => ({ fromHeight: p.fromHeight, params: p.params, record: p.record ?? null })),
    pending:
      state.pending === null
        ? null
        : { ...state.pending, orgs: state.pending.orgs === undefined ? null : orgs(state.pending.orgs), params: state.pending.params ?? null },
    seen: [...state.seen.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  };
}

/** SHA-256 of the JCS of govStateView: peers can compare governance states by this hash. */
export function govStateHash(state: GovState): string {
  return toHex(sha256(utf8(jcs(govStateView(state)))));
}
