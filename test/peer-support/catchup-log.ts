// What a peer's catch-up did, for the message of a failed catch-up wait: its last catch-up log
// lines (sources backed off and why, batches reduced) with peer ids shortened to org names.
import type { Cluster } from './cluster.js';

export function catchUpLog(c: Cluster, i: number, last = 20): string {
  const names = new Map(c.orgs.map((o, k) => [o.peerId, `org${k}`]));
  const lines = c.logs[i]!.filter((l) => l.msg.includes('catch-up')).slice(-last);
  const st = c.peers[i]?.status().sync;
  return [
    `peer${i} sync ${JSON.stringify(st ?? null)}`,
    ...lines.map((l) => `  ${l.level} ${l.msg} ${JSON.stringify(l.obj).replace(/12D3\w+/g, (m) => names.get(m) ?? m)}`),
  ].join('\n');
}
