// Credentials of the `cairn` commands that read from a peer whose policy restricts reads
// (docs/access-control.md). One helper for every command, so they all take the same flags:
//   --token <token>        a bearer token (OpenID Connect, or a peer token from `cairn auth token`)
//   --token-file <file>    the same, read from a file (keeps it out of the process list and history)
//   --auth-key <file>      an Ed25519 key named in the peer's policy: every request is signed
//                          (RFC 9421: method, target URI, content digest, created, nonce)
//   --auth-key-name <name> the key's name (RFC 9421 keyid) when the key file does not say it
// and the environment variables CAIRN_TOKEN, CAIRN_TOKEN_FILE, CAIRN_AUTH_KEY, CAIRN_AUTH_KEY_NAME.
// Flags win over the environment: if any credential flag is given, the environment is ignored.
// Giving two credentials at the same level (e.g. --token and --auth-key) is a usage error, since
// the peer refuses a request that carries two.
//
// Key files: what `cairn auth keygen` writes (a PKCS#8 PEM preceded by a `keyid: <name>` line),
// or any PKCS#8 PEM (`openssl genpkey -algorithm ed25519`), private JWK (its `kid` names it),
// 64 hex digits (the seed), or a signed-note signer key `PRIVATE+KEY+<name>+...`. The name is,
// in order: --auth-key-name / CAIRN_AUTH_KEY_NAME, the file's own `keyid:` line, the JWK `kid`,
// the signer key's name, else the file name without its extension (auditor.pem → auditor).
import type { Command } from 'commander';
import { basename, extname } from 'node:path';
import { signRequest, SignRequestError } from '../../src/auth/sign.js';
import type { CairnCredentials } from '../../src/client/client.js';
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { parsePrivateKey } from '../../src/crypto/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { readFileBounded, usageError, type CliIo } from './io.js';

/** Longest bearer token accepted (peer tokens are at most 4,096 characters; JWTs with many claims are longer). */
export const TOKEN_CHARS_MAX = 16 * 1024;
/** Largest token or key file read. */
export const CREDENTIAL_FILE_BYTES_MAX = 32 * 1024;
/** Key names as the peer policy spells them (the RFC 9421 keyid). */
export const AUTH_KEY_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const ENV_TOKEN = 'CAIRN_TOKEN';
export const ENV_TOKEN_FILE = 'CAIRN_TOKEN_FILE';
export const ENV_AUTH_KEY = 'CAIRN_AUTH_KEY';
export const ENV_AUTH_KEY_NAME = 'CAIRN_AUTH_KEY_NAME';

/** The credential options as commander hands them over. */
export interface CredentialFlags {
  token?: string;
  tokenFile?: string;
  authKey?: string;
  authKeyName?: string;
}

export type CliCredential =
  | { kind: 'token'; token: string; source: string }
  | { kind: 'key'; keyid: string; signer: Ed25519Signer; seed: Uint8Array; source: string };

/** Adds --token, --token-file, --auth-key and --auth-key-name to a command. */
export function addCredentialOptions(cmd: Command): Command {
  return cmd
    .option('--token <token>', `bearer token for peers that restrict reads (or env ${ENV_TOKEN}; prefer --token-file)`)
    .option('--token-file <file>', `file holding the bearer token (or env ${ENV_TOKEN_FILE})`)
    .option('--auth-key <file>', `Ed25519 key named in the peer's policy; signs every request (or env ${ENV_AUTH_KEY})`)
    .option('--auth-key-name <name>', `the key's name in the policy, when the key file does not give it (or env ${ENV_AUTH_KEY_NAME})`);
}

function checkToken(t: string, source: string): string {
  if (t.length === 0) throw usageError(`${source}: the token is empty`);
  if (t.length > TOKEN_CHARS_MAX) throw usageError(`${source}: the token is longer than ${TOKEN_CHARS_MAX} characters (TOKEN_CHARS_MAX)`);
  // It goes into a header: visible ASCII only, so it cannot split the request or hide characters.
  if (!/^[\x21-\x7e]+$/.test(t)) throw usageError(`${source}: the token must be one line of visible ASCII characters`);
  return t;
}

async function readText(io: CliIo, path: string, what: string): Promise<string> {
  const bytes = await readFileBounded(io, path, what, CREDENTIAL_FILE_BYTES_MAX, 'CREDENTIAL_FILE_BYTES_MAX');
  try {
    return fromUtf8(bytes);
  } catch {
    throw usageError(`${what} ${path} is not UTF-8 text`);
  }
}

/** Parses key file text into a seed and the name the file gives (if any). Throws a usage error naming `path`. */
export function parseAuthKeyText(text: string, path: string): { seed: Uint8Array; name: string | null } {
  let name: string | null = null;
  const kept: string[] = [];
  // Explanatory text before a PEM block is allowed (RFC 7468 §5.2): `# ...` comments and `keyid: <name>`.
  for (const line of text.split(/\r?\n/)) {
    const m = /^keyid:\s*(\S+)\s*$/i.exec(line.trim());
    if (m !== null) {
      if (name !== null) throw usageError(`invalid key file ${path}: more than one keyid line`);
      name = m[1]!;
    } else if (!line.trim().startsWith('#')) kept.push(line);
  }
  const t = kept.join('\n').trim();
  if (t.startsWith('PRIVATE+KEY+')) {
    const r = parseSignerKey(t);
    if (!r.ok) throw usageError(`invalid key file ${path}: ${r.message} [${r.code}]`);
    return { seed: r.key.seed, name: name ?? r.key.name };
  }
  const r = parsePrivateKey(t);
  if (!r.ok) throw usageError(`invalid key file ${path}: ${r.message} [${r.code}] (expected a PKCS#8 PEM, a private JWK, 64 hex digits or a PRIVATE+KEY+ signer key)`);
  if (name === null && t.startsWith('{')) {
    try {
      const kid = (JSON.parse(t) as { kid?: unknown }).kid;
      if (typeof kid === 'string') name = kid;
    } catch {
      // parsePrivateKey accepted it, so it is JSON; nothing else to learn
    }
  }
  return { seed: r.value.seed, name };
}

async function loadKey(io: CliIo, path: string, explicitName: string | undefined, source: string): Promise<CliCredential> {
  const text = await readText(io, path, 'key file');
  const k = parseAuthKeyText(text, path);
  const stem = basename(path, extname(path));
  const name = explicitName ?? k.name ?? (AUTH_KEY_NAME_RE.test(stem) ? stem : null);
  if (name === null) throw usageError(`key file ${path} does not name its key: give --auth-key-name <name> (the key's name in the peer policy)`);
  if (!AUTH_KEY_NAME_RE.test(name)) throw usageError(`invalid key name ${JSON.stringify(name.slice(0, 80))}: policy key names are [a-z0-9][a-z0-9._-]{0,63}`);
  return { kind: 'key', keyid: name, signer: nodeSigner(k.seed), seed: k.seed, source };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/**
 * The credential to send, from the flags or else the environment (see the top of this file), or
 * null when none is given. Bad or unreadable input is a one-line usage error (exit 2).
 */
export async function loadCredential(io: CliIo, flags: CredentialFlags): Promise<CliCredential | null> {
  const env = io.env ?? process.env;
  const fromFlags = { token: nonEmpty(flags.token), tokenFile: nonEmpty(flags.tokenFile), authKey: nonEmpty(flags.authKey) };
  const useFlags = Object.values(fromFlags).some((v) => v !== undefined);
  const c = useFlags ? fromFlags : { token: nonEmpty(env[ENV_TOKEN]), tokenFile: nonEmpty(env[ENV_TOKEN_FILE]), authKey: nonEmpty(env[ENV_AUTH_KEY]) };
  const names = useFlags ? ['--token', '--token-file', '--auth-key'] : [ENV_TOKEN, ENV_TOKEN_FILE, ENV_AUTH_KEY];
  const given = [c.token, c.tokenFile, c.authKey].map((v, i) => (v === undefined ? null : names[i]!)).filter((n) => n !== null);
  const keyName = nonEmpty(flags.authKeyName) ?? nonEmpty(env[ENV_AUTH_KEY_NAME]);
  if (given.length > 1) throw usageError(`give one credential, not ${given.join(' and ')}`);
  if (c.token !== undefined) return { kind: 'token', token: checkToken(c.token, names[0]!), source: names[0]! };
  if (c.tokenFile !== undefined) {
    const text = await readText(io, c.tokenFile, 'token file');
    return { kind: 'token', token: checkToken(text.trim(), `token file ${c.tokenFile}`), source: names[1]! };
  }
  if (c.authKey !== undefined) return loadKey(io, c.authKey, keyName, names[2]!);
  if (nonEmpty(flags.authKeyName) !== undefined) throw usageError('--auth-key-name needs --auth-key <file>');
  return null;
}

/** Headers that carry `cred` on one request (signed afresh each time: a new nonce per request). */
export function credentialHeaders(cred: CliCredential | null | undefined, method: string, url: string, body?: Uint8Array): Record<string, string> {
  if (cred === null || cred === undefined) return {};
  if (cred.kind === 'token') return { authorization: `Bearer ${cred.token}` };
  try {
    return signRequest({ method, url, ...(body !== undefined && body.length > 0 ? { body } : {}) }, { keyid: cred.keyid, signer: cred.signer });
  } catch (e) {
    if (e instanceof SignRequestError) throw usageError(`cannot sign the request to ${url}: ${e.message}`);
    throw e;
  }
}

/** The same credential for the client SDK (src/client), e.g. for commands built on CairnClient. */
export function sdkCredentials(cred: CliCredential | null): CairnCredentials | undefined {
  if (cred === null) return undefined;
  if (cred.kind === 'token') return { token: cred.token };
  return { signingKey: { name: cred.keyid, signer: cred.signer } };
}
