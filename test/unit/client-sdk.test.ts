// The client SDK against a real local HTTP server that answers what a broken, slow or overloaded
// peer might: every failure must surface as a CairnApiError with a code, never another exception
// type; long-polls retry on 429/503 and on not-yet-known entries until their own deadline.
// Also: src/client is portable (no node: imports or Node globals anywhere in its import graph).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnApiError, CairnClient } from '../../src/client/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let base: string;
let handler: Handler = (_q, r) => r.end();
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((q, r) => {
    seen.push(`${q.method} ${q.url}`);
    handler(q, r);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function reply(status: number, body: string, type = 'application/json'): Handler {
  return (_q, r) => {
    r.writeHead(status, { 'content-type': type });
    r.end(body);
  };
}

const H = 'ab'.repeat(32);
const entry = { v: 1, id: 'x' } as any;

describe('CairnClient failure modes', () => {
  it('API error bodies become CairnApiError with code, status, field', async () => {
    handler = reply(409, JSON.stringify({ error: { code: 'conflict', message: 'dup', field: 'id' } }));
    const e = await new CairnClient({ url: base }).submit(entry).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CairnApiError);
    expect(e).toMatchObject({ code: 'conflict', status: 409, field: 'id' });
  });

  it('non-API answers are bad_response (HTML error page, non-JSON 200, wrong shapes)', async () => {
    const c = new CairnClient({ url: base + '/' });
    handler = reply(502, '<html>bad gateway</html>', 'text/html');
    expect(await c.status().catch((x: unknown) => x)).toMatchObject({ code: 'bad_response', status: 502 });
    handler = reply(200, 'not json');
    expect(await c.status().catch((x: unknown) => x)).toMatchObject({ code: 'bad_response', status: 200 });
    handler = reply(202, JSON.stringify({ hello: 1 }));
    expect(await c.submit(entry).catch((x: unknown) => x)).toMatchObject({ code: 'bad_response' });
    handler = reply(202, JSON.stringify({ results: [{ status: 'accepted', leafHash: H }] }));
    expect(await c.submit([entry, entry]).catch((x: unknown) => x)).toMatchObject({ code: 'bad_response' });
    handler = reply(200, JSON.stringify({ leafHash: H, status: 'final' }));
    expect(await c.getEntry(H).catch((x: unknown) => x)).toMatchObject({ code: 'bad_response' });
    handler = reply(200, JSON.stringify({ from: 1, to: 2, proof: ['AAAA'] }));
    expect(await c.consistency(1, 2).catch((x: unknown) => x)).toMatchObject({ code: 'bad_response' });
    expect(seen.at(-1)).toBe('GET /v1/proofs/consistency?from=1&to=2');
  });

  it('a peer that never answers -> timeout; an unreachable one -> network_error', async () => {
    handler = () => undefined; // never respond
    const t0 = Date.now();
    const e = await new CairnClient({ url: base, requestTimeoutMs: 300 }).checkpoint().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'timeout', status: 0 });
    expect(Date.now() - t0).toBeLessThan(5000);
    server.closeAllConnections();
    expect(await new CairnClient({ url: 'http://127.0.0.1:9' }).checkpoint().catch((x: unknown) => x)).toMatchObject({ code: 'network_error' });
  });

  it('waitFinal retries through 429, 503 and entry_not_found until final', async () => {
    let n = 0;
    handler = (q, r) => {
      n++;
      expect(q.url).toMatch(/\?wait=final&timeout=\d+ms$/);
      if (n === 1) return reply(429, JSON.stringify({ error: { code: 'too_many_waiters', message: 'x' } }))(q, r);
      if (n === 2) return reply(404, JSON.stringify({ error: { code: 'entry_not_found', message: 'x' } }))(q, r);
      if (n === 3) return reply(503, JSON.stringify({ error: { code: 'busy', message: 'x' } }))(q, r);
      if (n === 4) return reply(200, JSON.stringify({ leafHash: H, status: 'pending', leaf: 'e30=', entry: {} }))(q, r);
      return reply(200, JSON.stringify({ leafHash: H, status: 'final', leaf: 'e30=', entry: {}, index: 0 }))(q, r);
    };
    const r = await new CairnClient({ url: base }).waitFinal(H, { timeoutMs: 10_000 });
    expect(r.status).toBe('final');
    expect(n).toBe(5);
  });

  it('waitFinal gives up at its deadline: timeout, or entry_not_found if the entry never appeared', async () => {
    handler = reply(200, JSON.stringify({ leafHash: H, status: 'pending', leaf: 'e30=', entry: {} }));
    expect(await new CairnClient({ url: base }).waitFinal(H, { timeoutMs: 300 }).catch((x: unknown) => x)).toMatchObject({ code: 'timeout' });
    handler = reply(404, JSON.stringify({ error: { code: 'entry_not_found', message: 'x' } }));
    expect(await new CairnClient({ url: base }).waitFinal(H, { timeoutMs: 300 }).catch((x: unknown) => x)).toMatchObject({ code: 'entry_not_found', status: 404 });
    handler = reply(400, JSON.stringify({ error: { code: 'bad_request', message: 'x', field: 'timeout' } }));
    expect(await new CairnClient({ url: base }).waitFinal(H, { timeoutMs: 300 }).catch((x: unknown) => x)).toMatchObject({ code: 'bad_request', field: 'timeout' });
  });

  it('refuses bad arguments before any request', async () => {
    expect(() => new CairnClient({ url: 'ftp://x' })).toThrow(CairnApiError);
    const c = new CairnClient({ url: base });
    expect(await c.getEntry('XYZ').catch((x: unknown) => x)).toMatchObject({ code: 'bad_request', field: 'hash' });
    expect(await c.submit(new Array(1001).fill(entry)).catch((x: unknown) => x)).toMatchObject({ code: 'too_many_entries' });
    // (client, id) keys are URL-encoded into the path.
    handler = reply(404, JSON.stringify({ error: { code: 'entry_not_found', message: 'x' } }));
    await c.getEntry({ client: H, id: 'a/b c' }).catch(() => undefined);
    expect(seen.at(-1)).toBe(`GET /v1/entries/by-id/${H}/a%2Fb%20c`);
  });
});

describe('portability', () => {
  it('src/client and everything it imports use no node: modules or Node-only globals', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/client/index.ts');
    const seenFiles = new Set<string>();
    const walk = (file: string) => {
      if (seenFiles.has(file)) return;
      seenFiles.add(file);
      const src = readFileSync(file, 'utf8');
      const code = src.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const m of code.matchAll(/from\s+'([^']+)'/g)) {
        const spec = m[1]!;
        expect(spec.startsWith('node:'), `${file} imports ${spec}`).toBe(false);
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
      expect(/\b(Buffer|process|require)\s*[.(]/.test(code), `${file} uses a Node-only global`).toBe(false);
    };
    walk(root);
    expect(seenFiles.size).toBeGreaterThan(5);
  });
});
