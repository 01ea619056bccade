// Setting up a network by hand (what the devnet does automatically):
//   cairn p2p-key --out <file>        a libp2p identity for one organization's peer; prints its peer id
//   cairn genesis --origin <origin> --validator <spec>... [--client <spec>...] --out <file>
//                 [--trust-out <file>] [--limits <json file>] [--sharing consortium|own-clients]
//                 [--auditor <name>,<public key>...]
// `--validator <verifier key or .pub file>,<p2p key file or peer id>,<multiaddr>[,<multiaddr>...]`
//   one per organization, in order (validator index = order given);
// `--client <name>,<public key: 64 hex, or a key file>,<vouching organization name>`; an
//   organization's meta-audit client is the client named `<org>-meta-audit` vouched by it;
// `--auditor <name>,<public key: 64 hex, or a key file>` a consortium auditor (repeatable).
// The genesis is checked with the same strict parser the peers use (node/peer/genesis.ts), written
// once (never overwritten), and its SHA-256 (over RFC 8785 JCS) is printed: every organization
// must hold a byte-for-byte equivalent genesis, and peers refuse to talk to a different one.
// `--trust-out` writes the auditors' trust file (origin, verifier keys, quorum) derived from it.
import type { Command } from 'commander';
import { open } from 'node:fs/promises';
import { parsePublicKey } from '../../src/crypto/keys.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import { formatTrustFile, parseTrustFile, parseVerifierKey } from '../../src/verifier/index.js';
import { generateP2PKeyFile, loadP2PKey } from '../peer/config.js';
import { PeerError } from '../peer/errors.js';
import { buildGenesis, formatGenesis, GENESIS_BYTES_MAX, type BuildGenesisInput, type GenesisClientDoc, type GenesisValidatorDoc } from '../peer/genesis.js';
import { SHARING_MODES, type GenesisAuditorDoc, type SharingMode } from '../peer/genesis-sharing.js';
import { describeFsError, failure, readFileBounded, resolvePath, usageError, type CliIo } from './io.js';

/** Largest key file or limits file read here. */
const SMALL_FILE_BYTES_MAX = 64 * 1024;

async function readText(io: CliIo, path: string, what: string): Promise<string> {
  const b = await readFileBounded(io, path, what, SMALL_FILE_BYTES_MAX, 'SMALL_FILE_BYTES_MAX');
  try {
    return fromUtf8(b);
  } catch {
    throw usageError(`${what} ${path} is not UTF-8 text`);
  }
}

/** A value that is either given inline (matches `inline`) or is a file holding it. */
async function inlineOrFile(io: CliIo, value: string, inline: RegExp, what: string): Promise<string> {
  if (inline.test(value)) return value;
  return (await readText(io, value, what)).trim();
}

async function writeNew(io: CliIo, path: string, text: string, what: string): Promise<string> {
  const abs = resolvePath(io, path);
  let handle;
  try {
    handle = await open(abs, 'wx', 0o644);
  } catch (e) {
    throw failure(`cannot create ${what} ${path}: ${describeFsError(e)} (never overwritten)`);
  }
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
  return abs;
}

/** Parses one --validator spec. */
export async function parseValidatorSpec(io: CliIo, spec: string, i: number): Promise<GenesisValidatorDoc> {
  const parts = spec.split(',').map((s) => s.trim());
  if (parts.length < 3 || parts.some((s) => s === '')) {
    throw usageError(`--validator #${i + 1}: expected <verifier key or .pub file>,<p2p key file or peer id>,<multiaddr>[,<multiaddr>...]`);
  }
  // A verifier key string is name+hex8+base64; anything else is a file path.
  const verifierKey = await inlineOrFile(io, parts[0]!, /^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/, 'verifier key file');
  const name = verifierKey.split('+')[0]!;
  let peerId: string;
  if (/^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(parts[1]!)) {
    peerId = parts[1]!;
  } else {
    try {
      peerId = (await loadP2PKey(resolvePath(io, parts[1]!))).peerId;
    } catch (e) {
      throw usageError(`--validator #${i + 1}: ${e instanceof PeerError ? e.message : (e as Error).message}`);
    }
  }
  return { name, verifierKey, peerId, addrs: parts.slice(2) };
}

/** Parses one --client spec. */
export async function parseClientSpec(io: CliIo, spec: string, i: number): Promise<GenesisClientDoc> {
  const parts = spec.split(',').map((s) => s.trim());
  if (parts.length !== 3 || parts.some((s) => s === '')) {
    throw usageError(`--client #${i + 1}: expected <name>,<public key: 64 hex digits or a key file>,<vouching organization>`);
  }
  const keyText = await inlineOrFile(io, parts[1]!, /^[0-9a-fA-F]{64}$/, 'client public key file');
  // A signed-note verifier key (the .pub written by cairn keygen) or any public key form (hex, SPKI PEM, JWK).
  if (/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(keyText)) {
    const v = parseVerifierKey(keyText);
    if (!v.ok) throw usageError(`--client #${i + 1}: ${v.message} [${v.code}]`);
    return { name: parts[0]!, publicKey: toHex(v.key.publicKey), vouchedBy: parts[2]! };
  }
  const r = parsePublicKey(keyText);
  if (!r.ok) throw usageError(`--client #${i + 1}: ${r.message} [${r.code}]`);
  return { name: parts[0]!, publicKey: toHex(r.value), vouchedBy: parts[2]! };
}

/** Parses one --auditor spec: `<name>,<public key>` (same key forms as --client). */
export async function parseAuditorSpec(io: CliIo, spec: string, i: number): Promise<GenesisAuditorDoc> {
  const parts = spec.split(',').map((s) => s.trim());
  if (parts.length !== 2 || parts.some((s) => s === '')) {
    throw usageError(`--auditor #${i + 1}: expected <name>,<public key: 64 hex digits or a key file>`);
  }
  // Reuse the client key parsing (hex, key file, keygen .pub, PEM, JWK); the organization slot is unused.
  const c = await parseClientSpec(io, `${parts[0]},${parts[1]},-`, i).catch((e: Error) => {
    throw usageError(`--auditor #${i + 1}: ${e.message.replace(/^--client #\d+: /, '').replace('client public key', 'auditor public key')}`);
  });
  return { name: c.name, publicKey: c.publicKey };
}

export interface GenesisOptions {
  origin: string;
  validator: string[];
  client?: string[];
  auditor?: string[];
  sharing?: string;
  limits?: string;
  out: string;
  trustOut?: string;
}

export async function genesisCommand(io: CliIo, opts: GenesisOptions): Promise<void> {
  const validators: GenesisValidatorDoc[] = [];
  for (let i = 0; i < opts.validator.length; i++) validators.push(await parseValidatorSpec(io, opts.validator[i]!, i));
  const clients: GenesisClientDoc[] = [];
  for (let i = 0; i < (opts.client ?? []).length; i++) clients.push(await parseClientSpec(io, opts.client![i]!, i));
  const auditors: GenesisAuditorDoc[] = [];
  for (let i = 0; i < (opts.auditor ?? []).length; i++) auditors.push(await parseAuditorSpec(io, opts.auditor![i]!, i));
  if (opts.sharing !== undefined && !(SHARING_MODES as readonly string[]).includes(opts.sharing)) {
    throw usageError(`--sharing must be one of ${SHARING_MODES.join(', ')}`);
  }
  let limits: BuildGenesisInput['limits'];
  if (opts.limits !== undefined) {
    try {
      limits = JSON.parse(await readText(io, opts.limits, 'limits file')) as BuildGenesisInput['limits'];
    } catch (e) {
      if (e instanceof SyntaxError) throw usageError(`limits file ${opts.limits} is not JSON: ${e.message}`);
      throw e;
    }
  }
  let genesis;
  try {
    genesis = buildGenesis({
      origin: opts.origin,
      validators,
      clients,
      ...(limits !== undefined ? { limits } : {}),
      ...(opts.sharing !== undefined ? { sharing: opts.sharing as SharingMode } : {}),
      ...(opts.auditor !== undefined ? { auditors } : {}),
    });
  } catch (e) {
    if (e instanceof PeerError) throw usageError(`invalid genesis: ${e.message}`);
    throw e;
  }
  const text = formatGenesis(genesis);
  if (text.length > GENESIS_BYTES_MAX) throw usageError(`genesis larger than ${GENESIS_BYTES_MAX} bytes (GENESIS_BYTES_MAX)`);
  let trustText: string | null = null;
  if (opts.trustOut !== undefined) {
    const t = parseTrustFile(JSON.stringify({ origin: genesis.origin, quorum: genesis.quorum, keys: genesis.validators.map((v) => v.key.text) }));
    if (!t.ok) throw failure(`cannot derive a trust file: ${t.message} [${t.code}]`);
    trustText = formatTrustFile(t.trust);
  }
  await writeNew(io, opts.out, text, 'genesis file');
  if (trustText !== null) await writeNew(io, opts.trustOut!, trustText, 'trust file');
  io.stdout(
    `genesis ${opts.out}: origin ${genesis.origin}, ${genesis.validators.length} organizations (quorum ${genesis.quorum}), ${genesis.clients.size} clients` +
      (genesis.doc.sharing !== undefined ? `, sharing ${genesis.sharing}` : '') +
      (genesis.auditors.length > 0 ? `, ${genesis.auditors.length} consortium auditors` : '') +
      '\n' +
      `genesis hash ${genesis.hashHex}\n` +
      (trustText !== null ? `trust file ${opts.trustOut}\n` : ''),
  );
}

export function registerGenesis(program: Command, io: CliIo): void {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('p2p-key')
    .description("create a peer's libp2p identity key file (mode 0600, never overwritten); prints its peer id")
    .requiredOption('--out <file>', 'key file to create')
    .action(async (opts: { out: string }) => {
      const path = resolvePath(io, opts.out);
      try {
        const r = await generateP2PKeyFile(path);
        io.stdout(`${r.peerId}\n`);
      } catch (e) {
        const m = (e as Error).message;
        const why = /EEXIST/.test(m) ? 'already exists (never overwritten)' : /EACCES|EPERM/.test(m) ? 'permission denied' : m;
        throw failure(`cannot create p2p key file ${opts.out}: ${why}`);
      }
    });
  program
    .command('genesis')
    .description('write the genesis file all organizations share (strictly checked, never overwritten); prints its hash')
    .requiredOption('--origin <origin>', 'log identity, first line of every checkpoint, e.g. audit.example.com/prod')
    .requiredOption('--validator <spec>', '<verifier key or .pub file>,<p2p key file or peer id>,<multiaddr>[,...] — repeat once per organization', collect)
    .option('--client <spec>', '<name>,<public key: hex, key file or keygen .pub>,<vouching organization> — repeat per client', collect)
    .option('--auditor <spec>', '<name>,<public key: hex, key file or keygen .pub> — a consortium auditor; repeat per auditor', collect)
    .option('--sharing <mode>', 'consortium (default: every peer may serve every entry to its authorized principals) or own-clients (only entries of clients its organization vouches for, plus consortium auditors)')
    .option('--limits <file>', 'JSON object overriding protocol limits (maxBlockEntries, blockIntervalMs, timeouts, ...)')
    .requiredOption('--out <file>', 'genesis file to create')
    .option('--trust-out <file>', "also write the auditors' trust file (origin, verifier keys, quorum)")
    .action(async (opts: GenesisOptions) => {
      await genesisCommand(io, opts);
    });
}
