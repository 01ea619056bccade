// attachHttp (the peer process hook): starts the API from the config's "host:port", and
// peer.stop() then closes it first — a pending long-poll is answered, not left hanging.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachHttp } from '../../node/http/attach.js';
import { makeCluster, makeEntries, type Cluster } from '../peer-support/cluster.js';
import { CairnClient } from '../../src/client/index.js';

let c: Cluster;
beforeAll(async () => {
  c = await makeCluster(1, { label: 'attach' });
});
afterAll(async () => {
  await c?.close();
});

it('null config -> no server; "host:port" -> API up; peer.stop() closes it and ends long-polls', async () => {
  const peer = await c.start(0);
  expect(await attachHttp(peer, null)).toBeNull();
  const logged: string[] = [];
  const http = await attachHttp(peer, '127.0.0.1:0', { info: (f, m) => logged.push(`${m} ${JSON.stringify(f)}`) });
  expect(http).not.toBeNull();
  expect(logged[0]).toContain(http!.url);
  const client = new CairnClient({ url: http!.url });
  // One organization: it is its own quorum, so entries become final.
  const [e] = makeEntries(c.clients, 1, 'attach');
  const r = await client.submit(e!);
  const fin = await client.waitFinal(r.leafHash, { timeoutMs: 20_000 });
  expect(fin.status).toBe('final');
  expect((await client.health()).ok).toBe(true);
  // A long-poll for an entry that never comes, then stop the peer.
  const t0 = Date.now();
  const poll = fetch(`${http!.url}/v1/entries/${'cd'.repeat(32)}?wait=final&timeout=30s`).then((x) => x.status);
  await new Promise((res) => setTimeout(res, 300));
  await c.stop(0);
  expect(await poll).toBe(404);
  expect(Date.now() - t0).toBeLessThan(10_000);
  const after = await client.status().catch((x: unknown) => x);
  expect(after).toMatchObject({ code: 'network_error' });
});
