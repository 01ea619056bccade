// Admission pieces of the HTTP API (node/http/admission.ts, limits.ts): the client-address key
// (IPv4, IPv4-mapped IPv6, IPv6 /64), the per-address rate limiter with its bounded address table,
// the request-body byte budget, and the limit combinations resolveHttpLimits refuses.
import { describe, expect, it } from 'vitest';
import { BodyBudget, clientAddress, RateLimiter } from '../../node/http/admission.js';
import { resolveHttpLimits } from '../../node/http/limits.js';
import { ENTRY_VALUES_MAX } from '../../src/entry/limits.js';

describe('clientAddress', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(clientAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:0DB8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
    expect(clientAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientAddress(undefined)).toBe('unknown');
  });
});

describe('RateLimiter', () => {
  it('a burst, then the sustained rate; Retry-After is the time to the next token', () => {
    let now = 0;
    const r = new RateLimiter(2, 3, 100, () => now);
    expect([r.take('a'), r.take('a'), r.take('a')]).toEqual([null, null, null]);
    expect(r.take('a')).toBeCloseTo(0.5, 5);
    expect(r.take('b')).toBeNull(); // another address has its own bucket
    now += 500;
    expect(r.take('a')).toBeNull();
    expect(r.take('a')).not.toBeNull();
  });

  it('tracks at most `tracked` addresses, forgetting the least recently seen', () => {
    let now = 0;
    const r = new RateLimiter(1, 1, 2, () => now);
    expect(r.take('a')).toBeNull();
    expect(r.take('b')).toBeNull();
    expect(r.take('a')).not.toBeNull(); // a is now the most recently seen
    expect(r.take('c')).toBeNull(); // evicts b
    expect(r.take('a')).not.toBeNull(); // a was kept: still empty
    expect(r.take('b')).toBeNull(); // b was forgotten: a fresh bucket
  });
});

describe('BodyBudget', () => {
  it('per-address and global budgets; a refusal reserves nothing; release gives bytes back', () => {
    const b = new BodyBudget(100, 60);
    expect(b.reserve('a', 50)).toBeNull();
    expect(b.reserve('a', 20)).toMatchObject({ code: 'too_many_bodies', close: true });
    expect(b.reserve('b', 51)).toMatchObject({ code: 'overloaded' });
    expect(b.bytes).toBe(50);
    expect(b.reserve('b', 51)?.message).toContain('bodyBytesInFlightMax');
    expect(b.reserve('b', 50)).toBeNull(); // exactly full is allowed
    b.release('a', 50);
    b.release('b', 50);
    expect(b.bytes).toBe(0);
    expect(b.reserve('b', 60)).toBeNull();
  });
});

describe('resolveHttpLimits', () => {
  it('refuses a value limit below one maximal entry and non-positive new limits', () => {
    expect(() => resolveHttpLimits({ jsonValuesMax: ENTRY_VALUES_MAX - 1 })).toThrow(/ENTRY_VALUES_MAX/);
    expect(() => resolveHttpLimits({ connectionsPerAddressMax: 0 })).toThrow(/connectionsPerAddressMax/);
    expect(() => resolveHttpLimits({ requestsPerSecondPerAddress: 0.5 })).toThrow(/requestsPerSecondPerAddress/);
    expect(resolveHttpLimits({}).jsonDepthMax).toBe(18);
  });
});
