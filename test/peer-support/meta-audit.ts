// Fixtures for the meta-audit tests: each organization's meta-audit client (`<org>-meta-audit`,
// vouched by it) and helpers to read meta-audit entries back from a peer.
import { nodeSigner } from '../../src/crypto/node.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { Peer } from '../../node/peer/peer.js';
import { metaAuditClientName } from '../../node/peer/genesis-sharing.js';
import { seedOf, type ClientFixture, type OrgFixture } from './fixtures.js';

/** One meta-audit client per organization, in org order (makeGenesis vouches client i by org i mod n). */
export function metaAuditClients(orgs: OrgFixture[]): ClientFixture[] {
  return orgs.map((o) => {
    const seed = seedOf(`${o.name}/meta-audit`);
    return { name: metaAuditClientName(o.name), seed, signer: nodeSigner(seed), publicKeyHex: toHex(publicKeyFromSeed(seed)) };
  });
}

/** Every logged entry signed by `client` (scans the log: small test logs only). */
export async function entriesOf(peer: Peer, client: string, final = true): Promise<AuditEntry[]> {
  const st = peer.status();
  const end = final ? st.finalSize : st.treeSize;
  const out: AuditEntry[] = [];
  for (let i = 0; i < end; i++) {
    const leaf = await peer.getLeaf(i);
    if (leaf === undefined) continue;
    const e = JSON.parse(fromUtf8(leaf)) as AuditEntry;
    if (e.client === client) out.push(e);
  }
  return out;
}

/** Total events carried by meta-audit entries (each entry's data.count). */
export function eventCount(entries: AuditEntry[]): number {
  return entries.reduce((s, e) => s + Number((e.data as { count?: number } | undefined)?.count ?? 0), 0);
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, describe: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
