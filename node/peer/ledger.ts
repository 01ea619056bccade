// The ledger: this peer's view of the log. It builds and validates blocks (the consensus value),
// applies decided blocks to storage, and turns decided heads into quorum-signed checkpoints.
//
// - validateBlock: every DETERMINISTIC block rule — height and prevHash chain, entries valid
//   (schema, authorized client, signature), new (not logged) and unique within the block,
//   entriesHash, tree size and RFC 9162 root recomputed with the merkle compact range, time
//   strictly after the previous block; entries within skew of the block time. Verdicts are cached
//   by block hash (= consensus valueId), because the consensus driver's isValid is synchronous
//   while the "not logged" checks read LevelDB. The local clock is NOT a validity rule (a peer
//   whose clock is off would otherwise never decide): `timely` answers it separately, and
//   consensus asks it only before prevoting a fresh proposal.
// - attribution: the block's header.proposer must be a proposer of the rounds up to the decision
//   round (consensus checks it per proposal round; verifyCertificate checks it for catch-up).
// - apply: one synced store.applyBlock (storage contract) BEFORE anything is signed or reported.
// - checkpoints: after applying a block decided by consensus, sign the C2SP tlog-checkpoint body
//   (signed-note) and gossip the signature line; collect the others' lines (each verified); with
//   >= q valid signatures the checkpoint is stored as final. Signatures are ONLY made for
//   decided blocks (a signed undecided head could become final on a branch consensus never
//   took). An entry is final once a final checkpoint covers its index. A received signature is
//   relayed or kept only once verified against a body we know; see checkCheckpointSigShape.
import { EventEmitter } from 'node:events';
import { toHex, bytesEqual, utf8 } from '../../src/encoding/bytes.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { encodeCheckpointSig, decodeCheckpointSig } from './checkpoint-sig.js';
import { decodeCertificate, verifyCommitCertificate, type CommitCertificate } from '../../src/consensus/index.js';
import {
  EMPTY_RANGE,
  EMPTY_ROOT,
  appendLeafHashes,
  decodeState,
  encodeState,
  rootOf,
  tileWritesForAppend,
  treeHash,
  type AppendResult,
  type CompactRange,
} from '../../src/merkle/index.js';
import { formatCheckpoint, parseCheckpoint, verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { formatNote, parseNote, signText, type NoteSignature } from '../../src/checkpoint/note.js';
import { LOOKUP_BATCH_MAX, type Store } from '../storage/store.js';
import { blockHash, decodeBlock, encodeBlock, entriesHashOf, entryBytes, type Block } from './block.js';
import type { CheckedEntry, EntryChecker } from './entries.js';
import type { Genesis } from './genesis.js';
import type { Mempool } from './mempool.js';
import { failure, PeerError, type PeerFailure } from './errors.js';
import { peekBlockHeader } from './block-rules.js';
import { checkBlockGov, unfitForBlock, type GovTracker } from './governance.js';
import { attributionOk } from '../../src/consensus/validity.js';
import { invariant } from '../../src/assert.js';

/** Most block verdicts cached (one per distinct proposal value). */
const VERDICTS_MAX = 256;
/** Tree sizes for which signatures are being collected at once (older ones are dropped). */
const COLLECTING_SIZES_MAX = 64;
/**
 * Signatures for tree sizes beyond our head cannot be verified yet (we do not know the root).
 * They are kept, unverified, only in a store bounded per sender (the peer that delivered them,
 * so a Byzantine peer can only crowd out its own), only within this many blocks' worth of
 * entries ahead, and are verified when we reach the size; a dropped one is re-sent by its
 * signer (finality repair) or comes with a final checkpoint.
 */
const EARLY_SIGNATURES_BLOCKS_AHEAD = 16;
const EARLY_SIGNATURES_PER_SENDER_MAX = 16;
/** Senders tracked in the early store (genesis peers only reach us; this bounds the map anyway). */
const EARLY_SIGNATURE_SENDERS_MAX = 64;
/** Checkpoint bodies of recently applied heads, so signatures for them verify synchronously. */
const RECENT_BODIES_MAX = COLLECTING_SIZES_MAX;
export { CHECKPOINT_SIG_MESSAGE_BYTES_MAX, encodeCheckpointSig, decodeCheckpointSig } from './checkpoint-sig.js';

export interface LedgerHead {
  height: number;
  treeSize: number;
  root: Uint8Array;
  blockHash: Uint8Array;
  timeMs: number;
}

export interface AppliedInfo {
  height: number;
  firstIndex: number;
  count: number;
  treeSize: number;
  root: Uint8Array;
  blockHash: Uint8Array;
  leafHashes: Uint8Array[];
}

export interface LedgerEvents {
  block: [AppliedInfo];
  final: [{ treeSize: number; note: Uint8Array }];
}

export interface LedgerOptions {
  genesis: Genesis;
  store: Store;
  checker: EntryChecker;
  /** Our validator index and signer; null for an observer. */
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  now?: () => number;
  /** Gossips our checkpoint signature (encoded by encodeCheckpointSig). */
  publishCheckpointSig?: (bytes: Uint8Array) => void;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Governance state (node/peer/governance.ts): client authorization and records per block. Without it, the genesis only. */
  gov?: GovTracker | null;
}

interface Collecting {
  text: string;
  sigs: Map<string, NoteSignature>;
}

export class Ledger extends EventEmitter<LedgerEvents> {
  private head: LedgerHead;
  private range: CompactRange;
  private final = 0;
  private mempool: Mempool | null = null;
  private readonly verdicts = new Map<string, boolean>();
  private readonly collecting = new Map<number, Collecting>();
  /** Unverified signature lines for sizes beyond our head: sender peer -> (size, line), oldest first. */
  private readonly early = new Map<string, { size: number; sig: NoteSignature }[]>();
  /** Checkpoint body text of recently applied heads by tree size (insertion order = age). */
  private readonly bodies = new Map<number, string>();
  private readonly now: () => number;
  private readonly n: number;
  private applying: Promise<unknown> = Promise.resolve();
  stats = { blocksApplied: 0, entriesApplied: 0, checkpointsFinal: 0, sigsAccepted: 0, sigsRejected: 0, sigsEarlyDropped: 0 };

  private constructor(private readonly opts: LedgerOptions, head: LedgerHead, range: CompactRange) {
    super();
    this.head = head;
    this.range = range;
    this.now = opts.now ?? Date.now;
    this.n = opts.genesis.validators.length;
    // Registered first, so the body of a new head is known before anyone else hears of it.
    this.on('block', (i) => this.onHeadApplied(i));
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
      const d = decodeBlock(bytes, opts.genesis.limits);
      if (!d.ok) throw new PeerError('ledger_corrupt', `head block ${h.height} does not decode: ${d.message}`);
      head = { height: h.height, treeSize: h.treeSize, root: h.root, blockHash: h.blockHash, timeMs: d.block.header.timeMs };
      range = decodeState(h.logState);
    }
    const l = new Ledger(opts, head, range);
    const fin = await opts.store.latestFinalCheckpoint();
    if (fin !== undefined) {
      const n = parseNote(fin);
      const cp = n.ok ? parseCheckpoint(n.note.text) : null;
      if (cp !== null && cp.ok) l.final = cp.checkpoint.size;
    }
    return l;
  }

  attachMempool(m: Mempool): void {
    this.mempool = m;
  }

  getHead(): LedgerHead {
    return this.head;
  }
  finalSize(): number {
    return this.final;
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
    const L = this.opts.genesis.limits;
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
    // Our own proposal is valid by construction (entries were checked on the way into the mempool).
    this.setVerdict(toHex(blockHash(bytes)), true);
    return bytes;
  }

  /**
   * Consensus isTimely: the block time is within maxClockSkewMs of OUR clock. Asked afresh each
   * time (never cached) and only before prevoting a fresh proposal; false when the header does
   * not parse.
   */
  timely(bytes: Uint8Array): boolean {
    const h = peekBlockHeader(bytes);
    return h !== null && Math.abs(h.timeMs - this.now()) <= this.opts.genesis.limits.maxClockSkewMs;
  }

  /** Consensus proposerOf: the validator index the block names as its proposer (null: unparsable). */
  proposerOf(bytes: Uint8Array): number | null {
    return peekBlockHeader(bytes)?.proposer ?? null;
  }

  /** The cached verdict for a value (consensus isValid); undefined = never validated. */
  verdict(valueIdHex: string): boolean | undefined {
    return this.verdicts.get(valueIdHex);
  }

  private setVerdict(key: string, v: boolean): void {
    if (this.verdicts.size >= VERDICTS_MAX) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest !== undefined) this.verdicts.delete(oldest);
    }
    this.verdicts.set(key, v);
  }

  /** Validates a proposed block against the current head and caches the verdict by block hash. */
  async prevalidate(bytes: Uint8Array): Promise<{ ok: true } | PeerFailure> {
    const key = toHex(blockHash(bytes));
    // Verdicts are cleared whenever the head moves, so a cached one was made against this head.
    const cached = this.verdicts.get(key);
    if (cached === true) return { ok: true };
    if (cached === false) return failure('block_invalid', 'proposal already found invalid at this height');
    const r = await this.validateBlock(bytes, 'proposal');
    // Only cache verdicts made against the head they were computed for; validateBlock checks height.
    this.setVerdict(key, r.ok);
    if (!r.ok) this.opts.log?.('info', 'proposal rejected', { code: r.code, reason: r.message });
    return r.ok ? { ok: true } : r;
  }

  /**
   * Every deterministic rule of a block at head+1 (no local clock: see `timely`). mode
   * 'proposal': full checks (signatures, not logged yet). mode 'decided': the block carries a
   * verified commit certificate — structure, chain and root are still recomputed (never trust,
   * always verify what is cheap), signatures and "not logged" lookups are not.
   */
  async validateBlock(
    bytes: Uint8Array,
    mode: 'proposal' | 'decided',
  ): Promise<{ ok: true; block: Block; entries: CheckedEntry[]; appended: AppendResult; gov: Exclude<ReturnType<typeof checkBlockGov>, PeerFailure> | null } | PeerFailure> {
    const g = this.opts.genesis;
    const d = decodeBlock(bytes, g.limits);
    if (!d.ok) return d;
    const b = d.block;
    const h = b.header;
    const head = this.head;
    if (h.height !== head.height + 1) return failure('block_wrong_height', `block height ${h.height}, expected ${head.height + 1}`);
    if (!bytesEqual(h.prevHash, head.blockHash)) return failure('block_wrong_prev', `prevHash does not match block ${head.height}`);
    if (h.proposer >= this.n) return failure('block_bad_proposer', `proposer index ${h.proposer} outside the ${this.n} validators`);
    if (mode === 'proposal' && h.timeMs <= head.timeMs) {
      return failure('block_time_not_monotonic', `block time ${h.timeMs} is not after the previous block's ${head.timeMs}`);
    }
    let bodyBytes = 0;
    for (const e of b.entries) bodyBytes += entryBytes(e);
    if (bodyBytes > g.limits.maxBlockBytes) return failure('block_too_large', `entries take ${bodyBytes} bytes, more than maxBlockBytes ${g.limits.maxBlockBytes}`);
    const checker = this.opts.checker;
    const entries: CheckedEntry[] = [];
    const seenHash = new Set<string>();
    const seenId = new Set<string>();
    for (let i = 0; i < b.entries.length; i++) {
      if (i > 0 && i % 256 === 0) await new Promise<void>((r) => setImmediate(r));
      const leaf = b.entries[i]!;
      // An entry pending in our mempool was fully checked on admission (schema, client,
      // signature); identical bytes are the same entry, so its checked form is reused.
      const pending = this.mempool?.getPending(toHex(checker.leafHash(leaf)));
      let e: CheckedEntry;
      if (pending !== undefined && bytesEqual(pending.leaf, leaf)) {
        e = pending;
      } else {
        const c = mode === 'proposal' ? checker.checkLeaf(leaf, { inBlock: true }) : checker.parseDecided(leaf);
        if (!c.ok) return failure('block_bad_entry', `entry ${i}: ${c.code}: ${c.message}`);
        e = c.entry;
      }
      const hk = toHex(e.leafHash);
      const ik = `${e.client}/${e.id}`;
      if (seenHash.has(hk)) return failure('block_duplicate_entry', `entry ${i} appears twice in the block`);
      if (seenId.has(ik)) return failure('block_duplicate_id', `entry ${i} reuses (client, id) of an earlier entry in the block`);
      seenHash.add(hk);
      seenId.add(ik);
      if (mode === 'proposal' && Math.abs(e.timeMs - h.timeMs) > g.limits.maxClockSkewMs) {
        return failure('block_entry_clock_skew', `entry ${i} time is more than maxClockSkewMs ${g.limits.maxClockSkewMs} from the block time`);
      }
      entries.push(e);
    }
    if (!bytesEqual(entriesHashOf(entries.map((e) => e.leafHash)), h.entriesHash)) return failure('block_bad_entries_hash', 'entriesHash does not match the entries');
    const appended = appendLeafHashes(this.range, entries.map((e) => e.leafHash));
    if (h.treeSize !== appended.state.size) return failure('block_bad_tree_size', `treeSize ${h.treeSize}, expected ${appended.state.size}`);
    if (!bytesEqual(h.root, rootOf(appended.state))) return failure('block_bad_root', 'root does not match the log after appending the entries (RFC 9162 MTH)');
    // Client authorization at this height and the block's governance records, applied in order.
    const gov = this.opts.gov ? checkBlockGov(this.opts.gov, entries, h.height, mode) : null;
    if (gov !== null && !gov.ok) return gov;
    // Not logged yet: by leaf hash and by (client, id). Reads LevelDB, hence async; the reads
    // are batched into multi-gets (Store.lookupLogged). A decided block skips this:
    // its commit certificate shows q organizations (at least one honest) checked it, and the
    // lookups are the most expensive part of catch-up.
    if (mode === 'proposal') {
      const store = this.opts.store;
      // Mempool invariant: a pending entry is neither logged nor reusing a logged (client, id)
      // (checked on admission, and removeLogged drops both kinds when a block is applied).
      const unknown = entries.map((e, i) => ({ e, i })).filter(({ e }) => this.mempool === null || !this.mempool.has(e.leafHash));
      // One LevelDB multi-get per LOOKUP_BATCH_MAX entries (far cheaper than a get per key).
      for (let from = 0; from < unknown.length; from += LOOKUP_BATCH_MAX) {
        const part = unknown.slice(from, from + LOOKUP_BATCH_MAX);
        const looked = await store.lookupLogged(part.map(({ e }) => e));
        for (let k = 0; k < part.length; k++) {
          if (looked[k]!.index !== undefined) return failure('block_entry_logged', `entry ${part[k]!.i} is already in the log`);
          if (looked[k]!.logged !== undefined) return failure('block_id_logged', `entry ${part[k]!.i} reuses a logged (client, id)`);
        }
      }
    }
    // The head may have moved while we awaited (applied by another path): re-check the chain.
    if (this.head !== head) return failure('block_wrong_height', 'the head moved during validation');
    return { ok: true, block: b, entries, appended, gov };
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
    // recomputed anyway: if they do not match, our state diverged and we must stop, not append.
    const v = await this.validateBlock(bytes, 'decided');
    if (!v.ok) throw new PeerError('ledger_decided_block_invalid', `decided block does not apply: ${v.code}: ${v.message}`);
    // validateBlock already appended the leaf hashes to our compact range (pure, not yet kept).
    const { block, entries, appended, gov } = v;
    const h = block.header;
    const hash = blockHash(bytes);
    const leafHashes = entries.map((e) => e.leafHash);
    const oldSize = this.range.size;
    const tiles = await tileWritesForAppend(this.opts.store, oldSize, appended.state.size, appended.stored);
    const root = rootOf(appended.state);
    const tracker = this.opts.gov;
    // The record list is synced BEFORE the block, so a restart replays every record of the log.
    if (tracker && gov) await tracker.noteBlock(this.opts.store, h.height, oldSize, gov.records);
    await this.opts.store.applyBlock({
      height: h.height,
      blockBytes: bytes,
      blockHash: hash,
      certificate,
      firstIndex: oldSize,
      leaves: entries.map((e) => e.leaf),
      leafHashes,
      clientIds: entries.map((e) => ({ client: e.client, id: e.id })),
      tiles: tiles.map((t) => ({ level: t.tile.level, index: t.tile.index, bytes: t.bytes })),
      logState: encodeState(appended.state),
      treeSize: appended.state.size,
      root,
    }).catch(async (e: unknown) => {
      if (tracker && gov && gov.records.length > 0) await tracker.unnoteBlock(this.opts.store);
      throw e;
    });
    if (tracker && gov) tracker.commit(h.height, gov.state, gov.records.length);
    this.range = appended.state;
    this.head = { height: h.height, treeSize: appended.state.size, root, blockHash: hash, timeMs: h.timeMs };
    this.verdicts.clear();
    this.mempool?.removeLogged(entries);
    this.stats.blocksApplied++;
    this.stats.entriesApplied += entries.length;
    const info: AppliedInfo = { height: h.height, firstIndex: oldSize, count: entries.length, treeSize: appended.state.size, root, blockHash: hash, leafHashes };
    this.emit('block', info);
    if (opts.sign) await this.signHead();
    return info;
  }

  // ---------------------------------------------------------------- checkpoints

  /** Signs the checkpoint of the current head (a decided block) and gossips the signature line. */
  async signHead(): Promise<void> {
    const { selfIndex, signer } = this.opts;
    if (selfIndex === null || signer === null) return;
    const size = this.head.treeSize;
    if (size <= this.final) return;
    const text = formatCheckpoint({ origin: this.opts.genesis.origin, size, root: this.head.root });
    const name = this.opts.genesis.validators[selfIndex]!.name;
    const sig = signText(text, { name, signer });
    const existing = await this.opts.store.getCheckpoint(size);
    if (existing === undefined) await this.opts.store.putCheckpoint(size, utf8(formatNote({ text, signatures: [sig] })), false);
    await this.addSignature(size, text, sig);
    this.opts.publishCheckpointSig?.(encodeCheckpointSig(size, sig, this.now()));
  }

  /** Re-sends our signature of the head (with a new timestamp so gossip does not deduplicate it). */
  republishHeadSignature(): void {
    const { selfIndex, signer } = this.opts;
    if (selfIndex === null || signer === null || this.head.treeSize === 0) return;
    const text = formatCheckpoint({ origin: this.opts.genesis.origin, size: this.head.treeSize, root: this.head.root });
    const sig = signText(text, { name: this.opts.genesis.validators[selfIndex]!.name, signer });
    this.opts.publishCheckpointSig?.(encodeCheckpointSig(this.head.treeSize, sig, this.now()));
  }

  /** Gossip topic validator + handler in one: returns what the network should do with the message. */
  async onCheckpointSigMessage(data: Uint8Array): Promise<'accept' | 'reject' | 'ignore'> {
    const m = decodeCheckpointSig(data);
    if (!m.ok) return 'reject';
    return this.receiveSignature(m.size, m.sig);
  }

  /**
   * Gossip topic validator (synchronous). Only a signature verified against a checkpoint body we
   * know (our head, a size being collected, a recently applied head) is accepted, i.e. handed
   * to the handler and relayed. One for a size we cannot check is ignored, never rejected: an
   * honest peer at another head may have relayed it, and a 'reject' would cost that peer gossip
   * score until it is graylisted. A size ahead of ours goes, unverified, to the bounded early
   * store of `from` (the peer that delivered it) and is verified when we get there.
   */
  checkCheckpointSigShape(data: Uint8Array, from = ''): 'accept' | 'reject' | 'ignore' {
    const m = decodeCheckpointSig(data);
    if (!m.ok) return 'reject';
    const v = this.validatorOf(m.sig);
    if (v === null) return 'reject';
    if (m.size <= this.final) return 'ignore';
    const text = this.bodyOf(m.size);
    if (text === null) {
      if (m.size > this.head.treeSize) this.keepEarly(from, m.size, m.sig);
      return 'ignore';
    }
    // Same body, same key: an honest peer accepts exactly what we accept, so a signature that
    // fails here was made up by whoever sent it.
    if (!nodeVerifier.verify(v.publicKey, utf8(text), m.sig.signature)) {
      this.stats.sigsRejected++;
      return 'reject';
    }
    return 'accept';
  }

  /** Unverified early signatures held (all senders). */
  pendingSignatures(): number {
    let k = 0;
    for (const l of this.early.values()) k += l.length;
    return k;
  }

  private validatorOf(sig: NoteSignature): Genesis['validators'][number] | null {
    const v = this.opts.genesis.validators.find((x) => x.name === sig.name);
    return v === undefined || !bytesEqual(v.key.keyId, sig.keyId) ? null : v;
  }

  /** The checkpoint body at `size` when it is at hand synchronously, else null. */
  private bodyOf(size: number): string | null {
    const c = this.collecting.get(size);
    if (c !== undefined) return c.text;
    if (size === this.head.treeSize && size > 0) return formatCheckpoint({ origin: this.opts.genesis.origin, size, root: this.head.root });
    return this.bodies.get(size) ?? null;
  }

  private keepEarly(from: string, size: number, sig: NoteSignature): void {
    const ahead = EARLY_SIGNATURES_BLOCKS_AHEAD * this.opts.genesis.limits.maxBlockEntries;
    let list = this.early.get(from);
    // Beyond the window, over the sender's share, or a new sender past the cap: dropped, never
    // evicting what is kept (the kept ones are the nearest sizes, needed first).
    if (size > this.head.treeSize + ahead || (list === undefined && this.early.size >= EARLY_SIGNATURE_SENDERS_MAX) || (list?.length ?? 0) >= EARLY_SIGNATURES_PER_SENDER_MAX) {
      this.stats.sigsEarlyDropped++;
      return;
    }
    if (list === undefined) this.early.set(from, (list = []));
    if (!list.some((e) => e.size === size && bytesEqual(e.sig.signature, sig.signature))) list.push({ size, sig });
  }

  /** A new head: remember its body, then verify the early signatures it makes checkable. */
  private onHeadApplied(info: AppliedInfo): void {
    const text = formatCheckpoint({ origin: this.opts.genesis.origin, size: info.treeSize, root: info.root });
    this.bodies.set(info.treeSize, text);
    if (this.bodies.size > RECENT_BODIES_MAX) this.bodies.delete(this.bodies.keys().next().value!);
    const due: { size: number; sig: NoteSignature }[] = [];
    for (const [from, list] of this.early) {
      const keep = list.filter((e) => e.size > info.treeSize);
      for (const e of list) if (e.size <= info.treeSize) due.push(e);
      if (keep.length === 0) this.early.delete(from);
      else this.early.set(from, keep);
    }
    for (const e of due) {
      const body = e.size > this.final ? this.bodyOf(e.size) : null;
      const v = this.validatorOf(e.sig);
      if (body === null || v === null) continue;
      if (!nodeVerifier.verify(v.publicKey, utf8(body), e.sig.signature)) {
        this.stats.sigsRejected++;
        continue;
      }
      this.stats.sigsAccepted++;
      this.addSignature(e.size, body, e.sig).catch((err: Error) => this.opts.log?.('warn', 'early checkpoint signature failed', { error: err.message }));
    }
  }

  private async receiveSignature(size: number, sig: NoteSignature): Promise<'accept' | 'reject' | 'ignore'> {
    const v = this.validatorOf(sig);
    if (v === null) return 'reject';
    if (size <= this.final) return 'ignore';
    // Beyond our head the body is unknown: the gossip validator keeps such signatures (bounded).
    if (size > this.head.treeSize) return 'ignore';
    const text = this.bodyOf(size) ?? formatCheckpoint({ origin: this.opts.genesis.origin, size, root: await treeHash(this.opts.store, size) });
    if (!nodeVerifier.verify(v.publicKey, utf8(text), sig.signature)) {
      this.stats.sigsRejected++;
      return 'reject';
    }
    this.stats.sigsAccepted++;
    await this.addSignature(size, text, sig);
    return 'accept';
  }

  private async addSignature(size: number, text: string, sig: NoteSignature): Promise<void> {
    if (size <= this.final) return;
    let c = this.collecting.get(size);
    if (c === undefined) {
      c = { text, sigs: new Map() };
      this.collecting.set(size, c);
      if (this.collecting.size > COLLECTING_SIZES_MAX) {
        const smallest = Math.min(...this.collecting.keys());
        this.collecting.delete(smallest);
      }
    }
    c.sigs.set(sig.name, sig);
    if (c.sigs.size >= this.opts.genesis.quorum && size > this.final) {
      // Signature lines in validator order, so every peer stores the same bytes for the same set.
      const order = this.opts.genesis.validators.map((x) => x.name);
      const sigs = [...c.sigs.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
      const note = utf8(formatNote({ text: c.text, signatures: sigs }));
      await this.markFinal(size, note);
    }
  }

  private async markFinal(size: number, note: Uint8Array): Promise<void> {
    if (size <= this.final) return;
    await this.opts.store.putCheckpoint(size, note, true);
    if (size <= this.final) return;
    this.final = size;
    for (const s of [...this.collecting.keys()]) if (s <= size) this.collecting.delete(s);
    this.stats.checkpointsFinal++;
    this.emit('final', { treeSize: size, note });
  }

  /**
   * Adopts a final checkpoint obtained from another peer (catch-up, missed signature gossip):
   * verified with the genesis quorum, and its root must equal OUR root at that size.
   */
  async adoptFinalCheckpoint(note: Uint8Array): Promise<{ ok: true; size: number } | PeerFailure> {
    const g = this.opts.genesis;
    const v = verifyCheckpointQuorum(note, { origin: g.origin, keys: g.validators.map((x) => x.key), quorum: g.quorum }, nodeVerifier);
    if (!v.ok) return failure(v.code, v.message);
    const size = v.checkpoint.size;
    if (size > this.head.treeSize) return failure('checkpoint_ahead', `checkpoint size ${size} is beyond our tree size ${this.head.treeSize}`);
    if (size <= this.final) return { ok: true, size };
    const root = size === this.head.treeSize ? this.head.root : await treeHash(this.opts.store, size);
    if (!bytesEqual(root, v.checkpoint.root)) return failure('checkpoint_fork', `final checkpoint root at size ${size} differs from our log: the logs diverged`);
    await this.markFinal(size, note);
    return { ok: true, size };
  }

  /** Verifies a commit certificate for block bytes at a height (catch-up). */
  verifyCertificate(height: number, blockBytes: Uint8Array, certBytes: Uint8Array): { ok: true; certificate: CommitCertificate } | PeerFailure {
    const d = decodeCertificate(certBytes);
    if (!d.ok) return failure('sync_bad_certificate', `${d.code}: ${d.message}`);
    const c = d.certificate;
    if (c.height !== height) return failure('sync_bad_certificate', `certificate is for height ${c.height}, block is ${height}`);
    if (!bytesEqual(c.valueId, blockHash(blockBytes))) return failure('sync_bad_certificate', 'certificate value id is not the block hash');
    // Attribution (cheap, before the signatures): consensus only decides in round r a block that
    // names the proposer of some round r' <= r (the round that first proposed it fresh).
    const hp = peekBlockHeader(blockBytes);
    if (hp === null) return failure('sync_bad_block', 'block header does not parse');
    if (!attributionOk(hp.proposer, height, c.round, c.round, this.n)) {
      return failure('sync_wrong_proposer', `block names proposer ${hp.proposer}, not a proposer of height ${height} rounds 0..${c.round}`);
    }
    const g = this.opts.genesis;
    const r = verifyCommitCertificate(c, g.validators.map((v) => ({ name: v.name, publicKey: v.publicKey })), g.origin, nodeVerifier);
    if (!r.ok) return failure('sync_bad_certificate', `${r.code}: ${r.message}`);
    return { ok: true, certificate: c };
  }
}
