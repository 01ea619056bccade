// Entry admission checks shared by the mempool (client submissions, gossip) and the block
// validator: schema (src/entry), authorized and vetted client key (genesis), client signature
// (libsodium when it loads, else node:crypto — both give OpenSSL's verdict on every input, because
// Ed25519 libraries disagree on adversarial signatures and peers must all accept or all reject an entry).
//
// Signature verdicts are cached by leaf hash (bounded), so an entry verified when it entered the
// mempool is not verified again when it arrives inside a proposed block.
import { createHash } from 'node:crypto';
import { validateEntry, parseLeaf, entryLeaf, verifyEntrySignature } from '../../src/entry/index.js';
import type { AuditEntry, EntryError } from '../../src/entry/types.js';
import { peerVerifier } from '../crypto/peer-verifier.js';
import { toHex } from '../../src/encoding/bytes.js';
import type { Genesis } from './genesis.js';
import type { SubmitCode } from './mempool.js';
import { govRecordFromEntry, isGovEntry, type ParsedGovRecord } from '../../src/governance/index.js';
import type { GovTracker } from './governance.js';

/** Most signature verdicts remembered (leaf hash -> valid). */
export const SIGNATURE_CACHE_ENTRIES_MAX = 200_000;

export interface CheckedEntry {
  leaf: Uint8Array;
  leafHash: Uint8Array;
  /** Client public key, 64 lowercase hex. */
  client: string;
  id: string;
  timeMs: number;
  /** The governance record the entry carries (action under `cairn.gov.`), parsed. */
  gov?: ParsedGovRecord;
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
   */
  checkLeaf(leaf: Uint8Array, opts?: { inBlock?: boolean }): EntryCheck;
  /**
   * Schema and canonical form only, no signature and no authorization check: for blocks that
   * come with a commit certificate (q organizations already checked everything; catch-up).
   */
  parseDecided(leaf: Uint8Array): EntryCheck;
  /** RFC 9162 leaf hash SHA-256(0x00 ‖ leaf) (node:crypto fast path; same bytes as src/merkle leafHash). */
  leafHash(leaf: Uint8Array): Uint8Array;
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

/** Bounded map of signature verdicts, oldest evicted first. */
export class VerdictCache {
  private readonly map = new Map<string, boolean>();
  constructor(private readonly max = SIGNATURE_CACHE_ENTRIES_MAX) {}
  get(key: string): boolean | undefined {
    return this.map.get(key);
  }
  set(key: string, v: boolean): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, v);
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * `gov`: the peer's governance state. With it, a client is authorized by the state for the next
 * block (granted and not revoked: `client_revoked` otherwise), and an entry under `cairn.gov.`
 * must carry a record that parses (its gov_* parse code otherwise) and, on admission, that the
 * next block would accept (its gov_* rejection code otherwise). Without it: the genesis clients.
 */
export function createEntryChecker(genesis: Genesis, cache = new VerdictCache(), gov: GovTracker | null = null): EntryChecker & { cache: VerdictCache } {
  const finish = (entry: AuditEntry, leaf: Uint8Array, inBlock = false): EntryCheck => {
    if (gov === null) {
      if (genesis.clients.get(entry.client) === undefined) {
        return { ok: false, code: 'unknown_client', message: `client key ${entry.client} is not authorized in the genesis`, field: 'client' };
      }
    } else {
      const refused = gov.clientRefusal(entry.client);
      if (refused !== null) return { ok: false, ...refused, field: 'client' };
    }
    // Cheap parse of the record before the entry signature (checks run cheapest first).
    let parsedGov: ParsedGovRecord | undefined;
    if (gov !== null && isGovEntry(entry)) {
      const g = govRecordFromEntry(entry);
      if (!g.ok) return { ok: false, code: g.code, message: g.message, field: 'data' };
      parsedGov = g.parsed;
    }
    const leafHash = fastLeafHash(leaf);
    const key = toHex(leafHash);
    let good = cache.get(key);
    if (good === undefined) {
      good = verifyEntrySignature(entry, peerVerifier);
      cache.set(key, good);
    }
    if (!good) return { ok: false, code: 'bad_signature', message: 'entry signature does not verify with the client key', field: 'sig' };
    const timeMs = Date.parse(entry.time);
    if (!Number.isFinite(timeMs)) return { ok: false, code: 'malformed', message: 'entry time is not a valid RFC 3339 time', field: 'time' };
    if (parsedGov !== undefined && !inBlock) {
      const refused = gov!.recordRefusal(parsedGov);
      if (refused !== null) return { ok: false, code: refused.code, message: refused.message, field: 'data' };
    }
    return { ok: true, entry: { leaf, leafHash, client: entry.client, id: entry.id, timeMs, ...(parsedGov !== undefined ? { gov: parsedGov } : {}) } };
  };
  return {
    cache,
    leafHash: fastLeafHash,
    checkInput(input: unknown): EntryCheck {
      let r;
      try {
        r = validateEntry(input);
      } catch (e) {
        // validateEntry must never throw; if it does, the entry is refused, never the peer.
        return { ok: false, code: 'malformed', message: `entry rejected: ${(e as Error).message}` };
      }
      if (!r.ok) return fromEntryErrors(r.errors);
      return finish(r.entry, entryLeaf(r.entry));
    },
    checkLeaf(leaf: Uint8Array, opts?: { inBlock?: boolean }): EntryCheck {
      let r;
      try {
        r = parseLeaf(leaf);
      } catch (e) {
        return { ok: false, code: 'malformed', message: `leaf rejected: ${(e as Error).message}` };
      }
      if (!r.ok) return fromEntryErrors(r.errors);
      return finish(r.entry, leaf, opts?.inBlock === true);
    },
    parseDecided(leaf: Uint8Array): EntryCheck {
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
      return { ok: true, entry: { leaf, leafHash: fastLeafHash(leaf), client: o.client, id: o.id, timeMs: Date.parse(o.time), ...(parsedGov !== undefined ? { gov: parsedGov } : {}) } };
    },
  };
}
