// The verification the page runs itself, with the trust file the user pinned (never the peer's
// word): each check is named, so a failure says which one failed. Nothing is "verified" unless
// every check ran here and passed.
import type { EntryResponse } from '../../src/client/types.js';
import { bytesEqual, fromBase64, toHex } from '../../src/encoding/bytes.js';
import { entryLeaf, parseLeaf } from '../../src/entry/leaf.js';
import { verifyEntrySignature } from '../../src/entry/sign.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { leafHash } from '../../src/merkle/hash.js';
import type { TrustRoot } from '../../src/verifier/trust.js';
import { verifyCheckpoint, verifyConsistency } from '../../src/verifier/verify.js';
import { verifyInclusionResult } from '../../src/merkle/verify.js';
import type { StoredCheckpoint } from './store.js';

export interface Check {
  name: 'Checkpoint quorum' | 'Client signature' | 'Inclusion proof' | 'Entry bytes';
  ok: boolean;
  detail: string;
}

export interface EntryVerdict {
  verified: boolean;
  checks: Check[];
  /** The entry as the proven leaf bytes say (null when they do not parse). */
  entry: AuditEntry | null;
}

/** Verifies a final entry answer: quorum checkpoint, the displayed entry = logged bytes, client signature, inclusion. */
export function verifyEntry(trust: TrustRoot, r: EntryResponse): EntryVerdict {
  const checks: Check[] = [];
  if (r.status !== 'final' || typeof r.checkpoint !== 'string' || !Array.isArray(r.proof) || typeof r.index !== 'number') {
    return { verified: false, entry: null, checks: [{ name: 'Inclusion proof', ok: false, detail: `the entry is ${r.status}, not final: there is no proof to check yet` }] };
  }
  const cp = verifyCheckpoint(trust, r.checkpoint);
  checks.push(cp.ok ? { name: 'Checkpoint quorum', ok: true, detail: `size ${cp.size}, signed by ${cp.signers.join(', ')} (quorum ${trust.quorum} of ${trust.keys.length})` } : { name: 'Checkpoint quorum', ok: false, detail: `${cp.message} (${cp.code})` });
  const leaf = typeof r.leaf === 'string' ? fromBase64(r.leaf) : null;
  let entry: AuditEntry | null = null;
  if (leaf === null) {
    checks.push({ name: 'Entry bytes', ok: false, detail: 'the leaf is not canonical base64' });
  } else {
    const parsed = parseLeaf(leaf);
    if (!parsed.ok) {
      checks.push({ name: 'Entry bytes', ok: false, detail: `the logged bytes are not a valid signed entry: ${parsed.errors[0]?.message ?? 'invalid'}` });
    } else {
      entry = parsed.entry;
      let same = false;
      try {
        same = bytesEqual(entryLeaf(r.entry), leaf);
      } catch {
        same = false;
      }
      checks.push(same ? { name: 'Entry bytes', ok: true, detail: 'the entry shown is exactly the logged leaf (JCS bytes)' } : { name: 'Entry bytes', ok: false, detail: 'the entry the peer shows differs from the logged leaf bytes' });
      const sigOk = verifyEntrySignature(parsed.entry, nobleVerifier);
      checks.push({ name: 'Client signature', ok: sigOk, detail: sigOk ? `Ed25519 signature of client ${parsed.entry.client.slice(0, 16)}… verifies` : 'the client signature does not verify over these bytes' });
    }
  }
  if (cp.ok && leaf !== null) {
    const proof = r.proof.map((b) => fromBase64(b));
    if (proof.some((h) => h === null)) {
      checks.push({ name: 'Inclusion proof', ok: false, detail: 'a proof hash is not canonical base64' });
    } else {
      const lh = leafHash(leaf);
      const inc = verifyInclusionResult(lh, r.index, cp.size, proof as Uint8Array[], cp.root);
      if (!inc.ok) checks.push({ name: 'Inclusion proof', ok: false, detail: `index ${r.index} does not lead to the checkpoint's root: ${inc.message}` });
      else if (toHex(lh) !== r.leafHash) checks.push({ name: 'Inclusion proof', ok: false, detail: 'the stated leaf hash is not the hash of the leaf' });
      else checks.push({ name: 'Inclusion proof', ok: true, detail: `leaf ${r.index} of ${cp.size}, RFC 9162 audit path of ${proof.length} hashes` });
    }
  } else {
    checks.push({ name: 'Inclusion proof', ok: false, detail: cp.ok ? 'no leaf bytes to prove' : 'not checked: the checkpoint itself did not verify' });
  }
  return { verified: checks.every((c) => c.ok), checks, entry };
}

export type MemoryVerdict =
  | { kind: 'first'; size: number }
  | { kind: 'same'; size: number }
  | { kind: 'extended'; from: number; to: number }
  | { kind: 'rollback' | 'fork'; stored: StoredCheckpoint; served: string; message: string }
  | { kind: 'unchecked'; message: string };

/**
 * Compares a freshly verified checkpoint with the one this browser stored on an earlier visit. A
 * smaller tree is a rollback; the same size with another root, or a consistency proof that fails,
 * is a fork. `consistency` fetches the RFC 9162 proof between two sizes from the peer (the proof is
 * checked here, so the peer cannot lie about it).
 */
export async function compareWithStored(
  trust: TrustRoot,
  stored: StoredCheckpoint | undefined,
  servedNote: string,
  consistency: (from: number, to: number) => Promise<Uint8Array[]>,
): Promise<MemoryVerdict> {
  const cp = verifyCheckpoint(trust, servedNote);
  if (!cp.ok) return { kind: 'unchecked', message: `the served checkpoint does not verify: ${cp.message}` };
  if (stored === undefined) return { kind: 'first', size: cp.size };
  const rootHex = toHex(cp.root);
  if (cp.size < stored.size) {
    return { kind: 'rollback', stored, served: servedNote, message: `the peer serves a tree of ${cp.size} entries; this browser already verified ${stored.size}` };
  }
  if (cp.size === stored.size) {
    if (rootHex === stored.rootHex) return { kind: 'same', size: cp.size };
    return { kind: 'fork', stored, served: servedNote, message: `two different quorum-signed roots for size ${cp.size}` };
  }
  if (stored.size === 0) return { kind: 'extended', from: 0, to: cp.size };
  let proof: Uint8Array[];
  try {
    proof = await consistency(stored.size, cp.size);
  } catch (e) {
    return { kind: 'unchecked', message: `no consistency proof from ${stored.size} to ${cp.size}: ${(e as Error).message}` };
  }
  const v = verifyConsistency(trust, { old: stored.note, new: servedNote, proof });
  if (!v.ok) return { kind: 'fork', stored, served: servedNote, message: `the new checkpoint is not an extension of the stored one: ${v.message} (${v.code})` };
  return { kind: 'extended', from: stored.size, to: cp.size };
}

/** What to store after a verified checkpoint. */
export function toStored(trust: TrustRoot, note: string, now: number): StoredCheckpoint | null {
  const cp = verifyCheckpoint(trust, note);
  return cp.ok ? { note, size: cp.size, rootHex: toHex(cp.root), seenAt: now } : null;
}
