// `cairn audit <peer-url> --trust <file>`: download the whole log of one peer through the C2SP
// tlog-tiles endpoints and check it entry by entry (see audit-log.ts for exactly what is checked).
// Exit 0 with a summary when everything matches the quorum checkpoint; exit 1 with one line naming
// the FIRST discrepancy (entry index or tile, expected vs got); exit 2 for unusable arguments.
import type { Command } from 'commander';
import { nodeVerifier } from '../../src/crypto/node.js';
import { fromUtf8, toBase64 } from '../../src/encoding/bytes.js';
import { FULL_TILE_BYTES, MAX_ENTRY_BYTES, TILE_WIDTH, entryBundlePath, tilePath, truncateTile } from '../../src/merkle/index.js';
import { NOTE_BYTES_MAX } from '../../src/checkpoint/note.js';
import { auditLog, AUDIT_CONCURRENCY_MAX, type LogSource } from './audit-log.js';
import { addCredentialOptions, loadCredential, type CliCredential, type CredentialFlags } from './credentials.js';
import { failure, readFileBounded, usageError, type CliIo } from './io.js';
import { GENESIS_BYTES_MAX, parseGenesisText } from '../peer/genesis.js';
import { describeHttpFailure, parseDurationMs, parsePeerUrl, peerRequest } from './peer-http.js';
import { ProgressBar, type ProgressSink } from './progress.js';
import { loadTrust } from './trust.js';

/** Largest entry bundle: 256 entries of at most 65,535 bytes, each with a 2-byte length. */
export const ENTRY_BUNDLE_BYTES_MAX = TILE_WIDTH * (2 + MAX_ENTRY_BYTES);

/** Reads a peer's log over HTTP exactly as C2SP tlog-tiles lays it out. */
export function httpLogSource(base: string, timeoutMs: number, auth: CliCredential | null = null): LogSource {
  const get = async (path: string, bytesMax: number, limitName: string): Promise<{ status: number; body: Uint8Array; describe: () => string }> => {
    // Entry bundles hold everyone's entries: a peer that restricts reads serves them to full-scope
    // roles (auditor) only, so an audit needs an auditor credential there.
    const res = await peerRequest(base, path, { timeoutMs, bytesMax, limitName, auth });
    return { status: res.status, body: res.body, describe: () => describeHttpFailure(res) };
  };
  return {
    async checkpoint() {
      const r = await get('/checkpoint', NOTE_BYTES_MAX, 'NOTE_BYTES_MAX');
      if (r.status !== 200) throw new Error(r.describe());
      return r.body;
    },
    async tile(level, index, width) {
      const r = await get(`/${tilePath({ level, index, width })}`, FULL_TILE_BYTES, 'FULL_TILE_BYTES');
      if (r.status === 200) return r.body;
      // tlog-tiles: a server may drop a partial tile once the full one exists; the partial one is its prefix.
      if (r.status === 404 && width < TILE_WIDTH) {
        const full = await get(`/${tilePath({ level, index, width: TILE_WIDTH })}`, FULL_TILE_BYTES, 'FULL_TILE_BYTES');
        if (full.status === 200 && full.body.length === FULL_TILE_BYTES) return truncateTile(full.body, width);
      }
      throw new Error(r.describe());
    },
    async entryBundle(index, width) {
      const r = await get(`/${entryBundlePath({ index, width })}`, ENTRY_BUNDLE_BYTES_MAX, 'ENTRY_BUNDLE_BYTES_MAX');
      if (r.status !== 200) throw new Error(r.describe());
      return r.body;
    },
  };
}

/** The authorized client keys (lowercase hex) of a genesis file; its origin must be the trust file's. */
async function loadClients(io: CliIo, path: string, origin: string): Promise<Set<string>> {
  const bytes = await readFileBounded(io, path, 'genesis file', GENESIS_BYTES_MAX, 'GENESIS_BYTES_MAX');
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw usageError(`genesis file ${path} is not UTF-8 text`);
  }
  const g = parseGenesisText(text);
  if (!g.ok) throw usageError(`invalid genesis file ${path}: ${g.message} [${g.code}]`);
  if (g.genesis.origin !== origin) throw usageError(`genesis file ${path} is for origin ${g.genesis.origin}, the trust file for ${origin}`);
  return new Set(g.genesis.clients.keys());
}

export interface AuditCommandOptions extends CredentialFlags {
  trust: string;
  genesis?: string;
  concurrency?: string;
  timeout?: string;
  quiet?: boolean;
}

export async function auditCommand(io: CliIo, peerUrl: string, opts: AuditCommandOptions, progressSink: ProgressSink | null = null): Promise<void> {
  const base = parsePeerUrl(peerUrl);
  const concurrency = opts.concurrency === undefined ? 8 : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > AUDIT_CONCURRENCY_MAX) {
    throw usageError(`--concurrency must be an integer in 1..${AUDIT_CONCURRENCY_MAX} (AUDIT_CONCURRENCY_MAX)`);
  }
  const timeoutMs = opts.timeout === undefined ? 30_000 : parseDurationMs(opts.timeout, '--timeout', 600_000);
  if (timeoutMs < 1000) throw usageError('--timeout must be at least 1s');
  const trust = await loadTrust(io, opts.trust);
  const authorizedClients = opts.genesis === undefined ? undefined : await loadClients(io, opts.genesis, trust.origin);
  const auth = await loadCredential(io, opts);
  const bar = new ProgressBar(progressSink, 'auditing', 0);
  const r = await auditLog(httpLogSource(base, timeoutMs, auth), trust, {
    verifier: nodeVerifier,
    concurrency,
    ...(authorizedClients !== undefined ? { authorizedClients } : {}),
    onProgress: (done, total) => {
      bar.setTotal(total);
      bar.update(done);
    },
  });
  bar.done();
  if (!r.ok) {
    throw failure(`audit of ${base} failed after ${r.entriesChecked} entries: ${r.problem.message} [${r.problem.code}]`);
  }
  const secs = (r.elapsedMs / 1000).toFixed(2);
  const clientsLine = authorizedClients === undefined ? '' : `  clients     every entry's client is authorized in ${opts.genesis}\n`;
  io.stdout(
    `audit OK: ${base}\n` +
      `  origin      ${r.origin}\n` +
      `  size        ${r.size}\n` +
      `  root        ${toBase64(r.root)}\n` +
      `  checkpoint  signed by ${r.signers.length} of ${trust.keys.length} (quorum ${trust.quorum}): ${r.signers.join(', ')}\n` +
      `  entries     ${r.entriesChecked} checked: canonical, client signatures valid, leaf hashes match the tiles\n` +
      clientsLine +
      `  tiles       ${r.tilesChecked} hash tiles and ${r.bundlesChecked} entry bundles match the recomputed tree (${r.bytesRead} bytes read)\n` +
      `  speed       ${secs} s, ${r.entriesPerSec} entries/s\n`,
  );
}

export function registerAudit(program: Command, io: CliIo): void {
  addCredentialOptions(program
    .command('audit')
    .description('download every tile and entry bundle of a peer (C2SP tlog-tiles), recompute the tree, check every entry signature and the quorum checkpoint; report the first discrepancy')
    .argument('<peer-url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
    .requiredOption('--trust <file>', 'trust file: {"origin", "quorum", "keys": [verifier keys]}')
    .option('--genesis <file>', "also check every entry's client key is authorized in this genesis")
    .option('--concurrency <n>', `entry bundles fetched ahead (1..${AUDIT_CONCURRENCY_MAX})`, '8')
    .option('--timeout <duration>', 'deadline of each HTTP request, e.g. 30s, 2m (default 30s)'))
    .action(async (peerUrl: string, opts: AuditCommandOptions) => {
      await auditCommand(io, peerUrl, opts, process.stderr.isTTY ? { isTTY: true, write: (s) => io.stderr(s) } : null);
    });
}
