import { describe, expect, it } from 'vitest';
import { NetError } from '../../node/net/errors.js';
import {
  decodeHello,
  decodeResponse,
  encodeErrorResponse,
  encodeHello,
  encodeOkResponse,
  HELLO_MAX_BYTES,
  MAX_ERROR_BODY_BYTES,
  MAX_ERROR_MESSAGE_CHARS,
} from '../../node/net/frames.js';
import { helloMismatch } from '../../node/net/hello.js';
import { concatBytes, utf8 } from '../../src/encoding/bytes.js';

function thrown(f: () => unknown): NetError {
  try {
    f();
  } catch (e) {
    if (e instanceof NetError) return e;
    throw new Error(`expected NetError, got ${String(e)}`);
  }
  throw new Error('expected a throw');
}

describe('response frames', () => {
  it('round-trips success bodies of any size up to the caller limit', () => {
    for (const n of [0, 1, 255, 4096]) {
      const body = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 255);
      expect(decodeResponse(encodeOkResponse(body), n)).toEqual(body);
    }
    const e = thrown(() => decodeResponse(encodeOkResponse(new Uint8Array(11)), 10));
    expect(e.code).toBe('RESPONSE_TOO_LARGE');
    expect(e.limit).toBe('maxResponseBytes=10');
    expect(e.remote).toBe(false);
  });

  it('round-trips error frames as remote NetErrors with code, limit and application code', () => {
    const e = thrown(() =>
      decodeResponse(encodeErrorResponse({ code: 'RATE_LIMITED', message: 'slow down', limit: 'rateLimitPerSecond=1,rateLimitBurst=2' }), 100),
    );
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.remote).toBe(true);
    expect(e.limit).toBe('rateLimitPerSecond=1,rateLimitBurst=2');
    expect(e.message).toBe('remote: slow down');
    const h = thrown(() => decodeResponse(encodeErrorResponse({ code: 'HANDLER_ERROR', message: 'x', remoteCode: 'NOT_FOUND' }), 0));
    expect(h.remoteCode).toBe('NOT_FOUND');
  });

  it('truncates long error messages when encoding', () => {
    const e = thrown(() => decodeResponse(encodeErrorResponse({ code: 'HANDLER_ERROR', message: 'x'.repeat(10_000) }), 0));
    expect(e.message.length).toBe('remote: '.length + MAX_ERROR_MESSAGE_CHARS);
  });

  it('rejects malformed frames with MALFORMED_FRAME, never another exception', () => {
    const err = (body: Uint8Array): Uint8Array => concatBytes(Uint8Array.of(1), body);
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(2, 1, 2),
      Uint8Array.of(0xff),
      err(utf8('not json')),
      err(Uint8Array.of(0xc3, 0x28)), // invalid UTF-8
      err(utf8('[1,2]')),
      err(utf8('null')),
      err(utf8('{"code":"NOPE","message":"m"}')),
      err(utf8('{"code":"STOPPED","message":"m"}')), // a local-only code is not accepted from a peer
      err(utf8('{"code":"RATE_LIMITED"}')),
      err(utf8(`{"code":"RATE_LIMITED","message":"${'m'.repeat(MAX_ERROR_MESSAGE_CHARS + 1)}"}`)),
      err(new Uint8Array(MAX_ERROR_BODY_BYTES + 1).fill(0x20)),
    ];
    for (const c of cases) expect(thrown(() => decodeResponse(c, 1000)).code).toBe('MALFORMED_FRAME');
    // an invalid application code is dropped, not trusted
    const e = thrown(() => decodeResponse(err(utf8('{"code":"HANDLER_ERROR","message":"m","remoteCode":"lower case"}')), 0));
    expect(e.code).toBe('HANDLER_ERROR');
    expect(e.remoteCode).toBeUndefined();
  });
});

describe('hello', () => {
  const g = Uint8Array.from({ length: 32 }, (_, i) => i);
  it('round-trips and compares', () => {
    const h = { genesis: g, namespace: '00010203/cairn.example/devnet' };
    const back = decodeHello(encodeHello(h));
    expect(back).toEqual(h);
    expect(helloMismatch(h, h)).toBeNull();
    const other = { genesis: Uint8Array.from(g).reverse(), namespace: h.namespace };
    expect(helloMismatch(h, other)).toBe(
      'genesis mismatch: ours 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f theirs 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100',
    );
    expect(helloMismatch(h, { genesis: g, namespace: 'other' })).toContain('(namespace other)');
  });

  it('rejects malformed hellos with a reason', () => {
    const bad = [
      utf8('nope'),
      utf8('[]'),
      utf8('{"v":1,"genesis":"00"}'),
      utf8('{"v":2,"genesis":"00","namespace":"n"}'),
      utf8('{"v":1,"genesis":"0","namespace":"n"}'),
      utf8('{"v":1,"genesis":"AB","namespace":"n"}'),
      utf8('{"v":1,"genesis":"","namespace":"n"}'),
      utf8(`{"v":1,"genesis":"${'00'.repeat(65)}","namespace":"n"}`),
      utf8('{"v":1,"genesis":"00","namespace":"has space"}'),
      utf8('{"v":1,"genesis":"00","namespace":"n","extra":1}'),
      new Uint8Array(HELLO_MAX_BYTES + 1),
    ];
    for (const b of bad) expect(typeof decodeHello(b)).toBe('string');
  });
});
