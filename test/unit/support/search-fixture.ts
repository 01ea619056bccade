// A real peer store (LevelDB in a temp dir) filled with random signed audit entries through
// applyBlock, with a final checkpoint signed by a quorum of test organizations after each block,
// and a brute-force reference filter for the search tests.
import { formatCheckpoint } from '../../../src/checkpoint/checkpoint.js';
import { formatVerifierKey } from '../../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../../src/checkpoint/note.js';
import { nodeSigner } from '../../../src/crypto/node.js';
import { entryLeaf } from '../../../src/entry/leaf.js';
import { signEntry } from '../../../src/entry/sign.js';
import type { AuditEntry, Outcome, UnsignedEntry } from '../../../src/entry/types.js';
import { fieldsOf, matchesFilter, type SearchFilter } from '../../../src/search/fields.js';
import { parseTrustFile, type TrustRoot } from '../../../src/verifier/index.js';
import type { Store } from '../../../node/storage/store.js';
import { appendBlock } from './storage-fixture.js';
import { SeededRandom } from './seeded-random.js';

export const ORIGIN = 'cairn.test/search';
export const ORGS: NoteSigner[] = [1, 2, 3, 4].map((i) => ({ name: `org${i}.test`, signer: nodeSigner(new Uint8Array(32).fill(0x50 + i)) }));
export const CLIENTS = [1, 2, 3].map((i) => nodeSigner(new Uint8Array(32).fill(0x10 + i)));

export function testTrust(): TrustRoot {
  const r = parseTrustFile(JSON.stringify({ origin: ORIGIN, quorum: 3, keys: ORGS.map((o) => formatVerifierKey(o.name, o.signer.publicKey)) }));
  if (!r.ok) throw new Error(r.message);
  return r.trust;
}

export const ACTORS = ['alice', 'bob', 'carol', 'dave', 'svc-backup'];
export const ACTIONS = ['db.query', 'db.insert', 'db.table.drop', 'db.table.create', 'user.login', 'user.logout', 'config.set'];
export const RTYPES = ['db.table', 'user', 'config'];
export const RIDS = ['payments', 'orders', 'u1', 'u2', 'flags'];
export const TENANTS = ['acme', 'globex', undefined];
export const OUTCOMES: Outcome[] = ['success', 'failure', 'denied', 'unknown'];
/** Entry times start here and advance ~1 s per entry, with jitter and rare outliers. */
export const T0 = Date.parse('2026-01-01T00:00:00Z');

export class SearchLog {
  readonly entries: AuditEntry[] = [];
  readonly leaves: Uint8Array[] = [];
  private seq = 0;
  constructor(
    readonly store: Store,
    readonly rng: SeededRandom,
  ) {}

  randomEntry(): AuditEntry {
    const r = this.rng;
    const n = this.seq++;
    let ms = T0 + n * 1000 + r.int(5000) - 2500;
    if (r.int(50) === 0) ms = T0 + r.int(3_000_000); // an outlier far from its neighbours
    const u: UnsignedEntry = {
      v: 1,
      id: `e${n}`,
      time: new Date(ms).toISOString(),
      actor: { id: r.pick(ACTORS) },
      action: r.pick(ACTIONS),
      resource: { type: r.pick(RTYPES), id: r.pick(RIDS) },
      outcome: r.pick(OUTCOMES),
    };
    const tenant = r.pick(TENANTS);
    if (tenant !== undefined) u.tenant = tenant;
    if (r.int(3) === 0) u.data = { before: { n: r.int(3), s: 'x' }, after: { n: r.int(3), s: r.pick(['x', 'y']) } };
    return signEntry(u, r.pick(CLIENTS));
  }

  /** Appends a block of `count` random entries and a final checkpoint at the new size. */
  async appendBlock(count: number): Promise<void> {
    const entries = Array.from({ length: count }, () => this.randomEntry());
    await this.appendEntries(entries);
  }

  async appendEntries(entries: AuditEntry[]): Promise<void> {
    const leaves = entries.map((e) => entryLeaf(e));
    await appendBlock(this.store, leaves, entries.map((e) => ({ client: e.client, id: e.id })));
    this.entries.push(...entries);
    this.leaves.push(...leaves);
    const head = this.store.head()!;
    await this.store.putCheckpoint(head.treeSize, utf8Note(head.treeSize, head.root), true);
  }
}

function utf8Note(size: number, root: Uint8Array): Uint8Array {
  return new TextEncoder().encode(signNote(formatCheckpoint({ origin: ORIGIN, size, root }), ORGS.slice(0, 3)));
}

/** Indexes of entries < size matching the filter (and predicate), in the order asked. */
export function bruteForce(log: SearchLog, size: number, f: SearchFilter, order: 'oldest' | 'newest', pred?: (e: AuditEntry) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    const e = log.entries[i]!;
    if (matchesFilter(fieldsOf(e), f) && (pred === undefined || pred(e))) out.push(i);
  }
  return order === 'oldest' ? out : out.reverse();
}

export function randomFilter(rng: SeededRandom): SearchFilter {
  const f: SearchFilter = {};
  const k = rng.int(6);
  if (k === 0) return f;
  const pick = rng.int(9);
  const add = (n: number): void => {
    switch (n) {
      case 0: f.actor = rng.pick(ACTORS); break;
      case 1: f.action = rng.pick(ACTIONS); break;
      case 2: f.actionPrefix = rng.pick(['db.', 'db.table.', 'user.']); break;
      case 3: f.resourceType = rng.pick(RTYPES); break;
      case 4: f.resourceId = rng.pick(RIDS); break;
      case 5: f.tenant = rng.pick(['acme', 'globex']); break;
      case 6: f.outcome = rng.pick(OUTCOMES); break;
      case 7: f.client = Array.from(rng.pick(CLIENTS).publicKey, (b) => b.toString(16).padStart(2, '0')).join(''); break;
      default: {
        const a = T0 + rng.int(400) * 1000;
        f.fromMs = a;
        f.toMs = a + rng.int(300) * 1000;
      }
    }
  };
  add(pick);
  if (k >= 3) add(rng.int(9));
  if (k >= 5) add(rng.int(9));
  return f;
}
