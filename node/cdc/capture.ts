// The capture loop: stream the slot, turn each captured row change into a signed entry, submit
// the entries in commit order, and advance the slot only past transactions whose entries are all
// final in Cairn.
//
// Exactly once, across restarts:
//   - An entry's id is `<idPrefix>.<commit LSN>.<position in the transaction>` and its content is
//     derived only from what PostgreSQL sent (rows.ts), so re-capturing a transaction re-creates
//     the same entries, which the log answers with known-pending / known-final.
//   - The position (an LSN) moves only to the end of a transaction all of whose entries a peer
//     confirmed final (waitFinal), and is written to the state file before it is reported to
//     the server as flushed. After a crash anywhere, PostgreSQL resends every transaction that
//     committed at or after the slot's confirmed position: nothing is skipped, and what had
//     already been logged is recognised by its id.
//   - An entry that a peer refuses for clock skew (the capture is more than the network's
//     maxClockSkewMs behind) is re-stamped with the current time (data.commitTime keeps the
//     commit's); if such an entry is re-created after a restart, the log answers `conflict` for
//     its id, and the entry already logged under that id stands.
//
// Order: one batch is in flight at a time and the next is submitted only once it is final, so
// the log holds the changes in commit order (a peer keeps the order of one submission).
//
// Bounds: at most `bufferEntries` / `bufferBytes` of decoded entries wait for Cairn (plus what one
// network read of the replication stream holds); above them the capture stops reading the
// socket, so PostgreSQL keeps the WAL instead of the capture's memory holding it. Standby status
// updates keep flowing while it waits, so the server does not time the connection out.
import type { CairnClient } from '../../src/client/client.js';
import { CairnApiError } from '../../src/client/errors.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { signEntry } from '../../src/entry/sign.js';
import { entryLeaf } from '../../src/entry/leaf.js';
import type { AuditEntry, UnsignedEntry } from '../../src/entry/types.js';
import type { CdcConfig } from './config.js';
import { decodePgoutput, decodeStreamMessage, formatLsn, standbyStatus, type Lsn, type PgoutputMessage, type Relation } from './pgoutput.js';
import { ACTOR_MESSAGE_PREFIX, changeEntry, parseActorNote, type ChangeContext, type TableSpec } from './rows.js';
import type { ReplicationStream } from './pg.js';
import { writeState } from './state.js';

/** Relations remembered from the stream (pgoutput sends each one before its first change). */
const RELATIONS_MAX = 4096;
/**
 * How long a batch waits for the commit of a transaction whose first changes are queued. The
 * server sends a committed transaction's changes and its COMMIT together, but they may arrive in
 * several reads: cutting a batch at the first one would put one transaction in several batches,
 * each waiting for the previous one to be final. A batch that is full, or a transaction whose
 * commit does not come within this time, is cut as before.
 */
export const TRANSACTION_WAIT_MS = 500;
const BACKOFF_MS_MAX = 5_000;

export interface CaptureStats {
  captured: number;
  final: number;
  batches: number;
  resubmitted: number;
  conflicts: number;
  restamped: number;
  pauses: number;
  confirmed: string;
  buffered: number;
  bufferedBytes: number;
  paused: boolean;
}

export interface CaptureOptions {
  config: CdcConfig;
  tables: TableSpec[];
  stream: ReplicationStream;
  /** One client per peer, tried in turn: a batch moves to the next peer when one fails. */
  clients: CairnClient[];
  signer: Ed25519Signer;
  /** Position to start from (the state file's, else the slot's confirmed position). */
  start: Lsn;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  signal: AbortSignal;
}

type Item = { kind: 'entry'; entry: AuditEntry; bytes: number } | { kind: 'commit'; endLsn: Lsn };

interface OpenTxn {
  commitLsn: Lsn;
  commitTime: bigint;
  xid: number;
  position: number;
  actor: ChangeContext['actor'];
}

export class CdcFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcFatalError';
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((res) => {
    if (signal.aborted) return res();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      res();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Runs until `signal` aborts (resolves) or a fatal error (rejects). */
export async function runCapture(o: CaptureOptions): Promise<CaptureStats> {
  const cfg = o.config;
  const byName = new Map(o.tables.map((t) => [`${t.schema}.${t.table}`, t]));
  const relations = new Map<number, Relation>();
  const queue: Item[] = [];
  let bufferedEntries = 0;
  let bufferedBytes = 0;
  let paused = false;
  let txn: OpenTxn | null = null;
  let confirmed = o.start;
  let fatal: Error | null = null;
  let wake: (() => void) | null = null;
  const stats: CaptureStats = { captured: 0, final: 0, batches: 0, resubmitted: 0, conflicts: 0, restamped: 0, pauses: 0, confirmed: formatLsn(confirmed), buffered: 0, bufferedBytes: 0, paused: false };
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  if (o.signal.aborted) stop.abort();
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  // A submitter waiting for work wakes up to stop.
  stop.signal.addEventListener('abort', () => notify(), { once: true });
  const fail = (e: Error): void => {
    fatal ??= e;
    stop.abort();
    notify();
  };

  const sendStatus = (replyRequested = false): void => {
    try {
      o.stream.send(standbyStatus(confirmed, replyRequested));
    } catch (e) {
      fail(e as Error);
    }
  };

  /** Persists `lsn` as the position, then tells the server; calls run one after another (a promise chain). */
  let persisting: Promise<void> = Promise.resolve();
  const advance = (lsn: Lsn): Promise<void> => {
    persisting = persisting.then(async () => {
      if (lsn <= confirmed) return;
      await writeState(cfg.stateFile, { slot: cfg.slot, lsn, systemId: o.stream.systemId });
      confirmed = lsn;
      stats.confirmed = formatLsn(lsn);
      sendStatus();
    });
    return persisting;
  };

  const push = (item: Item): void => {
    queue.push(item);
    if (item.kind === 'entry') {
      bufferedEntries++;
      bufferedBytes += item.bytes;
      stats.captured++;
      if (!paused && (bufferedEntries >= cfg.bufferEntries || bufferedBytes >= cfg.bufferBytes)) {
        paused = true;
        stats.pauses++;
        o.stream.pause();
        o.log('backpressure: stopped reading from the slot until Cairn catches up', { buffered: bufferedEntries, bufferedBytes });
      }
    }
    notify();
  };

  const onMessage = (m: PgoutputMessage): void => {
    switch (m.tag) {
      case 'relation':
        if (!relations.has(m.relation.oid) && relations.size >= RELATIONS_MAX) throw new CdcFatalError(`more than ${RELATIONS_MAX} relations in the stream (RELATIONS_MAX)`);
        relations.set(m.relation.oid, m.relation);
        return;
      case 'begin':
        if (txn !== null) throw new CdcFatalError('BEGIN inside an open transaction');
        txn = { commitLsn: m.finalLsn, commitTime: m.commitTime, xid: m.xid, position: 0, actor: null };
        return;
      case 'message':
        if (m.transactional && m.prefix === ACTOR_MESSAGE_PREFIX && txn !== null) txn.actor = parseActorNote(m.content);
        return;
      case 'commit':
        if (txn === null) throw new CdcFatalError('COMMIT outside a transaction');
        if (m.commitLsn !== txn.commitLsn) throw new CdcFatalError(`COMMIT at ${formatLsn(m.commitLsn)} but BEGIN announced ${formatLsn(txn.commitLsn)}`);
        txn = null;
        push({ kind: 'commit', endLsn: m.endLsn });
        return;
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate': {
        if (txn === null) throw new CdcFatalError(`${m.tag} outside a transaction`);
        const t = txn;
        const oids = m.tag === 'truncate' ? m.relOids : [m.relOid];
        for (const oid of oids) {
          const rel = relations.get(oid);
          if (rel === undefined) throw new CdcFatalError(`change of relation ${oid} before its relation message`);
          // Every change counts for the position, captured or not, so ids do not depend on the config.
          const position = t.position++;
          const spec = byName.get(`${rel.schema}.${rel.table}`);
          if (spec === undefined) continue;
          const change = m.tag === 'truncate' ? { tag: 'truncate' as const } : m;
          const unsigned = changeEntry(spec, rel, change, { idPrefix: cfg.idPrefix, commitLsn: t.commitLsn, commitTime: t.commitTime, xid: t.xid, position, actor: t.actor });
          const entry = signEntry(unsigned, o.signer);
          push({ kind: 'entry', entry, bytes: entryLeaf(entry).length });
        }
        return;
      }
      default:
        return; // origin, type: nothing to record
    }
  };

  const onData = (chunk: Uint8Array): void => {
    if (fatal !== null) return;
    try {
      const s = decodeStreamMessage(chunk);
      if (s.tag === 'keepalive') {
        // Nothing captured is waiting and no transaction is open: everything the server decoded
        // before walEnd has been seen, so the slot may move there and release WAL it no longer needs.
        if (queue.length === 0 && txn === null && !submitting && s.walEnd > confirmed) void advance(s.walEnd).catch(fail);
        else if (s.replyRequested) sendStatus();
        return;
      }
      onMessage(decodePgoutput(s.payload));
    } catch (e) {
      fail(e instanceof Error ? e : new Error(String(e)));
    }
  };

  let submitting = false;

  let current = 0;
  const client = (): CairnClient => o.clients[current % o.clients.length]!;

  /** Submits one batch until every entry is final (retrying what is safe to retry). */
  const finalize = async (batch: AuditEntry[]): Promise<void> => {
    let backoff = 200;
    const retry = async (why: string): Promise<void> => {
      // Resubmitting identical entries is harmless, so the next peer may take the batch over.
      const from = client().url;
      current = (current + 1) % o.clients.length;
      o.log('retrying batch', { why, entries: batch.length, backoffMs: backoff, peer: from, next: client().url });
      stats.resubmitted++;
      await sleep(backoff, stop.signal);
      backoff = Math.min(BACKOFF_MS_MAX, backoff * 2);
    };
    while (!stop.signal.aborted) {
      let results;
      try {
        results = await client().submit(batch);
      } catch (e) {
        await retry(e instanceof Error ? e.message : String(e));
        continue;
      }
      let again = false;
      for (let i = 0; i < results.length; i++) {
        const r = results[i]!;
        if (!('error' in r)) continue;
        const code = r.error.code;
        if (code === 'conflict') {
          // This id is already logged (or pending) with other bytes: an earlier run re-stamped it.
          stats.conflicts++;
        } else if (code === 'clock_skew') {
          const e = batch[i]!;
          const { sig: _sig, client: _client, ...rest } = e;
          const u: UnsignedEntry = { ...rest, time: new Date().toISOString(), data: { ...(e.data ?? {}), commitTime: e.time } };
          batch[i] = signEntry(u, o.signer);
          stats.restamped++;
          again = true;
        } else if (code === 'busy' || code === 'overloaded' || code === 'unavailable' || code === 'too_many_requests' || code === 'rate_limited') {
          again = true;
        } else {
          throw new CdcFatalError(`entry ${batch[i]!.id} refused: ${code}: ${r.error.message}`);
        }
      }
      if (again) {
        await retry('some entries were not taken');
        continue;
      }
      try {
        await client().waitFinalMany(
          batch.map((e) => ({ client: e.client, id: e.id })),
          { timeoutMs: cfg.finalTimeoutMs },
        );
        return;
      } catch (e) {
        if (e instanceof CairnApiError && (e.code === 'forbidden' || e.code === 'unauthenticated')) {
          throw new CdcFatalError(`cannot read entries back to check they are final: ${e.message} (give the capture a read credential)`);
        }
        // Not final in time, or the peer went away: submit again (identical entries are harmless).
        await retry(e instanceof Error ? e.message : String(e));
      }
    }
  };

  /**
   * True once the queue holds a commit marker or a full batch; otherwise waits (for more of the
   * stream, at most TRANSACTION_WAIT_MS from the first wait for this head) and answers false so
   * the caller looks at the queue again.
   */
  let waitingSince: number | null = null;
  const transactionReady = async (): Promise<boolean> => {
    let entries = 0;
    let bytes = 0;
    // Looks at most one batch deep (it runs at every item the stream queues).
    let committed = false;
    for (const it of queue) {
      if (it.kind === 'commit') {
        committed = true;
        break;
      }
      entries++;
      bytes += it.bytes;
      if (entries >= cfg.batchEntries || bytes >= cfg.batchBytes) break;
    }
    const now = Date.now();
    if (committed || entries >= cfg.batchEntries || bytes >= cfg.batchBytes || paused || (waitingSince !== null && now - waitingSince >= TRANSACTION_WAIT_MS)) {
      waitingSince = null;
      return true;
    }
    waitingSince ??= now;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((res) => {
      wake = res;
      timer = setTimeout(() => notify(), Math.max(1, waitingSince! + TRANSACTION_WAIT_MS - now));
    });
    clearTimeout(timer);
    return false;
  };

  const submitter = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      // Commit markers at the head with no entry before them: those transactions are done.
      let lead: Lsn | null = null;
      while (queue.length > 0 && queue[0]!.kind === 'commit') lead = (queue.shift() as { endLsn: Lsn }).endLsn;
      if (lead !== null) await advance(lead);
      if (queue.length === 0) {
        await new Promise<void>((res) => (wake = res));
        continue;
      }
      if (!(await transactionReady())) continue;
      // The batch: entries from the head, bounded by count and bytes; commit markers inside it
      // come along, and the last one is where the position moves once the batch is final.
      const batch: AuditEntry[] = [];
      let bytes = 0;
      let take = 0;
      let lastCommit: Lsn | null = null;
      for (const it of queue) {
        if (it.kind === 'commit') {
          lastCommit = it.endLsn;
          take++;
          continue;
        }
        if (batch.length >= cfg.batchEntries || (batch.length > 0 && bytes + it.bytes > cfg.batchBytes)) break;
        batch.push(it.entry);
        bytes += it.bytes;
        take++;
      }
      submitting = true;
      try {
        o.log('submitting', { entries: batch.length, first: batch[0]!.id, last: batch[batch.length - 1]!.id });
        await finalize(batch);
      } finally {
        submitting = false;
      }
      if (stop.signal.aborted) return;
      queue.splice(0, take);
      bufferedEntries -= batch.length;
      bufferedBytes -= bytes;
      stats.final += batch.length;
      stats.batches++;
      if (lastCommit !== null) await advance(lastCommit);
      o.log('final', { entries: batch.length, last: batch[batch.length - 1]!.id, confirmed: formatLsn(confirmed) });
      if (paused && bufferedEntries <= cfg.bufferEntries / 2 && bufferedBytes <= cfg.bufferBytes / 2) {
        paused = false;
        o.stream.resume();
        o.log('backpressure: reading from the slot again', { buffered: bufferedEntries });
      }
    }
  };

  const ended = new Promise<void>((resolve) => {
    o.stream.start(cfg.slot, cfg.publication, o.start, onData, (err) => {
      if (err !== null) fail(new CdcFatalError(`replication stream: ${err.message}`));
      resolve();
    });
  });
  const timer = setInterval(() => sendStatus(), cfg.statusIntervalMs);
  o.log('streaming', { slot: cfg.slot, publication: cfg.publication, from: formatLsn(o.start) });
  try {
    // A stop or a fatal error does not wait for a long-poll the submitter may be in.
    const stopped = new Promise<void>((res) => stop.signal.addEventListener('abort', () => res(), { once: true }));
    await Promise.race([submitter().catch((e: Error) => fail(e)), stopped]);
    await Promise.race([persisting.catch(() => undefined), sleep(1000, new AbortController().signal)]);
  } finally {
    clearInterval(timer);
    o.signal.removeEventListener('abort', onAbort);
    await o.stream.close();
    await Promise.race([ended, sleep(2000, new AbortController().signal)]);
  }
  stats.buffered = bufferedEntries;
  stats.bufferedBytes = bufferedBytes;
  stats.paused = paused;
  if (fatal !== null) throw fatal;
  return stats;
}
