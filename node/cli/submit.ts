// `cairn submit`: sign audit entries with a client key and submit them to a peer
// (POST /v1/entries, docs/api.md).
//   one entry from flags:   cairn submit --peer <url> --key <file> --action db.query --actor alice \
//                              --resource-type db.table --resource-id payments [--wait]
//   bulk, JSON lines:       cairn submit --peer <url> --key <file> --stdin [--wait] < entries.jsonl
// Each stdin line is one unsigned entry object (docs/entry-format.md); `v` defaults to 1, `time`
// to now and `id` to a fresh unique id; `client` and `sig` are added by signing. Entries go in
// batches of up to SUBMIT_BATCH_ENTRIES (the API's per-request limit), a few requests at a time;
// 429/503 answers are retried after their Retry-After. With --wait each accepted entry is
// long-polled until a final checkpoint covers it.
//
// Output: one line per entry on stdout, `<leaf hash> <status> <id>` (status accepted,
// known-pending, known-final, or final with --wait), then a summary line. If any entry is
// rejected the exit code is 1 and stderr has one line naming the first rejected entry.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { signEntry, EntrySignError, type AuditEntry, type UnsignedEntry } from '../../src/entry/index.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import { loadClientKey, type ClientKey } from './client-key.js';
import { CliError, EXIT_FAILURE, failure, usageError, type CliIo } from './io.js';
import { addCredentialOptions, loadCredential, type CredentialFlags } from './credentials.js';
import { apiError, describeHttpFailure, jsonBody, parseDurationMs, parsePeerUrl, peerRequest, type PeerResponse } from './peer-http.js';
import { ProgressBar, type ProgressSink } from './progress.js';

/** Entries per POST: the API's entriesPerRequestMax (docs/api.md). */
export const SUBMIT_BATCH_ENTRIES = 1000;
/** POST requests in flight at once. */
export const SUBMIT_CONCURRENCY = 4;
/** Long-polls in flight at once with --wait (the API allows 512 waiters per peer; leave room for others). */
export const WAIT_CONCURRENCY = 32;
/** Largest standard input read for --stdin (every line is signed before anything is sent). */
export const STDIN_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Most entries in one `cairn submit --stdin` run. All are validated and signed before the first
 * request, so a bad line N never leaves lines 1..N-1 half-submitted; this bounds the memory that
 * takes (a few hundred MB). Split larger inputs.
 */
export const SUBMIT_ENTRIES_MAX = 100_000;
/** Most retries of one batch answered 429/503 (busy), each after Retry-After (capped at RETRY_WAIT_MS_MAX). */
export const BUSY_RETRIES_MAX = 30;
export const RETRY_WAIT_MS_MAX = 5_000;
/** Longest --wait timeout per entry. */
export const WAIT_TIMEOUT_MS_MAX = 600_000;

export interface SubmitFlags extends CredentialFlags {
  peer: string;
  key: string;
  stdin?: boolean;
  id?: string;
  time?: string;
  action?: string;
  actor?: string;
  actorType?: string;
  actorName?: string;
  resourceType?: string;
  resourceId?: string;
  resourceName?: string;
  outcome?: string;
  reason?: string;
  sourceIp?: string;
  userAgent?: string;
  requestId?: string;
  tenant?: string;
  data?: string;
  wait?: boolean;
  timeout?: string;
}

let idCounter = 0;
/** A fresh entry id: time (base 36), process-random part and a counter; RFC 3986 unreserved characters only. */
export function freshEntryId(): string {
  idCounter = (idCounter + 1) % 1_000_000;
  return `${Date.now().toString(36)}-${toHex(randomBytes(6))}-${idCounter}`;
}

function entryFromFlags(f: SubmitFlags): Record<string, unknown> {
  const missing = [
    ['action', f.action],
    ['actor', f.actor],
    ['resource-type', f.resourceType],
    ['resource-id', f.resourceId],
  ].filter(([, v]) => v === undefined);
  if (missing.length > 0) throw usageError(`missing ${missing.map(([k]) => `--${k}`).join(', ')} (or use --stdin for JSON lines)`);
  const e: Record<string, unknown> = {
    v: 1,
    id: f.id ?? freshEntryId(),
    time: f.time ?? new Date().toISOString(),
    actor: { id: f.actor, ...(f.actorType !== undefined ? { type: f.actorType } : {}), ...(f.actorName !== undefined ? { name: f.actorName } : {}) },
    action: f.action,
    resource: { type: f.resourceType, id: f.resourceId, ...(f.resourceName !== undefined ? { name: f.resourceName } : {}) },
    outcome: f.outcome ?? 'success',
  };
  if (f.reason !== undefined) e.reason = f.reason;
  if (f.sourceIp !== undefined || f.userAgent !== undefined) {
    e.source = { ...(f.sourceIp !== undefined ? { ip: f.sourceIp } : {}), ...(f.userAgent !== undefined ? { userAgent: f.userAgent } : {}) };
  }
  if (f.requestId !== undefined) e.requestId = f.requestId;
  if (f.tenant !== undefined) e.tenant = f.tenant;
  if (f.data !== undefined) {
    try {
      e.data = JSON.parse(f.data);
    } catch (err) {
      throw usageError(`--data is not valid JSON: ${(err as Error).message}`);
    }
  }
  return e;
}

/** Fills the defaults of a JSON-lines entry (v, time, id). */
function withDefaults(o: Record<string, unknown>): Record<string, unknown> {
  return { v: 1, time: new Date().toISOString(), id: freshEntryId(), ...o };
}

/** Signs one unsigned entry; `where` names it in errors ("line 17", "the entry"). */
export function signOne(raw: Record<string, unknown>, key: ClientKey, where: string): AuditEntry {
  try {
    return signEntry(raw as unknown as UnsignedEntry, key.signer);
  } catch (e) {
    if (e instanceof EntrySignError) {
      const first = e.errors[0];
      const detail = first ? `${first.code} at ${first.field || 'entry'}: ${first.message}` : e.message;
      throw usageError(`${where}: invalid entry: ${detail}`);
    }
    throw e;
  }
}

/** Parses JSON lines (blank lines skipped) into unsigned entries; errors name the line. */
export function parseJsonLines(text: string): { line: number; entry: Record<string, unknown> }[] {
  const out: { line: number; entry: Record<string, unknown> }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === '') continue;
    if (out.length >= SUBMIT_ENTRIES_MAX) throw usageError(`more than ${SUBMIT_ENTRIES_MAX} entries on standard input (SUBMIT_ENTRIES_MAX)`);
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw usageError(`line ${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw usageError(`line ${i + 1}: must be a JSON object (one entry per line)`);
    out.push({ line: i + 1, entry: withDefaults(v as Record<string, unknown>) });
  }
  return out;
}

export type ItemResult = { status: 'accepted' | 'known-pending' | 'known-final'; leafHash: string } | { error: { code: string; message: string; field?: string } };

function isItemResult(v: unknown): v is ItemResult {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { status?: unknown; leafHash?: unknown; error?: { code?: unknown; message?: unknown } };
  if (o.error !== undefined) return typeof o.error === 'object' && o.error !== null && typeof o.error.code === 'string' && typeof o.error.message === 'string';
  return ['accepted', 'known-pending', 'known-final'].includes(o.status as string) && typeof o.leafHash === 'string' && /^[0-9a-f]{64}$/.test(o.leafHash);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function retryAfterMs(res: PeerResponse): number {
  const s = Number(res.retryAfter ?? '1');
  return Math.min(RETRY_WAIT_MS_MAX, Number.isFinite(s) && s > 0 ? s * 1000 : 1000);
}

/** POSTs one batch (an array) and returns one result per entry; busy answers are retried. */
export async function postBatch(base: string, entries: AuditEntry[]): Promise<ItemResult[]> {
  const body = JSON.stringify(entries);
  for (let attempt = 0; ; attempt++) {
    const res = await peerRequest(base, '/v1/entries', { method: 'POST', body, accept: 'application/json' });
    if ((res.status === 429 || res.status === 503) && attempt < BUSY_RETRIES_MAX) {
      const j = apiError(res);
      // Only admission refusals are retried; a batch whose entries all failed the same way is an answer.
      if (j !== null && ['busy', 'too_many_requests'].includes(j.code)) {
        await sleep(retryAfterMs(res));
        continue;
      }
    }
    const doc = jsonBody<{ results?: unknown; error?: unknown }>(res);
    if (Array.isArray(doc.results)) {
      if (doc.results.length !== entries.length) throw failure(`${res.url}: ${doc.results.length} results for ${entries.length} entries`);
      doc.results.forEach((r, i) => {
        if (!isItemResult(r)) throw failure(`${res.url}: result ${i} is neither {status, leafHash} nor {error: {code, message}}`);
      });
      return doc.results as ItemResult[];
    }
    throw new CliError(EXIT_FAILURE, describeHttpFailure(res));
  }
}

interface Tally {
  accepted: number;
  known: number;
  final: number;
  rejected: number;
  firstRejection: string | null;
}

export async function submitCommand(io: CliIo, flags: SubmitFlags, progressSink: ProgressSink | null = null): Promise<void> {
  const base = parsePeerUrl(flags.peer);
  const waitMs = flags.timeout === undefined ? 60_000 : parseDurationMs(flags.timeout, '--timeout', WAIT_TIMEOUT_MS_MAX);
  const key = await loadClientKey(io, flags.key);
  // Submitting needs no read credential (the entry signature is the sender's proof); --wait reads
  // the entries back, which a peer that restricts reads allows only with one.
  const auth = flags.wait === true ? await loadCredential(io, flags) : null;
  let items: { where: string; entry: AuditEntry }[];
  if (flags.stdin === true) {
    const entryFlags = ['id', 'time', 'action', 'actor', 'actorType', 'actorName', 'resourceType', 'resourceId', 'resourceName', 'outcome', 'reason', 'sourceIp', 'userAgent', 'requestId', 'tenant', 'data'] as const;
    const given = entryFlags.filter((k) => flags[k] !== undefined);
    if (given.length > 0) throw usageError(`--stdin reads whole entries; do not combine it with entry flags (got --${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)})`);
    if (io.readStdin === undefined) throw usageError('cannot read standard input here');
    const bytes = await io.readStdin(STDIN_BYTES_MAX);
    if (bytes.length > STDIN_BYTES_MAX) throw usageError(`standard input larger than ${STDIN_BYTES_MAX} bytes (STDIN_BYTES_MAX)`);
    let text: string;
    try {
      text = fromUtf8(bytes);
    } catch {
      throw usageError('standard input is not UTF-8 text');
    }
    items = parseJsonLines(text).map(({ line, entry }) => ({ where: `line ${line}`, entry: signOne(entry, key, `line ${line}`) }));
    if (items.length === 0) throw usageError('no entries on standard input (one JSON object per line)');
  } else {
    items = [{ where: 'the entry', entry: signOne(entryFromFlags(flags), key, 'the entry') }];
  }

  const bar = new ProgressBar(progressSink, 'submitting', items.length);
  const results: (ItemResult | undefined)[] = new Array(items.length);
  let done = 0;
  const batches: number[] = [];
  for (let i = 0; i < items.length; i += SUBMIT_BATCH_ENTRIES) batches.push(i);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const start = batches[next++]!;
      const slice = items.slice(start, start + SUBMIT_BATCH_ENTRIES);
      const r = await postBatch(base, slice.map((s) => s.entry));
      for (let k = 0; k < r.length; k++) results[start + k] = r[k];
      done += slice.length;
      bar.update(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBMIT_CONCURRENCY, batches.length) }, worker));
  bar.update(done, true);
  bar.done();

  const tally: Tally = { accepted: 0, known: 0, final: 0, rejected: 0, firstRejection: null };
  const statusOf: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const r = results[i]!;
    if ('error' in r) {
      tally.rejected++;
      statusOf[i] = 'rejected';
      if (tally.firstRejection === null) {
        const field = r.error.field ? ` (field ${r.error.field.replace(/^\[\d+\]\.?/, '') || r.error.field})` : '';
        tally.firstRejection = `${items[i]!.where} (id ${items[i]!.entry.id}): ${r.error.code}: ${r.error.message}${field}`;
      }
    } else {
      statusOf[i] = r.status;
      if (r.status === 'accepted') tally.accepted++;
      else tally.known++;
    }
  }

  if (flags.wait === true) {
    const waitBar = new ProgressBar(progressSink, 'waiting for finality', items.length - tally.rejected);
    let waited = 0;
    let idx = 0;
    const waiter = async () => {
      while (idx < items.length) {
        const i = idx++;
        const r = results[i]!;
        if ('error' in r) continue;
        if (r.status === 'known-final') {
          statusOf[i] = 'final';
        } else {
          const res = await peerRequest(base, `/v1/entries/${r.leafHash}?wait=final&timeout=${waitMs}ms`, { accept: 'application/json', timeoutMs: waitMs + 30_000, auth });
          if (res.status !== 200) throw failure(`waiting for ${items[i]!.where} (id ${items[i]!.entry.id}): ${describeHttpFailure(res)}`);
          const doc = jsonBody<{ status?: string; index?: number }>(res);
          if (doc.status !== 'final') throw failure(`${items[i]!.where} (id ${items[i]!.entry.id}) is still ${doc.status ?? 'unknown'} after ${waitMs} ms (--timeout)`);
          statusOf[i] = `final ${doc.index ?? ''}`.trim();
        }
        tally.final++;
        waitBar.update(++waited);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WAIT_CONCURRENCY, items.length) }, waiter));
    waitBar.done();
  }

  let out = '';
  for (let i = 0; i < items.length; i++) {
    const r = results[i]!;
    if ('error' in r) continue;
    out += `${r.leafHash} ${statusOf[i]} ${items[i]!.entry.id}\n`;
  }
  const parts = [`${tally.accepted} accepted`, `${tally.known} already known`];
  if (flags.wait === true) parts.push(`${tally.final} final`);
  if (tally.rejected > 0) parts.push(`${tally.rejected} rejected`);
  out += `submitted ${items.length} ${items.length === 1 ? 'entry' : 'entries'} to ${base}: ${parts.join(', ')}\n`;
  io.stdout(out);
  if (tally.rejected > 0) {
    throw failure(`${tally.rejected} of ${items.length} ${items.length === 1 ? 'entry' : 'entries'} rejected; first: ${tally.firstRejection}`);
  }
}

export function registerSubmit(program: Command, io: CliIo): void {
  addCredentialOptions(program
    .command('submit')
    .description('sign audit entries with a client key and submit them to a peer: one entry from flags, or JSON lines on standard input (--stdin)')
    .requiredOption('--peer <url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
    .requiredOption('--key <file>', 'client private key (PKCS#8 PEM, JWK, 64 hex digits, or PRIVATE+KEY+ from cairn keygen)')
    .option('--stdin', 'read entries from standard input, one JSON object per line (v, time and id are filled in if missing; give ids to make a re-run after a failure idempotent)')
    .option('--action <action>', 'what was done, dot-separated lowercase, e.g. db.query')
    .option('--actor <id>', 'who did it, e.g. alice@example.com')
    .option('--actor-type <type>', 'e.g. user, service')
    .option('--actor-name <name>', 'display name of the actor')
    .option('--resource-type <type>', 'e.g. db.table')
    .option('--resource-id <id>', 'e.g. payments')
    .option('--resource-name <name>', 'display name of the resource')
    .option('--outcome <outcome>', 'success | failure | denied | unknown (default: success)')
    .option('--reason <text>', 'why (free text)')
    .option('--source-ip <ip>', 'IPv4 or IPv6 address the action came from')
    .option('--user-agent <text>', 'user agent of the source')
    .option('--request-id <id>', 'request id for correlation')
    .option('--tenant <tenant>', 'tenant the action belongs to')
    .option('--data <json>', 'extra JSON object (docs/entry-format.md limits)')
    .option('--id <id>', 'entry id, unique per client (default: generated)')
    .option('--time <rfc3339>', 'when it happened, UTC (default: now)')
    .option('--wait', 'wait until a final checkpoint covers every entry')
    .option('--timeout <duration>', 'with --wait: longest wait per entry, e.g. 30s, 2m (default 60s)'))
    .action(async (flags: SubmitFlags) => {
      await submitCommand(io, flags, process.stderr.isTTY ? { isTTY: true, write: (s) => io.stderr(s) } : null);
    });
}
