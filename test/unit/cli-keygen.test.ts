import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSignerKey, parseVerifierKey } from '../../src/checkpoint/keys.js';
import { parseSigningKeyText } from '../../node/peer/config.js';
import { cli, expectError, tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('keygen');
});
afterEach(async () => {
  await dir.cleanup();
});

describe('cairn keygen', () => {
  it('writes <name>.key (0600, signer key) and <name>.pub (verifier key) and prints the verifier key', async () => {
    const out = join(dir.path, 'keys');
    const r = await cli(['keygen', '--name', 'acme.example', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const pubText = await readFile(join(out, 'acme.example.pub'), 'utf8');
    const keyText = await readFile(join(out, 'acme.example.key'), 'utf8');
    expect(r.stdout).toBe(pubText);
    expect(pubText.endsWith('\n') && keyText.endsWith('\n')).toBe(true);
    const vk = parseVerifierKey(pubText.trim());
    const sk = parseSignerKey(keyText.trim());
    if (!vk.ok || !sk.ok) throw new Error('key files do not parse');
    expect(vk.key.name).toBe('acme.example');
    expect(sk.key.verifierKey.text).toBe(vk.key.text);
    expect((await stat(join(out, 'acme.example.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, 'acme.example.pub'))).mode & 0o777).toBe(0o644);
    // The peer program reads this key file format.
    const peer = parseSigningKeyText(keyText);
    expect(peer.ok && peer.name).toBe('acme.example');
  });

  it('generates a different key every time', async () => {
    const a = await cli(['keygen', '--name', 'a', '--out', dir.path]);
    const b = await cli(['keygen', '--name', 'b', '--out', dir.path]);
    expect(a.code + b.code).toBe(0);
    expect(a.stdout.split('+')[2]).not.toBe(b.stdout.split('+')[2]);
  });

  it('resolves a relative --out against the working directory', async () => {
    const r = await cli(['keygen', '--name', 'rel', '--out', 'sub'], { cwd: dir.path });
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(dir.path, 'sub', 'rel.key'))).isFile()).toBe(true);
  });

  it('refuses to overwrite an existing key or public key file (exit 1), leaving files untouched', async () => {
    expect((await cli(['keygen', '--name', 'org', '--out', dir.path])).code).toBe(0);
    const before = await readFile(join(dir.path, 'org.key'), 'utf8');
    expectError(await cli(['keygen', '--name', 'org', '--out', dir.path]), 1, /already exists/);
    expect(await readFile(join(dir.path, 'org.key'), 'utf8')).toBe(before);
    // only the .pub exists: refused too, and no stray .key is left behind
    await writeFile(join(dir.path, 'lonely.pub'), 'x\n');
    expectError(await cli(['keygen', '--name', 'lonely', '--out', dir.path]), 1, /lonely\.pub: already exists/);
    await expect(stat(join(dir.path, 'lonely.key'))).rejects.toThrow();
  });

  it.each([
    [['keygen', '--name', 'a/b', '--out', '.'], /invalid key name/],
    [['keygen', '--name', '../evil', '--out', '.'], /invalid key name/],
    [['keygen', '--name', '.hidden', '--out', '.'], /invalid key name/],
    [['keygen', '--name', 'a+b', '--out', '.'], /invalid key name/],
    [['keygen', '--name', 'a b', '--out', '.'], /invalid key name/],
    [['keygen', '--name', '', '--out', '.'], /invalid key name/],
    [['keygen', '--name', 'x'.repeat(65), '--out', '.'], /invalid key name/],
    [['keygen', '--out', '.'], /required option '--name <name>'/],
    [['keygen', '--name', 'a'], /required option '--out <dir>'/],
    [['keygen', '--name'], /argument missing/],
    [['keygen', '--name', 'a', '--out', '.', '--force'], /unknown option '--force'/],
    [['keygen', '--name', 'a', '--out', '.', 'extra'], /too many arguments/],
    [[], /missing command/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('usage error %j -> exit 2', async (argv, pattern) => {
    expectError(await cli(argv, { cwd: dir.path }), 2, pattern);
  });

  it('an --out path that is a file is a usage error', async () => {
    await writeFile(join(dir.path, 'file'), 'x');
    expectError(await cli(['keygen', '--name', 'a', '--out', join(dir.path, 'file')]), 2, /cannot create output directory/);
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const r = await cli(['keygen', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: cairn keygen');
    expect(r.stderr).toBe('');
  });
});
