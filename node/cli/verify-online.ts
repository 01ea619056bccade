// The `cairn verify` variants that fetch what they check from a peer, plus `verify consistency`
// (offline and online). The peer is never trusted: everything fetched is verified with the light
// verifier (src/verifier) against the auditor's trust file, exactly as the offline commands do.
//   cairn verify checkpoint --peer <url> --trust <file> [--out <file>]
//   cairn verify receipt <leaf-hash> --peer <url> --trust <file> [--out <receipt>] [--entry-out <file>]
//   cairn verify consistency <old-checkpoint> <new-checkpoint> --proof <file> --trust <file>
//   cairn verify consistency <old-checkpoint> --peer <url> --trust <file>
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { NOTE_BYTES_MAX } from '../../src/checkpoint/note.js';
import { RECEIPT_BYTES_MAX } from '../../src/checkpoint/receipt.js';
import { fromBase64, fromUtf8, toBase64, toHex } from '../../src/encoding/bytes.js';
import { leafHash, MAX_PROOF_HASHES } from '../../src/merkle/index.js';
import { trustAtSize, verifyCheckpointAt, verifyConsistencyAt, verifyReceiptAt } from '../../src/verifier/index.js';
import { describeFsError, failure, readFileBounded, resolvePath, usageError, type CliIo } from './io.js';
import { addCredentialOptions, loadCredential, type CliCredential, type CredentialFlags } from './credentials.js';
import { describeHttpFailure, getJson, parsePeerUrl, peerRequest } from './peer-http.js';
import { loadTrustChain } from './trust.js';
import { summary } from './tree-head-summary.js';

/** Largest consistency proof file: at most MAX_PROOF_HASHES base64 lines, or the API's JSON. */
export const PROOF_FILE_BYTES_MAX = 16 * 1024;

async function writeOut(io: CliIo, path: string, data: Uint8Array | string, what: string): Promise<void> {
  try {
    await writeFile(resolvePath(io, path), data);
  } catch (e) {
    throw usageError(`cannot write ${what} ${path}: ${describeFsError(e)}`);
  }
}

/** GET /checkpoint (the latest final checkpoint). */
export async function fetchCheckpoint(base: string, auth: CliCredential | null = null): Promise<Uint8Array> {
  const res = await peerRequest(base, '/checkpoint', { accept: 'text/plain', bytesMax: NOTE_BYTES_MAX, limitName: 'NOTE_BYTES_MAX', auth });
  if (res.status !== 200) throw failure(describeHttpFailure(res));
  return res.body;
}

export async function verifyCheckpointOnline(io: CliIo, peerUrl: string, trustPath: string, outPath?: string, flags: CredentialFlags = {}): Promise<void> {
  const base = parsePeerUrl(peerUrl);
  // Version 1 or 2 trust file: each checkpoint is checked with the organization set in force at its size.
  const chain = await loadTrustChain(io, trustPath);
  const auth = await loadCredential(io, flags);
  const note = await fetchCheckpoint(base, auth);
  const r = verifyCheckpointAt(chain, note);
  if (!r.ok) throw failure(`checkpoint from ${base} rejected: ${r.message} [${r.code}]`);
  if (outPath !== undefined) await writeOut(io, outPath, note, 'checkpoint file');
  io.stdout(summary('checkpoint', r, trustAtSize(chain, r.size), [['peer', base]]));
}

/** Checks a leaf hash argument: 64 hex digits (any case; the API wants lowercase). */
export function parseLeafHashArg(text: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw usageError(`invalid leaf hash ${JSON.stringify(text.slice(0, 80))}: expected 64 hex digits (SHA-256(0x00 ‖ entry))`);
  return text.toLowerCase();
}

/** The logged leaf bytes of an entry (base64 `leaf` of GET /v1/entries/{hash}) and its status. */
export async function fetchEntry(base: string, hash: string, auth: CliCredential | null = null): Promise<{ status: string; leaf: Uint8Array; doc: Record<string, unknown> }> {
  const doc = await getJson<Record<string, unknown>>(base, `/v1/entries/${hash}`, { auth });
  const leaf = typeof doc.leaf === 'string' ? fromBase64(doc.leaf) : null;
  if (leaf === null) throw failure(`${base}/v1/entries/${hash}: the answer has no valid base64 "leaf"`);
  if (toHex(leafHash(leaf)) !== hash) throw failure(`${base}/v1/entries/${hash}: the served leaf hashes to ${toHex(leafHash(leaf))}, not to the requested hash`);
  return { status: typeof doc.status === 'string' ? doc.status : 'unknown', leaf, doc };
}

/** GET /v1/entries/{hash} with Accept: text/plain: the C2SP tlog-proof receipt. */
export async function fetchReceipt(base: string, hash: string, waitMs = 0, auth: CliCredential | null = null): Promise<Uint8Array> {
  const q = waitMs > 0 ? `?wait=final&timeout=${waitMs}ms` : '';
  const res = await peerRequest(base, `/v1/entries/${hash}${q}`, { accept: 'text/plain', bytesMax: RECEIPT_BYTES_MAX, limitName: 'RECEIPT_BYTES_MAX', timeoutMs: 30_000 + waitMs, auth });
  if (res.status !== 200) throw failure(describeHttpFailure(res));
  return res.body;
}

export interface ReceiptOnlineOptions extends CredentialFlags {
  trust: string;
  out?: string;
  entryOut?: string;
}

export async function verifyReceiptOnline(io: CliIo, peerUrl: string, hashArg: string, opts: ReceiptOnlineOptions): Promise<void> {
  const base = parsePeerUrl(peerUrl);
  const hash = parseLeafHashArg(hashArg);
  const chain = await loadTrustChain(io, opts.trust);
  const auth = await loadCredential(io, opts);
  const { leaf } = await fetchEntry(base, hash, auth);
  const receipt = await fetchReceipt(base, hash, 0, auth);
  const r = verifyReceiptAt(chain, receipt, leaf);
  if (!r.ok) throw failure(`receipt for ${hash} from ${base} rejected: ${r.message} [${r.code}]`);
  if (opts.out !== undefined) await writeOut(io, opts.out, receipt, 'receipt file');
  if (opts.entryOut !== undefined) await writeOut(io, opts.entryOut, leaf, 'entry file');
  io.stdout(summary('receipt', r, trustAtSize(chain, r.size), [['index', String(r.index)], ['leaf hash', hash], ['peer', base]]));
}

/** A consistency proof file: one base64 hash per line, or the JSON answer of /v1/proofs/consistency. */
export function parseProofText(text: string, path: string): Uint8Array[] {
  const t = text.trim();
  let items: unknown[];
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t) as { proof?: unknown };
      if (!Array.isArray(j.proof)) throw new Error('no "proof" array');
      items = j.proof;
    } catch (e) {
      throw usageError(`invalid proof file ${path}: ${(e as Error).message}`);
    }
  } else {
    items = t === '' ? [] : t.split('\n').map((l) => l.trim());
  }
  if (items.length > MAX_PROOF_HASHES) throw usageError(`invalid proof file ${path}: more than ${MAX_PROOF_HASHES} hashes (MAX_PROOF_HASHES)`);
  return items.map((s, i) => {
    const h = typeof s === 'string' ? fromBase64(s) : null;
    if (h === null || h.length !== 32) throw usageError(`invalid proof file ${path}: hash ${i} is not the base64 of 32 bytes`);
    return h;
  });
}

async function readNote(io: CliIo, path: string, what: string): Promise<Uint8Array> {
  return readFileBounded(io, path, what, NOTE_BYTES_MAX, 'NOTE_BYTES_MAX');
}

export interface ConsistencyOptions extends CredentialFlags {
  trust: string;
  proof?: string;
  peer?: string;
  out?: string;
}

export async function verifyConsistencyCommand(io: CliIo, oldPath: string, newPath: string | undefined, opts: ConsistencyOptions): Promise<void> {
  if ((opts.peer === undefined) === (newPath === undefined)) {
    throw usageError('give either <new-checkpoint> and --proof <file> (offline) or --peer <url> (online)');
  }
  const base = opts.peer === undefined ? null : parsePeerUrl(opts.peer);
  if (base === null && opts.proof === undefined) throw usageError('offline consistency needs --proof <file> (one base64 hash per line, or the JSON of /v1/proofs/consistency)');
  if (base !== null && opts.proof !== undefined) throw usageError('--proof is for offline use; with --peer the proof is fetched');
  const chain = await loadTrustChain(io, opts.trust);
  const auth = base === null ? null : await loadCredential(io, opts);
  const older = await readNote(io, oldPath, 'old checkpoint file');
  let newer: Uint8Array;
  let proof: Uint8Array[];
  if (base === null) {
    newer = await readNote(io, newPath!, 'new checkpoint file');
    const text = await readFileBounded(io, opts.proof!, 'proof file', PROOF_FILE_BYTES_MAX, 'PROOF_FILE_BYTES_MAX');
    let s: string;
    try {
      s = fromUtf8(text);
    } catch {
      throw usageError(`invalid proof file ${opts.proof}: not UTF-8 text`);
    }
    proof = parseProofText(s, opts.proof!);
  } else {
    // Sizes come from the checkpoints; verify the old one first so a bad file fails before any request.
    const o = verifyCheckpointAt(chain, older);
    if (!o.ok) throw failure(`old checkpoint ${oldPath} rejected: ${o.message} [${o.code}]`);
    newer = await fetchCheckpoint(base, auth);
    const n = verifyCheckpointAt(chain, newer);
    if (!n.ok) throw failure(`checkpoint from ${base} rejected: ${n.message} [${n.code}]`);
    if (n.size < o.size) throw failure(`the peer's checkpoint (size ${n.size}) is older than ${oldPath} (size ${o.size}): the peer is behind or rolled back`);
    const j = await getJson<{ proof?: unknown }>(base, `/v1/proofs/consistency?from=${o.size}&to=${n.size}`, { auth });
    proof = parseProofText(JSON.stringify(j), `${base}/v1/proofs/consistency`);
  }
  const r = verifyConsistencyAt(chain, { old: older, new: newer, proof });
  if (!r.ok) throw failure(`consistency rejected: ${r.message} [${r.code}]`);
  if (opts.out !== undefined) await writeOut(io, opts.out, newer, 'checkpoint file');
  io.stdout(
    `consistency OK\n` +
      `  origin   ${r.origin}\n` +
      `  old      size ${r.old.size}, root ${toBase64(r.old.root)}\n` +
      `  new      size ${r.new.size}, root ${toBase64(r.new.root)}${base ? ` (from ${base})` : ''}\n` +
      `  signers  old ${r.old.signers.length} of ${trustAtSize(chain, r.old.size).keys.length} (quorum ${trustAtSize(chain, r.old.size).quorum}), new ${r.new.signers.length} of ${trustAtSize(chain, r.new.size).keys.length} (quorum ${trustAtSize(chain, r.new.size).quorum})\n`,
  );
}

/** Adds `verify consistency` to the existing `verify` command group (registered by verify.ts). */
export function registerVerifyConsistency(program: Command, io: CliIo): void {
  const verify = program.commands.find((c) => c.name() === 'verify');
  if (verify === undefined) throw new Error('internal: register the verify command group first');
  const cmd = verify
    .command('consistency')
    .description('verify that a newer checkpoint extends an older one (RFC 9162 consistency proof); offline with --proof, or against a peer with --peer')
    .argument('<old-checkpoint>', 'the older checkpoint note file (e.g. saved by an earlier verify --out)')
    .argument('[new-checkpoint]', 'offline: the newer checkpoint note file')
    .requiredOption('--trust <file>', 'trust file: {"origin", "quorum", "keys": [verifier keys]}')
    .option('--proof <file>', 'offline: consistency proof, one base64 hash per line (or the JSON of /v1/proofs/consistency)')
    .option('--peer <url>', "online: fetch the peer's current checkpoint and the proof from it")
    .option('--out <file>', 'save the newer checkpoint (to use as <old-checkpoint> next time)');
  addCredentialOptions(cmd).action(async (oldPath: string, newPath: string | undefined, opts: ConsistencyOptions) => {
    await verifyConsistencyCommand(io, oldPath, newPath, opts);
  });
}
