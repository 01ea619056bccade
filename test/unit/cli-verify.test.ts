import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { formatReceipt } from '../../src/checkpoint/receipt.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { toBase64, utf8 } from '../../src/encoding/bytes.js';
import { MerkleLog } from '../../src/merkle/log.js';
import { cli, expectError, tempDir } from './support/cli.js';

const ORIGIN = 'cairn.example/cli-test';
let dir: { path: string; cleanup: () => Promise<void> };
let orgs: NoteSigner[];
const log = new MerkleLog();
const entries = Array.from({ length: 10 }, (_, i) => utf8(`{"entry":${i}}`));
const p = (name: string) => join(dir.path, name);

beforeAll(async () => {
  dir = await tempDir('verify');
  // Keys made by the real keygen command, as an operator would.
  orgs = [];
  const pubs: string[] = [];
  for (const name of ['org1.example', 'org2.example', 'org3.example', 'org4.example']) {
    const r = await cli(['keygen', '--name', name, '--out', p('keys')]);
    expect(r.code, r.stderr).toBe(0);
    pubs.push(r.stdout.trim());
    const sk = parseSignerKey((await readFile(p(`keys/${name}.key`), 'utf8')).trim());
    if (!sk.ok) throw new Error(sk.message);
    orgs.push({ name, signer: nobleSigner(sk.key.seed) });
  }
  await writeFile(p('trust.json'), JSON.stringify({ origin: ORIGIN, quorum: 3, keys: pubs }, null, 2));
  await writeFile(p('trust-low.json'), JSON.stringify({ origin: ORIGIN, quorum: 2, keys: pubs }));
  await log.append(entries);
  const body = formatCheckpoint({ origin: ORIGIN, size: log.size, root: log.root() });
  await writeFile(p('checkpoint'), signNote(body, orgs.slice(0, 3)));
  await writeFile(p('checkpoint-2sigs'), signNote(body, orgs.slice(0, 2)));
  await writeFile(p('checkpoint-tampered'), signNote(body, orgs.slice(0, 3)).replace('\n10\n', '\n11\n'));
  await writeFile(p('receipt.tlog-proof'), formatReceipt({ index: 7, proof: await log.inclusionProof(7), checkpoint: signNote(body, orgs.slice(1)) }));
  await writeFile(p('entry7'), entries[7]!);
  await writeFile(p('entry8'), entries[8]!);
  await writeFile(p('big'), new Uint8Array(70_000));
});

afterAll(async () => {
  await dir.cleanup();
});

describe('cairn verify checkpoint', () => {
  it('prints a summary and exits 0 for a quorum-signed checkpoint', async () => {
    const r = await cli(['verify', 'checkpoint', p('checkpoint'), '--trust', p('trust.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('checkpoint OK\n');
    expect(r.stdout).toContain(`origin   ${ORIGIN}`);
    expect(r.stdout).toContain('size     10');
    expect(r.stdout).toContain(`root     ${toBase64(log.root())}`);
    expect(r.stdout).toContain('signers  3 of 4 (quorum 3): org1.example, org2.example, org3.example');
  });

  it('reads the checkpoint from standard input with "-" and resolves relative paths', async () => {
    const stdin = await readFile(p('checkpoint'));
    const r = await cli(['verify', 'checkpoint', '-', '--trust', 'trust.json'], { cwd: dir.path, stdin });
    expect(r.code, r.stderr).toBe(0);
  });

  it('exits 1 with one line naming the reason when verification fails', async () => {
    expectError(await cli(['verify', 'checkpoint', p('checkpoint-2sigs'), '--trust', p('trust.json')]), 1, /rejected: .*signed by 2 of 4.*\[checkpoint_quorum_not_met\]/);
    expectError(await cli(['verify', 'checkpoint', p('checkpoint-tampered'), '--trust', p('trust.json')]), 1, /\[note_invalid_signature\]/);
    expectError(await cli(['verify', 'checkpoint', p('entry7'), '--trust', p('trust.json')]), 1, /\[note_missing_final_newline\]/);
    expectError(await cli(['verify', 'checkpoint', p('big'), '--trust', p('trust.json')]), 1, /\[note_control_character\]/);
  });

  it('exits 2 for unusable arguments and trust files', async () => {
    expectError(await cli(['verify', 'checkpoint', p('checkpoint')]), 2, /required option '--trust <file>'.*cairn verify checkpoint --help/);
    expectError(await cli(['verify', 'checkpoint', '--trust', p('trust.json')]), 2, /missing required argument 'file'/);
    expectError(await cli(['verify', 'checkpoint', p('nope'), '--trust', p('trust.json')]), 2, /cannot read checkpoint file .*nope: no such file or directory/);
    expectError(await cli(['verify', 'checkpoint', p('checkpoint'), '--trust', p('nope.json')]), 2, /cannot read trust file/);
    expectError(await cli(['verify', 'checkpoint', p('checkpoint'), '--trust', p('trust-low.json')]), 2, /invalid trust file .*\[trust_quorum_too_low\]/);
    expectError(await cli(['verify', 'checkpoint', p('checkpoint'), '--trust', p('checkpoint')]), 2, /\[trust_not_json\]/);
    expectError(await cli(['verify', 'checkpoint', p('checkpoint'), '--trust', dir.path]), 2, /is a directory/);
    expectError(await cli(['verify', 'checkpoint', '-', '--trust', p('trust.json')]), 2, /standard input/);
    expectError(await cli(['verify']), 2, /missing command; see 'cairn verify --help'/);
    expectError(await cli(['verify', 'tree']), 2, /unknown command 'tree'/);
  });
});

describe('cairn verify receipt', () => {
  it('verifies a tlog-proof receipt for the entry', async () => {
    const r = await cli(['verify', 'receipt', p('receipt.tlog-proof'), '--entry', p('entry7'), '--trust', p('trust.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('receipt OK\n');
    expect(r.stdout).toContain('index    7');
    expect(r.stdout).toContain('signers  3 of 4 (quorum 3): org2.example, org3.example, org4.example');
  });

  it('rejects the wrong entry (exit 1) and bad arguments (exit 2)', async () => {
    expectError(await cli(['verify', 'receipt', p('receipt.tlog-proof'), '--entry', p('entry8'), '--trust', p('trust.json')]), 1, /\[proof_root_mismatch\]/);
    expectError(await cli(['verify', 'receipt', p('checkpoint'), '--entry', p('entry7'), '--trust', p('trust.json')]), 1, /\[receipt_bad_header\]/);
    expectError(await cli(['verify', 'receipt', p('receipt.tlog-proof'), '--entry', p('big'), '--trust', p('trust.json')]), 1, /MAX_ENTRY_BYTES/);
    expectError(await cli(['verify', 'receipt', p('receipt.tlog-proof'), '--trust', p('trust.json')]), 2, /required option '--entry <file>'/);
    expectError(await cli(['verify', 'receipt', '-', '--entry', '-', '--trust', p('trust.json')], { stdin: new Uint8Array() }), 2, /only one of/);
  });
});
