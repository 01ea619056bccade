// The ledger: this peer's view of the log. It builds and validates blocks (the consensus value),
// applies decided blocks to storage, and turns decided heads into quorum-signed checkpoints.
//
// - validateBlock (rules in block-validate.ts): every DETERMINISTIC block rule — height and prevHash chain, entries valid
//   (schema, authorized client, signature), new (not logged) and unique within the block,
//   entriesHash, tree size and RFC 9162 root recomputed with the merkle compact range, time
//   strictly after the previous block; entries within skew of the block time; the block limits
//   (and skew) in force at the block's height (params.set: Ledger.paramsAt). Verdicts are cached
//   by block hash (= consensus valueId), because the consensus driver's isValid is synchronous
//   while the "not logged" checks read LevelDB. The local clock is NOT a validity rule (a peer
//   whose clock is off would otherwise never decide): `timely` answers it separately, and
//   consensus asks it only before prevoting a fresh proposal.
// - attribution: the block's header.proposer must be a proposer of the rounds up to the decision
//   round (consensus checks it per proposal round; verifyCertificate checks it for catch-up).
// - apply: one synced store.applyBlock (storage contract) BEFORE anything is signed or reported.
// - checkpoints: after applying a block decided by consensus, sign the C2SP tlog-checkpoint body
//   (signed-note) and gossip the signature line; collect the others' lines (each verified); with
//   >= q valid signatures of the size's set the checkpoint is stored as final
//   (checkpoint-collect.ts). An entry is final once a final checkpoint covers its index.
// - validator sets: each height's (validator-sets.ts, from governance) gives the proposer bound
//   of a block, the set a catch-up certificate is checked against, and the checkpoint signers.
import { timeline, timelineOn } from '../timeline/recorder.js';
import { EventEmitter } from 'node:events';
import { toHex } from '../../src/encoding/bytes.js';
import type { VerifierKey } from '../../src/checkpoint/keys.js';
import type { CommitCertificate } from '../../src/consensus/index.js';
import {
  EMPTY_RANGE,
  EMPTY_ROOT,
  appendLeafHashes,
  decodeState,
  rootOf,
  tileWritesForAppend,
  type CompactRange,
} from '../../src/merkle/index.js';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import type { Store } from '../storage/store.js';
import { BLOCK_CAPS, blockHash, decodeBlock, encodeBlock, entriesHashOf, entryBytes, type Block } from './block.js';
import type { GovParams } from '../../src/governance/index.js';
import type { CheckedEntry } from './entries.js';
import type { Mempool } from './mempool.js';
import { failure, PeerError, type PeerFailure } from './errors.js';
import { peekBlockHeader, peekTreeSize } from './block-rules.js';
import { Checkpoints } from './checkpoint-collect.js';
import { ValidatorSets } from './validator-sets.js';
import { unfitForBlock } from './governance.js';
import { verifyBlockCertificate } from './certificate-check.js';
import { invariant } from '../../src/assert.js';
import { BlockAssembly } from './block-assembly.js';
import { encodeCompact } from './block-compact.js';
import { validateBlockAt, type BlockRulesContext, type ValidatedBlock } from './block-validate.js';
import { BlockVerdicts } from './block-verdicts.js';
import type { AppliedInfo, LedgerEvents, LedgerHead, LedgerOptions } from './ledger-types.js';
import { appliedBlockOf, applyRangeLocked, type RangeHost, type RangeResult, type SyncedBlock } from './ledger-range.js';

export { CHECKPOINT_SIG_MESSAGE_BYTES_MAX, encodeCheckpointSig, decodeCheckpointSig } from './checkpoint-sig.js';

export type { AppliedInfo, LedgerEvents, LedgerHead, LedgerOptions } from './ledger-types.js';

export class Ledger extends EventEmitter<LedgerEvents> {
  private head: LedgerHead;
  private range: CompactRange;
  private mempool: Mempool | null = null;
  /** Verdicts and our own validations at the current head (block-verdicts.ts). */
  private readonly verdicts = new BlockVerdicts();
  private readonly now: () => number;
  private applying: Promise<unknown> = Promise.resolve();
  /** The validator set of each height and our place in it (consensus reads it as RunnerSets). */
  readonly validatorSets: ValidatorSets;
  private readonly checkpoints: Checkpoints;
  /** Compact proposals: a block's compact form, and the block rebuilt from one (block-assembly.ts). */
  readonly assembly: BlockAssembly;
  private readonly rules: BlockRulesContext;
  stats = { blocksApplied: 0, entriesApplied: 0, checkpointsFinal: 0, sigsAccepted: 0, sigsRejected: 0, sigsEarlyDropped: 0 };

  private constructor(private readonly opts: LedgerOptions, head: LedgerHead, range: CompactRange) {
    super();
    this.head = head;
    this.range = range;
    this.now = opts.now ?? Date.now;
    const ledger = this;
    this.rules = {
      head: () => this.head,
      range: () => this.range,
      paramsAt: (h) => this.paramsAt(h),
      validatorCount: (h) => this.validatorSets.view(h).validators.length,
      checker: opts.checker,
      store: opts.store,
      gov: opts.gov,
      get mempool() {
        return ledger.mempool;
      },
    };
    this.assembly = new BlockAssembly({
      leafOf: (hex) => this.mempool?.getPending(hex)?.leaf,
      leafHash: (leaf) => opts.checker.leafHash(leaf),
      valueId: blockHash,
      // The limits of heights whose parameters are final (up to head + 2), the caps beyond.
      limitsAt: (h) => (h <= this.head.height + 2 ? this.paramsAt(h) : BLOCK_CAPS),
    });
    const signers = [...(opts.signer === null ? [] : [opts.signer]), ...(opts.extraSigners ?? [])];
    this.validatorSets = new ValidatorSets(opts.genesis, opts.gov ?? null, signers);
    this.checkpoints = new Checkpoints({
      origin: opts.genesis.origin,
      store: opts.store,
      sets: this.validatorSets,
      head: () => this.head,
      now: this.now,
      // Sizes beyond the head within the early window are made under the limits of the next
      // heights (final up to head + 2): the larger one, so a raise is not cut short.
      maxBlockEntries: () => Math.max(this.paramsAt(this.head.height + 1).maxBlockEntries, this.paramsAt(this.head.height + 2).maxBlockEntries),
      ...(opts.publishCheckpointSig ? { publish: opts.publishCheckpointSig } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      onFinal: (treeSize, note) => this.emit('final', { treeSize, note }),
      onStoreFailed: (error) => this.emit('storeFailed', error),
      stats: this.stats,
    });
    // Registered first, so the body of a new head is known before anyone else hears of it.
    this.on('block', (i) => this.checkpoints.onHeadApplied(i));
  }

  /** Loads the head from the store (the head block gives the last block time). */
  static async open(opts: LedgerOptions): Promise<Ledger> {
    const h = opts.store.head();
    let head: LedgerHead;
    let range: CompactRange;
    if (h === null) {
      head = { height: 0, treeSize: 0, root: EMPTY_ROOT, blockHash: opts.genesis.hash, timeMs: 0 };
      range = EMPTY_RANGE;
    } else {
      const bytes = await opts.store.getBlock(h.height);
      if (bytes === undefined) throw new PeerError('ledger_corrupt', `head block ${h.height} missing from the store`);
      const d = decodeBlock(bytes);
      if (!d.ok) throw new PeerError('ledger_corrupt', `head block ${h.height} does not decode: ${d.message}`);
      head = { height: h.height, treeSize: h.treeSize, root: h.root, blockHash: h.blockHash, timeMs: d.block.header.timeMs };
      range = decodeState(h.logState);
    }
    const l = new Ledger(opts, head, range);
    const fin = await opts.store.latestFinalCheckpoint();
    if (fin !== undefined) {
      const n = parseNote(fin);
      const cp = n.ok ? parseCheckpoint(n.note.text) : null;
      if (cp !== null && cp.ok) l.checkpoints.final = cp.checkpoint.size;
    }
    // Each set reached so far signs the sizes after the block before its first height.
    for (const v of l.validatorSets.views()) {
      if (v.fromHeight < 2 || v.fromHeight > head.height + 1) continue;
      const b = await opts.store.getBlock(v.fromHeight - 1);
      const size = b === undefined ? null : peekTreeSize(b);
      if (size === null) throw new PeerError('ledger_corrupt', `block ${v.fromHeight - 1} (before validator set change) missing or unreadable`);
      l.checkpoints.setBoundary(v.fromHeight, size);
    }
    return l;
  }

  attachMempool(m: Mempool): void {
    this.mempool = m;
    // Admission follows the parameters of the next height (the one our entries are for).
    if (this.opts.gov) m.followLimits(() => this.paramsAt(this.head.height + 1));
  }

  /** Parameters in force at `height` (genesis limits + params.set); final up to head + 2, so for every block we handle (head + 1). */
  paramsAt(height: number): GovParams {
    return this.opts.gov ? this.opts.gov.paramsAt(height) : this.opts.genesis.limits;
  }

  getHead(): LedgerHead {
    return this.head;
  }
  finalSize(): number {
    return this.checkpoints.final;
  }
  get store(): Store {
    return this.opts.store;
  }

  // ---------------------------------------------------------------- blocks

  /**
   * Builds the block for height head+1 from the mempool (oldest entries first, bounded by
   * maxBlockEntries / maxBlockBytes). Synchronous: it is the consensus getValue(). Throws when
   * the mempool is empty (a height starts when SOME peer has entries; the proposer's own mempool
   * may not have them yet) — the round then times out to the next proposer.
   */
  buildBlock(height: number, proposer: number): Uint8Array {
    if (height !== this.head.height + 1) throw new PeerError('ledger_bad_height', `cannot build block ${height} on head ${this.head.height}`);
    // The block limits in force at THIS height (every validator checks the same ones).
    const L = this.paramsAt(height);
    // Block time strictly increases along the chain even if our clock is behind the previous proposer's.
    const timeMs = Math.max(this.now(), this.head.timeMs + 1);
    let entries: CheckedEntry[] = this.mempool === null ? [] : this.mempool.take(L.maxBlockEntries, L.maxBlockBytes, timeMs, entryBytes);
    // Entries this block would refuse (revoked client, record refused at this height) leave the mempool for good.
    const unfit = this.opts.gov ? unfitForBlock(this.opts.gov, entries, height) : [];
    if (unfit.length > 0) {
      this.mempool?.discard(unfit);
      entries = entries.filter((e) => !unfit.includes(e));
    }
    // Never an empty block. The driver treats a throwing getValue like a proposer without a
    // value: it lets the propose timeout (L57) move the round on to a proposer that has entries.
    if (entries.length === 0) throw new PeerError('ledger_no_entries', `no entries to propose at height ${height}`);
    const leafHashes = entries.map((e) => e.leafHash);
    const appended = appendLeafHashes(this.range, leafHashes);
    const block: Block = {
      header: {
        height,
        prevHash: this.head.blockHash,
        proposer,
        timeMs,
        treeSize: appended.state.size,
        root: rootOf(appended.state),
        entriesHash: entriesHashOf(leafHashes),
      },
      entries: entries.map((e) => e.leaf),
    };
    const bytes = encodeBlock(block);
    const idHex = toHex(blockHash(bytes));
    // Our own proposal is valid by construction (entries were checked on the way into the mempool).
    this.verdicts.set(idHex, true);
    this.assembly.remember(idHex, encodeCompact(block, leafHashes));
    this.assembly.serveBlock(idHex, block.entries, leafHashes);
    return bytes;
  }

  /**
   * Consensus isTimely: the block time is within maxClockSkewMs of OUR clock. Asked afresh each
   * time (never cached) and only before prevoting a fresh proposal; false when the header does
   * not parse.
   */
  timely(bytes: Uint8Array): boolean {
    const h = peekBlockHeader(bytes);
    return h !== null && Math.abs(h.timeMs - this.now()) <= this.paramsAt(this.head.height + 1).maxClockSkewMs;
  }

  /** Consensus proposerOf: the validator index the block names as its proposer (null: unparsable). */
  proposerOf(bytes: Uint8Array): number | null {
    return peekBlockHeader(bytes)?.proposer ?? null;
  }

  /** The compact form of a block (what proposals and the WAL carry); null when not a block. */
  compactOf(value: Uint8Array): Uint8Array | null {
    return this.assembly.compactOf(value);
  }

  /** The block of a compact form: from the mempool, missing entries fetched before deadlineMs. */
  expandCompact(compact: Uint8Array, deadlineMs: number): Promise<{ ok: true; value: Uint8Array } | PeerFailure> {
    return this.assembly.expand(compact, deadlineMs);
  }

  /** The cached verdict for a value (consensus isValid); undefined = never validated. */
  verdict(valueIdHex: string): boolean | undefined {
    return this.verdicts.get(valueIdHex);
  }

  /** Validates a proposed block against the current head and caches the verdict by block hash. */
  async prevalidate(bytes: Uint8Array): Promise<{ ok: true } | PeerFailure> {
    const key = toHex(blockHash(bytes));
    // Verdicts are cleared whenever the head moves, so a cached one was made against this head.
    const cached = this.verdicts.get(key);
    if (cached === true) return { ok: true };
    if (cached === false) return failure('block_invalid', 'proposal already found invalid at this height');
    const head = this.head;
    const r = await this.validateBlock(bytes, 'proposal');
    // Only cache verdicts made against the head they were computed for; validateBlock checks height.
    this.verdicts.set(key, r.ok);
    // validateBlock refuses when the head moved while it ran, so a passed result is of `head`.
    if (r.ok && this.head === head) this.verdicts.keep(head, key, r);
    if (!r.ok) this.opts.log?.('info', 'proposal rejected', { code: r.code, reason: r.message });
    return r.ok ? { ok: true } : r;
  }

  /**
   * A decided block's validation: our own proposal-mode result for these bytes against this very
   * head when we have one (a superset of the decided checks, same state computed), else the
   * decided-mode rules. Taken once: the head moves right after.
   */
  private validateDecided(bytes: Uint8Array, hash: Uint8Array, verifyEntries: boolean): Promise<ValidatedBlock | PeerFailure> {
    const kept = this.verdicts.take(this.head, toHex(hash));
    if (kept !== undefined && !verifyEntries) return Promise.resolve(kept);
    return this.validateBlock(bytes, 'decided', verifyEntries);
  }

  /** Every deterministic rule of a block at head + 1: see block-validate.ts. */
  validateBlock(bytes: Uint8Array, mode: 'proposal' | 'decided', verifyEntries = false): Promise<ValidatedBlock | PeerFailure> {
    return validateBlockAt(this.rules, bytes, mode, verifyEntries);
  }

  /**
   * Applies a decided block (consensus decide or verified catch-up). One synced store batch
   * first; then mempool cleanup and events; then, if `sign`, our checkpoint signature.
   */
  apply(bytes: Uint8Array, certificate: Uint8Array, opts: { sign: boolean; mode: 'consensus' | 'sync' }): Promise<AppliedInfo> {
    const run = this.applying.then(() => this.applyLocked(bytes, certificate, opts));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyLocked(bytes: Uint8Array, certificate: Uint8Array, opts: { sign: boolean; mode: 'consensus' | 'sync' }): Promise<AppliedInfo> {
    if (opts.mode === 'consensus') {
      // Consensus decides height head + 1 only, and the runner applies a decision only for
      // head + 1; anything else means the runner and the ledger disagree about the head.
      const p = peekBlockHeader(bytes);
      invariant(p !== null && p.height === this.head.height + 1, 'decided_height', () => `decided block of height ${p?.height ?? '?'} on head ${this.head.height}`);
    }
    // A decided block is valid (q organizations checked it), but the structure and root are
    // recomputed anyway (or taken from our own check of that proposal at this head): if they do
    // not match, our state diverged and we must stop, not append.
    const hash = blockHash(bytes);
    const v = await this.validateDecided(bytes, hash, opts.mode === 'sync' && this.opts.syncVerifyClientSignatures === true);
    if (!v.ok) throw new PeerError('ledger_decided_block_invalid', `decided block does not apply: ${v.code}: ${v.message}`);
    // validateBlock already appended the leaf hashes to our compact range (pure, not yet kept).
    const { block, appended, gov } = v;
    const h = block.header;
    const oldSize = this.range.size;
    const tiles = await tileWritesForAppend(this.opts.store, oldSize, appended.state.size, appended.stored);
    const root = rootOf(appended.state);
    const tracker = this.opts.gov;
    // The record list is synced BEFORE the block, so a restart replays every record of the log.
    if (tracker && gov) await tracker.noteBlock(this.opts.store, h.height, oldSize, gov.records);
    await this.opts.store.applyBlock(appliedBlockOf(v, bytes, hash, certificate, oldSize, tiles, root)).catch(async (e: unknown) => {
      if (tracker && gov && gov.records.length > 0) await tracker.unnoteBlock(this.opts.store);
      throw e;
    });
    const info = this.adoptDurable(v, hash, root, certificate);
    if (timelineOn) timeline('block.durable', `h=${h.height} n=${info.count}`);
    if (opts.sign) await this.signHead();
    return info;
  }

  /** Once the batch holding a validated block is durable: the ledger moves to it and tells listeners. */
  private adoptDurable({ block: { header: h }, entries, appended, gov }: ValidatedBlock, hash: Uint8Array, root: Uint8Array, certificate: Uint8Array): AppliedInfo {
    const oldSize = this.range.size;
    if (this.opts.gov && gov) this.opts.gov.commit(h.height, gov.state, gov.records.length);
    this.range = appended.state;
    this.head = { height: h.height, treeSize: appended.state.size, root, blockHash: hash, timeMs: h.timeMs };
    // A set whose first height is the next one signs the sizes above this block's tree size.
    for (const s of this.validatorSets.views()) if (s.fromHeight === h.height + 1) this.checkpoints.setBoundary(s.fromHeight, appended.state.size);
    this.verdicts.clear();
    this.mempool?.removeLogged(entries);
    this.stats.blocksApplied++;
    this.stats.entriesApplied += entries.length;
    const info: AppliedInfo = { height: h.height, firstIndex: oldSize, count: entries.length, treeSize: appended.state.size, root, blockHash: hash, leafHashes: entries.map((e) => e.leafHash), certificate };
    this.emit('block', info);
    return info;
  }

  /** Catch-up: certified blocks from head + 1, one synced batch per range (ledger-range.ts). */
  applyRange(items: readonly SyncedBlock[]): Promise<RangeResult> {
    const host: RangeHost = { head: () => this.head, range: () => this.range, rules: this.rules, store: this.opts.store, sets: this.validatorSets, origin: this.opts.genesis.origin,
      verifyEntries: this.opts.syncVerifyClientSignatures === true, applyOne: (b, c) => this.applyLocked(b, c, { sign: false, mode: 'sync' }), adopt: (v, h, r, c) => this.adoptDurable(v, h, r, c) };
    const run = this.applying.then(() => applyRangeLocked(host, items));
    this.applying = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------- checkpoints

  /** Before the store closes: stops the checkpoints' deferred writes. */
  close(): Promise<void> {
    return this.checkpoints.close();
  }

  /** Signs the checkpoint of the current head (a decided block) and gossips the signature line. */
  signHead(): Promise<void> {
    return this.checkpoints.signHead();
  }

  /** Re-sends our signature of the head (with a new timestamp so gossip does not deduplicate it). */
  republishHeadSignature(): void {
    this.checkpoints.republishHeadSignature();
  }

  /** Gossip topic validator + handler in one: returns what the network should do with the message. */
  onCheckpointSigMessage(data: Uint8Array): Promise<'accept' | 'reject' | 'ignore'> {
    timeline('checkpoint.receive');
    return this.checkpoints.onMessage(data);
  }

  /** Gossip topic validator (synchronous): see Checkpoints.checkShape. */
  checkCheckpointSigShape(data: Uint8Array, from = ''): 'accept' | 'reject' | 'ignore' {
    return this.checkpoints.checkShape(data, from);
  }

  /** Unverified early signatures held (all senders). */
  pendingSignatures(): number {
    return this.checkpoints.pendingSignatures();
  }

  /**
   * The trust a checkpoint of tree size `size` must satisfy (origin, the keys and quorum of the
   * set that signs that size): for anything that verifies checkpoints of this log (monitors,
   * divergence checks) across membership changes.
   */
  checkpointTrust(size: number): { origin: string; keys: VerifierKey[]; quorum: number } {
    const v = this.checkpoints.viewForSize(size);
    return { origin: this.opts.genesis.origin, keys: v.orgs.map((o) => o.key), quorum: v.quorum };
  }

  /**
   * Adopts a final checkpoint obtained from another peer (catch-up, missed signature gossip):
   * verified with the quorum of the set that signs its size, and its root must equal OUR root.
   */
  adoptFinalCheckpoint(note: Uint8Array): Promise<{ ok: true; size: number } | PeerFailure> {
    return this.checkpoints.adopt(note);
  }

  /** Verifies a commit certificate for block bytes at a height (catch-up): see certificate-check.ts. */
  verifyCertificate(height: number, blockBytes: Uint8Array, certBytes: Uint8Array): { ok: true; certificate: CommitCertificate; hash: Uint8Array } | PeerFailure {
    return verifyBlockCertificate(this.validatorSets, this.opts.genesis.origin, this.head.height, height, blockBytes, certBytes);
  }
  /** Whether catch-up verifies client signatures (the syncVerifyClientSignatures it was opened with). */
  get verifiesSyncedSignatures(): boolean { return this.opts.syncVerifyClientSignatures === true; }
}
