// The client key file used by `cairn submit` to sign entries (docs/entry-format.md: the entry's
// `client` field is this key's public key, and the genesis must list it as an authorized client).
// Accepted forms, so keys made by other tools work: PKCS#8 "PRIVATE KEY" PEM (openssl genpkey
// -algorithm ed25519), a private JWK, 64 hex digits (the seed), or a signed-note signer key
// `PRIVATE+KEY+<name>+...` as written by `cairn keygen`.
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { parsePrivateKey } from '../../src/crypto/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { vetPublicKey } from '../../src/crypto/vet.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import { readFileBounded, usageError, type CliIo } from './io.js';

/** Largest client key file read (a PEM or JWK is a few hundred bytes). */
export const CLIENT_KEY_FILE_BYTES_MAX = 16 * 1024;

export interface ClientKey {
  signer: Ed25519Signer;
  /** 64 lowercase hex digits: the `client` field of entries signed with this key. */
  publicKeyHex: string;
}

/** Parses client key text; throws a usage CliError naming the file on anything else. */
export function parseClientKey(text: string, path: string): ClientKey {
  const t = text.trim();
  let seed: Uint8Array;
  if (t.startsWith('PRIVATE+KEY+')) {
    const r = parseSignerKey(t);
    if (!r.ok) throw usageError(`invalid client key file ${path}: ${r.message} [${r.code}]`);
    seed = r.key.seed;
  } else {
    const r = parsePrivateKey(t);
    if (!r.ok) throw usageError(`invalid client key file ${path}: ${r.message} [${r.code}] (expected a PKCS#8 PEM, a private JWK, 64 hex digits or a PRIVATE+KEY+ signer key)`);
    seed = r.value.seed;
  }
  const signer = nodeSigner(seed);
  const vet = vetPublicKey(signer.publicKey);
  if (!vet.ok) throw usageError(`invalid client key file ${path}: public key rejected (${vet.code}): ${vet.message}`);
  return { signer, publicKeyHex: toHex(signer.publicKey) };
}

export async function loadClientKey(io: CliIo, path: string): Promise<ClientKey> {
  const bytes = await readFileBounded(io, path, 'client key file', CLIENT_KEY_FILE_BYTES_MAX, 'CLIENT_KEY_FILE_BYTES_MAX');
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw usageError(`invalid client key file ${path}: not UTF-8 text`);
  }
  return parseClientKey(text, path);
}
