// Transport of restricted content: HTTPS from certificate and key files generated at test time
// (openssl), optional client certificates, the refusal at start of plain HTTP on a non-loopback
// address when a policy is configured (a real peer process: exit 2, one line), and CORS: an
// allow-list of origins for restricted routes, `*` only for public ones.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../node/auth/index.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { checkTransport, isLoopbackHost } from '../../node/http/tls.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { call, makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { leafHashHex, signedCall, submitFinal, tenantEntries, testKey } from './helpers/auth-peer.js';
import { signRequest } from '../../node/auth/index.js';

const REPO = new URL('../..', import.meta.url).pathname;
const tool = testKey('tls-tool');
let dir: string;
let c: HttpCluster;
let policy: Policy;
let entry: AuditEntry;
const pem: Record<string, string> = {};

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  // A CA, the server certificate it signs (for 127.0.0.1), and a client certificate it signs.
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cairn-test-ca');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=cairn-test-client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1');
  for (const f of ['ca.pem', 'server.pem', 'server.key', 'client.pem', 'client.key']) pem[f] = await readFile(join(dir, f), 'utf8');
  const p = parsePolicy({ keys: [{ name: tool.name, publicKey: tool.publicKeyHex, roles: ['auditors'] }], roles: { auditors: { kind: 'auditor' } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  policy = p.policy;
  c = await makeHttpCluster(1, { label: 'authtls' });
  const s = await c.startWithHttp(0, { auth: { policy }, corsOrigins: ['https://console.acme.example'] } as never);
  [entry] = tenantEntries(c, ['acme']) as [AuditEntry];
  await submitFinal(c, s.url, [entry]);
}, 120_000);
afterAll(async () => {
  await c?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** GET over HTTPS trusting the test CA (optionally presenting a client certificate). */
function httpsGet(url: string, o: { headers?: Record<string, string>; cert?: string; key?: string } = {}): Promise<{ status: number; text: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: pem['ca.pem'], headers: o.headers ?? {}, ...(o.cert ? { cert: o.cert, key: o.key } : {}), timeout: 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), authorized: (res.socket as import('node:tls').TLSSocket).authorized }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function tlsServer(extra: Record<string, unknown>): Promise<HttpServer> {
  return startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0, auth: { policy }, tls: { cert: pem['server.pem']!, key: pem['server.key']!, ...extra } } as never);
}

describe('HTTPS', () => {
  it('serves public and signed restricted reads over TLS with a certificate made at test time; plain HTTP to it fails', async () => {
    const s = await tlsServer({});
    try {
      expect(s.url.startsWith('https://127.0.0.1:')).toBe(true);
      const cp = await httpsGet(`${s.url}/checkpoint`);
      expect(cp.status).toBe(200);
      expect(cp.authorized).toBe(true);
      const target = `${s.url}/v1/entries/${leafHashHex(entry)}`;
      expect((await httpsGet(target)).status).toBe(401);
      // The signature covers the https target URI: the peer sees the request came over TLS.
      const r = await httpsGet(target, { headers: signRequest({ method: 'GET', url: target }, { keyid: tool.name, signer: tool.signer }) });
      expect(r.status, r.text).toBe(200);
      expect(JSON.parse(r.text).entry).toEqual(entry);
      await expect(fetch(s.url.replace('https:', 'http:') + '/checkpoint', { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    } finally {
      await s.close();
    }
  });

  it('with requestClientCert, a client without a certificate from the CA cannot connect', async () => {
    const s = await tlsServer({ ca: pem['ca.pem'], requestClientCert: true });
    try {
      await expect(httpsGet(`${s.url}/checkpoint`)).rejects.toThrow();
      const ok = await httpsGet(`${s.url}/checkpoint`, { cert: pem['client.pem'], key: pem['client.key'] });
      expect(ok.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

/** Opens a TLS connection; resolves when the handshake is done, or with the error that ended it. */
function tlsOpen(port: number): Promise<{ sock: TLSSocket; ok: boolean }> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, ca: pem['ca.pem'], servername: 'localhost' });
    const timer = setTimeout(() => sock.destroy(new Error('handshake timeout')), 10_000);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ sock, ok: true });
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve({ sock, ok: false });
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ sock, ok: false });
    });
  });
}

describe('HTTPS keeps the admission limits', () => {
  it('the per-address connection cap and the slow-request timeout apply to TLS connections', async () => {
    const s = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0, auth: { policy }, tls: { cert: pem['server.pem']!, key: pem['server.key']! }, limits: { connectionsPerAddressMax: 1, requestTimeoutMs: 1000 } } as never);
    try {
      const slow = await tlsOpen(s.port);
      expect(slow.ok).toBe(true);
      // Half a request, never finished.
      slow.sock.write('GET /checkpoint HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      let answer = '';
      slow.sock.on('data', (d: Buffer) => (answer += d.toString()));
      const closed = new Promise<number>((resolve) => slow.sock.once('close', () => resolve(Date.now())));
      // A second connection from the same address is refused before any TLS handshake.
      const second = await tlsOpen(s.port);
      expect(second.ok).toBe(false);
      second.sock.destroy();
      const t0 = Date.now();
      const end = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
      expect(end, 'the slow TLS request was not cut').toBeGreaterThan(0);
      expect(end - t0).toBeLessThan(5000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await s.close();
    }
  });
});

describe('plain HTTP with a policy', () => {
  it('is refused at start on a non-loopback address (in process: PeerError config_plain_http, nothing listens)', async () => {
    await expect(startHttpServer(c.peers[0]!, { host: '0.0.0.0', port: 0, auth: { policy } } as never)).rejects.toThrow(/config_plain_http/);
    expect(() => checkTransport({ host: '10.1.2.3', restricted: true, tls: false, allowPlainHttp: true })).not.toThrow();
    expect(() => checkTransport({ host: '10.1.2.3', restricted: false, tls: false, allowPlainHttp: false })).not.toThrow();
    expect(() => checkTransport({ host: '10.1.2.3', restricted: true, tls: true, allowPlainHttp: false })).not.toThrow();
    for (const h of ['127.0.0.1', '127.8.9.1', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'peer.example.org', '::ffff:10.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('a peer process refuses it: exit 2 and one line naming config_plain_http', async () => {
    await writeFile(join(dir, 'policy.yaml'), `keys:\n  - name: ${tool.name}\n    publicKey: "${tool.publicKeyHex}"\n    roles: [auditors]\nroles:\n  auditors: { kind: auditor }\n`);
    const cfg = { dataDir: join(dir, 'data'), genesis: 'genesis.json', signingKey: 'sign.key', p2pKey: 'p2p.key', listen: ['/ip4/127.0.0.1/tcp/0'], http: '0.0.0.0:0', auth: { policy: 'policy.yaml' } };
    await writeFile(join(dir, 'peer.json'), JSON.stringify(cfg));
    const child = spawn(process.execPath, ['--import', 'tsx', 'node/peer/main.ts', '--config', join(dir, 'peer.json')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(2);
    const lines = stderr.trimEnd().split('\n');
    expect(lines.length, stderr).toBe(1);
    expect(lines[0]).toMatch(/^cairn: config_plain_http: refusing to serve restricted content over plain HTTP on 0\.0\.0\.0/);
  }, 90_000);
});

describe('CORS', () => {
  const listed = 'https://console.acme.example';
  it('restricted routes answer only listed origins (echoed, Vary: Origin); public routes allow any origin', async () => {
    const url = c.http[0]!.url;
    const status = await call(`${url}/v1/status`, { headers: { origin: listed } });
    expect(status.headers.get('access-control-allow-origin')).toBe(listed);
    expect(status.headers.get('vary')).toMatch(/origin/i);
    const evil = await call(`${url}/v1/entries/${leafHashHex(entry)}`, { headers: { origin: 'https://evil.example' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('vary')).toMatch(/origin/i);
    const bundle = await call(`${url}/tile/entries/000.p/1`, { headers: { origin: 'https://evil.example', 'accept-encoding': 'gzip' } });
    expect(bundle.headers.get('access-control-allow-origin')).toBeNull();
    expect(bundle.status).toBe(401);
    expect(bundle.headers.get('vary')).toMatch(/origin/i);
    // The governance routes carry only signed records, proofs and checkpoints: public like /checkpoint.
    for (const path of ['/checkpoint', '/tile/0/000.p/1', '/healthz', '/v1/governance/steps']) {
      const r = await call(`${url}${path}`, { headers: { origin: 'https://evil.example' } });
      expect(r.headers.get('access-control-allow-origin'), path).toBe('*');
    }
    const pre = await call(`${url}/v1/entries/${leafHashHex(entry)}`, { method: 'OPTIONS', headers: { origin: listed, 'access-control-request-method': 'GET', 'access-control-request-headers': 'signature, signature-input' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(listed);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/signature-input/);
    const preEvil = await call(`${url}/v1/entries/${leafHashHex(entry)}`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(preEvil.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('GET /v1/stream (written raw, past the onSend hook) applies the same allow-list: unlisted origins get no ACAO', async () => {
    const url = c.http[0]!.url;
    // until=1: a one-shot export that ends after entry 0, so the answer completes.
    const target = `${url}/v1/stream?until=1`;
    const evil = await signedCall(target, tool, { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(200);
    expect(evil.text).toContain('"type":"entry"');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('vary')).toMatch(/origin/i);
    const ok = await signedCall(target, tool, { headers: { origin: listed } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(listed);
    expect(ok.headers.get('vary')).toMatch(/origin/i);
    expect(ok.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
  });

  it('POST /v1/checkpoints/observe is public (read.checkpoint): any origin may call it under a policy', async () => {
    const url = c.http[0]!.url;
    // Alerts are not enabled here (503), but the CORS decision does not depend on the outcome.
    const r = await call(`${url}/v1/checkpoints/observe`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ checkpoint: 'x' }) });
    expect(r.status).not.toBe(401);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('without a policy or a list, every route keeps allowing any origin (an open peer)', async () => {
    const s = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0 });
    try {
      const r = await call(`${s.url}/v1/entries/${leafHashHex(entry)}`, { headers: { origin: 'https://any.example' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await s.close();
    }
  });
});
