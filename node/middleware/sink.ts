// Where the middleware sends its events. Recording never delays the application's response: events
// are queued in memory (bounded) and sent in batches in the background.
//
//   agentSink  POST /v1/events to a `cairn agent` (TCP or Unix socket): the agent's spool makes them
//              durable and delivers them to the peers. Batches that fail are sent again (the events
//              carry ids, so a batch the agent already spooled is answered `duplicate`).
//   peerSink   signs entries with a client key and submits them to the first reachable peer with the
//              SDK. No spool: what is queued is lost if the process dies. Use the agent when that matters.
// A queue at queueMax drops the oldest event and counts it (stats().dropped, onError).
import { request } from 'node:http';
import { CairnClient } from '../../src/client/client.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { signEntry } from '../../src/entry/sign.js';
import type { UnsignedEntry } from '../../src/entry/types.js';
import type { AuditEvent } from './mapping.js';

export interface SinkStats {
  queued: number;
  sent: number;
  dropped: number;
  failures: number;
}

export interface EventSink {
  record(ev: AuditEvent): void;
  /** Sends everything queued now; resolves when the queue is empty or a send failed. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): SinkStats;
}

export interface SinkOptions {
  batchMax?: number;
  flushMs?: number;
  queueMax?: number;
  /** Longest wait between retries of a failed batch (doubling from 100 ms). */
  retryMaxMs?: number;
  onError?: (e: Error) => void;
}

/** The batching queue both sinks share; `deliver` sends one batch or throws. */
function batchingSink(deliver: (batch: AuditEvent[]) => Promise<void>, o: SinkOptions): EventSink {
  const batchMax = o.batchMax ?? 200;
  const flushMs = o.flushMs ?? 50;
  const queueMax = o.queueMax ?? 10_000;
  const retryMaxMs = o.retryMaxMs ?? 5_000;
  const queue: AuditEvent[] = [];
  const st: SinkStats = { queued: 0, sent: 0, dropped: 0, failures: 0 };
  let timer: NodeJS.Timeout | null = null;
  let sending: Promise<void> | null = null;
  let failures = 0;
  let closed = false;

  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchMax);
      try {
        await deliver(batch);
        queue.splice(0, batch.length);
        st.sent += batch.length;
        failures = 0;
      } catch (e) {
        st.failures++;
        failures++;
        o.onError?.(e as Error);
        if (closed) return;
        schedule(Math.min(retryMaxMs, 100 * 2 ** Math.min(failures, 10)));
        return;
      }
    }
  };
  const kick = (): Promise<void> => {
    if (sending === null) sending = run().finally(() => (sending = null));
    return sending;
  };
  const schedule = (ms: number) => {
    if (timer !== null || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void kick();
    }, ms);
    timer.unref();
  };
  return {
    record(ev) {
      if (closed) return;
      if (queue.length >= queueMax) {
        queue.shift();
        st.dropped++;
        o.onError?.(new Error(`audit middleware queue full (queueMax ${queueMax}): the oldest event was dropped`));
      }
      queue.push(ev);
      if (queue.length >= batchMax) void kick();
      else schedule(flushMs);
    },
    async flush() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      while (sending !== null) await sending;
      await kick();
    },
    async close() {
      await this.flush();
      closed = true;
      if (timer !== null) clearTimeout(timer);
    },
    stats() {
      return { ...st, queued: queue.length };
    },
  };
}

export interface AgentSinkOptions extends SinkOptions {
  /** The agent's URL (http://127.0.0.1:8480) or its Unix socket path. */
  url?: string;
  socketPath?: string;
  timeoutMs?: number;
}

export function agentSink(o: AgentSinkOptions): EventSink {
  if ((o.url === undefined) === (o.socketPath === undefined)) throw new Error('agentSink needs url or socketPath');
  const u = o.url !== undefined ? new URL('/v1/events', o.url) : null;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deliver = (batch: AuditEvent[]) =>
    new Promise<void>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify(batch));
      const target = u !== null ? { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: u.pathname } : { socketPath: o.socketPath!, path: '/v1/events' };
      const req = request({ ...target, method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`agent answered HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`))));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`agent did not answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  return batchingSink(deliver, o);
}

export interface PeerSinkOptions extends SinkOptions {
  peers: string[];
  signer: Ed25519Signer;
}

export function peerSink(o: PeerSinkOptions): EventSink {
  if (o.peers.length === 0) throw new Error('peerSink needs at least one peer URL');
  const clients = o.peers.map((url) => new CairnClient({ url, requestTimeoutMs: 10_000 }));
  let cur = 0;
  const deliver = async (batch: AuditEvent[]) => {
    const entries = batch.flatMap((ev) => {
      try {
        return [signEntry({ v: 1, ...ev } as UnsignedEntry, o.signer)];
      } catch (e) {
        // An event the adjust hook made invalid: reported, never retried forever.
        o.onError?.(new Error(`audit event ${ev.id ?? ''} is not a valid entry: ${(e as Error).message}`));
        return [];
      }
    });
    if (entries.length === 0) return;
    let last: Error | null = null;
    for (let k = 0; k < clients.length; k++) {
      const c = clients[(cur + k) % clients.length]!;
      try {
        const results = await c.submit(entries);
        cur = (cur + k) % clients.length;
        const bad = results.find((r) => 'error' in r && r.error.code !== 'conflict');
        if (bad !== undefined && 'error' in bad) o.onError?.(new Error(`peer refused an entry: ${bad.error.code}: ${bad.error.message}`));
        return;
      } catch (e) {
        last = e as Error;
      }
    }
    throw last ?? new Error('no peer answered');
  };
  return batchingSink(deliver, o);
}
