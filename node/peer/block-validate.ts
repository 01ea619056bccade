// The deterministic validity rules of a block at head + 1 (ledger.ts calls them for proposals and
// for decided blocks before applying them): kept apart from the ledger's state and apply logic.
import { toHex, bytesEqual } from '../../src/encoding/bytes.js';
import { appendLeafHashes, rootOf, type AppendResult, type CompactRange } from '../../src/merkle/index.js';
import type { GovParams } from '../../src/governance/index.js';
import { LOOKUP_BATCH_MAX, type Store } from '../storage/store.js';
import { decodeBlock, entriesHashOf, entryBytes, type Block } from './block.js';
import type { CheckedEntry, EntryChecker } from './entries.js';
import type { Mempool } from './mempool.js';
import { failure, type PeerFailure } from './errors.js';
import { checkBlockGov, type GovTracker } from './governance.js';
import type { LedgerHead } from './ledger.js';

/** What the rules read of the ledger. */
export interface BlockRulesContext {
  /** The current head (read again after the awaits: the head may move meanwhile). */
  head(): LedgerHead;
  /** The compact range of the log at the head. */
  range(): CompactRange;
  paramsAt(height: number): GovParams;
  /** Number of validators of the set in force at `height`. */
  validatorCount(height: number): number;
  checker: EntryChecker;
  store: Store;
  gov: GovTracker | null | undefined;
  mempool: Mempool | null;
}

export type ValidatedBlock = { ok: true; block: Block; entries: CheckedEntry[]; appended: AppendResult; gov: Exclude<ReturnType<typeof checkBlockGov>, PeerFailure> | null };

/**
 * Every deterministic rule of a block at head+1 (no local clock: see Ledger.timely). mode
 * 'proposal': full checks (signatures, not logged yet). mode 'decided': the block carries a
 * verified commit certificate — structure, chain and root are still recomputed (never trust,
 * always verify what is cheap), signatures and "not logged" lookups are not, unless
 * `verifyEntries` (catch-up with syncVerifyClientSignatures): then each entry gets the full
 * check of a proposal's entries (schema, canonical form, client, signature).
 */
export async function validateBlockAt(c: BlockRulesContext, bytes: Uint8Array, mode: 'proposal' | 'decided', verifyEntries = false): Promise<ValidatedBlock | PeerFailure> {
  // Decoded within the structural caps (the parameter ranges' maxima), then held to the limits
  // in force at its height: a deterministic rule (the parameters of head + 1 are final), so
  // every peer, live or catching up, reaches the same verdict for every height.
  const d = decodeBlock(bytes);
  if (!d.ok) return d;
  const b = d.block;
  const h = b.header;
  const head = c.head();
  if (h.height !== head.height + 1) return failure('block_wrong_height', `block height ${h.height}, expected ${head.height + 1}`);
  const P = c.paramsAt(h.height);
  if (b.entries.length > P.maxBlockEntries) {
    return failure('block_too_many_entries', `block has ${b.entries.length} entries, more than maxBlockEntries ${P.maxBlockEntries} in force at height ${h.height}`);
  }
  if (!bytesEqual(h.prevHash, head.blockHash)) return failure('block_wrong_prev', `prevHash does not match block ${head.height}`);
  const n = c.validatorCount(h.height);
  if (h.proposer >= n) return failure('block_bad_proposer', `proposer index ${h.proposer} outside the ${n} validators of height ${h.height}`);
  if (mode === 'proposal' && h.timeMs <= head.timeMs) {
    return failure('block_time_not_monotonic', `block time ${h.timeMs} is not after the previous block's ${head.timeMs}`);
  }
  let bodyBytes = 0;
  for (const e of b.entries) bodyBytes += entryBytes(e);
  if (bodyBytes > P.maxBlockBytes) return failure('block_too_large', `entries take ${bodyBytes} bytes, more than maxBlockBytes ${P.maxBlockBytes} in force at height ${h.height}`);
  const checker = c.checker;
  const entries: CheckedEntry[] = [];
  const seenHash = new Set<string>();
  const seenId = new Set<string>();
  for (let i = 0; i < b.entries.length; i++) {
    if (i > 0 && i % 256 === 0) await new Promise<void>((r) => setImmediate(r));
    const leaf = b.entries[i]!;
    // An entry pending in our mempool was fully checked on admission (schema, client,
    // signature); identical bytes are the same entry, so its checked form is reused.
    // The leaf hash is computed once here and handed down (checker, compact range, store).
    const lh = checker.leafHash(leaf);
    const pending = c.mempool?.getPending(toHex(lh));
    let e: CheckedEntry;
    if (pending !== undefined && bytesEqual(pending.leaf, leaf)) {
      e = pending;
    } else {
      const full = mode === 'proposal' || verifyEntries;
      const c = full ? checker.checkLeaf(leaf, { inBlock: true, leafHash: lh }) : checker.parseDecided(leaf, lh);
      if (!c.ok) return failure('block_bad_entry', `entry ${i}: ${c.code}: ${c.message}`);
      e = c.entry;
    }
    const hk = toHex(e.leafHash);
    const ik = `${e.client}/${e.id}`;
    if (seenHash.has(hk)) return failure('block_duplicate_entry', `entry ${i} appears twice in the block`);
    if (seenId.has(ik)) return failure('block_duplicate_id', `entry ${i} reuses (client, id) of an earlier entry in the block`);
    seenHash.add(hk);
    seenId.add(ik);
    if (mode === 'proposal' && Math.abs(e.timeMs - h.timeMs) > P.maxClockSkewMs) {
      return failure('block_entry_clock_skew', `entry ${i} time is more than maxClockSkewMs ${P.maxClockSkewMs} from the block time`);
    }
    entries.push(e);
  }
  if (!bytesEqual(entriesHashOf(entries.map((e) => e.leafHash)), h.entriesHash)) return failure('block_bad_entries_hash', 'entriesHash does not match the entries');
  const appended = appendLeafHashes(c.range(), entries.map((e) => e.leafHash));
  if (h.treeSize !== appended.state.size) return failure('block_bad_tree_size', `treeSize ${h.treeSize}, expected ${appended.state.size}`);
  if (!bytesEqual(h.root, rootOf(appended.state))) return failure('block_bad_root', 'root does not match the log after appending the entries (RFC 9162 MTH)');
  // Client authorization at this height and the block's governance records, applied in order.
  // Entries checked in full (catch-up with verifyEntries) get the per-entry authorization at the
  // block's own height too: inside a catch-up range the tracker still stands at the durable head.
  const gov = c.gov ? checkBlockGov(c.gov, entries, h.height, verifyEntries ? 'proposal' : mode) : null;
  if (gov !== null && !gov.ok) return gov;
  // Not logged yet: by leaf hash and by (client, id). Reads LevelDB, hence async; the reads
  // are batched into multi-gets (Store.lookupLogged). A decided block skips this:
  // its commit certificate shows q organizations (at least one honest) checked it, and the
  // lookups are the most expensive part of catch-up.
  if (mode === 'proposal') {
    const store = c.store;
    // Mempool invariant: a pending entry is neither logged nor reusing a logged (client, id)
    // (checked on admission, and removeLogged drops both kinds when a block is applied).
    const unknown = entries.map((e, i) => ({ e, i })).filter(({ e }) => c.mempool === null || !c.mempool.has(e.leafHash));
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
  if (c.head() !== head) return failure('block_wrong_height', 'the head moved during validation');
  return { ok: true, block: b, entries, appended, gov };
}
