// The bench's credentials (bench --auth): signed reads verify with the peer's own verifier, entry
// submissions carry no credential, and peer tokens are fetched once per peer and reused.
import { describe, expect, it } from 'vitest';
import { BenchCredentials, benchPolicy, type RawRequest } from '../../bench/auth.js';
import { ReplayCache } from '../../node/auth/replay.js';
import { verifyRequestSignature } from '../../node/auth/httpsig.js';
import { parsePolicy } from '../../node/auth/policy.js';
import { fromHex } from '../../src/encoding/bytes.js';

const noRaw: RawRequest = async () => {
  throw new Error('no request expected');
};

describe('bench credentials', () => {
  it('the generated policy parses and grants the bench key an auditor and an operator role', () => {
    const { config, policy } = benchPolicy();
    const p = parsePolicy(policy, 'policy');
    expect(p.ok, JSON.stringify(p)).toBe(true);
    const keys = policy.keys as { name: string; roles: string[] }[];
    expect(keys[0]!.name).toBe(config.keyid);
    const roles = policy.roles as Record<string, { kind: string }>;
    expect(keys[0]!.roles.map((r) => roles[r]!.kind).sort()).toEqual(['auditor', 'operator']);
  });

  it('signature mode: a signed read verifies with the peer verifier; submissions are not signed', async () => {
    const { config, policy } = benchPolicy();
    const pk = fromHex((policy.keys as { publicKey: string }[])[0]!.publicKey)!;
    const c = new BenchCredentials(config, noRaw);
    const url = 'http://127.0.0.1:4321/tile/entries/000?x=1';
    const h = await c.headers('GET', url);
    const v = verifyRequestSignature(
      { method: 'GET', url: '/tile/entries/000?x=1', headers: { ...h, host: '127.0.0.1:4321' }, tls: false },
      { keyFor: (k) => (k === config.keyid ? pk : undefined), nowMs: Date.now(), windowSeconds: 300, futureSkewSeconds: 30, replay: new ReplayCache(1000, 1000) },
    );
    expect(v.ok, JSON.stringify(v)).toBe(true);
    expect(await c.headers('POST', 'http://127.0.0.1:4321/v1/entries', new Uint8Array(3))).toEqual({});
    expect(c.counts.signed).toBe(1);
  });

  it('token mode: one signed token request per peer, then bearer headers', async () => {
    const { config } = benchPolicy();
    const asked: string[] = [];
    const raw: RawRequest = async (url, o) => {
      asked.push(`${o.method} ${url} ${'signature' in o.headers ? 'signed' : 'unsigned'}`);
      return { status: 200, body: Buffer.from(JSON.stringify({ token: `tok-${new URL(url).port}`, expiresAt: Date.now() / 1000 + 600, roles: [] })) };
    };
    const c = new BenchCredentials({ ...config, mode: 'token' }, raw);
    for (let i = 0; i < 3; i++) {
      expect(await c.headers('GET', 'http://127.0.0.1:1001/v1/status')).toEqual({ authorization: 'Bearer tok-1001' });
      expect(await c.headers('GET', 'http://127.0.0.1:1002/metrics')).toEqual({ authorization: 'Bearer tok-1002' });
    }
    expect(asked).toEqual(['POST http://127.0.0.1:1001/v1/auth/token signed', 'POST http://127.0.0.1:1002/v1/auth/token signed']);
    expect(c.counts).toEqual({ signed: 2, tokenRequests: 2, bearer: 6 });
  });
});
