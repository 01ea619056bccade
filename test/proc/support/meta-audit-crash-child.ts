// Child process of test/proc/meta-audit-crash.test.ts: a one-organization peer with its
// meta-audit, on the data directory of the test.
//   record: records events of distinct principals `key:user<i>` one after the other, printing
//           "recorded <i> queued <q> final <f>" after each record() resolved, until killed
//           (at most 5,000 events);
//   drain:  waits until the queue is empty, then prints every meta-audit entry of the log as
//           "entries <json [id, actor, count]>" and "done".
// argv: <work dir> <record|drain>
import { join } from 'node:path';
import { fromUtf8, toHex } from '../../../src/encoding/bytes.js';
import { nodeSigner } from '../../../src/crypto/node.js';
import type { AuditEntry } from '../../../src/entry/types.js';
import { openMetaAudit } from '../../../node/meta-audit/index.js';
import { p2pKeyFromSeed } from '../../../node/peer/config.js';
import { loadGenesis } from '../../../node/peer/genesis.js';
import { startPeer } from '../../../node/peer/peer.js';
import { seedOf } from '../../peer-support/fixtures.js';

const [dir, mode] = process.argv.slice(2) as [string, string];
const genesis = await loadGenesis(join(dir, 'genesis.json'));
const org = genesis.validators[0]!;
const { privateKey } = await p2pKeyFromSeed(seedOf(`${org.name}/p2p`));
const peer = await startPeer({ genesis, signingSeed: seedOf(`${org.name}/sign`), p2pKey: privateKey, dataDir: join(dir, 'data'), listen: org.addrs });
const maSeed = seedOf(`${org.name}/meta-audit`);
const ma = await openMetaAudit({ peer, dir: join(dir, 'data', 'meta-audit'), seed: maSeed, limits: { coalesceWindowMs: 20, pollMs: 50, retryMs: 100 } });
const out = (s: string) => process.stdout.write(s + '\n');

if (mode === 'record') {
  for (let i = 0; i < 5_000; i++) {
    await ma.record({ actor: `key:user${i}`, action: 'cairn.read.entry', resource: { type: 'entry', id: `h${i}` }, address: '127.0.0.1', outcome: 'success', atMs: Date.now() });
    const s = ma.stats();
    out(`recorded ${i} queued ${s.queued} final ${s.final}`);
  }
  out('record limit reached');
} else {
  const client = toHex(nodeSigner(maSeed).publicKey);
  const end = Date.now() + 60_000;
  while (ma.stats().queued > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  const st = peer.status();
  const entries: [string, string, number][] = [];
  for (let i = 0; i < st.finalSize; i++) {
    const e = JSON.parse(fromUtf8((await peer.getLeaf(i))!)) as AuditEntry;
    if (e.client === client) entries.push([e.id, e.actor.id, Number((e.data as { count: number }).count)]);
  }
  out(`queued ${ma.stats().queued}`);
  out(`entries ${JSON.stringify(entries)}`);
  await ma.close();
  await peer.stop();
  out('done');
}
