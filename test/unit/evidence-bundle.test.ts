// The explorer's evidence bundle (src/verifier/evidence.ts): one file with the entry, its receipt
// and the trust file, verified offline by `cairn verify receipt <bundle>` (exit 0), and refused
// (exit 1, with the reason) when anything in it was changed or another trust file disagrees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { formatReceipt } from '../../src/checkpoint/receipt.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { toBase64, toHex, utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/hash.js';
import { MerkleLog } from '../../src/merkle/log.js';
import { formatEvidence, looksLikeEvidence, parseEvidence } from '../../src/verifier/evidence.js';
import { cli, expectError, tempDir } from './support/cli.js';

const ORIGIN = 'cairn.example/evidence-test';
let dir: { path: string; cleanup: () => Promise<void> };
const p = (name: string) => join(dir.path, name);
const entries = Array.from({ length: 6 }, (_, i) => utf8(`{"entry":${i}}`));
let bundle: string;
let trust: string;
let otherTrust: string;

function org(name: string, seed: number): { signer: NoteSigner; key: string } {
  const s = nobleSigner(new Uint8Array(32).fill(seed));
  return { signer: { name, signer: s }, key: formatVerifierKey(name, s.publicKey) };
}

beforeAll(async () => {
  dir = await tempDir('evidence');
  const orgs = ['org1.example', 'org2.example', 'org3.example', 'org4.example'].map((n, i) => org(n, i + 1));
  trust = JSON.stringify({ origin: ORIGIN, quorum: 3, keys: orgs.map((o) => o.key) });
  otherTrust = JSON.stringify({ origin: ORIGIN, quorum: 3, keys: ['a', 'b', 'c', 'd'].map((n, i) => org(`${n}.example`, i + 11).key) });
  await writeFile(p('other-trust.json'), otherTrust);
  await writeFile(p('trust.json'), trust);
  const log = new MerkleLog();
  await log.append(entries);
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: log.size, root: log.root() }), orgs.slice(0, 3).map((o) => o.signer));
  const receipt = formatReceipt({ index: 4, proof: await log.inclusionProof(4), checkpoint: note });
  bundle = formatEvidence({ leafHash: toHex(leafHash(entries[4]!)), index: 4, entry: entries[4]!, receipt, trust });
  await writeFile(p('bundle.json'), bundle);
});

afterAll(async () => {
  await dir.cleanup();
});

describe('evidence bundle', () => {
  it('round-trips and is told apart from a bare receipt', () => {
    const r = parseEvidence(utf8(bundle));
    expect(r.ok && r.evidence.index).toBe(4);
    expect(looksLikeEvidence(utf8(bundle))).toBe(true);
    expect(looksLikeEvidence(utf8('c2sp.org/tlog-proof@v1\nindex 4\n'))).toBe(false);
  });

  it('cairn verify receipt <bundle> verifies offline with the trust file inside, or with --trust', async () => {
    const r = await cli(['verify', 'receipt', p('bundle.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('receipt OK');
    expect(r.stdout).toContain("the bundle's own trust file");
    const t = await cli(['verify', 'receipt', p('bundle.json'), '--trust', p('trust.json')]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`trust file ${p('trust.json')}`);
  });

  it('refuses a changed entry, a wrong leaf hash, another index, another trust file and malformed bundles', async () => {
    const b = JSON.parse(bundle);
    const cases: [string, unknown, RegExp][] = [
      // Another entry with its own (correct) leaf hash: the receipt does not lead to it.
      ['other-entry', { ...b, entry: toBase64(entries[5]!), leafHash: toHex(leafHash(entries[5]!)) }, /\[proof_root_mismatch\]/],
      ['wrong-hash', { ...b, leafHash: toHex(leafHash(entries[5]!)) }, /leafHash is not the hash of the entry.*\[evidence_malformed\]/],
      ['other-index', { ...b, index: 3 }, /states index 3, the receipt proves 4/],
      ['no-trust', { ...b, trust: null }, /trust must be the trust file object/],
      ['bad-trust', { ...b, trust: { origin: ORIGIN, quorum: 1, keys: [] } }, /its trust file is invalid/],
      ['not-base64', { ...b, entry: 'not base64!' }, /entry must be canonical base64/],
    ];
    for (const [name, value, re] of cases) {
      await writeFile(p(`${name}.json`), JSON.stringify(value));
      expectError(await cli(['verify', 'receipt', p(`${name}.json`)]), 1, re);
    }
    // The auditor's own trust file names other organizations: the bundle's signatures do not count.
    expectError(await cli(['verify', 'receipt', p('bundle.json'), '--trust', p('other-trust.json')]), 1, /\[checkpoint_quorum_not_met\]/);
  });
});
