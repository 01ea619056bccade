// `cairn export --peer <url> --to <destination> --cursor-file <path> [--format native|ocsf|cloudevents]
//  [--filter <expr>] [--once]`: copies every final entry of a peer's log (from GET /v1/stream) to a
// SIEM or a file, moving a durable cursor only after the destination acknowledged. Destinations:
//   jsonl:<path>                 JSON lines appended and fsynced
//   syslog://<host>[:<port>]     RFC 5424 over TLS (RFC 5425), --ca-file, --server-name
//   splunk-hec:<https url>       Splunk HTTP Event Collector, --hec-token-file, --hec-ack
//   webhook:<https url>          Standard Webhooks-signed POST of each batch, --secret-file / --ed25519-key-file
// Delivery is at least once: a crash repeats at most the batch in flight; records carry their
// log index (receivers drop repeats by it). docs/monitoring.md ("Export").
import { createPrivateKey } from 'node:crypto';
import type { Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat } from '../export/formats.js';
import { runExport } from '../export/exporter.js';
import { hecSink, jsonlSink, syslogSink, webhookSink, type Sink } from '../export/sinks.js';
import { decodeWhsec } from '../alerts/destinations-config.js';
import { addCredentialOptions, credentialHeaders, loadCredential, type CredentialFlags } from './credentials.js';
import { failure, readFileBounded, resolvePath, usageError, type CliIo } from './io.js';
import { parsePeerUrl } from './peer-http.js';

const SECRET_BYTES_MAX = 16 * 1024;

export interface ExportOptions extends CredentialFlags {
  peer: string;
  to: string;
  cursorFile: string;
  format?: string;
  filter?: string;
  once?: boolean;
  batch?: string;
  caFile?: string;
  serverName?: string;
  hecTokenFile?: string;
  hecAck?: boolean;
  hecIndex?: string;
  secretFile?: string;
  ed25519KeyFile?: string;
  maxAttempts?: string;
}

async function secret(io: CliIo, path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readFileBounded(io, path, what, SECRET_BYTES_MAX, 'SECRET_BYTES_MAX')).trim();
}

function httpUrl(text: string, what: string): string {
  try {
    const u = new URL(text);
    if (u.protocol === 'https:' || u.protocol === 'http:') return u.toString();
  } catch {
    /* below */
  }
  throw usageError(`${what} must be an http(s) URL`);
}

/** Builds the sink the --to option names. */
export async function sinkFor(io: CliIo, opts: ExportOptions): Promise<Sink> {
  const to = opts.to;
  if (to.startsWith('jsonl:')) return jsonlSink(resolvePath(io, to.slice('jsonl:'.length)));
  if (to.startsWith('syslog://')) {
    const m = /^syslog:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(to);
    if (m === null || (m[2] !== undefined && Number(m[2]) > 65535)) throw usageError('--to syslog://<host>[:<port>] (port default 6514)');
    return syslogSink({
      host: m[1]!.replace(/^\[|\]$/g, ''),
      port: m[2] === undefined ? 6514 : Number(m[2]),
      ...(opts.caFile !== undefined ? { ca: await secret(io, opts.caFile, 'CA file') } : {}),
      ...(opts.serverName !== undefined ? { serverName: opts.serverName } : {}),
    });
  }
  if (to.startsWith('splunk-hec:')) {
    if (opts.hecTokenFile === undefined) throw usageError('splunk-hec needs --hec-token-file <file> (the HEC token)');
    const token = await secret(io, opts.hecTokenFile, 'HEC token file');
    if (!/^[A-Za-z0-9-]{1,128}$/.test(token)) throw usageError('the HEC token file must hold the token (letters, digits, dashes)');
    return hecSink({ url: httpUrl(to.slice('splunk-hec:'.length), 'splunk-hec'), token, ack: opts.hecAck === true, ...(opts.hecIndex !== undefined ? { index: opts.hecIndex } : {}) });
  }
  if (to.startsWith('webhook:')) {
    const url = httpUrl(to.slice('webhook:'.length), 'webhook');
    const t: Parameters<typeof webhookSink>[0] = { url };
    if (opts.secretFile !== undefined) {
      const k = decodeWhsec(await secret(io, opts.secretFile, 'webhook secret file'));
      if (k === undefined) throw usageError('the webhook secret must be "whsec_" followed by 24..64 base64-encoded bytes');
      t.hmacSecret = k;
    }
    if (opts.ed25519KeyFile !== undefined) {
      try {
        t.ed25519Key = createPrivateKey(await secret(io, opts.ed25519KeyFile, 'Ed25519 key file'));
      } catch (e) {
        throw usageError(`--ed25519-key-file: not a PEM private key: ${(e as Error).message}`);
      }
    }
    if (t.hmacSecret === undefined && t.ed25519Key === undefined) throw usageError('webhook needs --secret-file (HMAC v1) or --ed25519-key-file (v1a): receivers must be able to authenticate what they get');
    return webhookSink(t);
  }
  throw usageError('--to must be jsonl:<path>, syslog://<host>[:<port>], splunk-hec:<url> or webhook:<url>');
}

export async function exportCommand(io: CliIo, opts: ExportOptions, signal?: AbortSignal): Promise<void> {
  const peer = parsePeerUrl(opts.peer);
  const format = (opts.format ?? 'native') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw usageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  const batch = opts.batch === undefined ? 500 : Number(opts.batch);
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 10_000) throw usageError('--batch must be in 1..10000');
  const maxAttempts = opts.maxAttempts === undefined ? undefined : Number(opts.maxAttempts);
  if (maxAttempts !== undefined && (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)) throw usageError('--max-attempts must be a positive integer');
  const cred = await loadCredential(io, opts);
  const sink = await sinkFor(io, opts);
  try {
    const r = await runExport({
      peer,
      headers: (url) => credentialHeaders(cred, 'GET', url),
      sink,
      format,
      cursorFile: resolvePath(io, opts.cursorFile),
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      once: opts.once === true,
      batchMax: batch,
      ...(maxAttempts !== undefined ? { maxAttempts } : {}),
      log: (m) => io.stderr(`cairn export: ${m}\n`),
      ...(signal ? { signal } : {}),
    });
    io.stdout(`exported ${r.exported} entries in ${r.batches} batches to ${sink.name}; next index ${r.next}\n`);
  } catch (e) {
    throw failure(`export: ${(e as Error).message}`);
  } finally {
    await sink.close();
  }
}

export function registerExport(program: Command, io: CliIo): void {
  const cmd = program
    .command('export')
    .description('copy every final entry of a peer to a SIEM or a file, resuming from a cursor saved only after the destination acknowledged (at least once; records carry their log index)')
    .requiredOption('--peer <url>', 'peer base URL')
    .requiredOption('--to <destination>', 'jsonl:<path> | syslog://<host>[:<port>] | splunk-hec:<url> | webhook:<url>')
    .requiredOption('--cursor-file <path>', 'where the next index to export is kept')
    .option('--format <format>', 'record format: native, ocsf, cloudevents', 'native')
    .option('--filter <expr>', 'only entries matching this filter expression')
    .option('--once', 'export what is final now and exit (default: follow the log)')
    .option('--batch <n>', 'records per acknowledged batch (1..10000)', '500')
    .option('--max-attempts <n>', 'attempts per batch before giving up (default 8 with --once, unlimited otherwise)')
    .option('--ca-file <file>', 'syslog: PEM CA of the receiver')
    .option('--server-name <name>', 'syslog: TLS server name to check')
    .option('--hec-token-file <file>', 'splunk-hec: file holding the HEC token')
    .option('--hec-ack', 'splunk-hec: wait for indexer acknowledgement before moving the cursor')
    .option('--hec-index <name>', 'splunk-hec: target index')
    .option('--secret-file <file>', 'webhook: Standard Webhooks secret (whsec_...)')
    .option('--ed25519-key-file <file>', 'webhook: PEM Ed25519 private key (v1a signatures)');
  addCredentialOptions(cmd);
  cmd.action(async (opts: ExportOptions) => {
    // Follow mode runs until SIGINT/SIGTERM, then stops after the batch in flight.
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await exportCommand(io, opts, ac.signal);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}
