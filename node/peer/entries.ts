// Entry admission checks shared by the mempool (client submissions, gossip) and the block
// validator: schema (src/entry), authorized and vetted client key (genesis), client signature
// (libsodium when it loads, else node:crypto — both give OpenSSL's verdict on every input, because
// Ed25519 libraries disagree on adversarial signatures and peers must all accept or all reject an entry).
//
// Each entry is canonicalized once on this peer: validation yields its JCS text, and the leaf, the
// leaf hash and the signed message derive from it (src/entry/canonical.ts). What this peer found
// (schema valid and canonical, client, id, time, signature verdict) is remembered by leaf hash in a
// bounded cache, so the same bytes seen again — an entry of a gossip batch checked by the topic
// validator and then by the handler, an entry of a proposal and then of the decided block — are
// neither parsed nor verified again. Only this peer's own findings are remembered, never another
// peer's claim. Checks that depend on the governance state (client authorization, governance
// records) and the time are made afresh every time, in the same order, so a verdict does not
// depend on whether the entry was remembered.
import { createHash } from 'node:crypto';
import { canonicalEntry, canonicalEntryFromLeaf, canonicalEntrySignature, parseLeaf, verifyCanonicalEntry, type CanonicalEntry, type CanonicalResult } from '../../src/entry/index.js';
import type { AuditEntry, EntryError } from '../../src/entry/types.js';
import { peerVerifier } from '../crypto/peer-verifier.js';
import { toHex } from '../../src/encoding/bytes.js';
import { fieldsOf, type SearchFields } from '../../src/search/fields.js';
import type { Genesis } from './genesis.js';
import type { SubmitCode } from './mempool.js';
import { govRecordFromEntry, isGovEntry, type ParsedGovRecord } from '../../src/governance/index.js';
import type { GovTracker } from './governance.js';
import type { VerifyJob, VerifyPool } from './verify-pool.js';

/** Most entries whose check results this peer remembers (a few seconds of entries at the maximum rate). */
export const CHECKED_CACHE_ENTRIES_MAX = 16_384;
/** Most bytes those results may take (estimated: a fixed size per result, plus the entry object kept for governance records). */
export const CHECKED_CACHE_BYTES_MAX = 8 * 1024 * 1024;
/** Estimated bytes of one remembered result besides a kept entry object: the hex key, the record and its strings (client, id, time), the map slot. */
const CHECKED_RESULT_BYTES = 384;

export interface CheckedEntry {
  leaf: Uint8Array;
  leafHash: Uint8Array;
  /** Client public key, 64 lowercase hex. */
  client: string;
  id: string;
  timeMs: number;
  /** The governance record the entry carries (action under `cairn.gov.`), parsed. */
  gov?: ParsedGovRecord;
  /**
   * The search fields of the leaf (src/search/fields.ts), when this check parsed the leaf anyway
   * (a decided block's light parse): the search index then takes them instead of parsing the
   * same bytes a second time.
   */
  fields?: SearchFields | null;
}

export interface EntryCheckFailure {
  ok: false;
  code: SubmitCode;
  message: string;
  field?: string;
}

export type EntryCheck = { ok: true; entry: CheckedEntry } | EntryCheckFailure;

export interface EntryChecker {
  /** A client submission (a JSON value). */
  checkInput(input: unknown): EntryCheck;
  /**
   * Leaf bytes from gossip or a block: must be the canonical JCS of a valid signed entry.
   * `inBlock`: a governance record is only parsed here; the block applies its records in order
   * (a record refused on its own may be valid after an earlier one of the same block).
   * `leafHash`: SHA-256(0x00 ‖ leaf) when the caller already computed it from these bytes.
   */
  checkLeaf(leaf: Uint8Array, opts?: { inBlock?: boolean; leafHash?: Uint8Array }): EntryCheck;
  /**
   * Schema and canonical form only, no signature and no authorization check: for blocks that
   * come with a commit certificate (q organizations already checked everything; catch-up).
   */
  parseDecided(leaf: Uint8Array, leafHash?: Uint8Array): EntryCheck;
  /** RFC 9162 leaf hash SHA-256(0x00 ‖ leaf) (node:crypto fast path; same bytes as src/merkle leafHash). */
  leafHash(leaf: Uint8Array): Uint8Array;
  /**
   * With a verify pool (peer config `verifyWorkers` > 0): canonicalizes these submissions and
   * verifies the signatures not checked here yet in worker threads, so the checkInput calls that
   * follow on the same input objects neither canonicalize nor verify again. Without a pool, or
   * when the pool refuses (queue full) or fails, it does nothing and checkInput verifies in-thread:
   * the verdict is the same either way. Absent without a pool (nothing to call or await).
   */
  preverifyInputs?(inputs: readonly unknown[]): Promise<void>;
  /** Closes the verify pool, if any (the peer's stop). */
  close?(): Promise<void>;
}

const LEAF_PREFIX = Buffer.from([0x00]);
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** SHA-256(0x00 ‖ leaf) via node:crypto (RFC 9162 §2.1.1). */
export function fastLeafHash(leaf: Uint8Array): Uint8Array {
  const h = createHash('sha256');
  h.update(LEAF_PREFIX);
  h.update(leaf);
  return new Uint8Array(h.digest());
}

function fromEntryErrors(errors: EntryError[]): EntryCheckFailure {
  const e = errors[0];
  if (e === undefined) return { ok: false, code: 'malformed', message: 'invalid entry' };
  const code: SubmitCode = e.code === 'leaf_too_large' ? 'too_large' : 'malformed';
  return { ok: false, code, message: errors.length > 1 ? `${e.message} (and ${errors.length - 1} more problems)` : e.message, field: e.field };
}

/** What checking an entry's bytes found on this peer, independent of the governance state. */
interface CheckedFacts {
  client: string;
  id: string;
  time: string;
  /** Kept only for entries under `cairn.gov.`: their record is parsed again against the state each time. */
  govEntry?: AuditEntry;
  /** This peer's signature verdict. */
  good: boolean;
}

/** Bounded map leaf hash (hex) -> CheckedFacts, by count and bytes, oldest evicted first. */
export class CheckedCache {
  private readonly map = new Map<string, { facts: CheckedFacts; bytes: number }>();
  private held = 0;
  constructor(
    private readonly maxEntries = CHECKED_CACHE_ENTRIES_MAX,
    private readonly maxBytes = CHECKED_CACHE_BYTES_MAX,
  ) {}
  get(key: string): CheckedFacts | undefined {
    return this.map.get(key)?.facts;
  }
  /** `leafBytes`: size of the entry, charged when its object is kept (governance records). */
  set(key: string, facts: CheckedFacts, leafBytes: number): void {
    if (this.map.has(key)) return;
    const bytes = CHECKED_RESULT_BYTES + (facts.govEntry !== undefined ? 2 * leafBytes : 0);
    if (bytes > this.maxBytes) return;
    for (const [k, v] of this.map) {
      if (this.map.size < this.maxEntries && this.held + bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.held -= v.bytes;
    }
    this.map.set(key, { facts, bytes });
    this.held += bytes;
  }
  get size(): number {
    return this.map.size;
  }
  get bytes(): number {
    return this.held;
  }
}

function factsOf(entry: AuditEntry, good: boolean): CheckedFacts {
  return { client: entry.client, id: entry.id, time: entry.time, good, ...(isGovEntry(entry) ? { govEntry: entry } : {}) };
}

/**
 * `gov`: the peer's governance state. With it, a client is authorized by the state for the next
 * block (granted and not revoked: `client_revoked` otherwise), and an entry under `cairn.gov.`
 * must carry a record that parses (its gov_* parse code otherwise) and, on admission, that the
 * next block would accept (its gov_* rejection code otherwise). Without it: the genesis clients.
 */
export function createEntryChecker(
  genesis: Genesis,
  cache = new CheckedCache(),
  gov: GovTracker | null = null,
  pool: VerifyPool | null = null,
): EntryChecker & { cache: CheckedCache; readonly poolFailures: number } {
  // Submissions canonicalized by preverifyInputs, by input object, until checkInput takes them
  // (the same call of the mempool's submit; a WeakMap so an input never checked is not kept).
  const prepared = new WeakMap<object, CanonicalResult>();
  /** Pool failures seen (the in-thread check took over). */
  let poolFailures = 0;
  /**
   * The checks after schema and canonical form, cheapest first: client authorization, governance
   * record parse, signature (verified once per leaf hash on this peer: `fresh` is the entry when
   * it has not been verified yet), time, governance record against the state.
   */
  /** Why `client` may not submit, or null. Checked before any signature (in-thread or in the pool). */
  const clientRefusal = (client: string): EntryCheckFailure | null => {
    if (gov === null) {
      if (genesis.clients.get(client) === undefined) {
        return { ok: false, code: 'unknown_client', message: `client key ${client} is not authorized in the genesis`, field: 'client' };
      }
      return null;
    }
    const refused = gov.clientRefusal(client);
    return refused !== null ? { ok: false, ...refused, field: 'client' } : null;
  };
  const finish = (leaf: Uint8Array, leafHash: Uint8Array, key: string, known: CheckedFacts | undefined, fresh: CanonicalEntry | undefined, inBlock: boolean): EntryCheck => {
    const client = known?.client ?? fresh!.entry.client;
    const refused = clientRefusal(client);
    if (refused !== null) return refused;
    // Cheap parse of the record before the entry signature (checks run cheapest first).
    let parsedGov: ParsedGovRecord | undefined;
    const govEntry = known !== undefined ? known.govEntry : isGovEntry(fresh!.entry) ? fresh!.entry : undefined;
    if (gov !== null && govEntry !== undefined) {
      const g = govRecordFromEntry(govEntry);
      if (!g.ok) return { ok: false, code: g.code, message: g.message, field: 'data' };
      parsedGov = g.parsed;
    }
    let facts = known;
    if (facts === undefined) {
      facts = factsOf(fresh!.entry, verifyCanonicalEntry(fresh!, peerVerifier));
      cache.set(key, facts, leaf.length);
    }
    if (!facts.good) return { ok: false, code: 'bad_signature', message: 'entry signature does not verify with the client key', field: 'sig' };
    const timeMs = Date.parse(facts.time);
    if (!Number.isFinite(timeMs)) return { ok: false, code: 'malformed', message: 'entry time is not a valid RFC 3339 time', field: 'time' };
    if (parsedGov !== undefined && !inBlock) {
      const refused = gov!.recordRefusal(parsedGov);
      if (refused !== null) return { ok: false, code: refused.code, message: refused.message, field: 'data' };
    }
    return { ok: true, entry: { leaf, leafHash, client: facts.client, id: facts.id, timeMs, ...(parsedGov !== undefined ? { gov: parsedGov } : {}) } };
  };
  /** preverifyInputs with the pool `p` (see EntryChecker). */
  const preverify = async (p: VerifyPool, inputs: readonly unknown[]): Promise<void> => {
    const fresh: { c: CanonicalEntry; key: string }[] = [];
    const jobs: VerifyJob[] = [];
    for (const input of inputs) {
      if (typeof input !== 'object' || input === null || prepared.has(input)) continue;
      let r: CanonicalResult;
      try {
        r = canonicalEntry(input, { hasher: fastLeafHash });
      } catch {
        continue; // checkInput refuses it with the error
      }
      prepared.set(input, r);
      if (!r.ok) continue;
      // A client checkInput refuses gets no signature check (nor a cache slot) from the pool either.
      if (clientRefusal(r.value.entry.client) !== null) continue;
      const key = toHex(r.value.leafHash);
      if (cache.get(key) !== undefined) continue;
      const job = canonicalEntrySignature(r.value);
      if (job === null) continue;
      fresh.push({ c: r.value, key });
      jobs.push(job);
    }
    if (jobs.length === 0) return;
    let verdicts: boolean[];
    try {
      verdicts = await p.verifyMany(jobs);
    } catch {
      poolFailures++;
      return;
    }
    fresh.forEach((f, i) => cache.set(f.key, factsOf(f.c.entry, verdicts[i] === true), f.c.leaf.length));
  };
  return {
    cache,
    leafHash: fastLeafHash,
    // Only with a pool: without one there is nothing to do, and no async call per submission.
    preverifyInputs: pool === null ? undefined : (inputs: readonly unknown[]) => preverify(pool, inputs),
    async close(): Promise<void> {
      await pool?.close();
    },
    get poolFailures(): number {
      return poolFailures;
    },
    checkInput(input: unknown): EntryCheck {
      let r = typeof input === 'object' && input !== null ? prepared.get(input) : undefined;
      if (r !== undefined) {
        prepared.delete(input as object);
      } else {
        try {
          r = canonicalEntry(input, { hasher: fastLeafHash });
        } catch (e) {
          // canonicalEntry must never throw; if it does, the entry is refused, never the peer.
          return { ok: false, code: 'malformed', message: `entry rejected: ${(e as Error).message}` };
        }
      }
      if (!r.ok) return fromEntryErrors(r.errors);
      const c = r.value;
      const key = toHex(c.leafHash);
      const known = cache.get(key);
      return finish(c.leaf, c.leafHash, key, known, known === undefined ? c : undefined, false);
    },
    checkLeaf(leaf: Uint8Array, opts?: { inBlock?: boolean; leafHash?: Uint8Array }): EntryCheck {
      if (!(leaf instanceof Uint8Array)) return { ok: false, code: 'malformed', message: 'a leaf must be bytes' };
      const leafHash = opts?.leafHash ?? fastLeafHash(leaf);
      const key = toHex(leafHash);
      const inBlock = opts?.inBlock === true;
      // Same bytes (same leaf hash) already checked here: schema and canonical form held.
      const known = cache.get(key);
      if (known !== undefined) return finish(leaf, leafHash, key, known, undefined, inBlock);
      let r;
      try {
        r = canonicalEntryFromLeaf(leaf, { leafHash });
      } catch (e) {
        return { ok: false, code: 'malformed', message: `leaf rejected: ${(e as Error).message}` };
      }
      if (!r.ok) return fromEntryErrors(r.errors);
      return finish(leaf, leafHash, key, undefined, r.value, inBlock);
    },
    parseDecided(leaf: Uint8Array, leafHashIn?: Uint8Array): EntryCheck {
      const leafHash = leafHashIn ?? fastLeafHash(leaf);
      // Checked on this peer already (as a proposal, or from gossip): nothing to parse, except a
      // governance record (below). A remembered bad signature changes nothing here.
      const known = cache.get(toHex(leafHash));
      if (known !== undefined && (gov === null || known.govEntry === undefined)) {
        return { ok: true, entry: { leaf, leafHash, client: known.client, id: known.id, timeMs: Date.parse(known.time) } };
      }
      // Light parse: a decided block's entries were fully checked (schema, canonical form,
      // signature) by at least one honest organization before it precommitted (q of n signed the
      // commit certificate). Here we only need (client, id, time) for the indexes. This is the
      // per-entry cost of catch-up, so it avoids re-validation and re-canonicalization.
      let j: unknown;
      try {
        j = JSON.parse(textDecoder.decode(leaf));
      } catch (e) {
        return { ok: false, code: 'malformed', message: `decided leaf is not JSON: ${(e as Error).message}` };
      }
      const o = j as { client?: unknown; id?: unknown; time?: unknown; action?: unknown };
      if (typeof j !== 'object' || j === null || typeof o.client !== 'string' || typeof o.id !== 'string' || typeof o.time !== 'string') {
        return { ok: false, code: 'malformed', message: 'decided leaf lacks client, id or time' };
      }
      // A governance record changes the state every later block is checked against, so it is
      // parsed in full even in a decided block (rare: the cost of catch-up is unchanged).
      let parsedGov: ParsedGovRecord | undefined;
      if (gov !== null && typeof o.action === 'string' && isGovEntry({ action: o.action })) {
        const p = parseLeaf(leaf);
        if (!p.ok) return fromEntryErrors(p.errors);
        const g = govRecordFromEntry(p.entry);
        if (!g.ok) return { ok: false, code: g.code, message: g.message, field: 'data' };
        parsedGov = g.parsed;
      }
      // fieldsOf parses `time` the same way (Date.parse), kept only when finite: not parsed twice.
      const fields = fieldsOf(j);
      const timeMs = fields?.timeMs ?? Date.parse(o.time);
      return { ok: true, entry: { leaf, leafHash, client: o.client, id: o.id, timeMs, fields, ...(parsedGov !== undefined ? { gov: parsedGov } : {}) } };
    },
  };
}
