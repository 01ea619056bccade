// The pure core must run in a browser (auditors verify from a web page): bundle the light verifier and client SDK for the
// browser platform with esbuild — which refuses Node built-ins there — and run the bundle in a bare
// V8 context that has only what a browser page has for these modules (TextEncoder/TextDecoder,
// WebCrypto's getRandomValues): no require, process, Buffer or node: modules. Inside it, sign a
// checkpoint with four organization keys and verify it, an entry's inclusion and a tampered proof.
import { build } from 'esbuild';
import { webcrypto } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [resolve(here, 'support/browser-entry.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'Cairn',
    write: false,
    logLevel: 'silent',
  });
  expect(out.errors).toEqual([]);
  return out.outputFiles[0]!.text;
}

// The script run inside the sandbox; it returns a JSON summary of what it verified.
const scenario = `
(async () => {
  const { verifier, client, MerkleLog, formatCheckpoint, signNote, nobleSigner } = Cairn;
  const seed = (i) => { const s = new Uint8Array(32); s[0] = i + 1; return s; };
  const orgs = [0, 1, 2, 3].map((i) => ({ name: 'org' + i + '.example', signer: nobleSigner(seed(i)) }));
  const trust = verifier.parseTrustFile(JSON.stringify({
    origin: 'browser.example/log',
    quorum: 3,
    keys: orgs.map((o) => verifier.formatVerifierKey(o.name, o.signer.publicKey)),
  }));
  if (!trust.ok) throw new Error('trust: ' + trust.message);
  const clientSigner = nobleSigner(seed(9));
  const entries = [0, 1, 2, 3, 4].map((i) => client.signEntry({
    v: 1, id: 'b-' + i, time: '2026-11-26T12:00:0' + i + 'Z',
    actor: { id: 'alice' }, action: 'db.query', resource: { type: 'db.table', id: 't' + i }, outcome: 'success',
  }, clientSigner));
  const leaves = entries.map((e) => client.entryLeaf(e));
  const log = new MerkleLog();
  await log.append(leaves);
  const body = formatCheckpoint({ origin: 'browser.example/log', size: log.size, root: log.root() });
  const note = signNote(body, orgs.slice(0, 3));
  const short = signNote(body, orgs.slice(0, 2));
  const cp = verifier.verifyCheckpoint(trust.trust, note);
  const cpShort = verifier.verifyCheckpoint(trust.trust, short);
  const proof = await log.inclusionProof(3, log.size);
  const inc = verifier.verifyInclusion(trust.trust, { entryLeaf: leaves[3], index: 3, proof, checkpoint: note });
  const bad = proof.map((h) => h.slice()); bad[0][0] ^= 1;
  const incBad = verifier.verifyInclusion(trust.trust, { entryLeaf: leaves[3], index: 3, proof: bad, checkpoint: note });
  return JSON.stringify({ cp: cp.ok, signers: cp.ok ? cp.signers.length : 0, short: cpShort.ok ? 'ok' : cpShort.code, inc: inc.ok, incBad: incBad.ok ? 'ok' : incBad.code });
})()
`;

describe('browser portability', () => {
  it('the verifier and client SDK bundle for the browser and verify a quorum checkpoint and inclusion in a bare context', async () => {
    const code = await bundle();
    expect(code).not.toMatch(/require\(["']node:/);
    // A browser has one realm: byte arrays from TextEncoder are the page's own Uint8Arrays. The
    // host's encoder returns host-realm arrays, so the shim copies them into the sandbox's realm.
    const sandbox = vm.createContext({
      hostEncode: (s: string) => Array.from(new TextEncoder().encode(s)),
      hostDecode: (b: number[]) => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(b)),
      hostRandom: (n: number) => Array.from(webcrypto.getRandomValues(new Uint8Array(n))),
    });
    vm.runInContext(
      `globalThis.TextEncoder = class { encode(s) { return new Uint8Array(hostEncode(String(s))); } };
       globalThis.TextDecoder = class { decode(b) { return hostDecode(Array.from(b)); } };
       globalThis.crypto = { getRandomValues(a) { a.set(hostRandom(a.length)); return a; } };`,
      sandbox,
    );
    vm.runInContext(code, sandbox);
    expect(vm.runInContext('typeof process + typeof require + typeof Buffer', sandbox)).toBe('undefinedundefinedundefined');
    const summary = JSON.parse(await vm.runInContext(scenario, sandbox));
    expect(summary.cp).toBe(true);
    expect(summary.signers).toBe(3);
    expect(summary.short).not.toBe('ok'); // 2 of 4 is below the quorum of 3
    expect(summary.inc).toBe(true);
    expect(summary.incBad).not.toBe('ok');
  });

  it('a node: import in the bundled graph is refused for the browser platform (the check can fail)', async () => {
    const r = await build({
      stdin: { contents: "import { createHash } from 'node:crypto'; export const h = createHash;", resolveDir: here },
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    }).catch((e: { errors?: { text: string }[] }) => e);
    expect('errors' in r && (r.errors ?? []).length).toBeGreaterThan(0);
  });
});
