// Loading the auditor's trust file (src/verifier/trust.ts) for the commands that talk to peers.
import { parseTrustFile, TRUST_FILE_BYTES_MAX, type TrustRoot } from '../../src/verifier/index.js';
import { readFileBounded, usageError, type CliIo } from './io.js';

/** Reads and parses a trust file; unreadable or invalid → usage error (exit 2) naming the file and the reason. */
export async function loadTrust(io: CliIo, path: string): Promise<TrustRoot> {
  const bytes = await readFileBounded(io, path, 'trust file', TRUST_FILE_BYTES_MAX, 'TRUST_FILE_BYTES_MAX');
  const r = parseTrustFile(bytes);
  if (!r.ok) throw usageError(`invalid trust file ${path}: ${r.message} [${r.code}]`);
  return r.trust;
}
