// `cairn verify ...`: the light verifier (src/verifier) from the command line, for auditors.
//   cairn verify checkpoint <file> --trust <file>
//   cairn verify receipt <file> --entry <file> --trust <file>
//   cairn verify receipt <evidence bundle> [--trust <file>]   (one file from the web explorer)
// Online variants (--peer <url>) and `verify consistency`: verify-online.ts.
// <file> may be "-" for standard input. Exit 0 and a short summary when verified; exit 1 with
// one line `cairn: ... rejected: <reason> [<code>]` when not; exit 2 when the trust file or the
// arguments are unusable.
import type { Command } from 'commander';
import { NOTE_BYTES_MAX } from '../../src/checkpoint/note.js';
import { RECEIPT_BYTES_MAX } from '../../src/checkpoint/receipt.js';
import { MAX_ENTRY_BYTES } from '../../src/merkle/entry-bundle.js';
import { parseTrustChainFile, trustAtSize, verifyCheckpointAt, verifyReceiptAt } from '../../src/verifier/index.js';
import { EVIDENCE_BYTES_MAX, looksLikeEvidence, parseEvidence } from '../../src/verifier/evidence.js';
import { addCredentialOptions, type CredentialFlags } from './credentials.js';
import { failure, readFileBounded, usageError, type CliIo } from './io.js';
import { loadTrustChain } from './trust.js';
import { verifyCheckpointOnline, verifyReceiptOnline } from './verify-online.js';
import { summary } from './tree-head-summary.js';


export async function verifyCheckpointCommand(io: CliIo, file: string, trustPath: string): Promise<void> {
  // A version 2 trust file verifies each checkpoint with the organization set in force at its size.
  const chain = await loadTrustChain(io, trustPath);
  const note = await readFileBounded(io, file, 'checkpoint file', NOTE_BYTES_MAX, 'NOTE_BYTES_MAX');
  const r = verifyCheckpointAt(chain, note);
  if (!r.ok) throw failure(`checkpoint ${file} rejected: ${r.message} [${r.code}]`);
  io.stdout(summary('checkpoint', r, trustAtSize(chain, r.size)));
}

export async function verifyReceiptCommand(io: CliIo, file: string, entryPath: string, trustPath: string): Promise<void> {
  if (file === '-' && entryPath === '-') throw usageError('only one of <file> and --entry can be "-" (standard input)');
  const chain = await loadTrustChain(io, trustPath);
  const receipt = await readFileBounded(io, file, 'receipt file', RECEIPT_BYTES_MAX, 'RECEIPT_BYTES_MAX');
  const entry = await readFileBounded(io, entryPath, 'entry file', MAX_ENTRY_BYTES, 'MAX_ENTRY_BYTES');
  const r = verifyReceiptAt(chain, receipt, entry);
  if (!r.ok) throw failure(`receipt ${file} rejected: ${r.message} [${r.code}]`);
  io.stdout(summary('receipt', r, trustAtSize(chain, r.size), [['index', String(r.index)]]));
}

/**
 * An evidence bundle (src/verifier/evidence.ts): entry, receipt and trust file in one file. With
 * --trust the auditor's own trust file is used; without it the bundle's, and the output says so
 * (whoever made the bundle chose those keys).
 */
export async function verifyEvidenceCommand(io: CliIo, file: string, trustPath: string | undefined): Promise<void> {
  const bytes = await readFileBounded(io, file, 'evidence bundle', EVIDENCE_BYTES_MAX, 'EVIDENCE_BYTES_MAX');
  const e = parseEvidence(bytes);
  if (!e.ok) throw failure(`evidence bundle ${file} rejected: ${e.message} [evidence_malformed]`);
  let chain;
  if (trustPath !== undefined) chain = await loadTrustChain(io, trustPath);
  else {
    const t = parseTrustChainFile(e.evidence.trust);
    if (!t.ok) throw failure(`evidence bundle ${file} rejected: its trust file is invalid: ${t.message} [${t.code}]`);
    chain = t.chain;
  }
  const r = verifyReceiptAt(chain, e.evidence.receipt, e.evidence.entry);
  if (!r.ok) throw failure(`evidence bundle ${file} rejected: ${r.message} [${r.code}]`);
  if (r.index !== e.evidence.index) throw failure(`evidence bundle ${file} rejected: it states index ${e.evidence.index}, the receipt proves ${r.index} [evidence_malformed]`);
  const source = trustPath !== undefined ? `trust file ${trustPath}` : "the bundle's own trust file: compare its keys with your organizations' or pass --trust";
  io.stdout(summary('receipt', r, trustAtSize(chain, r.size), [['index', String(r.index)], ['leaf hash', e.evidence.leafHash], ['trust', source]]));
}

export function registerVerify(program: Command, io: CliIo): void {
  const verify = program
    .command('verify')
    .description("verify checkpoints, receipts and consistency against a trust file, or a stopped peer's store (exit 0 verified, 1 rejected, 2 usage)");
  addCredentialOptions(verify
    .command('checkpoint')
    .description('verify a signed checkpoint (C2SP tlog-checkpoint note) has a quorum of organization signatures')
    .argument('[file]', 'checkpoint note file, or - for standard input (omit with --peer)')
    .requiredOption('--trust <file>', 'trust file: {"origin", "quorum", "keys": [verifier keys]}, or version 2 (cairn trust update)')
    .option('--peer <url>', "online: verify the peer's latest checkpoint (GET <url>/checkpoint)")
    .option('--out <file>', 'with --peer: save the verified checkpoint'))
    .action(async (file: string | undefined, opts: { trust: string; peer?: string; out?: string } & CredentialFlags) => {
      // Online variant: node/cli/verify-online.ts.
      if (opts.peer !== undefined) {
        if (file !== undefined) throw usageError('give either <file> or --peer <url>, not both');
        return verifyCheckpointOnline(io, opts.peer, opts.trust, opts.out, opts);
      }
      if (file === undefined) throw usageError("missing required argument 'file' (or use --peer <url>)");
      if (opts.out !== undefined) throw usageError('--out is for use with --peer');
      await verifyCheckpointCommand(io, file, opts.trust);
    });
  addCredentialOptions(verify
    .command('receipt')
    .description('verify an inclusion receipt (C2SP tlog-proof) for an entry')
    .argument('<file>', 'receipt file (.tlog-proof), or - for standard input; an evidence bundle (cairn-evidence/v1, from the web explorer); with --peer: the entry leaf hash (64 hex)')
    .option('--entry <file>', 'the logged entry bytes (the Merkle leaf); required offline, except for an evidence bundle')
    .option('--trust <file>', 'trust file: {"origin", "quorum", "keys": [verifier keys]}, or version 2 (cairn trust update); required except for an evidence bundle (default: the trust file inside it)')
    .option('--peer <url>', 'online: fetch the entry and its receipt from the peer and verify them')
    .option('--out <file>', 'with --peer: save the verified receipt')
    .option('--entry-out <file>', 'with --peer: save the entry bytes (for offline verification later)'))
    .action(async (file: string, opts: { entry?: string; trust?: string; peer?: string; out?: string; entryOut?: string } & CredentialFlags) => {
      // Online variant: node/cli/verify-online.ts.
      if (opts.peer !== undefined) {
        if (opts.entry !== undefined) throw usageError('--entry is for offline use; with --peer the entry is fetched');
        if (opts.trust === undefined) throw usageError("required option '--trust <file>' not specified");
        return verifyReceiptOnline(io, opts.peer, file, { ...opts, trust: opts.trust });
      }
      if (opts.entry === undefined && file !== '-') {
        const head = await readFileBounded(io, file, 'receipt file', EVIDENCE_BYTES_MAX, 'EVIDENCE_BYTES_MAX');
        if (looksLikeEvidence(head)) {
          if (opts.out !== undefined || opts.entryOut !== undefined) throw usageError('--out and --entry-out are for use with --peer');
          return verifyEvidenceCommand(io, file, opts.trust);
        }
      }
      if (opts.entry === undefined) throw usageError("required option '--entry <file>' not specified (or use --peer <url>, or give an evidence bundle)");
      if (opts.trust === undefined) throw usageError("required option '--trust <file>' not specified");
      if (opts.out !== undefined || opts.entryOut !== undefined) throw usageError('--out and --entry-out are for use with --peer');
      await verifyReceiptCommand(io, file, opts.entry, opts.trust);
    });
}
