// Where `cairn export` writes: a JSON-lines file, syslog over TLS, Splunk's HTTP Event Collector
// (with indexer acknowledgement), or a Standard Webhooks endpoint. Each sink's send() resolves
// only once the destination has acknowledged the whole batch (its own notion of "have it"):
//   jsonl        appended and fsynced;
//   syslog       RFC 5424 messages (octet counting, RFC 5425) on one TLS connection closed cleanly
//                after the last byte was written (syslog has no application acknowledgement);
//   splunk-hec   HTTP 200 with code 0 and, with indexer acknowledgement, the ack id reported true
//                (the events are indexed and replicated, not just received);
//   webhook      a 2xx answer to a signed POST of the batch.
// The caller advances its cursor only after that, so delivery is at least once; every record
// names its log index (and CloudEvents its id), which receivers use to drop repeats.
import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { AuditEntry } from '../../src/entry/types.js';
import { standardWebhookSignature } from '../alerts/webhook.js';
import { FACILITY_LOG_AUDIT, headerField, octetFrame, SD_ENTERPRISE, sendSyslogTls, type SyslogTlsTarget } from '../alerts/syslog.js';
import type { CoveringCheckpoint } from './formats.js';

export interface ExportRecord {
  index: number;
  leafHash: string;
  entry: AuditEntry;
  checkpoint: CoveringCheckpoint;
  /** The record in the chosen format (native, ocsf, cloudevents). */
  record: Record<string, unknown>;
}

export interface Sink {
  readonly name: string;
  send(batch: readonly ExportRecord[]): Promise<void>;
  close(): Promise<void>;
}

export const SINK_TIMEOUT_MS = 30_000;
const RESPONSE_BYTES_MAX = 64 * 1024;

/** Appends one JSON line per record and fsyncs before acknowledging. */
export async function jsonlSink(path: string): Promise<Sink> {
  const f: FileHandle = await open(path, 'a', 0o600);
  return {
    name: `jsonl:${path}`,
    async send(batch) {
      if (batch.length === 0) return;
      await f.appendFile(batch.map((r) => JSON.stringify(r.record)).join('\n') + '\n');
      await f.sync();
    },
    close: () => f.close(),
  };
}

export type SyslogTarget = SyslogTlsTarget;

/** RFC 5424 message for one exported entry: facility 13 (log audit), severity 6 (informational). */
export function entrySyslogMessage(r: ExportRecord, host: string = hostname()): string {
  const ts = new Date(Date.parse(r.entry.time)).toISOString();
  const sd = `[entry@${SD_ENTERPRISE} index="${r.index}" leafHash="${r.leafHash}" treeSize="${r.checkpoint.treeSize}"]`;
  return `<${FACILITY_LOG_AUDIT * 8 + 6}>1 ${ts} ${headerField(host, 255)} cairn - entry ${sd} \uFEFF${JSON.stringify(r.record)}`;
}

export function syslogSink(t: SyslogTarget): Sink {
  return {
    name: `syslog:${t.host}:${t.port}`,
    async send(batch) {
      if (batch.length === 0) return;
      await sendSyslogTls(t, Buffer.concat(batch.map((r) => octetFrame(entrySyslogMessage(r)))), SINK_TIMEOUT_MS);
    },
    close: async () => undefined,
  };
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, redirect: 'manual', signal: AbortSignal.timeout(SINK_TIMEOUT_MS) });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: buf.subarray(0, RESPONSE_BYTES_MAX).toString('utf8') };
}

export interface HecTarget {
  /** Base URL of the collector, e.g. https://splunk.example:8088 */
  url: string;
  token: string;
  /** Wait for indexer acknowledgement (the HEC token must have it enabled). */
  ack: boolean;
  index?: string;
  sourcetype?: string;
  /** How long to wait for the indexer acknowledgement of one batch. */
  ackTimeoutMs?: number;
  ackPollMs?: number;
}

/** One HEC event (the JSON event endpoint's shape). */
export function hecEvent(r: ExportRecord, t: Pick<HecTarget, 'index' | 'sourcetype'>): Record<string, unknown> {
  return {
    time: Date.parse(r.entry.time) / 1000,
    host: r.checkpoint.origin,
    source: 'cairn',
    sourcetype: t.sourcetype ?? 'cairn:entry',
    ...(t.index !== undefined ? { index: t.index } : {}),
    fields: { cairn_index: String(r.index), cairn_leaf_hash: r.leafHash },
    event: r.record,
  };
}

export function hecSink(t: HecTarget): Sink {
  const base = t.url.replace(/\/+$/, '');
  // One channel per exporter run: HEC's acknowledgement ids are per channel.
  const channel = randomUUID();
  const headers = { authorization: `Splunk ${t.token}`, 'x-splunk-request-channel': channel };
  return {
    name: `splunk-hec:${base}`,
    async send(batch) {
      if (batch.length === 0) return;
      const body = batch.map((r) => JSON.stringify(hecEvent(r, t))).join('\n');
      const res = await post(`${base}/services/collector/event`, body, headers);
      let parsed: { code?: number; text?: string; ackId?: number } = {};
      try {
        parsed = JSON.parse(res.text) as typeof parsed;
      } catch {
        /* reported below */
      }
      if (res.status !== 200 || parsed.code !== 0) throw new Error(`splunk-hec: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
      if (!t.ack) return;
      if (typeof parsed.ackId !== 'number') throw new Error('splunk-hec: indexer acknowledgement asked for, but the collector returned no ackId (is it enabled on the token?)');
      const end = Date.now() + (t.ackTimeoutMs ?? 120_000);
      for (;;) {
        const a = await post(`${base}/services/collector/ack?channel=${channel}`, JSON.stringify({ acks: [parsed.ackId] }), headers);
        if (a.status !== 200) throw new Error(`splunk-hec ack: HTTP ${a.status}: ${a.text.slice(0, 200)}`);
        const acks = (JSON.parse(a.text) as { acks?: Record<string, boolean> }).acks ?? {};
        if (acks[String(parsed.ackId)] === true) return;
        if (Date.now() > end) throw new Error(`splunk-hec: batch (ack id ${parsed.ackId}) not indexed within ${t.ackTimeoutMs ?? 120_000} ms`);
        await new Promise((r) => setTimeout(r, t.ackPollMs ?? 500));
      }
    },
    close: async () => undefined,
  };
}

export interface WebhookTarget {
  url: string;
  hmacSecret?: Uint8Array;
  ed25519Key?: import('node:crypto').KeyObject;
}

/** The batch body: a typed event whose data is the records, in log order. */
export function webhookBatchBody(batch: readonly ExportRecord[]): string {
  return JSON.stringify({ type: 'cairn.entries', timestamp: new Date().toISOString(), data: batch.map((r) => r.record) });
}

export function webhookSink(t: WebhookTarget): Sink {
  return {
    name: `webhook:${t.url}`,
    async send(batch) {
      if (batch.length === 0) return;
      const body = webhookBatchBody(batch);
      // The id names the batch's range: a retry of the same batch carries the same id.
      const id = `cairn-${batch[0]!.checkpoint.origin.replace(/[^A-Za-z0-9._-]/g, '_')}-${batch[0]!.index}-${batch[batch.length - 1]!.index}`;
      const ts = Math.floor(Date.now() / 1000);
      const res = await post(t.url, body, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': standardWebhookSignature(id, ts, body, t) });
      if (res.status < 200 || res.status > 299) throw new Error(`webhook: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    },
    close: async () => undefined,
  };
}
