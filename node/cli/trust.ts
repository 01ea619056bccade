// Loading the auditor's trust file (src/verifier/trust.ts, chain-file.ts) for the commands that talk to peers.
import {
  parseTrustChainFile,
  parseTrustFile,
  TRUST_CHAIN_BYTES_MAX,
  TRUST_FILE_BYTES_MAX,
  type TrustChain,
  type TrustRoot,
} from '../../src/verifier/index.js';
import { readFileBounded, usageError, type CliIo } from './io.js';

/**
 * Reads and parses a version 1 trust file (one static organization set); unreadable or invalid →
 * usage error (exit 2) naming the file and the reason. A version 2 file (organization sets
 * followed with `cairn trust update`) is refused with what to do instead.
 */
export async function loadTrust(io: CliIo, path: string): Promise<TrustRoot> {
  const bytes = await readFileBounded(io, path, 'trust file', TRUST_CHAIN_BYTES_MAX, 'TRUST_CHAIN_BYTES_MAX');
  const r = bytes.length <= TRUST_FILE_BYTES_MAX ? parseTrustFile(bytes) : null;
  if (r !== null && r.ok) return r.trust;
  const chain = parseTrustChainFile(bytes);
  if (chain.ok && chain.chain.epochs.length > 1) {
    throw usageError(`trust file ${path} follows ${chain.chain.epochs.length - 1} membership change(s) (version 2): this command takes one static key list; write one with cairn trust export --trust ${path} --format json`);
  }
  if (r === null) throw usageError(`invalid trust file ${path}: larger than ${TRUST_FILE_BYTES_MAX} bytes (TRUST_FILE_BYTES_MAX)`);
  throw usageError(`invalid trust file ${path}: ${r.message} [${r.code}]`);
}

/** Reads a trust file of version 1 or 2 as a chain of organization sets (for verifyCheckpointAt / verifyReceiptAt). */
export async function loadTrustChain(io: CliIo, path: string): Promise<TrustChain> {
  const bytes = await readFileBounded(io, path, 'trust file', TRUST_CHAIN_BYTES_MAX, 'TRUST_CHAIN_BYTES_MAX');
  const r = parseTrustChainFile(bytes);
  if (!r.ok) throw usageError(`invalid trust file ${path}: ${r.message} [${r.code}]`);
  return r.chain;
}
