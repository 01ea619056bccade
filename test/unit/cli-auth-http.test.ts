// Credentials on the wire, checked by the peer's own verifier (node/auth): a loopback HTTP server
// that accepts a request only if it carries `Authorization: Bearer <the token>` or an RFC 9421
// signature that verifyRequestSignature accepts (keyid, created window, fresh nonce, method,
// target URI, content digest). The CLI's get, status, audit (every checkpoint, tile and entry
// bundle request), alerts replay, verify --peer, auth whoami and auth token, and the SDK (GET and a POST with a
// body) all pass; anonymous requests and unknown keys get the peer's 401, printed as one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { CairnClient, CairnApiError } from '../../src/client/index.js';
import { privateKeyToPem } from '../../src/crypto/keys.js';
import { nobleSigner, publicKeyFromSeed } from '../../src/crypto/noble.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { concatBytes, toBase64, toHex, utf8 } from '../../src/encoding/bytes.js';
import { entryLeaf, signEntry } from '../../src/entry/index.js';
import { encodeEntryBundle, entryBundlePath, leafHash, MerkleLog, tilePath, tilesForSize } from '../../src/merkle/index.js';
import { verifyRequestSignature, type VerifiedSignature } from '../../node/auth/httpsig.js';
import { ReplayCache } from '../../node/auth/replay.js';
import { formatAuthKeyFile } from '../../node/cli/auth-cmd.js';
import { run } from '../../node/cli/run.js';
import { tempDir } from './support/cli.js';

const ORIGIN = 'cairn.example/auth-http';
const TOKEN = 'cairn1.test-token.sig';
const auditorSeed = new Uint8Array(32).fill(21);
const strangerSeed = new Uint8Array(32).fill(22);
const orgs: NoteSigner[] = ['org1', 'org2', 'org3'].map((name, i) => ({ name, signer: nobleSigner(new Uint8Array(32).fill(i + 1)) }));

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
let server: Server;
let url: string;
const replay = new ReplayCache(10_000, 1_000);
/** Every request the server saw: path, how it authenticated (or why not), the covered components. */
const seen: { method: string; path: string; auth: 'token' | 'signature' | string; components?: string[]; nonce?: string | null }[] = [];
const routes = new Map<string, Uint8Array>();
let entryHash = '';

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (c: Uint8Array) => chunks.push(c));
    req.on('end', () => resolve(concatBytes(...chunks)));
    req.on('error', reject);
  });
}

/** The peer's decision for one request: 'token', a verified signature, or a 401 reason and message. */
function authenticate(req: IncomingMessage, body: Uint8Array): 'token' | VerifiedSignature | { reason: string; message: string } {
  const authz = req.headers.authorization;
  if (authz !== undefined) return authz === `Bearer ${TOKEN}` ? 'token' : { reason: 'token_malformed', message: 'unknown token' };
  if (req.headers['signature-input'] === undefined) return { reason: 'credentials_missing', message: 'this route needs credentials' };
  const r = verifyRequestSignature(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, tls: false },
    { keyFor: (k) => (k === 'auditor' ? publicKeyFromSeed(auditorSeed) : undefined), nowMs: Date.now(), windowSeconds: 300, futureSkewSeconds: 30, replay },
  );
  return r.ok ? r : { reason: r.reason, message: r.message };
}

beforeAll(async () => {
  dir = await tempDir('cli-auth-http');
  const client = nodeSigner(new Uint8Array(32).fill(9));
  const leaves = Array.from({ length: 5 }, (_, i) =>
    entryLeaf(signEntry({ v: 1, id: `e-${i}`, time: '2026-01-01T00:00:00Z', actor: { id: 'alice' }, action: 'db.query', resource: { type: 'db.table', id: `t${i}` }, outcome: 'success' }, client)),
  );
  const log = new MerkleLog();
  await log.append(leaves);
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: log.size, root: log.root() }), orgs);
  routes.set('/checkpoint', utf8(note));
  for (const t of tilesForSize(log.size)) routes.set('/' + tilePath(t), log.tiles.get(t)!);
  routes.set('/' + entryBundlePath({ index: 0, width: 5 }), encodeEntryBundle(leaves));
  entryHash = toHex(leafHash(leaves[2]!));
  routes.set(`/v1/entries/${entryHash}`, utf8(JSON.stringify({ leafHash: entryHash, status: 'final', leaf: toBase64(leaves[2]!), entry: JSON.parse(new TextDecoder().decode(leaves[2]!)) })));
  routes.set('/v1/status', utf8(JSON.stringify({ origin: ORIGIN, peerId: 'p', validator: null, height: 1, treeSize: 5, finalSize: 5, peers: [], quorum: { needed: 3, reachable: 3, ok: true }, problem: null })));
  await writeFile(p('trust.json'), JSON.stringify({ origin: ORIGIN, quorum: 3, keys: orgs.map((o, i) => formatVerifierKey(o.name, publicKeyFromSeed(new Uint8Array(32).fill(i + 1)))) }));
  await writeFile(p('auditor.key'), formatAuthKeyFile('auditor', auditorSeed));
  await writeFile(p('stranger.pem'), privateKeyToPem(strangerSeed));
  await writeFile(p('token.txt'), TOKEN + '\n');

  server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0]!;
      const who = authenticate(req, body);
      const label = who === 'token' ? 'token' : 'ok' in who ? 'signature' : who.reason;
      seen.push({ method: req.method ?? '', path, auth: label, ...(typeof who === 'object' && 'ok' in who ? { components: who.components, nonce: who.nonce } : {}) });
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (who !== 'token' && !('ok' in who)) {
        res.setHeader('www-authenticate', 'Bearer realm="cairn"');
        return json(401, { error: { code: 'unauthenticated', message: who.message, reason: who.reason } });
      }
      const principal = who === 'token' ? 'key:auditor' : `key:${who.keyid}`;
      if (path === '/v1/auth/whoami') {
        return json(200, { principal, kind: who === 'token' ? 'token' : 'key', accessControl: true, roles: [{ name: 'auditor', kind: 'auditor', scope: 'true' }], rolesMissingMfa: [], scope: 'full', sharing: 'consortium' });
      }
      if (path === '/v1/auth/token' && req.method === 'POST') {
        if (who === 'token') return json(403, { error: { code: 'forbidden', message: 'tokens are issued only to signature keys', reason: 'role_missing' } });
        return json(200, { token: TOKEN, expiresAt: Math.floor(Date.now() / 1000) + 600, roles: ['auditor'] });
      }
      if (path === '/v1/entries' && req.method === 'POST') return json(202, { status: 'accepted', leafHash: toHex(leafHash(body)) });
      const r = routes.get(path);
      if (r === undefined) return json(404, { error: { code: 'not_found', message: 'no such route' } });
      res.writeHead(200);
      res.end(r);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await dir.cleanup();
});

async function cairn(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: dir.path, env });
  return { code, stdout, stderr };
}

/** Runs `f`, then returns the requests it made. */
async function requestsOf(f: () => Promise<unknown>): Promise<typeof seen> {
  const from = seen.length;
  await f();
  return seen.slice(from);
}

describe('the CLI signs every read (verified by node/auth)', () => {
  it('cairn audit: every checkpoint, tile and entry bundle request carries a verified signature', async () => {
    let r = { code: -1, stdout: '', stderr: '' };
    const reqs = await requestsOf(async () => (r = await cairn(['audit', url, '--trust', 'trust.json', '--auth-key', 'auditor.key'])));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^audit OK: /);
    expect(r.stdout).toMatch(/entries +5 checked/);
    expect(reqs.length).toBeGreaterThanOrEqual(3);
    expect(reqs.map((q) => q.auth)).toEqual(reqs.map(() => 'signature'));
    expect(reqs.map((q) => q.path)).toContain('/tile/entries/000.p/5');
    expect(reqs.every((q) => q.components?.join(' ') === '@method @target-uri')).toBe(true);
    // A fresh nonce per request.
    expect(new Set(reqs.map((q) => q.nonce)).size).toBe(reqs.length);
  });

  it('without credentials the same audit gets the peer\'s 401, as one line', async () => {
    const r = await cairn(['audit', url, '--trust', 'trust.json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cairn: audit of .* failed .*unauthenticated: credentials_missing: this route needs credentials \(give --token, --token-file or --auth-key\)/);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('get, status and verify receipt/checkpoint --peer pass a token from a flag, a file or the environment', async () => {
    const reqs = await requestsOf(async () => {
      const g = await cairn(['get', entryHash, '--peer', url, '--token', TOKEN]);
      expect(g.code, g.stderr).toBe(0);
      expect(g.stdout).toMatch(/status +final/);
      const s = await cairn(['status', url, '--token-file', 'token.txt']);
      expect(s.code, s.stderr).toBe(0);
      const v = await cairn(['verify', 'checkpoint', '--peer', url, '--trust', 'trust.json'], { CAIRN_TOKEN: TOKEN });
      expect(v.code, v.stderr).toBe(0);
      const k = await cairn(['status', url], { CAIRN_AUTH_KEY: 'auditor.key' });
      expect(k.code, k.stderr).toBe(0);
    });
    expect(reqs.map((q) => `${q.path} ${q.auth}`)).toEqual([`/v1/entries/${entryHash} token`, '/v1/status token', '/checkpoint token', '/v1/status signature']);
  });

  it('cairn alerts replay signs its checkpoint and entry-bundle reads; without credentials it gets the 401', async () => {
    await writeFile(p('rules.yaml'), 'version: 1\nrules:\n  - id: every-query\n    version: 1\n    title: "query by {{entry.actor.id}}"\n    severity: low\n    destinations: []\n    condition: \'entry.action == "db.query"\'\n');
    let r = { code: -1, stdout: '', stderr: '' };
    const reqs = await requestsOf(async () => (r = await cairn(['alerts', 'replay', '--from', '1', '--to', '4', '--rules', 'rules.yaml', '--peer', url, '--auth-key', 'auditor.key'])));
    expect(r.code, r.stderr).toBe(0);
    const alerts = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { rule: { id: string } | string });
    expect(alerts).toHaveLength(3);
    expect(reqs.map((q) => `${q.path} ${q.auth}`)).toEqual(['/checkpoint signature', '/tile/entries/000.p/5 signature']);
    const t = await cairn(['alerts', 'replay', '--from', '0', '--to', '5', '--rules', 'rules.yaml', '--peer', url, '--token-file', 'token.txt']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout.trimEnd().split('\n')).toHaveLength(5);
    const anon = await cairn(['alerts', 'replay', '--from', '0', '--to', '5', '--rules', 'rules.yaml', '--peer', url]);
    expect(anon.code).toBe(1);
    expect(anon.stdout).toBe('');
    expect(anon.stderr).toMatch(/unauthenticated: credentials_missing: .*\(give --token, --token-file or --auth-key\)/);
  });

  it('an unknown key is refused by the peer; the reason is the first thing printed', async () => {
    const r = await cairn(['get', entryHash, '--peer', url, '--auth-key', 'stranger.pem']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^cairn: unauthenticated: signature_key_unknown: no signature names a keyid this peer trusts \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v1\/entries\/[0-9a-f]{64}\)\n$/);
  });

  it('cairn auth whoami and cairn auth token', async () => {
    const w = await cairn(['auth', 'whoami', '--peer', url, '--auth-key', 'auditor.key']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/^peer +http:\/\/127\.0\.0\.1:\d+\nprincipal +key:auditor\nkind +key\nroles +auditor \(auditor\)\nscope +full\n$/);
    let t = { code: -1, stdout: '', stderr: '' };
    const reqs = await requestsOf(async () => (t = await cairn(['auth', 'token', '--peer', url, '--auth-key', 'auditor.key'])));
    expect(t).toEqual({ code: 0, stdout: TOKEN + '\n', stderr: '' });
    expect(reqs).toMatchObject([{ method: 'POST', path: '/v1/auth/token', auth: 'signature' }]);
    const noKey = await cairn(['auth', 'token', '--peer', url, '--token', TOKEN]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^cairn: cairn auth token needs --auth-key/);
    const anon = await cairn(['auth', 'whoami', '--peer', url]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(/^cairn: unauthenticated: credentials_missing: /);
  });
});

describe('the SDK signs every request (verified by node/auth)', () => {
  it('GETs and a POST with a body (content-digest covered) verify; tokens are sent as Bearer', async () => {
    const signed = new CairnClient({ url, credentials: { signingKey: { name: 'auditor', seed: auditorSeed } } });
    const reqs = await requestsOf(async () => {
      expect((await signed.status()).origin).toBe(ORIGIN);
      expect((await signed.getEntry(entryHash)).status).toBe('final');
      expect(await signed.whoami()).toMatchObject({ principal: 'key:auditor', scope: 'full' });
      expect((await signed.authToken()).token).toBe(TOKEN);
      const entry = signEntry({ v: 1, id: 'sdk-1', time: '2026-01-01T00:00:00Z', actor: { id: 'bob' }, action: 'db.query', resource: { type: 'db.table', id: 'x' }, outcome: 'success' }, nodeSigner(new Uint8Array(32).fill(9)));
      expect((await signed.submit(entry)).status).toBe('accepted');
      const viaToken = new CairnClient({ url, credentials: { token: TOKEN } });
      expect((await viaToken.checkpoint()).startsWith(ORIGIN)).toBe(true);
    });
    expect(reqs.map((q) => q.auth)).toEqual(['signature', 'signature', 'signature', 'signature', 'signature', 'token']);
    expect(reqs[4]).toMatchObject({ method: 'POST', path: '/v1/entries', components: ['@method', '@target-uri', 'content-digest'] });
  });

  it('a peer refusal is a CairnApiError unauthenticated; bad credentials are refused before any request', async () => {
    const stranger = new CairnClient({ url, credentials: { signingKey: { name: 'stranger', seed: strangerSeed } } });
    const e = await stranger.status().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CairnApiError);
    expect(e).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(() => new CairnClient({ url, credentials: { token: 'a\nb' } })).toThrow(/visible ASCII/);
    expect(() => new CairnClient({ url, credentials: { signingKey: { name: 'Bad Name', seed: auditorSeed } } })).toThrow(/key name/);
    expect(() => new CairnClient({ url, credentials: { signingKey: { name: 'k', seed: new Uint8Array(31) } } })).toThrow(CairnApiError);
  });
});
