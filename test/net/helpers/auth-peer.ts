// Helpers for the HTTP access-control tests: Ed25519 keys for RFC 9421 signed requests, a signed
// fetch, and entries with a tenant submitted to a real peer and waited final.
import { nodeSigner } from '../../../src/crypto/node.js';
import { publicKeyFromSeed } from '../../../src/crypto/noble.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { entryLeaf, leafHashOfEntry, signEntry } from '../../../src/entry/index.js';
import type { AuditEntry } from '../../../src/entry/types.js';
import type { Ed25519Signer } from '../../../src/crypto/types.js';
import { signRequest } from '../../../node/auth/index.js';
import { seedOf } from '../../peer-support/fixtures.js';
import { clusterProgress, waitFor, type Cluster } from '../../peer-support/cluster.js';
import { call, postJson } from './http-cluster.js';

export interface TestKey {
  name: string;
  signer: Ed25519Signer;
  publicKeyHex: string;
}

export function testKey(name: string): TestKey {
  const seed = seedOf(`${name}/http-auth-key`);
  return { name, signer: nodeSigner(seed), publicKeyHex: toHex(publicKeyFromSeed(seed)) };
}

export type Answer = Awaited<ReturnType<typeof call>>;

/** A request signed with RFC 9421 by `key` (overrides for the attack cases). */
export function signedCall(
  url: string,
  key: TestKey,
  o: { method?: string; headers?: Record<string, string>; body?: string; signedBody?: string; created?: number; nonce?: string } = {},
): Promise<Answer> {
  const method = o.method ?? 'GET';
  const signedBody = o.signedBody ?? o.body;
  const sig = signRequest(
    { method, url, ...(signedBody !== undefined ? { body: new TextEncoder().encode(signedBody) } : {}) },
    { keyid: key.name, signer: key.signer, ...(o.created !== undefined ? { created: o.created } : {}), ...(o.nonce !== undefined ? { nonce: o.nonce } : {}) },
  );
  return call(url, { method, headers: { ...(o.headers ?? {}), ...sig }, ...(o.body !== undefined ? { body: o.body } : {}) });
}

export function bearer(token: string, extra: Record<string, string> = {}): RequestInit {
  return { headers: { authorization: `Bearer ${token}`, ...extra } };
}

/** Signs one entry per tenant with the cluster's client `clientIndex`. */
export function tenantEntries(c: Cluster, tenants: string[], clientIndex = 0, prefix = 'auth'): AuditEntry[] {
  const run = `${process.pid}-${Date.now()}`;
  return tenants.map((tenant, i) =>
    signEntry(
      { v: 1, id: `${prefix}-${tenant}-${run}-${i}`, time: new Date().toISOString(), tenant, actor: { id: `user-${i}`, type: 'user' }, action: 'db.query', resource: { type: 'table', id: `t${i}` }, outcome: 'success' },
      c.clients[clientIndex]!.signer,
    ),
  );
}

export function leafHashHex(e: AuditEntry): string {
  return toHex(leafHashOfEntry(entryLeaf(e)));
}

/** Submits (POST is not gated: entries carry their own signatures) and waits until peer 0 has them final. */
export async function submitFinal(c: Cluster, url: string, entries: AuditEntry[]): Promise<void> {
  const r = await postJson(`${url}/v1/entries`, entries);
  if (r.status !== 202 && r.status !== 200) throw new Error(`submit: ${r.status} ${r.text}`);
  const want = c.peers[0]!.status().finalSize + entries.length;
  await waitFor(c, 'entries final', () => c.peers[0]!.status().finalSize >= want, () => clusterProgress(c), { maxMs: 60_000 });
}

/** Status, headers (minus date) and body: what a client can observe of an answer. */
export function observable(a: Answer): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {};
  a.headers.forEach((v, k) => {
    if (k !== 'date') headers[k] = v;
  });
  return { status: a.status, headers, body: a.text };
}
