// The SDK's request signing is portable: src/client bundles for the browser platform (esbuild
// refuses Node built-ins there) and, in a bare V8 context with only what a page has (TextEncoder,
// WebCrypto getRandomValues, fetch), signs a GET and a POST with a body. The host then checks the
// captured requests with the peer's verifier (node/auth), so browser-signed requests are accepted.
import { build } from 'esbuild';
import { webcrypto } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { verifyRequestSignature } from '../../node/auth/httpsig.js';
import { ReplayCache } from '../../node/auth/replay.js';

const here = dirname(fileURLToPath(import.meta.url));
const seed = new Uint8Array(32).fill(5);

interface Captured {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: number[] | null;
}

describe('SDK request signing in a browser context', () => {
  it('bundles without Node built-ins and signs requests that node/auth verifies', async () => {
    const out = await build({ entryPoints: [resolve(here, '../../src/client/index.ts')], bundle: true, platform: 'browser', format: 'iife', globalName: 'CairnSdk', write: false, logLevel: 'silent' });
    expect(out.errors).toEqual([]);
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:/);
    const captured: Captured[] = [];
    const sandbox = vm.createContext({
      hostEncode: (s: string) => Array.from(new TextEncoder().encode(s)),
      hostDecode: (b: number[]) => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(b)),
      hostRandom: (n: number) => Array.from(webcrypto.getRandomValues(new Uint8Array(n))),
      hostCapture: (c: string) => captured.push(JSON.parse(c) as Captured),
      URL, // a browser global (WHATWG URL), as on any page
    });
    vm.runInContext(
      `globalThis.TextEncoder = class { encode(s) { return new Uint8Array(hostEncode(String(s))); } };
       globalThis.TextDecoder = class { decode(b) { return hostDecode(Array.from(b)); } };
       globalThis.crypto = { getRandomValues(a) { a.set(hostRandom(a.length)); return a; } };
       globalThis.AbortSignal = { timeout() { return undefined; } };
       globalThis.fetch = async (url, init) => {
         hostCapture(JSON.stringify({ url, method: init.method, headers: init.headers, body: init.body ? Array.from(init.body) : null }));
         const text = init.method === 'POST' ? '{"status":"accepted","leafHash":"' + 'a'.repeat(64) + '"}' : '{"origin":"o"}';
         // What the SDK reads of a browser Response: status, headers and a streamed body.
         const chunks = [new TextEncoder().encode(text)];
         const body = { getReader: () => ({ read: async () => (chunks.length > 0 ? { done: false, value: chunks.shift() } : { done: true }), cancel: async () => {} }) };
         return { status: init.method === 'POST' ? 202 : 200, headers: { get: () => null }, body };
       };`,
      sandbox,
    );
    vm.runInContext(code, sandbox);
    expect(vm.runInContext('typeof process + typeof require + typeof Buffer', sandbox)).toBe('undefinedundefinedundefined');
    const done = (await vm.runInContext(
      `(async () => {
        const c = new CairnSdk.CairnClient({ url: 'https://peer.example:8443', credentials: { signingKey: { name: 'browser-tool', seed: new Uint8Array(32).fill(5) } } });
        await c.status();
        await c.submit({ v: 1, id: 'x', time: '2026-01-01T00:00:00Z', actor: { id: 'a' }, action: 'a.b', resource: { type: 't', id: 'i' }, outcome: 'success', client: 'c', sig: 's' });
        return 'done';
      })()`,
      sandbox,
    )) as string;
    expect(done).toBe('done');
    expect(captured.map((c) => `${c.method} ${c.url}`)).toEqual(['GET https://peer.example:8443/v1/status', 'POST https://peer.example:8443/v1/entries']);
    const replay = new ReplayCache(1000, 100);
    for (const c of captured) {
      const u = new URL(c.url);
      const headers = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const r = verifyRequestSignature(
        { method: c.method, url: u.pathname + u.search, headers: { ...headers, host: u.host }, body: c.body === null ? null : new Uint8Array(c.body), tls: true },
        { keyFor: (k) => (k === 'browser-tool' ? publicKeyFromSeed(seed) : undefined), nowMs: Date.now(), windowSeconds: 300, futureSkewSeconds: 30, replay },
      );
      expect(r).toMatchObject({ ok: true, keyid: 'browser-tool' });
    }
    // The body is covered: altering it breaks the signature check (digest mismatch).
    const post = captured[1]!;
    const altered = new Uint8Array(post.body!);
    altered[0] = altered[0]! ^ 1;
    const bad = verifyRequestSignature(
      { method: 'POST', url: '/v1/entries', headers: { ...Object.fromEntries(Object.entries(post.headers).map(([k, v]) => [k.toLowerCase(), v])), host: 'peer.example:8443' }, body: altered, tls: true },
      { keyFor: () => publicKeyFromSeed(seed), nowMs: Date.now(), windowSeconds: 300, futureSkewSeconds: 30, replay: null },
    );
    expect(bad).toMatchObject({ ok: false, reason: 'signature_digest' });
  });
});
