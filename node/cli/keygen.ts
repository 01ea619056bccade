// `cairn keygen --name <name> --out <dir>`: creates an organization's Ed25519 signing key.
//
// Files (documented format, compatible with golang.org/x/mod/sumdb/note and read by the peer's
// loadSigningKey):
//   <dir>/<name>.key  mode 0600: the signed-note signer key  PRIVATE+KEY+<name>+<keyid>+<base64(0x01 ‖ seed)>
//   <dir>/<name>.pub  mode 0644: the signed-note verifier key <name>+<keyid>+<base64(0x01 ‖ public key)>
// Both end with a newline. Existing files are never overwritten. The verifier key string is
// printed on stdout (it goes into the genesis and into auditors' trust files).
import type { Command } from 'commander';
import { chmod, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { formatSignerKey, formatVerifierKey, isValidKeyName } from '../../src/checkpoint/keys.js';
import { publicKeyFromSeed, randomSeed } from '../../src/crypto/noble.js';
import { describeFsError, failure, resolvePath, usageError, type CliIo } from './io.js';

/** Longest key name keygen accepts (it is also a file name). */
export const KEYGEN_NAME_CHARS_MAX = 64;
/**
 * keygen names are also file names, so on top of the signed-note rules (no spaces, no "+") they
 * are limited to letters, digits, ".", "_" and "-", starting with a letter or digit (no "/", no
 * "..", no hidden files). DNS-style names such as acme.example fit.
 */
const KEYGEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkKeygenName(name: string): void {
  if (!KEYGEN_NAME.test(name) || name.length > KEYGEN_NAME_CHARS_MAX || !isValidKeyName(name)) {
    throw usageError(
      `invalid key name ${JSON.stringify(name)}: use 1..${KEYGEN_NAME_CHARS_MAX} letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  // 'wx' = O_CREAT|O_EXCL: fails if the file exists, atomically (no check-then-write race).
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  // The creation mode is filtered by the umask; set it explicitly.
  await chmod(path, mode);
}

export interface KeygenResult {
  keyPath: string;
  pubPath: string;
  verifierKey: string;
}

export async function keygen(io: CliIo, name: string, outDir: string): Promise<KeygenResult> {
  checkKeygenName(name);
  const dir = resolvePath(io, outDir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw usageError(`cannot create output directory ${outDir}: ${describeFsError(e)}`);
  }
  const keyPath = join(dir, `${name}.key`);
  const pubPath = join(dir, `${name}.pub`);
  const seed = randomSeed();
  const signerKey = formatSignerKey(name, seed);
  const verifierKey = formatVerifierKey(name, publicKeyFromSeed(seed));
  try {
    await writeNew(keyPath, signerKey + '\n', 0o600);
  } catch (e) {
    throw failure(`cannot create ${keyPath}: ${describeFsError(e)} (keygen never overwrites a key)`);
  }
  try {
    await writeNew(pubPath, verifierKey + '\n', 0o644);
  } catch (e) {
    // Do not leave a private key without its public half; it was created by us just above.
    await unlink(keyPath).catch(() => undefined);
    throw failure(`cannot create ${pubPath}: ${describeFsError(e)} (keygen never overwrites a key)`);
  }
  return { keyPath, pubPath, verifierKey };
}

export function registerKeygen(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('create an organization signing key: <dir>/<name>.key (private, mode 0600) and <dir>/<name>.pub (verifier key)')
    .requiredOption('--name <name>', 'key name (letters, digits, ".", "_", "-"), e.g. acme.example')
    .requiredOption('--out <dir>', 'directory for the key files (created if missing)')
    .action(async (opts: { name: string; out: string }) => {
      const r = await keygen(io, opts.name, opts.out);
      io.stdout(r.verifierKey + '\n');
    });
}
