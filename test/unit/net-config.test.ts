import { describe, expect, it } from 'vitest';
import { NetError, HandlerError } from '../../node/net/errors.js';
import { gossipMessageId, gossipsubOptions } from '../../node/net/gossip.js';
import { DEFAULT_NET_LIMITS, DEFAULT_PROTOCOL_LIMITS, MAX_FRAME_BYTES, resolveNetLimits, resolveProtocolLimits } from '../../node/net/limits.js';
import { extraTopic, protocolId, topics, HELLO_PROTOCOL } from '../../node/net/topics.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { createHash } from 'node:crypto';
import type { NetLogger } from '../../node/net/logger.js';

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof NetError ? e.code : `other: ${String(e)}`;
  }
}

describe('topics and protocol ids', () => {
  it('embed the namespace', () => {
    const t = topics('ab12cd34/cairn.example/devnet');
    expect(t).toEqual({
      entries: '/cairn/ab12cd34/cairn.example/devnet/entries/1',
      consensus: '/cairn/ab12cd34/cairn.example/devnet/consensus/1',
      checkpointSigs: '/cairn/ab12cd34/cairn.example/devnet/checkpoint-sigs/1',
    });
    expect(extraTopic('ns', 'blocks')).toBe('/cairn/ns/blocks/1');
    expect(protocolId('ns', 'blocks/1')).toBe('/cairn/ns/rr/blocks/1');
    expect(HELLO_PROTOCOL).toBe('/cairn/hello/1');
    expect(topics('a').entries).not.toBe(topics('b').entries);
  });

  it('reject malformed namespaces and names', () => {
    for (const ns of ['', 'a b', 'x'.repeat(129), 'é', 'tab\t']) expect(code(() => topics(ns))).toBe('INVALID_CONFIG');
    for (const n of ['', 'Blocks', 'a b', '/x', 'x/', 'x/1/2', 'a'.repeat(49)]) expect(code(() => protocolId('ns', n))).toBe('INVALID_ARGUMENT');
    expect(code(() => protocolId('ns', 'sync-range.v2/12'))).toBe('ok');
  });
});

describe('limits', () => {
  it('merge overrides into the defaults', () => {
    expect(resolveNetLimits()).toEqual(DEFAULT_NET_LIMITS);
    expect(resolveNetLimits({ dialTimeoutMs: 123 }).dialTimeoutMs).toBe(123);
    expect(resolveProtocolLimits({ rateLimitPerSecond: 0.5 }).rateLimitPerSecond).toBe(0.5);
    expect(resolveProtocolLimits()).toEqual(DEFAULT_PROTOCOL_LIMITS);
  });

  it('refuse unknown, non-numeric, fractional and out-of-range values', () => {
    expect(code(() => resolveNetLimits({ bogus: 1 } as never))).toBe('INVALID_CONFIG');
    expect(code(() => resolveNetLimits({ dialTimeoutMs: '5' } as never))).toBe('INVALID_CONFIG');
    expect(code(() => resolveNetLimits({ dialTimeoutMs: 1.5 }))).toBe('INVALID_CONFIG');
    expect(code(() => resolveNetLimits({ maxGossipMessageBytes: MAX_FRAME_BYTES }))).toBe('INVALID_CONFIG');
    expect(code(() => resolveNetLimits({ redialIntervalMs: 1000, redialMaxBackoffMs: 500 }))).toBe('INVALID_CONFIG');
    expect(code(() => resolveNetLimits(null as never))).toBe('INVALID_CONFIG');
    expect(code(() => resolveProtocolLimits({ maxResponseBytes: MAX_FRAME_BYTES }))).toBe('INVALID_CONFIG');
    expect(code(() => resolveProtocolLimits({ maxConcurrentPerPeer: 0 }))).toBe('INVALID_CONFIG');
    expect(code(() => resolveProtocolLimits({ rateLimitBurst: Number.NaN }))).toBe('INVALID_CONFIG');
  });

  it('leave room in a 4 MiB frame for the gossip envelope', () => {
    expect(DEFAULT_NET_LIMITS.maxGossipMessageBytes).toBeLessThan(MAX_FRAME_BYTES);
    expect(DEFAULT_PROTOCOL_LIMITS.maxResponseBytes + 1).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });
});

describe('gossip settings', () => {
  it('message id = SHA-256(len32(topic) || topic || data)', () => {
    const id = gossipMessageId('/t', utf8('abc'));
    const want = createHash('sha256').update(Uint8Array.of(0, 0, 0, 2)).update(utf8('/t')).update(utf8('abc')).digest('hex');
    expect(toHex(id)).toBe(want);
    expect(toHex(gossipMessageId('/u', utf8('abc')))).not.toBe(want);
    // no ambiguity between topic and data boundaries
    expect(toHex(gossipMessageId('/ta', utf8('bc')))).not.toBe(want);
  });

  it('publishes to every peer directly (flood, no eager mesh forwarding), gossips ids to 2 peers, no signatures, and scores only invalid messages', () => {
    const o = gossipsubOptions({ n: 4, allowedTopics: ['/a', '/b'] });
    expect([o.D, o.Dlo, o.Dhi, o.Dout]).toEqual([0, 0, 0, 0]);
    // Ids are announced to a fixed number of peers, not to all n − 1: each peer then receives
    // IHAVE lists from ~2 peers per heartbeat whatever n is (with n − 1 it grew as n²).
    expect(o.Dlazy).toBe(2);
    expect(o.gossipFactor).toBe(0);
    expect(gossipsubOptions({ n: 10, allowedTopics: ['/a'] }).Dlazy).toBe(2);
    expect(gossipsubOptions({ n: 3, allowedTopics: ['/a'] }).Dlazy).toBe(2);
    expect(gossipsubOptions({ n: 2, allowedTopics: ['/a'] }).Dlazy).toBe(1);
    expect(o.floodPublish).toBe(true);
    expect(o.globalSignaturePolicy).toBe('StrictNoSign');
    expect(o.allowPublishToZeroTopicPeers).toBe(true);
    expect(o.ignoreDuplicatePublishError).toBe(true);
    expect(Object.keys(o.scoreParams!.topics!)).toEqual(['/a', '/b']);
    expect(o.scoreParams!.topics!['/a']!.invalidMessageDeliveriesWeight).toBeLessThan(0);
    expect(o.scoreParams!.topics!['/a']!.meshMessageDeliveriesWeight).toBe(0);
    const one = gossipsubOptions({ n: 1, allowedTopics: [] });
    expect([one.D, one.Dlo, one.Dout, one.Dlazy]).toEqual([0, 0, 0, 1]);
    // msgIdFn and fastMsgIdFn agree on one message
    const data = utf8('payload');
    const viaFast = o.fastMsgIdFn!({ topic: '/a', data } as never);
    const viaFull = o.msgIdToStrFn!(o.msgIdFn!({ type: 'unsigned', topic: '/a', data }) as Uint8Array);
    expect(viaFast).toBe(viaFull);
    expect(viaFull).toBe(toHex(gossipMessageId('/a', data)));
  });
});

describe('HandlerError', () => {
  it('accepts upper-case codes only', () => {
    expect(new HandlerError('NOT_FOUND', 'x').code).toBe('NOT_FOUND');
    expect(code(() => new HandlerError('not found', 'x'))).toBe('INVALID_ARGUMENT');
    expect(code(() => new HandlerError('A'.repeat(65), 'x'))).toBe('INVALID_ARGUMENT');
  });
});

describe('NetLogger', () => {
  it('accepts a pino logger as is (same argument order)', async () => {
    const { pino } = await import('pino');
    const lines: string[] = [];
    const p = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
    const l: NetLogger = p; // compile-time check: pino's LogFn fits NetLogger
    l.error({ peer: 'x' }, 'genesis mismatch: ours a theirs b');
    expect(JSON.parse(lines[0]!)).toMatchObject({ peer: 'x', msg: 'genesis mismatch: ours a theirs b', level: 50 });
  });
});
