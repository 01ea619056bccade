// The peer's governance state: the pure core (src/governance) wired to admission, blocks and
// storage. See docs/governance.md for the records and their rules.
//
// - The state held here is the one after the head block (every record of blocks <= head
//   applied, in log order). A record in block H only affects heights > H, so this state answers
//   every question about the next block (head + 1): which clients may submit, which records it
//   may carry.
// - Persistence: the state is REPLAYED from the log at start. So that start does not read the
//   whole log, the leaf indexes of governance records are kept in store metadata
//   ('gov/n' = count, 'gov/r/<i>' = "<height>,<leafIndex>"), written (synced) BEFORE the block
//   carrying them is applied. Entries of heights above the head after a crash are ignored and
//   overwritten. A store without 'gov/n' has no governance records: its state is the genesis one.
// - Without any record the state is the genesis state, and every answer equals the genesis
//   answer (clients of the genesis map, genesis validators), so behaviour is unchanged.
import { nodeVerifier } from '../../src/crypto/node.js';
import { parseLeaf } from '../../src/entry/index.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import {
  advanceGov,
  applyGovernance,
  clientAuthorizedAt,
  genesisGovState,
  govRecordFromEntry,
  govStateHash,
  paramsAt,
  validatorsAt,
  type GovFailure,
  type GovGenesis,
  type GovOrg,
  type GovParams,
  type GovRejectCode,
  type GovState,
  type GovType,
  type ParsedGovRecord,
  type ValidatorEpoch,
} from '../../src/governance/index.js';
import type { Store } from '../storage/store.js';
import { failure, PeerError, type PeerFailure } from './errors.js';
import type { CheckedEntry } from './entries.js';

const META_COUNT = 'gov/n';
const metaRecord = (i: number) => `gov/r/${i}`;

/**
 * Record types this peer puts into blocks: all of them. Consensus (proposer, quorum, votes,
 * certificates), checkpoint signing and catch-up follow the validator set of each height
 * (validator-sets.ts); block building and validation, timeouts, the block interval and mempool
 * admission follow the parameters of each height (Ledger.paramsAt). A type missing here is
 * refused with `gov_type_unsupported` (after all its other checks, so a bad record still gets its
 * own code): a log that records a change the peers do not make would mislead every auditor.
 * Every peer refuses alike (the rule depends on the type only), so the verdict is deterministic.
 */
export const GOV_TYPES_IN_FORCE: ReadonlySet<GovType> = new Set<GovType>(['client.grant', 'client.revoke', 'org.key.rotate', 'org.add', 'org.remove', 'params.set']);

/** A record type this peer does not put into blocks yet (see GOV_TYPES_IN_FORCE). */
export const GOV_TYPE_UNSUPPORTED = 'gov_type_unsupported';
export type GovPeerRejectCode = GovRejectCode | typeof GOV_TYPE_UNSUPPORTED;

/** applyGovernance with node:crypto, refusing the types consensus does not follow yet. */
function applyInForce(state: GovState, parsed: ParsedGovRecord, height: number): { ok: true; state: GovState } | GovFailure<GovPeerRejectCode> {
  const a = applyGovernance(state, parsed, height, { verifier: nodeVerifier });
  if (!a.ok) return a;
  if (!GOV_TYPES_IN_FORCE.has(parsed.record.type)) {
    return { ok: false, code: GOV_TYPE_UNSUPPORTED, message: `${parsed.record.type} records are not applied by this peer version yet (only ${[...GOV_TYPES_IN_FORCE].join(', ')})` };
  }
  return a;
}

export type ClientRefusal = { code: 'unknown_client' | 'client_revoked'; message: string };

/** A governance record inside a block: where it is and what it says. */
export interface BlockGovRecord {
  /** Position of the entry in the block. */
  offset: number;
  parsed: ParsedGovRecord;
}

/** The pure answer clientRefusal must agree with (tests compare them). */
export const authorizedByCore = clientAuthorizedAt;

/** The number of the validator set in force at `height` (0 = the genesis set). */
export function epochAt(state: GovState, height: number): number {
  let n = -1;
  for (const e of state.epochs) if (e.fromHeight <= height) n++;
  if (state.pending?.orgs !== undefined && state.pending.effectiveHeight <= height) n++;
  return Math.max(0, n);
}

/**
 * How far ahead of the head the validator set is decided: a record in block H changes the set
 * from H+2 at the earliest, so after head H the sets of every height up to H+2 are final.
 */
export const GOV_SET_KNOWN_AHEAD = 2;

export class GovTracker {
  private stateAfterHead: GovState;
  private headHeight: number;
  private count: number;
  private readonly listeners = new Set<(headHeight: number) => void>();
  private epochCache: { state: GovState; list: ValidatorEpoch[] } | null = null;
  private readonly epochsByFrom = new Map<number, ValidatorEpoch>();
  private hashCache: { state: GovState; hash: string } | null = null;
  private clientsCache: { base: GovState; height: number; clients: GovState['clients'] } | null = null;

  private constructor(
    private readonly genesis: GovGenesis,
    state: GovState,
    headHeight: number,
    count: number,
  ) {
    this.stateAfterHead = state;
    this.headHeight = headHeight;
    this.count = count;
  }

  /** A tracker with no records (tests, observers without a store). */
  static genesisOnly(genesis: GovGenesis): GovTracker {
    return new GovTracker(genesis, genesisGovState(genesis), 0, 0);
  }

  /** Replays the records listed in the store metadata up to `headHeight`. */
  static async open(genesis: GovGenesis, store: Store, headHeight: number): Promise<GovTracker> {
    let state = genesisGovState(genesis);
    const raw = await store.getMeta(META_COUNT);
    const listed = raw === undefined ? 0 : Number(fromUtf8(raw));
    if (!Number.isSafeInteger(listed) || listed < 0) throw new PeerError('ledger_corrupt', 'governance record count in the store is not a count');
    let kept = 0;
    for (let i = 0; i < listed; i++) {
      const v = await store.getMeta(metaRecord(i));
      const m = v === undefined ? null : /^(\d+),(\d+)$/.exec(fromUtf8(v));
      if (m === null) throw new PeerError('ledger_corrupt', `governance record ${i} missing or malformed in the store`);
      const height = Number(m[1]);
      // Written before a block that was never applied (crash): not part of the log.
      if (height > headHeight) break;
      const leaf = await store.getLeaf(Number(m[2]));
      if (leaf === undefined) throw new PeerError('ledger_corrupt', `governance record ${i} names leaf ${m[2]}, not in the log`);
      const p = parseLeaf(leaf);
      const g = p.ok ? govRecordFromEntry(p.entry) : null;
      if (g === null || !g.ok) throw new PeerError('ledger_corrupt', `leaf ${m[2]} is not a governance record`);
      const a = applyGovernance(state, g.parsed, height, { verifier: nodeVerifier });
      if (!a.ok) throw new PeerError('ledger_corrupt', `logged governance record at height ${height} does not apply: ${a.code}: ${a.message}`);
      state = a.state;
      kept++;
    }
    // Entries of a block that was never applied: forget them, so a different block at that
    // height (without records) is not read as carrying them.
    if (kept !== listed) await store.putMeta(META_COUNT, utf8(String(kept)));
    return new GovTracker(genesis, state, headHeight, kept);
  }

  /** The state after the head block. */
  get state(): GovState {
    return this.stateAfterHead;
  }

  /** Height of the last block whose records this state includes. */
  get head(): number {
    return this.headHeight;
  }

  /**
   * The validator set (name, key, peer id; index = position) in force at `height`. Final for
   * heights up to head + GOV_SET_KNOWN_AHEAD and for every past height; beyond, the best
   * knowledge (a change not decided yet could still come in force there): see `setKnown`.
   */
  validatorsAt(height: number): readonly GovOrg[] {
    return this.epochAt(height).orgs;
  }

  /**
   * The validator epoch (set, quorum, first height, creating record) in force at `height`. Asked
   * for every consensus message, so answered from a per-state list of epochs (the decided but
   * pending one included) instead of advancing a copy of the state each time. An epoch's
   * object stays the same as long as it exists (callers may cache by identity).
   */
  epochAt(height: number): ValidatorEpoch {
    const list = this.epochList();
    for (let i = list.length - 1; i > 0; i--) if (list[i]!.fromHeight <= height) return list[i]!;
    return list[0]!;
  }

  /** Every validator epoch known, the decided-but-pending one last (for catch-up and checkpoints). */
  epochList(): readonly ValidatorEpoch[] {
    const s = this.stateAfterHead;
    if (this.epochCache?.state === s) return this.epochCache.list;
    const list: ValidatorEpoch[] = s.epochs.map((e) => this.stableEpoch(e));
    const p = s.pending;
    if (p?.orgs !== undefined) list.push(this.stableEpoch(validatorsAt(s, p.effectiveHeight)));
    this.epochCache = { state: s, list };
    return list;
  }

  /** The same object for the same epoch (identified by its first height) across states. */
  private stableEpoch(e: ValidatorEpoch): ValidatorEpoch {
    const known = this.epochsByFrom.get(e.fromHeight);
    if (known !== undefined && known.record === e.record) return known;
    this.epochsByFrom.set(e.fromHeight, e);
    return e;
  }

  /** The parameters (block limits, timeouts, mempool bounds) in force at `height`. */
  paramsAt(height: number): GovParams {
    const s = this.stateAfterHead;
    if (s.pending?.params === undefined && s.paramEpochs.length === 1) return s.paramEpochs[0]!.params;
    return paramsAt(s, height);
  }

  /** True when the set of `height` can no longer change (height <= head + GOV_SET_KNOWN_AHEAD). */
  setKnown(height: number): boolean {
    return height <= this.headHeight + GOV_SET_KNOWN_AHEAD;
  }

  /** The number of the validator set in force at the next height (0 = the genesis set). */
  membershipEpoch(): number {
    return epochAt(this.stateAfterHead, this.headHeight + 1);
  }

  /**
   * Calls `listener(headHeight)` after each applied block that scheduled a membership change
   * (add, remove, rotation decided) or after which the next height has another validator set.
   * Returns the unsubscribe function. Listeners must not throw (a throw is swallowed).
   */
  onChange(listener: (headHeight: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Null when `client` (64 hex) may submit in block `height` (> head: the next block). */
  clientRefusal(client: string, height = this.headHeight + 1): ClientRefusal | null {
    // clientAuthorizedAt advances the state (a copy) on every call; this runs for every entry
    // on admission, block building and validation, so the advanced client map is kept per height.
    if (this.clientsCache?.base !== this.stateAfterHead || this.clientsCache.height !== height) {
      this.clientsCache = { base: this.stateAfterHead, height, clients: advanceGov(this.stateAfterHead, Math.max(height, this.stateAfterHead.height)).clients };
    }
    const c = this.clientsCache.clients.get(client);
    if (c !== undefined && c.intervals.some((iv) => iv.from <= height && (iv.until === undefined || height < iv.until))) return null;
    if (this.stateAfterHead.clients.has(client)) {
      return { code: 'client_revoked', message: `client key ${client} is not authorized at height ${height}: revoked, expired or its organization left` };
    }
    return { code: 'unknown_client', message: `client key ${client} is not authorized in the genesis or by governance` };
  }

  /** Admission: the refusal the record would get in the next block on its own, or null. */
  recordRefusal(parsed: ParsedGovRecord): GovFailure<GovPeerRejectCode> | null {
    const a = applyInForce(this.stateAfterHead, parsed, this.headHeight + 1);
    return a.ok ? null : a;
  }

  /**
   * The state after applying a block's records in order at `height` (head + 1), or the first
   * refusal with the record's position. Pure: nothing changes until `commit`.
   */
  applyBlock(records: readonly BlockGovRecord[], height: number): { ok: true; state: GovState } | (GovFailure<GovPeerRejectCode> & { offset: number }) {
    let s = this.stateAfterHead;
    for (const r of records) {
      const a = applyInForce(s, r.parsed, height);
      if (!a.ok) return { ...a, offset: r.offset };
      s = a.state;
    }
    return { ok: true, state: s };
  }

  /**
   * Of `records` (in block order, to go into block `height`), the offsets the proposer must drop
   * so that every kept one is accepted in order.
   */
  refusedInOrder(records: readonly BlockGovRecord[], height: number): Set<number> {
    const dropped = new Set<number>();
    let s = this.stateAfterHead;
    for (const r of records) {
      const a = applyInForce(s, r.parsed, height);
      if (a.ok) s = a.state;
      else dropped.add(r.offset);
    }
    return dropped;
  }

  /**
   * Before the store applies block `height` whose entries start at log index `firstIndex`:
   * lists its records in the metadata (synced). No-op for a block without records.
   */
  async noteBlock(store: Store, height: number, firstIndex: number, records: readonly BlockGovRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (let k = 0; k < records.length; k++) await store.putMeta(metaRecord(this.count + k), utf8(`${height},${firstIndex + records[k]!.offset}`));
    await store.putMeta(META_COUNT, utf8(String(this.count + records.length)));
  }

  /** The store refused block with listed records: drop them from the metadata again. */
  async unnoteBlock(store: Store): Promise<void> {
    await store.putMeta(META_COUNT, utf8(String(this.count)));
  }

  /** After the store applied block `height` with `records` (the state from applyBlock). */
  commit(height: number, state: GovState, records: number): void {
    const before = this.stateAfterHead;
    this.stateAfterHead = state;
    this.headHeight = height;
    this.count += records;
    const scheduled = state.pending !== before.pending && state.pending?.orgs !== undefined;
    const handover = this.epochAt(height + 1) !== this.epochAt(height);
    if ((scheduled || handover) && this.listeners.size > 0) {
      for (const f of [...this.listeners]) {
        try {
          f(height);
        } catch {
          // a listener's failure is its own (networking); governance state is already committed
        }
      }
    }
  }

  /** For status: the state hash (cached per state) and the validator set number of the next height. */
  summary(): { govStateHash: string; epoch: number; records: number; pending: { type: string; effectiveHeight: number } | null } {
    const s = this.stateAfterHead;
    if (this.hashCache?.state !== s) this.hashCache = { state: s, hash: govStateHash(s) };
    return {
      govStateHash: this.hashCache.hash,
      epoch: epochAt(s, this.headHeight + 1),
      records: this.count,
      pending: s.pending === null ? null : { type: s.pending.type, effectiveHeight: s.pending.effectiveHeight },
    };
  }

  get genesisDoc(): GovGenesis {
    return this.genesis;
  }
}

/** The governance records of a block's checked entries, in block order. */
export function blockGovRecords(entries: readonly CheckedEntry[]): BlockGovRecord[] {
  const out: BlockGovRecord[] = [];
  for (let i = 0; i < entries.length; i++) {
    const g = entries[i]!.gov;
    if (g !== undefined) out.push({ offset: i, parsed: g });
  }
  return out;
}

/**
 * Proposer: of the entries taken from the mempool for block `height`, those it must leave out —
 * a client no longer authorized at `height`, a record the block would refuse (deadline passed,
 * a conflicting record came first, a replay). They can never enter a block on this chain.
 */
export function unfitForBlock(gov: GovTracker, entries: readonly CheckedEntry[], height: number): CheckedEntry[] {
  const out: CheckedEntry[] = [];
  const refused = gov.refusedInOrder(blockGovRecords(entries).filter((r) => gov.clientRefusal(entries[r.offset]!.client, height) === null), height);
  for (let i = 0; i < entries.length; i++) {
    if (refused.has(i) || gov.clientRefusal(entries[i]!.client, height) !== null) out.push(entries[i]!);
  }
  return out;
}

/**
 * Block validity (block `height` = head + 1): in a proposal every entry's client must be
 * authorized at `height` (also entries reused from the mempool, admitted under an older state);
 * in every block the records must all be accepted, in order. Returns the state after the block.
 */
export function checkBlockGov(
  gov: GovTracker,
  entries: readonly CheckedEntry[],
  height: number,
  mode: 'proposal' | 'decided',
): { ok: true; state: GovState; records: BlockGovRecord[] } | PeerFailure {
  if (mode === 'proposal') {
    for (let i = 0; i < entries.length; i++) {
      const r = gov.clientRefusal(entries[i]!.client, height);
      if (r !== null) return failure('block_bad_entry', `entry ${i}: ${r.code}: ${r.message}`);
    }
  }
  const records = blockGovRecords(entries);
  if (records.length === 0) return { ok: true, state: gov.state, records };
  const a = gov.applyBlock(records, height);
  if (!a.ok) return failure('block_gov_rejected', `entry ${a.offset}: ${a.code}: ${a.message}`);
  return { ok: true, state: a.state, records };
}
