// The HTTP API contract pieces that need no peer: submit body checks and the per-entry results ->
// status mapping (docs/api.md "Submitting"), long-poll timeout syntax, limits, host:port parsing,
// and that docs/api.md documents exactly the error codes the code can send, with the same status,
// and every route the server registers.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, API_ERROR_STATUS } from '../../src/client/types.js';
import { parseSubmitBody, submitResponse } from '../../node/http/submit.js';
import { parseTimeout } from '../../node/http/entries.js';
import { resolveHttpLimits, DEFAULT_HTTP_LIMITS } from '../../node/http/limits.js';
import { parseHostPort } from '../../node/http/attach.js';
import { prefersReceipt } from '../../node/http/accept.js';
import type { SubmitResult } from '../../node/peer/mempool.js';

const H = 'ab'.repeat(32);
const ok = (status: 'accepted' | 'known-pending' | 'known-final'): SubmitResult => ({ status, leafHash: H });
const err = (code: any, field?: string): SubmitResult => ({ error: { code, message: `m-${code}`, ...(field ? { field } : {}) } });

describe('parseSubmitBody', () => {
  it('object -> one entry; array -> entries; limits and shapes refused with codes', () => {
    expect(parseSubmitBody({ a: 1 }, 1000)).toEqual({ ok: true, entries: [{ a: 1 }], isArray: false });
    expect(parseSubmitBody([{}, {}], 1000)).toMatchObject({ ok: true, isArray: true });
    expect(parseSubmitBody([], 1000)).toMatchObject({ ok: false, code: 'bad_request' });
    expect(parseSubmitBody(new Array(1001).fill({}), 1000)).toMatchObject({ ok: false, code: 'too_many_entries' });
    expect(parseSubmitBody(new Array(3).fill({}), 2)).toMatchObject({ ok: false, code: 'too_many_entries', message: expect.stringContaining('entriesPerRequestMax') });
    for (const b of [null, 1, 'x', true, undefined]) expect(parseSubmitBody(b, 1000)).toMatchObject({ ok: false, code: 'bad_request' });
  });
});

describe('submitResponse', () => {
  it('single entry: 202 accepted, 200 known, error status by code', () => {
    expect(submitResponse([ok('accepted')], false)).toEqual({ status: 202, body: ok('accepted') });
    expect(submitResponse([ok('known-pending')], false).status).toBe(200);
    expect(submitResponse([ok('known-final')], false).status).toBe(200);
    const cases: [string, number][] = [['malformed', 400], ['clock_skew', 400], ['unknown_client', 401], ['bad_signature', 403], ['conflict', 409], ['too_large', 413], ['busy', 503]];
    for (const [code, status] of cases) {
      const r = submitResponse([err(code, 'f')], false);
      expect(r.status, code).toBe(status);
      expect(r.body).toEqual({ error: { code, message: `m-${code}`, field: 'f' } });
    }
    // An unknown code is a bug, answered 500 — never a crash.
    expect(submitResponse([err('weird')], false).status).toBe(500);
  });

  it('array: 202 if any accepted, same-code failures take that status, otherwise 200; fields prefixed', () => {
    const a = submitResponse([ok('accepted'), err('bad_signature', 'sig')], true);
    expect(a.status).toBe(202);
    expect((a.body as any).results[1]).toEqual({ error: { code: 'bad_signature', message: 'm-bad_signature', field: '[1].sig' } });
    const same = submitResponse([err('conflict', 'id'), err('conflict', 'id')], true);
    expect(same.status).toBe(409);
    expect((same.body as any).error).toEqual({ code: 'conflict', message: 'all 2 entries rejected: m-conflict', field: '[0].id' });
    const mixed = submitResponse([err('conflict', 'id'), err('malformed', 'data.list[3]')], true);
    expect(mixed.status).toBe(200);
    expect((mixed.body as any).error).toBeUndefined();
    expect((mixed.body as any).results[1].error.field).toBe('[1].data.list[3]');
    expect(submitResponse([ok('known-final'), ok('known-pending')], true).status).toBe(200);
    expect(submitResponse([ok('known-final'), err('busy')], true).status).toBe(200);
    expect((submitResponse([err('malformed')], true).body as any).results[0].error.field).toBe('[0]');
    expect((submitResponse([err('malformed', '')], true).body as any).results[0].error.field).toBe('[0]');
    expect(submitResponse([err('busy'), err('busy')], true).status).toBe(503);
  });
});

describe('parseTimeout', () => {
  it('accepts Ns, Nms and bare seconds; refuses anything else', () => {
    expect(parseTimeout('10s')).toBe(10_000);
    expect(parseTimeout('250ms')).toBe(250);
    expect(parseTimeout('7')).toBe(7_000);
    expect(parseTimeout('0')).toBe(0);
    for (const bad of ['', 's', '10m', '1.5s', '-1s', '010s', ' 1s', '1e3', '9999999999s', '10S']) expect(parseTimeout(bad), bad).toBeNull();
  });
});

describe('Accept negotiation (receipt vs JSON)', () => {
  it('text/plain only when preferred; ties, wildcards and junk go to JSON', () => {
    const yes = ['text/plain', 'text/plain; charset=utf-8', 'text/plain, application/json;q=0.5', 'application/json;q=0, text/*', 'TEXT/PLAIN'];
    const no = [undefined, '', '*/*', 'application/json', 'text/plain, application/json', 'text/plain;q=0.5, */*', 'text/html', 'text/plain;q=0', 'garbage', 'text/plain;q=abc', 'application/json, text/plain;q=0.9'];
    for (const a of yes) expect(prefersReceipt(a), String(a)).toBe(true);
    for (const a of no) expect(prefersReceipt(a), String(a)).toBe(false);
  });
});

describe('limits and host:port', () => {
  it('defaults are consistent; bad limits are refused naming the limit', () => {
    expect(resolveHttpLimits()).toEqual(DEFAULT_HTTP_LIMITS);
    expect(resolveHttpLimits({ waitersMax: 3 }).waitersMax).toBe(3);
    expect(() => resolveHttpLimits({ bodyBytesMax: 0 })).toThrow(/bodyBytesMax/);
    expect(() => resolveHttpLimits({ entriesPerRequestMax: 1001 })).toThrow(/SUBMIT_ARRAY_MAX/);
    expect(() => resolveHttpLimits({ connectionTimeoutMs: 1000, waitTimeoutMsMax: 2000 })).toThrow(/connectionTimeoutMs/);
  });
  it('parseHostPort', () => {
    expect(parseHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of [':80', 'host', 'host:', 'host:99999', 'host:x']) expect(() => parseHostPort(bad), bad).toThrow(/config_bad_http/);
  });
});

describe('docs/api.md', () => {
  it('documents every API error code with the status the server sends, and no other code', () => {
    const md = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const rows = [...md.matchAll(/^\| (\d{3}) \| `([a-z0-9_]+)` \|/gm)].map((m) => [m[2]!, Number(m[1])] as const);
    const documented = new Map(rows);
    expect(rows.length).toBe(documented.size); // each code once
    expect([...documented.keys()].sort()).toEqual([...API_ERROR_CODES].sort());
    for (const [code, status] of documented) expect(API_ERROR_STATUS[code as keyof typeof API_ERROR_STATUS], code).toBe(status);
  });

  it('documents every route the server registers (method and path)', () => {
    const md = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    // Path parameters are written {name} in the docs and :name in the code; compare without names.
    const norm = (p: string) => p.replace(/:[A-Za-z]+/g, '{}').replace(/\{[A-Za-z]+\}/g, '{}');
    const documented = new Set([...md.matchAll(/`(GET|POST) (\/[^`?\s]*)/g)].map((m) => `${m[1]} ${norm(m[2]!)}`));
    const dir = new URL('../../node/http/', import.meta.url);
    const routes: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      for (const m of src.matchAll(/\b(?:app|sub)\.(get|post)(?:<[^>]*>)?\(\s*'([^']+)'/g)) routes.push(`${m[1]!.toUpperCase()} ${m[2]}`);
    }
    // The scan must see the routes (guards against a refactor that hides them from the regex).
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const missing = routes.filter((r) => {
      const [method, path] = r.split(' ') as [string, string];
      // /tile/* serves hash tiles and entry bundles: documented as GET /tile/<L>/... and GET /tile/entries/...
      if (path.endsWith('/*')) return ![...documented].some((d) => d.startsWith(`${method} ${path.slice(0, -1)}`));
      return !documented.has(`${method} ${norm(path)}`);
    });
    expect(missing).toEqual([]);
  });
});
