// The trust file, version 2: the version 1 root (origin, quorum, keys: the genesis organizations)
// plus the organization sets the auditor has since accepted through updateTrustChain:
//
//   {
//     "version": 2,
//     "origin": "cairn.example/devnet",
//     "quorum": 3,
//     "keys": ["org1.example+...", "org2.example+...", "org3.example+...", "org4.example+..."],
//     "epochs": [
//       { "afterSize": 1200, "quorum": 4, "keys": ["org1.example+...", ..., "org5.example+..."], "record": "<64 hex>" }
//     ]
//   }
//
// A file without "version" is version 1 and still parses (a chain with only the root). The file
// is the auditor's own state, like the root itself: its epochs are trusted as written, so it must
// only be written by `updateTrustChain` (cairn trust update), never edited by hand.
import { fail, type Failure } from '../checkpoint/result.js';
import { TRUST_EPOCHS_MAX, type TrustChain, type TrustEpoch } from './chain.js';
import { checkTrustSet, formatTrustFile, readTrustJson, TRUST_FILE_BYTES_MAX, trustFromObject, unknownTrustField, type TrustErrorCode } from './trust.js';

export const TRUST_CHAIN_VERSION = 2;
/** Largest version 2 trust file, in bytes (TRUST_EPOCHS_MAX sets of up to 100 keys would not fit:
 *  a chain that grows past this is exported again from its newest set). */
export const TRUST_CHAIN_BYTES_MAX = 8 * 1024 * 1024;

export type TrustChainErrorCode = TrustErrorCode | 'trust_bad_version' | 'trust_bad_epochs' | 'trust_too_many_epochs';

const V2_FIELDS = ['version', 'origin', 'quorum', 'keys', 'epochs'];
const EPOCH_FIELDS = ['afterSize', 'quorum', 'keys', 'record'];

/** Parses a trust file of version 1 or 2 into a chain. Never throws. */
export function parseTrustChainFile(input: string | Uint8Array): { ok: true; chain: TrustChain } | Failure<TrustChainErrorCode> {
  const r = readTrustJson(input, TRUST_CHAIN_BYTES_MAX, 'TRUST_CHAIN_BYTES_MAX');
  if (!r.ok) return r;
  const obj = r.obj;
  if (!('version' in obj)) {
    // Version 1 keeps its own, smaller bound.
    if (r.bytes > TRUST_FILE_BYTES_MAX) return fail('trust_too_large', `trust file larger than ${TRUST_FILE_BYTES_MAX} bytes (TRUST_FILE_BYTES_MAX)`);
    const v1 = trustFromObject(obj);
    if (!v1.ok) return v1;
    return { ok: true, chain: { origin: v1.trust.origin, epochs: [{ afterSize: -1, keys: v1.trust.keys, quorum: v1.trust.quorum }] } };
  }
  if (obj.version !== TRUST_CHAIN_VERSION) return fail('trust_bad_version', `"version" must be ${TRUST_CHAIN_VERSION} (or absent for version 1)`);
  const unknown = unknownTrustField(obj, V2_FIELDS);
  if (unknown) return unknown;
  // Each set (root and epochs) is checked by the version 1 rules: vetted keys, no duplicates,
  // floor(2n/3)+1 <= quorum <= n.
  const root = checkTrustSet(obj.origin, obj.quorum, obj.keys);
  if (!root.ok) return root;
  const epochs: TrustEpoch[] = [{ afterSize: -1, keys: root.trust.keys, quorum: root.trust.quorum }];
  if (!Array.isArray(obj.epochs)) return fail('trust_bad_epochs', '"epochs" must be an array');
  if (obj.epochs.length >= TRUST_EPOCHS_MAX) return fail('trust_too_many_epochs', `more than ${TRUST_EPOCHS_MAX - 1} epochs (TRUST_EPOCHS_MAX)`);
  for (let i = 0; i < obj.epochs.length; i++) {
    const e: unknown = obj.epochs[i];
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return fail('trust_bad_epochs', `epochs[${i}] must be an object`);
    const eo = e as Record<string, unknown>;
    const extra = unknownTrustField(eo, EPOCH_FIELDS, `epochs[${i}]: `);
    if (extra) return extra;
    const prev = epochs[epochs.length - 1]!.afterSize;
    if (typeof eo.afterSize !== 'number' || !Number.isSafeInteger(eo.afterSize) || eo.afterSize <= prev) {
      return fail('trust_bad_epochs', `epochs[${i}].afterSize must be an integer greater than the previous one (${prev})`);
    }
    if (typeof eo.record !== 'string' || !/^[0-9a-f]{64}$/.test(eo.record)) return fail('trust_bad_epochs', `epochs[${i}].record must be 64 lowercase hex digits`);
    const set = checkTrustSet(root.trust.origin, eo.quorum, eo.keys);
    if (!set.ok) return { ...set, message: `epochs[${i}]: ${set.message}` };
    epochs.push({ afterSize: eo.afterSize, keys: set.trust.keys, quorum: set.trust.quorum, record: eo.record });
  }
  return { ok: true, chain: { origin: root.trust.origin, epochs } };
}

/** Writes a chain: version 1 when it holds only the root (unchanged for existing tools), else version 2. */
export function formatTrustChainFile(chain: TrustChain): string {
  const root = chain.epochs[0]!;
  if (chain.epochs.length === 1) return formatTrustFile({ origin: chain.origin, keys: root.keys, quorum: root.quorum });
  const doc = {
    version: TRUST_CHAIN_VERSION,
    origin: chain.origin,
    quorum: root.quorum,
    keys: root.keys.map((k) => k.text),
    epochs: chain.epochs.slice(1).map((e) => ({ afterSize: e.afterSize, quorum: e.quorum, keys: e.keys.map((k) => k.text), record: e.record })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
