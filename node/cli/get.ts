// `cairn get <leaf-hash> --peer <url>` and `cairn receipt <leaf-hash> --peer <url>`: read one
// entry, or its C2SP tlog-proof receipt, from a peer (GET /v1/entries/{hash}, docs/api.md).
// Nothing here is verified: `cairn verify receipt` does that (offline, or with --peer).
//   get:     prints status, index and the entry (or the API's JSON with --json); --entry-out
//            saves the exact logged leaf bytes (what `cairn verify receipt --entry` needs)
//   receipt: prints the receipt (or saves it with --out); --entry-out as above
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { addCredentialOptions, loadCredential, type CredentialFlags } from './credentials.js';
import { describeFsError, resolvePath, usageError, type CliIo } from './io.js';
import { parseDurationMs, parsePeerUrl } from './peer-http.js';
import { fetchEntry, fetchReceipt, parseLeafHashArg } from './verify-online.js';

/** Longest --wait. */
export const GET_WAIT_MS_MAX = 60_000;

async function save(io: CliIo, path: string, data: Uint8Array, what: string): Promise<void> {
  try {
    await writeFile(resolvePath(io, path), data);
  } catch (e) {
    throw usageError(`cannot write ${what} ${path}: ${describeFsError(e)}`);
  }
}

export interface GetOptions extends CredentialFlags {
  peer: string;
  json?: boolean;
  entryOut?: string;
}

export async function getCommand(io: CliIo, hashArg: string, opts: GetOptions): Promise<void> {
  const base = parsePeerUrl(opts.peer);
  const hash = parseLeafHashArg(hashArg);
  const auth = await loadCredential(io, opts);
  const { leaf, doc, status } = await fetchEntry(base, hash, auth);
  if (opts.entryOut !== undefined) await save(io, opts.entryOut, leaf, 'entry file');
  if (opts.json === true) {
    io.stdout(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const rows: [string, string][] = [
    ['leaf hash', hash],
    ['status', status],
  ];
  if (typeof doc.index === 'number') rows.push(['index', String(doc.index)]);
  if (typeof doc.treeSize === 'number') rows.push(['final in', `checkpoint of tree size ${doc.treeSize}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  io.stdout(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('') + JSON.stringify(doc.entry ?? null, null, 2) + '\n');
}

export interface ReceiptOptions extends CredentialFlags {
  peer: string;
  out?: string;
  entryOut?: string;
  wait?: string;
}

export async function receiptCommand(io: CliIo, hashArg: string, opts: ReceiptOptions): Promise<void> {
  const base = parsePeerUrl(opts.peer);
  const hash = parseLeafHashArg(hashArg);
  const waitMs = opts.wait === undefined ? 0 : parseDurationMs(opts.wait, '--wait', GET_WAIT_MS_MAX);
  const auth = await loadCredential(io, opts);
  const receipt = await fetchReceipt(base, hash, waitMs, auth);
  if (opts.entryOut !== undefined) {
    const { leaf } = await fetchEntry(base, hash, auth);
    await save(io, opts.entryOut, leaf, 'entry file');
  }
  if (opts.out !== undefined) {
    await save(io, opts.out, receipt, 'receipt file');
    io.stdout(`receipt for ${hash} saved to ${opts.out}${opts.entryOut !== undefined ? `, entry to ${opts.entryOut}` : ''}\n`);
    return;
  }
  io.stdout(new TextDecoder().decode(receipt));
}

export function registerGet(program: Command, io: CliIo): void {
  addCredentialOptions(program
    .command('get')
    .description('show one entry (pending, logged or final) by its leaf hash')
    .argument('<leaf-hash>', 'the entry leaf hash, 64 hex digits (printed by cairn submit)')
    .requiredOption('--peer <url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
    .option('--json', "print the API's JSON answer (entry, index, proof, checkpoint)")
    .option('--entry-out <file>', 'save the exact logged entry bytes (the Merkle leaf)'))
    .action(async (hash: string, opts: GetOptions) => {
      await getCommand(io, hash, opts);
    });
  addCredentialOptions(program
    .command('receipt')
    .description('fetch the C2SP tlog-proof receipt of a final entry (verify it with cairn verify receipt)')
    .argument('<leaf-hash>', 'the entry leaf hash, 64 hex digits')
    .requiredOption('--peer <url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
    .option('--out <file>', 'save the receipt to a file instead of printing it')
    .option('--entry-out <file>', 'also save the exact logged entry bytes')
    .option('--wait <duration>', 'wait up to this long for the entry to become final, e.g. 10s'))
    .action(async (hash: string, opts: ReceiptOptions) => {
      await receiptCommand(io, hash, opts);
    });
}
