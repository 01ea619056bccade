// Checkpoints of decided heads: our signature, the others' (gossiped, each verified), and the
// final checkpoint once a quorum signed (split from ledger.ts, which delegates here).
//
// - Signatures are ONLY made for decided blocks (a signed undecided head could become final on a
//   branch consensus never took). A received signature is relayed or kept only once verified
//   against a body we know; see checkShape.
// - Per tree size, the signing set is the one in force at the height whose block produced that
//   size (validator-sets.ts): signature lines must be from that set's organizations with their
//   keys of that set, and the checkpoint is final with that set's quorum. We sign with OUR key of
//   that set, so after a key rotation comes in force the old key signs nothing.
import { timeline, timelineOn } from '../timeline/recorder.js';
import { bytesEqual, toHex, utf8 } from '../../src/encoding/bytes.js';
// Org signatures through the peer's verifier: libsodium with OpenSSL's verdicts on every input (node/crypto/sodium.ts).
import { peerVerifier as nodeVerifier } from '../crypto/peer-verifier.js';
import { treeHash } from '../../src/merkle/index.js';
import { formatCheckpoint, parseCheckpoint, verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { formatNote, parseNote, signText, type NoteSignature } from '../../src/checkpoint/note.js';
import type { Store } from '../storage/store.js';
import { encodeCheckpointSig, decodeCheckpointSig } from './checkpoint-sig.js';
import { OneSignatureNotes } from './checkpoint-notes.js';
import { failure, type PeerFailure } from './errors.js';
import { ValidatorSets, type SetView } from './validator-sets.js';

/** Tree sizes for which signatures are being collected at once (older ones are dropped). */
export const COLLECTING_SIZES_MAX = 64;
/**
 * Signatures for tree sizes beyond our head cannot be verified yet (we do not know the root).
 * They are kept, unverified, only in a store bounded per sender (the peer that delivered them,
 * so a Byzantine peer can only crowd out its own), only within this many blocks' worth of
 * entries ahead, and are verified when we reach the size; a dropped one is re-sent by its
 * signer (finality repair) or comes with a final checkpoint.
 */
export const EARLY_SIGNATURES_BLOCKS_AHEAD = 16;
export const EARLY_SIGNATURES_PER_SENDER_MAX = 16;
/** Senders tracked in the early store (validator peers only reach us; this bounds the map anyway). */
export const EARLY_SIGNATURE_SENDERS_MAX = 64;
/** Checkpoint bodies of recently applied heads, so signatures for them verify synchronously. */
const RECENT_BODIES_MAX = COLLECTING_SIZES_MAX;
export { NOTE_DELAY_MS } from './checkpoint-notes.js';
/** Signature lines the topic validator verified and the handler has not seen yet (see receive). */
const VERIFIED_LINES_MAX = 256;

export interface CheckpointHead {
  height: number;
  treeSize: number;
  root: Uint8Array;
}

export interface CheckpointStats {
  checkpointsFinal: number;
  sigsAccepted: number;
  sigsRejected: number;
  sigsEarlyDropped: number;
}

export interface CheckpointHost {
  origin: string;
  store: Store;
  sets: ValidatorSets;
  head(): CheckpointHead;
  now(): number;
  /** Block entry limit (sizes the early-signature window). */
  maxBlockEntries(): number;
  publish?: (bytes: Uint8Array) => void;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** A new final checkpoint was stored. */
  onFinal(size: number, note: Uint8Array): void;
  /**
   * The final note's synced write failed, whichever signature completed the quorum (ours, a
   * received line, an adopted note): the store cannot keep what finality needs; the owner halts.
   */
  onStoreFailed?(error: Error): void;
  stats: CheckpointStats;
}

interface Collecting {
  text: string;
  view: SetView;
  sigs: Map<string, NoteSignature>;
}

export class Checkpoints {
  final = 0;
  private readonly collecting = new Map<number, Collecting>();
  /** Unverified signature lines for sizes beyond our head: sender peer -> (size, line), oldest first. */
  private readonly early = new Map<string, { size: number; sig: NoteSignature }[]>();
  /** Checkpoint body text of recently applied heads by tree size (insertion order = age). */
  private readonly bodies = new Map<number, string>();
  /** First height of each validator set after the genesis one -> tree size after the block before it. */
  private readonly boundaries = new Map<number, number>();
  /** Our one-signature notes, written only if their size is not final NOTE_DELAY_MS later. */
  private readonly notes: OneSignatureNotes;
  private closed = false;
  /** The synced final write in flight: a later line for the same size waits for it instead. */
  private finalizing: { size: number; done: Promise<void> } | null = null;
  /** Lines checkShape verified (key: lineKey), so the handler that follows does not verify them again. */
  private readonly verified = new Set<string>();

  constructor(private readonly h: CheckpointHost) {
    this.notes = new OneSignatureNotes(h, () => this.final, COLLECTING_SIZES_MAX);
  }

  /** Records that the set starting at `fromHeight` signs sizes above `afterSize`. */
  setBoundary(fromHeight: number, afterSize: number): void {
    this.boundaries.set(fromHeight, afterSize);
  }

  /**
   * The set that signs the checkpoint of `size`: the one in force at the height whose block
   * produced that size. Beyond our head (unknown height): the set of the next height, the best
   * knowledge (such signatures are verified again once we get there).
   */
  viewForSize(size: number): SetView {
    const views = this.h.sets.views();
    const next = this.h.head().height + 1;
    for (let i = views.length - 1; i > 0; i--) {
      const v = views[i]!;
      if (v.fromHeight > next) continue;
      const after = this.boundaries.get(v.fromHeight);
      // Reached sets always have their boundary (set when the block before them was applied).
      if (after === undefined || size > after) return v;
    }
    return views[0]!;
  }

  private text(size: number, root: Uint8Array): string {
    return formatCheckpoint({ origin: this.h.origin, size, root });
  }

  /**
   * Signs the checkpoint of the current head (a decided block, already durable) and gossips the
   * signature line and counts it towards the quorum. Our one-signature note is kept only when the
   * checkpoint is not final NOTE_DELAY_MS later (checkpoint-notes.ts), and nothing waits for that
   * write: the line depends only on the applied block. The final note itself is written, synced,
   * before anyone hears of it.
   */
  async signHead(): Promise<void> {
    const head = this.h.head();
    const size = head.treeSize;
    if (size <= this.final || size === 0) return;
    const self = this.viewForSize(size).self;
    if (self === null) return;
    const text = this.text(size, head.root);
    const sig = signText(text, { name: self.name, signer: self.signer });
    if (timelineOn) timeline('checkpoint.sign', `size=${size}`);
    this.h.publish?.(encodeCheckpointSig(size, sig, this.h.now()));
    await this.addSignature(size, text, sig);
    if (size > this.final) this.notes.defer(size, utf8(formatNote({ text, signatures: [sig] })));
  }

  /** Before the store closes: no deferred note is written any more (they are local copies only). */
  async close(): Promise<void> {
    this.closed = true;
    await this.notes.close();
  }

  /** Re-sends our signature of the head (with a new timestamp so gossip does not deduplicate it). */
  republishHeadSignature(): void {
    const head = this.h.head();
    if (head.treeSize === 0) return;
    const self = this.viewForSize(head.treeSize).self;
    if (self === null) return;
    const sig = signText(this.text(head.treeSize, head.root), { name: self.name, signer: self.signer });
    this.h.publish?.(encodeCheckpointSig(head.treeSize, sig, this.h.now()));
  }

  async onMessage(data: Uint8Array): Promise<'accept' | 'reject' | 'ignore'> {
    const m = decodeCheckpointSig(data);
    if (!m.ok) return 'reject';
    return this.receive(m.size, m.sig);
  }

  /**
   * Gossip topic validator (synchronous). Only a signature verified against a checkpoint body we
   * know (our head, a size being collected, a recently applied head) is accepted, i.e. handed
   * to the handler and relayed. One for a size we cannot check is ignored, never rejected: an
   * honest peer at another head may have relayed it, and a 'reject' would cost that peer gossip
   * score until it is graylisted. A size ahead of ours goes, unverified, to the bounded early
   * store of `from` (the peer that delivered it) and is verified when we get there.
   */
  checkShape(data: Uint8Array, from = ''): 'accept' | 'reject' | 'ignore' {
    const m = decodeCheckpointSig(data);
    if (!m.ok) return 'reject';
    const ahead = m.size > this.h.head().treeSize;
    const v = this.signerOf(m.size, m.sig, ahead);
    if (v === 'unknown') return 'reject';
    if (v === 'unjudged') return 'ignore';
    if (m.size <= this.final) return 'ignore';
    const text = this.bodyOf(m.size);
    if (text === null) {
      if (ahead) this.keepEarly(from, m.size, m.sig);
      return 'ignore';
    }
    if (v === 'later') return 'ignore';
    // Same body, same key: an honest peer accepts exactly what we accept, so a signature that
    // fails here was made up by whoever sent it.
    if (!nodeVerifier.verify(v.key.publicKey, utf8(text), m.sig.signature)) {
      this.h.stats.sigsRejected++;
      return 'reject';
    }
    // The handler gets this line next ('accept'): it need not verify it again. Bounded: a line
    // whose handler never runs is forgotten oldest first.
    this.verified.add(lineKey(m.size, v.key.publicKey, m.sig));
    if (this.verified.size > VERIFIED_LINES_MAX) this.verified.delete(this.verified.values().next().value!);
    return 'accept';
  }

  /**
   * The organization (with its key of the size's set) that made `sig`: 'unknown' when no set
   * can have made it. For a size beyond our head the set is our best knowledge, which a change
   * we have not applied yet may prove wrong: a signer of another set we know is 'later' (kept,
   * judged once we reach the size); once changes are on record, a signer of no set we know is
   * 'unjudged' there (a change we have not seen may have added it: ignored, not refused).
   */
  private signerOf(size: number, sig: NoteSignature, ahead: boolean): SetView['orgs'][number] | 'unknown' | 'later' | 'unjudged' {
    const v = ValidatorSets.member(this.viewForSize(size), sig.name, sig.keyId);
    if (v !== null) return v;
    const views = this.h.sets.views();
    if (!ahead || views.length === 1) return 'unknown';
    return views.some((x) => ValidatorSets.member(x, sig.name, sig.keyId) !== null) ? 'later' : 'unjudged';
  }

  /** Unverified early signatures held (all senders). */
  pendingSignatures(): number {
    let k = 0;
    for (const l of this.early.values()) k += l.length;
    return k;
  }

  /** The checkpoint body at `size` when it is at hand synchronously, else null. */
  private bodyOf(size: number): string | null {
    const c = this.collecting.get(size);
    if (c !== undefined) return c.text;
    const head = this.h.head();
    if (size === head.treeSize && size > 0) return this.text(size, head.root);
    return this.bodies.get(size) ?? null;
  }

  private keepEarly(from: string, size: number, sig: NoteSignature): void {
    const ahead = EARLY_SIGNATURES_BLOCKS_AHEAD * this.h.maxBlockEntries();
    let list = this.early.get(from);
    // Beyond the window, over the sender's share, or a new sender past the cap: dropped, never
    // evicting what is kept (the kept ones are the nearest sizes, needed first).
    if (size > this.h.head().treeSize + ahead || (list === undefined && this.early.size >= EARLY_SIGNATURE_SENDERS_MAX) || (list?.length ?? 0) >= EARLY_SIGNATURES_PER_SENDER_MAX) {
      this.h.stats.sigsEarlyDropped++;
      return;
    }
    if (list === undefined) this.early.set(from, (list = []));
    if (!list.some((e) => e.size === size && bytesEqual(e.sig.signature, sig.signature))) list.push({ size, sig });
  }

  /** A new head: remember its body, then verify the early signatures it makes checkable. */
  onHeadApplied(info: { treeSize: number; root: Uint8Array }): void {
    const text = this.text(info.treeSize, info.root);
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
      // Now the size's height is known: its own set decides.
      const v = ValidatorSets.member(this.viewForSize(e.size), e.sig.name, e.sig.keyId);
      if (body === null || v === null) continue;
      if (!nodeVerifier.verify(v.key.publicKey, utf8(body), e.sig.signature)) {
        this.h.stats.sigsRejected++;
        continue;
      }
      this.h.stats.sigsAccepted++;
      this.addSignature(e.size, body, e.sig).catch((err: Error) => this.h.log?.('warn', 'early checkpoint signature failed', { error: err.message }));
    }
  }

  private async receive(size: number, sig: NoteSignature): Promise<'accept' | 'reject' | 'ignore'> {
    const ahead = size > this.h.head().treeSize;
    const v = this.signerOf(size, sig, ahead);
    if (v === 'unknown') return 'reject';
    if (size <= this.final) return 'ignore';
    // Beyond our head the body is unknown: the gossip validator keeps such signatures (bounded).
    if (ahead || v === 'later' || v === 'unjudged') return 'ignore';
    const text = this.bodyOf(size) ?? this.text(size, await treeHash(this.h.store, size));
    // Verified by checkShape against the same body (a size's body is fixed: origin, size, our
    // root at that size) with the same key, just before: counted without a second verification.
    if (!this.verified.delete(lineKey(size, v.key.publicKey, sig)) && !nodeVerifier.verify(v.key.publicKey, utf8(text), sig.signature)) {
      this.h.stats.sigsRejected++;
      return 'reject';
    }
    this.h.stats.sigsAccepted++;
    await this.addSignature(size, text, sig);
    return 'accept';
  }

  private async addSignature(size: number, text: string, sig: NoteSignature): Promise<void> {
    if (size <= this.final) return;
    let c = this.collecting.get(size);
    if (c === undefined) {
      c = { text, view: this.viewForSize(size), sigs: new Map() };
      this.collecting.set(size, c);
      if (this.collecting.size > COLLECTING_SIZES_MAX) {
        const smallest = Math.min(...this.collecting.keys());
        this.collecting.delete(smallest);
      }
    }
    c.sigs.set(sig.name, sig);
    if (c.sigs.size >= c.view.quorum && size > this.final) {
      // Signature lines in validator order, so every peer stores the same bytes for the same set.
      const order = c.view.orgs.map((x) => x.name);
      const sigs = [...c.sigs.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
      const note = utf8(formatNote({ text: c.text, signatures: sigs }));
      await this.markFinal(size, note);
    }
  }

  /**
   * Stores the final note (synced) before anyone hears of it. Lines that arrive while that write
   * is in flight (the quorum's last ones) wait for it instead of writing the same size again: one
   * fsync per final checkpoint, so the next height's synced writes do not queue behind a copy.
   */
  private async markFinal(size: number, note: Uint8Array): Promise<void> {
    if (size <= this.final) return;
    // Only the same size: a smaller one still gets its own final record (lookups by size use them).
    const f = this.finalizing;
    if (f !== null && f.size === size) return f.done;
    const done = this.h.store.putCheckpoint(size, note, true);
    this.finalizing = { size, done };
    try {
      await done;
    } catch (e) {
      // Reported once, by the writer (lines waiting on the same write only see the rejection).
      if (!this.closed) this.h.onStoreFailed?.(e as Error);
      throw e;
    } finally {
      if (this.finalizing?.done === done) this.finalizing = null;
    }
    if (size <= this.final) return;
    this.final = size;
    for (const s of [...this.collecting.keys()]) if (s <= size) this.collecting.delete(s);
    this.h.stats.checkpointsFinal++;
    if (timelineOn) timeline('checkpoint.final', `size=${size}`);
    this.h.onFinal(size, note);
  }

  /**
   * Adopts a final checkpoint obtained from another peer (catch-up, missed signature gossip):
   * verified with the quorum of the set that signs its size, and its root must equal OUR root
   * at that size.
   */
  async adopt(note: Uint8Array): Promise<{ ok: true; size: number } | PeerFailure> {
    // The size picks the signing set, so it is read first (cheap) and checked against our tree.
    const n = parseNote(note);
    const cp = n.ok ? parseCheckpoint(n.note.text) : null;
    const head = this.h.head();
    if (cp !== null && cp.ok && cp.checkpoint.size > head.treeSize) {
      return failure('checkpoint_ahead', `checkpoint size ${cp.checkpoint.size} is beyond our tree size ${head.treeSize}`);
    }
    const view = cp !== null && cp.ok ? this.viewForSize(cp.checkpoint.size) : this.viewForSize(head.treeSize);
    const v = verifyCheckpointQuorum(note, { origin: this.h.origin, keys: view.orgs.map((x) => x.key), quorum: view.quorum }, nodeVerifier);
    if (!v.ok) return failure(v.code, v.message);
    const size = v.checkpoint.size;
    if (size <= this.final) return { ok: true, size };
    const root = size === head.treeSize ? head.root : await treeHash(this.h.store, size);
    if (!bytesEqual(root, v.checkpoint.root)) return failure('checkpoint_fork', `final checkpoint root at size ${size} differs from our log: the logs diverged`);
    await this.markFinal(size, note);
    return { ok: true, size };
  }
}

/** Identity of a verified signature line: the size (its body), the key and the signature bytes. */
function lineKey(size: number, publicKey: Uint8Array, sig: NoteSignature): string {
  return `${size}:${toHex(publicKey)}:${toHex(sig.signature)}`;
}
