// Where an entry is on this peer: logged in the store, or pending in the mempool. An entry leaves
// the mempool only once the block holding it is durable in the store, so the mempool is read
// FIRST: an entry that moves from one to the other while the store is read is still found in one
// of them (read the other way round, it could be found in neither).
import { toHex } from '../../src/encoding/bytes.js';
import type { Store } from '../storage/store.js';
import type { CheckedEntry } from './entries.js';
import type { Mempool } from './mempool.js';

export type Located = { logged: { index: number; leafHash: Uint8Array } } | { pending: CheckedEntry } | null;

/** The entry with this leaf hash (32 bytes). */
export async function locateByLeafHash(store: Store, mempool: Mempool, leafHash: Uint8Array): Promise<Located> {
  const pending = mempool.getPending(toHex(leafHash));
  const index = await store.indexOfLeafHash(leafHash);
  if (index !== undefined) return { logged: { index, leafHash } };
  return pending === undefined ? null : { pending };
}

/** The entry a client submitted under this id. */
export async function locateByClientId(store: Store, mempool: Mempool, client: string, id: string): Promise<Located> {
  const pending = mempool.pendingByClientId(client, id);
  const logged = await store.lookupClientId(client, id);
  if (logged !== undefined) return { logged };
  return pending === undefined ? null : { pending };
}
