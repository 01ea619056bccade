// `cairn auth ...`: credentials for reading from peers whose policy restricts reads
// (docs/access-control.md).
//   cairn auth keygen --name <name> --out <file> [--role <role>...]
//       a request-signing Ed25519 key for a machine or an auditor's tool. The file (mode 0600,
//       never overwritten) is a PKCS#8 PEM preceded by a `keyid: <name>` line, so --auth-key
//       knows the key's name. Prints the `keys[]` entry to paste into the peer's policy.
//   cairn auth token --peer <url> --auth-key <file>
//       POST /v1/auth/token, signed with the key: prints a short-lived bearer token (for curl,
//       Prometheus, tlog-tiles clients), or the whole answer with --json.
//   cairn auth whoami --peer <url> [credentials]
//       GET /v1/auth/whoami: the principal the peer sees, its kind, roles and entry scope.
import type { Command } from 'commander';
import { chmod, open } from 'node:fs/promises';
import { privateKeyToPem } from '../../src/crypto/keys.js';
import { publicKeyFromSeed, randomSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { addCredentialOptions, AUTH_KEY_NAME_RE, loadCredential, type CredentialFlags } from './credentials.js';
import { describeFsError, failure, resolvePath, usageError, type CliIo } from './io.js';
import { describeHttpFailure, jsonBody, parsePeerUrl, peerRequest } from './peer-http.js';

/** Largest answer of the token and whoami routes (a token, a few roles and a scope expression). */
export const AUTH_RESPONSE_BYTES_MAX = 64 * 1024;
/** Most --role values (a policy key rarely holds more than a few roles). */
export const AUTH_KEYGEN_ROLES_MAX = 16;

export interface AuthKeygenResult {
  path: string;
  publicKeyHex: string;
  /** The entry for the policy's `keys` list. */
  policyKey: { name: string; publicKey: string; roles: string[] };
}

/** The key file text: a name line, then the PKCS#8 PEM (explanatory text before it is allowed by RFC 7468). */
export function formatAuthKeyFile(name: string, seed: Uint8Array): string {
  return `# Cairn request-signing key (RFC 9421 keyid "${name}"). Private: keep it mode 0600.\nkeyid: ${name}\n${privateKeyToPem(seed)}`;
}

export async function authKeygen(io: CliIo, name: string, out: string, roles: string[]): Promise<AuthKeygenResult> {
  if (!AUTH_KEY_NAME_RE.test(name)) throw usageError(`invalid key name ${JSON.stringify(name.slice(0, 80))}: policy key names are [a-z0-9][a-z0-9._-]{0,63}`);
  if (roles.length > AUTH_KEYGEN_ROLES_MAX) throw usageError(`at most ${AUTH_KEYGEN_ROLES_MAX} --role values`);
  for (const r of roles) if (!AUTH_KEY_NAME_RE.test(r)) throw usageError(`invalid role name ${JSON.stringify(r.slice(0, 80))}: role names are [a-z0-9][a-z0-9._-]{0,63}`);
  const seed = randomSeed();
  const path = resolvePath(io, out);
  let handle;
  try {
    // 'wx' = O_CREAT|O_EXCL: never overwrites an existing key, atomically.
    handle = await open(path, 'wx', 0o600);
  } catch (e) {
    throw failure(`cannot create ${out}: ${describeFsError(e)} (auth keygen never overwrites a key)`);
  }
  try {
    await handle.writeFile(formatAuthKeyFile(name, seed), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
  const publicKeyHex = toHex(publicKeyFromSeed(seed));
  return { path, publicKeyHex, policyKey: { name, publicKey: publicKeyHex, roles: [...new Set(roles)] } };
}

export interface AuthPeerOptions extends CredentialFlags {
  peer: string;
  json?: boolean;
}

interface WhoamiDoc {
  principal?: unknown;
  kind?: unknown;
  roles?: unknown;
  scope?: unknown;
  expiresAt?: unknown;
  rolesMissingMfa?: unknown;
  accessControl?: unknown;
}

const printable = (v: unknown): string => String(v).replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 2000);

export async function authWhoami(io: CliIo, opts: AuthPeerOptions): Promise<void> {
  const base = parsePeerUrl(opts.peer);
  const auth = await loadCredential(io, opts);
  const res = await peerRequest(base, '/v1/auth/whoami', { accept: 'application/json', bytesMax: AUTH_RESPONSE_BYTES_MAX, limitName: 'AUTH_RESPONSE_BYTES_MAX', auth });
  if (res.status !== 200) throw failure(describeHttpFailure(res));
  const doc = jsonBody<WhoamiDoc>(res);
  if (typeof doc?.principal !== 'string' || !Array.isArray(doc.roles)) throw failure(`${res.url}: the answer has no principal and roles`);
  if (opts.json === true) {
    io.stdout(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  // A role is {name, kind, scope} (its scope expression is what limits the entries it reads).
  const role = (r: unknown): string => {
    if (typeof r !== 'object' || r === null) return printable(r);
    const o = r as { name?: unknown; kind?: unknown; scope?: unknown };
    const scope = typeof o.scope === 'string' && o.scope !== '' && o.scope !== 'true' ? `, scope: ${printable(o.scope)}` : '';
    return `${printable(o.name)} (${printable(o.kind)}${scope})`;
  };
  const roles = doc.roles.slice(0, 64).map(role);
  const rows: [string, string][] = [
    ['peer', base],
    ['principal', printable(doc.principal)],
    ['kind', printable(doc.kind ?? '?')],
    ['roles', roles.length > 0 ? roles.join('; ') : '(none)'],
    ['scope', printable(doc.scope ?? '?')],
  ];
  if (Array.isArray(doc.rolesMissingMfa) && doc.rolesMissingMfa.length > 0) rows.push(['need MFA', doc.rolesMissingMfa.slice(0, 64).map(printable).join(', ')]);
  if (doc.accessControl === false) rows.push(['note', 'this peer has no access policy: every route is open']);
  if (typeof doc.expiresAt === 'number' && Number.isFinite(doc.expiresAt)) rows.push(['expires', new Date(doc.expiresAt > 1e12 ? doc.expiresAt : doc.expiresAt * 1000).toISOString()]);
  const width = Math.max(...rows.map(([k]) => k.length));
  io.stdout(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join(''));
}

export async function authToken(io: CliIo, opts: AuthPeerOptions): Promise<void> {
  const base = parsePeerUrl(opts.peer);
  const auth = await loadCredential(io, opts);
  // The peer issues tokens only to principals that proved a key (a token cannot buy a token).
  if (auth === null || auth.kind !== 'key') throw usageError(`cairn auth token needs --auth-key <file> (or env CAIRN_AUTH_KEY): tokens are issued to signature keys`);
  const res = await peerRequest(base, '/v1/auth/token', { method: 'POST', accept: 'application/json', bytesMax: AUTH_RESPONSE_BYTES_MAX, limitName: 'AUTH_RESPONSE_BYTES_MAX', auth });
  if (res.status !== 200 && res.status !== 201) throw failure(describeHttpFailure(res));
  const doc = jsonBody<{ token?: unknown; expiresAt?: unknown }>(res);
  if (typeof doc?.token !== 'string' || !/^[\x21-\x7e]+$/.test(doc.token) || typeof doc.expiresAt !== 'number') {
    throw failure(`${res.url}: the answer is not {"token", "expiresAt"}`);
  }
  // Only the token on stdout, so `TOKEN=$(cairn auth token ...)` works; --json for the rest.
  io.stdout(opts.json === true ? JSON.stringify(doc, null, 2) + '\n' : doc.token + '\n');
}

export function registerAuth(program: Command, io: CliIo): void {
  const auth = program.command('auth').description('credentials for peers that restrict reads: signing keys, bearer tokens, whoami');
  auth
    .command('keygen')
    .description('create an Ed25519 request-signing key for a machine or auditor principal; prints its entry for the peer policy')
    .requiredOption('--name <name>', 'key name in the policy (the RFC 9421 keyid), e.g. auditor')
    .requiredOption('--out <file>', 'private key file to create (mode 0600; never overwritten)')
    .option('--role <role>', 'role to grant in the printed policy entry (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (opts: { name: string; out: string; role: string[] }) => {
      const r = await authKeygen(io, opts.name, opts.out, opts.role);
      io.stdout(JSON.stringify(r.policyKey) + '\n');
    });
  addCredentialOptions(
    auth
      .command('token')
      .description('get a short-lived bearer token from a peer (POST /v1/auth/token), signed with --auth-key; prints the token')
      .requiredOption('--peer <url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
      .option('--json', 'print the whole answer {"token", "expiresAt", ...}'),
  ).action(async (opts: AuthPeerOptions) => {
    await authToken(io, opts);
  });
  addCredentialOptions(
    auth
      .command('whoami')
      .description('show who a peer takes these credentials for (GET /v1/auth/whoami): principal, kind, roles, scope')
      .requiredOption('--peer <url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
      .option('--json', "print the API's JSON answer"),
  ).action(async (opts: AuthPeerOptions) => {
    await authWhoami(io, opts);
  });
}
