// What the explorer remembers across visits, in the browser's IndexedDB: the trust file the user
// pinned and, per log origin, the last checkpoint the page verified (to detect a rollback or a
// fork on the next visit). Never a key, a token or an entry.
const DB_NAME = 'cairn-explorer';
const STORE = 'kv';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
  });
}

async function run<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export const kvGet = <T>(key: string): Promise<T | undefined> => run<T | undefined>('readonly', (s) => s.get(key));
export const kvPut = (key: string, value: unknown): Promise<void> => run<void>('readwrite', (s) => s.put(value, key));
export const kvDelete = (key: string): Promise<void> => run<void>('readwrite', (s) => s.delete(key));

/** The last checkpoint this browser verified for a log origin. */
export interface StoredCheckpoint {
  note: string;
  size: number;
  rootHex: string;
  /** When the page verified it (ms since epoch). */
  seenAt: number;
}

export const TRUST_KEY = 'trust';
export const checkpointKey = (origin: string): string => `checkpoint:${origin}`;
