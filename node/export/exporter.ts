// The export loop behind `cairn export`: follows a peer's GET /v1/stream from the saved cursor,
// hands records to a sink in batches, and moves the cursor (durably: cursor.ts) only after the
// sink acknowledged the batch. A crash or kill at any point repeats at most the batch that was in
// flight (at-least-once; every record carries its log index, the receivers' idempotency key) and
// never skips an entry: the stream is always reopened from the durable cursor.
import type { AuditEntry } from '../../src/entry/types.js';
import { formatRecord, type ExportFormat } from './formats.js';
import { readCursor, writeCursor, type ExportCursor } from './cursor.js';
import type { ExportRecord, Sink } from './sinks.js';
import { parseStreamLine, STREAM_LINE_BYTES_MAX, type StreamLine } from './stream-wire.js';

export interface ExporterOptions {
  /** Peer base URL (no trailing slash). */
  peer: string;
  /** Headers for a request to `url` (credentials). */
  headers?: (url: string) => Record<string, string>;
  sink: Sink;
  format: ExportFormat;
  cursorFile: string;
  /** Filter expression (the shared filter language), applied by the peer. */
  filter?: string;
  /** Export what is final at the start, then return (instead of following the log). */
  once?: boolean;
  batchMax?: number;
  /** A non-empty batch is sent at the latest this long after its first record. */
  flushMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Attempts of one batch (or stream connection) before giving up (default: 8 with once, unlimited otherwise). */
  maxAttempts?: number;
  log?: (msg: string) => void;
  signal?: AbortSignal;
}

export interface ExportResult {
  exported: number;
  next: number;
  batches: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

async function treeSize(o: ExporterOptions): Promise<{ size: number; origin: string }> {
  const url = `${o.peer}/checkpoint`;
  const res = await fetch(url, { headers: o.headers?.(url) ?? {}, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`cannot read ${url}: HTTP ${res.status}`);
  const [origin, size] = text.split('\n');
  if (origin === undefined || size === undefined || !/^\d{1,16}$/.test(size)) throw new Error(`${url} is not a checkpoint`);
  return { size: Number(size), origin };
}

export async function runExport(o: ExporterOptions): Promise<ExportResult> {
  const log = o.log ?? (() => undefined);
  const batchMax = o.batchMax ?? 500;
  const flushMs = o.flushMs ?? 1000;
  const base = o.retryBaseMs ?? 1000;
  const maxBackoff = o.retryMaxMs ?? 30_000;
  const maxAttempts = o.maxAttempts ?? (o.once ? 8 : Number.POSITIVE_INFINITY);
  let cursor: ExportCursor = (await readCursor(o.cursorFile)) ?? { v: 1, next: 0 };
  let until: number | undefined;
  if (o.once) {
    const cp = await treeSize(o);
    if (cursor.origin !== undefined && cursor.origin !== cp.origin) throw new Error(`${o.cursorFile} belongs to log ${cursor.origin}, the peer serves ${cp.origin}`);
    until = cp.size;
  }
  const result: ExportResult = { exported: 0, next: cursor.next, batches: 0 };
  let batch: ExportRecord[] = [];
  let failures = 0;

  const backoff = async (what: string, e: unknown): Promise<void> => {
    failures++;
    if (failures >= maxAttempts) throw new Error(`${what} failed ${failures} times, giving up: ${(e as Error).message}`);
    const ms = Math.min(maxBackoff, base * 2 ** Math.min(failures - 1, 20));
    log(`${what} failed (${(e as Error).message}); retrying in ${ms} ms`);
    await sleep(ms, o.signal);
  };

  const save = async (next: number, origin: string | undefined): Promise<void> => {
    if (next <= cursor.next && (origin === undefined || cursor.origin === origin)) return;
    cursor = { v: 1, next: Math.max(next, cursor.next), ...(origin !== undefined ? { origin } : cursor.origin !== undefined ? { origin: cursor.origin } : {}) };
    await writeCursor(o.cursorFile, cursor);
    result.next = cursor.next;
  };

  // Sends the batch until the sink acknowledges it, then moves the cursor past it.
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    for (;;) {
      if (o.signal?.aborted) throw new Error('stopped');
      try {
        await o.sink.send(batch);
        break;
      } catch (e) {
        await backoff(`sending ${batch.length} records to ${o.sink.name}`, e);
      }
    }
    failures = 0;
    const last = batch[batch.length - 1]!;
    await save(last.index + 1, last.checkpoint.origin);
    result.exported += batch.length;
    result.batches++;
    batch = [];
  };

  while (!o.signal?.aborted) {
    if (until !== undefined && cursor.next >= until) break;
    batch = [];
    // after is exclusive (the last index the destination acknowledged); a fresh cursor omits it.
    const q = new URLSearchParams(cursor.next > 0 ? { after: String(cursor.next - 1) } : {});
    if (o.filter !== undefined) q.set('filter', o.filter);
    if (until !== undefined) q.set('until', String(until));
    const url = `${o.peer}/v1/stream?${q.toString()}`;
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await fetch(url, { headers: { accept: 'application/x-ndjson', ...(o.headers?.(url) ?? {}) }, signal: ac.signal });
      if (res.status !== 200 || res.body === null) {
        const text = (await res.text()).slice(0, 300);
        const err = new Error(`GET /v1/stream: HTTP ${res.status}: ${text}`);
        // Refusals that retrying cannot fix.
        if (res.status === 400 || res.status === 401 || res.status === 403) throw Object.assign(err, { fatal: true });
        throw err;
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let pendingRead: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
      let firstAt = 0;
      let ended = false;
      while (!ended) {
        pendingRead ??= reader.read();
        const wait = batch.length === 0 ? null : Math.max(0, firstAt + flushMs - Date.now());
        const r = wait === null ? await pendingRead : await Promise.race([pendingRead, sleep(wait).then(() => null)]);
        if (r === null) {
          await flush();
          continue;
        }
        pendingRead = null;
        if (r.done) {
          ended = true;
          buf += '\n';
        } else buf += dec.decode(r.value, { stream: true });
        if (buf.length > STREAM_LINE_BYTES_MAX && buf.indexOf('\n') < 0) throw new Error(`stream line longer than ${STREAM_LINE_BYTES_MAX} bytes`);
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text === '') continue;
          const line: StreamLine = parseStreamLine(text);
          if (line.type === 'entry') {
            if (line.index < cursor.next) continue;
            if (cursor.origin !== undefined && cursor.origin !== line.checkpoint.origin) throw Object.assign(new Error(`${o.cursorFile} belongs to log ${cursor.origin}, the peer serves ${line.checkpoint.origin}`), { fatal: true });
            const entry = JSON.parse(line.leaf) as AuditEntry;
            const x = { index: line.index, leafHash: line.leafHash, leaf: line.leaf, entry, checkpoint: line.checkpoint };
            if (batch.length === 0) firstAt = Date.now();
            batch.push({ index: x.index, leafHash: x.leafHash, entry, checkpoint: x.checkpoint, record: formatRecord(o.format, x) });
            if (batch.length >= batchMax) await flush();
          } else if (line.type === 'heartbeat') {
            // Everything before `next` was sent or filtered out: once the batch is acknowledged the
            // cursor may move past the filtered-out entries too.
            await flush();
            await save(line.next, undefined);
          } else if (line.type === 'error') {
            log(`the peer ended the stream: ${line.code}: ${line.message}`);
            await flush();
            ended = true;
          }
        }
      }
      await flush();
      failures = 0;
      await reader.cancel().catch(() => undefined);
    } catch (e) {
      if (o.signal?.aborted) break;
      if ((e as { fatal?: boolean }).fatal) throw e;
      await backoff(`streaming from ${o.peer}`, e);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      ac.abort();
    }
  }
  return result;
}
