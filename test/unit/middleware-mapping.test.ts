// The request → event mapping of the API middleware (node/middleware/mapping.ts): every event it
// builds is a valid entry once signed, also for hostile paths, parameters and user agents.
import { describe, expect, it } from 'vitest';
import { actionOf, mapRequest, outcomeOf, requestEvent, resourceOf, type RequestInfo } from '../../node/middleware/mapping.js';
import { validateUnsignedEntry } from '../../src/entry/validate.js';
import type { UnsignedEntry } from '../../src/entry/types.js';

const info = (over: Partial<RequestInfo> = {}): RequestInfo => ({
  method: 'GET',
  route: '/accounts/:id',
  path: '/accounts/42',
  params: { id: '42' },
  status: 200,
  user: { id: 'alice', name: 'Alice' },
  requestId: 'r-1',
  ip: '::ffff:10.1.2.3',
  userAgent: 'ua/1',
  startedAtMs: Date.UTC(2026, 0, 1),
  durationMs: 1.23456,
  ...over,
});

const valid = (ev: object) => validateUnsignedEntry({ v: 1, ...ev } as UnsignedEntry);

describe('middleware mapping', () => {
  it('maps method, route, parameters, status, user and address as documented', () => {
    const ev = requestEvent(info());
    expect(ev).toMatchObject({
      actor: { id: 'alice', type: 'user', name: 'Alice' },
      action: 'http.get.accounts',
      resource: { type: 'accounts', id: '42' },
      outcome: 'success',
      requestId: 'r-1',
      source: { ip: '10.1.2.3', userAgent: 'ua/1' },
      time: '2026-01-01T00:00:00.000Z',
      data: { method: 'GET', route: '/accounts/:id', status: 200, durationMs: 1.235, params: { id: '42' } },
    });
    expect(ev.id).toMatch(/^mw-[0-9a-f]{12}-\d+$/);
    expect(valid(ev).ok).toBe(true);
  });

  it('outcome: < 400 success, 401/403 denied, other errors failure', () => {
    expect([200, 302, 400, 401, 403, 404, 500].map(outcomeOf)).toEqual(['success', 'success', 'failure', 'denied', 'denied', 'failure', 'failure']);
  });

  it('action and resource: root, unmatched, several parameters, long routes', () => {
    expect(actionOf('http', 'GET', '/')).toBe('http.get.root');
    expect(actionOf('http', 'DELETE', null)).toBe('http.delete.unmatched');
    expect(actionOf('api', 'POST', '/a/:x/b/:y/c')).toBe('api.post.a.b.c');
    expect(actionOf('http', 'GET', '/1st/Ünïcode/x y/a/b/c/d/e/f')).toMatch(/^http\.get\.x1st\.[a-z0-9_.-]+$/);
    expect(actionOf('http', 'GET', '/1st/Ünïcode/x y/a/b/c/d/e/f').split('.')).toHaveLength(8);
    expect(resourceOf('/orgs/:org/repos/:repo', '/orgs/o/repos/r', { org: 'o', repo: 'r' })).toEqual({ type: 'repos', id: 'r' });
    expect(resourceOf(null, '/nope', {})).toEqual({ type: 'http.route', id: '/nope' });
    expect(resourceOf('/health', '/health', {})).toEqual({ type: 'http.route', id: '/health' });
  });

  it('hostile input still gives a valid entry; no user is anonymous; the hook drops or changes', () => {
    const ev = requestEvent(info({ route: null, path: '/x\u0000\u200b' + 'y'.repeat(600), params: { ['__proto__']: 'p', a: 'b\u0007' }, user: undefined, ip: 'not-an-ip', userAgent: '\u202eevil' }));
    expect(ev.actor).toEqual({ id: 'anonymous', type: 'anonymous' });
    expect(ev.source).toEqual({ userAgent: '?evil' });
    expect(valid(ev).ok).toBe(true);
    expect(mapRequest(info(), { adjust: () => null })).toBeNull();
    expect(mapRequest(info(), { adjust: (e) => ({ ...e, tenant: 't1' }) })?.tenant).toBe('t1');
    expect(requestEvent(info({ user: 'bob' })).actor).toEqual({ id: 'bob', type: 'user' });
    expect(requestEvent(info(), { actor: () => ({ id: 'svc', type: 'service' }) }).actor).toEqual({ id: 'svc', type: 'service' });
  });
});
