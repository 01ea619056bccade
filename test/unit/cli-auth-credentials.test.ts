// The credentials every reading command takes (--token, --token-file, --auth-key, and the
// CAIRN_* environment variables): flags win over the environment, two credentials at one level
// are refused, unreadable or bad files are one usage line (exit 2), key files name their key.
// And `cairn auth keygen`: a 0600 key file that --auth-key reads back, a policy entry on stdout,
// never overwriting an existing key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { privateKeyToJwk, privateKeyToPem } from '../../src/crypto/keys.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { formatSignerKey } from '../../src/checkpoint/keys.js';
import { loadCredential, type CredentialFlags } from '../../node/cli/credentials.js';
import { CliError, type CliIo } from '../../node/cli/io.js';
import { run } from '../../node/cli/run.js';
import { tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
const seed = new Uint8Array(32).fill(11);
const pubHex = toHex(publicKeyFromSeed(seed));

function io(env: Record<string, string> = {}): CliIo {
  return { stdout: () => undefined, stderr: () => undefined, cwd: dir.path, env };
}

async function usage(flags: CredentialFlags, env: Record<string, string> = {}): Promise<string> {
  try {
    await loadCredential(io(env), flags);
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(2);
    expect((e as CliError).message).not.toContain('\n');
    return (e as CliError).message;
  }
  throw new Error('expected a usage error');
}

async function runCli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: dir.path, env });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await tempDir('cli-auth-cred');
  await writeFile(p('token.txt'), 'cairn1.abc.def\n');
  await writeFile(p('two-lines.txt'), 'abc\ndef\n');
  await writeFile(p('auditor.pem'), privateKeyToPem(seed));
  await writeFile(p('Bad Name.pem'), privateKeyToPem(seed));
  await writeFile(p('named.key'), `keyid: ops-tool\n${privateKeyToPem(seed)}`);
  await writeFile(p('jwk.json'), JSON.stringify({ ...privateKeyToJwk(seed), kid: 'jwk-tool' }));
  await writeFile(p('seed.hex'), toHex(seed) + '\n');
  await writeFile(p('signer.key'), formatSignerKey('org-tool', seed) + '\n');
  await writeFile(p('garbage.pem'), '-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n');
});

afterAll(async () => {
  await dir.cleanup();
});

describe('credential precedence', () => {
  it('none given: null (an anonymous request)', async () => {
    expect(await loadCredential(io(), {})).toBeNull();
  });

  it('a flag wins over the environment, and any credential flag hides every credential variable', async () => {
    expect(await loadCredential(io({ CAIRN_TOKEN: 'from-env' }), { token: 'from-flag' })).toMatchObject({ kind: 'token', token: 'from-flag', source: '--token' });
    expect(await loadCredential(io({ CAIRN_TOKEN: 'from-env' }), {})).toMatchObject({ kind: 'token', token: 'from-env', source: 'CAIRN_TOKEN' });
    // A key flag with a token in the environment: the key, not "two credentials".
    const k = await loadCredential(io({ CAIRN_TOKEN: 'from-env' }), { authKey: 'auditor.pem' });
    expect(k).toMatchObject({ kind: 'key', keyid: 'auditor', source: '--auth-key' });
    expect(await loadCredential(io({ CAIRN_TOKEN_FILE: 'token.txt' }), {})).toMatchObject({ kind: 'token', token: 'cairn1.abc.def', source: 'CAIRN_TOKEN_FILE' });
    expect(await loadCredential(io({ CAIRN_AUTH_KEY: 'named.key' }), {})).toMatchObject({ kind: 'key', keyid: 'ops-tool', source: 'CAIRN_AUTH_KEY' });
    // Empty variables count as unset.
    expect(await loadCredential(io({ CAIRN_TOKEN: '' }), {})).toBeNull();
  });

  it('two credentials at the same level are refused, naming both', async () => {
    expect(await usage({ token: 'a', authKey: 'auditor.pem' })).toMatch(/^give one credential, not --token and --auth-key$/);
    expect(await usage({}, { CAIRN_TOKEN: 'a', CAIRN_TOKEN_FILE: 'token.txt' })).toMatch(/not CAIRN_TOKEN and CAIRN_TOKEN_FILE/);
  });

  it('the key name comes from --auth-key-name, then the env name, then the file, then the file name', async () => {
    expect(await loadCredential(io(), { authKey: 'named.key', authKeyName: 'explicit' })).toMatchObject({ keyid: 'explicit' });
    expect(await loadCredential(io({ CAIRN_AUTH_KEY_NAME: 'from-env' }), { authKey: 'named.key' })).toMatchObject({ keyid: 'from-env' });
    expect(await loadCredential(io(), { authKey: 'jwk.json' })).toMatchObject({ keyid: 'jwk-tool' });
    expect(await loadCredential(io(), { authKey: 'signer.key' })).toMatchObject({ keyid: 'org-tool' });
    const hex = await loadCredential(io(), { authKey: 'seed.hex' });
    expect(hex).toMatchObject({ kind: 'key', keyid: 'seed' });
    if (hex?.kind !== 'key') throw new Error('expected a key');
    expect(toHex(hex.signer.publicKey)).toBe(pubHex);
    expect(await usage({ authKey: 'Bad Name.pem' })).toMatch(/does not name its key: give --auth-key-name/);
    expect(await usage({ authKey: 'auditor.pem', authKeyName: 'Not Valid' })).toMatch(/invalid key name/);
    expect(await usage({ authKeyName: 'x' })).toMatch(/--auth-key-name needs --auth-key/);
  });
});

describe('bad credential input is one usage line', () => {
  it('unreadable token and key files', async () => {
    expect(await usage({ tokenFile: 'missing.txt' })).toBe('cannot read token file missing.txt: no such file or directory');
    expect(await usage({}, { CAIRN_AUTH_KEY: 'missing.pem' })).toBe('cannot read key file missing.pem: no such file or directory');
    expect(await usage({ authKey: 'garbage.pem' })).toMatch(/^invalid key file garbage\.pem: /);
  });

  it('tokens that cannot be a header value', async () => {
    expect(await usage({ tokenFile: 'two-lines.txt' })).toMatch(/one line of visible ASCII/);
    expect(await usage({ token: 'a b' })).toMatch(/one line of visible ASCII/);
    expect(await usage({ token: 'x'.repeat(16 * 1024 + 1) })).toMatch(/TOKEN_CHARS_MAX/);
  });

  it('through the command line: exit 2, one line, before any request is made', async () => {
    // Port 9 (discard) on loopback: the command must fail on the file, not on the network.
    const r = await runCli(['get', 'ab'.repeat(32), '--peer', 'http://127.0.0.1:9', '--token-file', 'missing.txt']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'cairn: cannot read token file missing.txt: no such file or directory\n' });
    const e = await runCli(['status', 'http://127.0.0.1:9'], { CAIRN_AUTH_KEY: 'missing.pem' });
    expect(e).toEqual({ code: 2, stdout: '', stderr: 'cairn: cannot read key file missing.pem: no such file or directory\n' });
    const both = await runCli(['audit', 'http://127.0.0.1:9', '--trust', 'missing-trust.json', '--token', 'a', '--auth-key', 'auditor.pem']);
    expect(both.code).toBe(2);
  });
});

describe('cairn auth keygen', () => {
  it('writes a 0600 key that --auth-key reads back, and prints its policy entry', async () => {
    const r = await runCli(['auth', 'keygen', '--name', 'auditor-1', '--out', 'keys-auditor-1.pem', '--role', 'auditor', '--role', 'auditor']);
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout) as { name: string; publicKey: string; roles: string[] };
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(line.name).toBe('auditor-1');
    expect(line.roles).toEqual(['auditor']);
    expect(line.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(p('keys-auditor-1.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(p('keys-auditor-1.pem'), 'utf8')).toMatch(/^# .*\nkeyid: auditor-1\n-----BEGIN PRIVATE KEY-----\n/);
    const k = await loadCredential(io(), { authKey: 'keys-auditor-1.pem' });
    if (k?.kind !== 'key') throw new Error('expected a key');
    expect(k.keyid).toBe('auditor-1');
    expect(toHex(k.signer.publicKey)).toBe(line.publicKey);
  });

  it('never overwrites a key; refuses bad names', async () => {
    const before = await readFile(p('auditor.pem'), 'utf8');
    const r = await runCli(['auth', 'keygen', '--name', 'auditor', '--out', 'auditor.pem']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cairn: cannot create auditor\.pem: already exists \(auth keygen never overwrites a key\)\n$/);
    expect(await readFile(p('auditor.pem'), 'utf8')).toBe(before);
    const bad = await runCli(['auth', 'keygen', '--name', 'Auditor One', '--out', 'x.pem']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cairn: invalid key name/);
  });
});
