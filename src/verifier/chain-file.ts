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
import { fromUtf8, utf8 } from '../encoding/bytes.js';
import { TRUST_EPOCHS_MAX, type TrustChain, type TrustEpoch } from './chain.js';
import { formatTrustFile, parseTrustFile, type TrustErrorCode } from './trust.js';

export const TRUST_CHAIN_VERSION = 2;
/** Largest version 2 trust file, in bytes (TRUST_EPOCHS_MAX sets of up to 100 keys would not fit:
 *  a chain that grows past this is exported again from its newest set). */
export const TRUST_CHAIN_BYTES_MAX = 8 * 1024 * 1024;

export type TrustChainErrorCode = TrustErrorCode | 'trust_bad_version' | 'trust_bad_epochs' | 'trust_too_many_epochs';

const V2_FIELDS = ['version', 'origin', 'quorum', 'keys', 'epochs'];
const EPOCH_FIELDS = ['afterSize', 'quorum', 'keys', 'record'];

/** Parses a trust file of version 1 or 2 into a chain. Never throws. */
export function parseTrustChainFile(input: string | Uint8Array): { ok: true; chain: TrustChain } | Failure<TrustChainErrorCode> {
  let text: string;
  if (input instanceof Uint8Array) {
    if (input.length > TRUST_CHAIN_BYTES_MAX) return fail('trust_too_large', `trust file larger than ${TRUST_CHAIN_BYTES_MAX} bytes (TRUST_CHAIN_BYTES_MAX)`);
    try {
      text = fromUtf8(input);
    } catch {
      return fail('trust_not_utf8', 'trust file is not valid UTF-8');
    }
  } else if (typeof input === 'string') {
    if (input.length > TRUST_CHAIN_BYTES_MAX || utf8(input).length > TRUST_CHAIN_BYTES_MAX) return fail('trust_too_large', `trust file larger than ${TRUST_CHAIN_BYTES_MAX} bytes (TRUST_CHAIN_BYTES_MAX)`);
    text = input;
  } else {
    return fail('trust_not_json', 'trust file must be text');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail('trust_not_json', `trust file is not JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail('trust_not_object', 'trust file must be a JSON object');
  const obj = json as Record<string, unknown>;
  if (!('version' in obj)) {
    const v1 = parseTrustFile(text);
    if (!v1.ok) return v1;
    return { ok: true, chain: { origin: v1.trust.origin, epochs: [{ afterSize: -1, keys: v1.trust.keys, quorum: v1.trust.quorum }] } };
  }
  if (obj.version !== TRUST_CHAIN_VERSION) return fail('trust_bad_version', `"version" must be ${TRUST_CHAIN_VERSION} (or absent for version 1)`);
  for (const k of Object.keys(obj)) if (!V2_FIELDS.includes(k)) return fail('trust_unknown_field', `unknown field ${JSON.stringify(k)} in trust file (allowed: ${V2_FIELDS.join(', ')})`);
  // Each set (root and epochs) is checked by the version 1 rules: vetted keys, no duplicates,
  // floor(2n/3)+1 <= quorum <= n.
  const root = parseTrustFile(JSON.stringify({ origin: obj.origin, quorum: obj.quorum, keys: obj.keys }));
  if (!root.ok) return root;
  const epochs: TrustEpoch[] = [{ afterSize: -1, keys: root.trust.keys, quorum: root.trust.quorum }];
  if (!Array.isArray(obj.epochs)) return fail('trust_bad_epochs', '"epochs" must be an array');
  if (obj.epochs.length >= TRUST_EPOCHS_MAX) return fail('trust_too_many_epochs', `more than ${TRUST_EPOCHS_MAX - 1} epochs (TRUST_EPOCHS_MAX)`);
  for (let i = 0; i < obj.epochs.length; i++) {
    const e: unknown = obj.epochs[i];
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return fail('trust_bad_epochs', `epochs[${i}] must be an object`);
    const eo = e as Record<string, unknown>;
    for (const k of Object.keys(eo)) if (!EPOCH_FIELDS.includes(k)) return fail('trust_unknown_field', `epochs[${i}]: unknown field ${JSON.stringify(k)}`);
    const prev = epochs[epochs.length - 1]!.afterSize;
    if (typeof eo.afterSize !== 'number' || !Number.isSafeInteger(eo.afterSize) || eo.afterSize <= prev) {
      return fail('trust_bad_epochs', `epochs[${i}].afterSize must be an integer greater than the previous one (${prev})`);
    }
    if (typeof eo.record !== 'string' || !/^[0-9a-f]{64}$/.test(eo.record)) return fail('trust_bad_epochs', `epochs[${i}].record must be 64 lowercase hex digits`);
    const set = parseTrustFile(JSON.stringify({ origin: root.trust.origin, quorum: eo.quorum, keys: eo.keys }));
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
