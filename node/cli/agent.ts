// `cairn agent run` and `cairn agent status` (docs/integrations.md, "Agent"; docs/cli.md).
//
// run: accepts events on a loopback address or a Unix socket, spools them durably (synced before
// the answer) and submits them, signed with the client key, to the first reachable peer until each
// is final. JSON log lines on stdout; SIGINT / SIGTERM stop it cleanly (spooled events stay for
// the next start). status: the agent's GET /v1/status.
import { request } from 'node:http';
import type { Command } from 'commander';
import { loadClientKey } from './client-key.js';
import { failure, resolvePath, usageError, type CliIo } from './io.js';
import { parsePeerUrl } from './peer-http.js';
import type { AgentStatus } from '../agent/types.js';

/** Default intake address of `cairn agent run`. */
export const AGENT_LISTEN_DEFAULT = '127.0.0.1:8480';
/** Largest status answer read. */
const STATUS_BYTES_MAX = 1024 * 1024;

function collect(v: string, prev: string[]): string[] {
  return [...prev, ...v.split(',').filter((s) => s !== '')];
}

function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw usageError(`--listen ${JSON.stringify(s)}: expected <loopback host>:<port>, e.g. 127.0.0.1:8480`);
  return { host: m[1] ?? m[2]!, port };
}

function positiveInt(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`${flag} must be a positive integer`);
  return n;
}

interface RunFlags {
  key: string;
  peer: string[];
  spool: string;
  listen?: string;
  socket?: string;
  spoolEventsMax?: string;
  spoolBytesMax?: string;
}

async function runAgent(io: CliIo, opts: RunFlags): Promise<void> {
  if (opts.peer.length === 0) throw usageError('give at least one --peer <url>');
  const peers = opts.peer.map((p) => parsePeerUrl(p));
  if (opts.listen !== undefined && opts.socket !== undefined) throw usageError('give --listen or --socket, not both');
  const listen = opts.socket !== undefined ? { socket: resolvePath(io, opts.socket) } : parseListen(opts.listen ?? AGENT_LISTEN_DEFAULT);
  const key = await loadClientKey(io, opts.key);
  const limits = {
    ...(opts.spoolEventsMax !== undefined ? { spoolEventsMax: positiveInt(opts.spoolEventsMax, '--spool-events-max')! } : {}),
    ...(opts.spoolBytesMax !== undefined ? { spoolBytesMax: positiveInt(opts.spoolBytesMax, '--spool-bytes-max')! } : {}),
  };
  const { startAgent } = await import('../agent/index.js');
  const line = (level: string, msg: string, fields: Record<string, unknown> = {}) => io.stdout(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
  let agent;
  try {
    agent = await startAgent({
      spoolDir: resolvePath(io, opts.spool),
      signer: key.signer,
      peers,
      listen,
      limits,
      log: (level, msg, fields) => {
        if (level !== 'debug') line(level, msg, fields);
      },
    });
  } catch (e) {
    throw failure(`agent did not start: ${(e as Error).message}`);
  }
  const s = agent.status();
  line('info', 'agent started', { listen: agent.url ?? agent.socket, client: s.client, instance: s.instance, spooled: s.spool.events, peers });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await agent.stop();
  line('info', 'agent stopped', { spooled: agent.status().spool.events });
  // A long-running command: leave even if a library kept a handle open.
  process.exit(0);
}

/** GET /v1/status of an agent over TCP or its Unix socket. */
export function fetchAgentStatus(target: { url: string } | { socket: string }, timeoutMs = 10_000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const u = 'url' in target ? new URL('/v1/status', target.url) : null;
    const req = request(
      u !== null ? { host: u.hostname, port: u.port, path: u.pathname, method: 'GET', timeout: timeoutMs } : { socketPath: (target as { socket: string }).socket, path: '/v1/status', method: 'GET', timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > STATUS_BYTES_MAX) req.destroy(new Error(`status answer larger than ${STATUS_BYTES_MAX} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AgentStatus);
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function statusAgent(io: CliIo, opts: { url?: string; socket?: string; json?: boolean }): Promise<void> {
  if (opts.url !== undefined && opts.socket !== undefined) throw usageError('give --url or --socket, not both');
  const target = opts.socket !== undefined ? { socket: resolvePath(io, opts.socket) } : { url: parsePeerUrl(opts.url ?? `http://${AGENT_LISTEN_DEFAULT}`) };
  let s: AgentStatus;
  try {
    s = await fetchAgentStatus(target);
  } catch (e) {
    throw failure(`agent ${'url' in target ? target.url : target.socket}: ${(e as Error).message}`);
  }
  if (opts.json === true) {
    io.stdout(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  const c = s.counters;
  const rows: [string, string][] = [
    ['client', s.client],
    ['spool', `${s.spool.events} / ${s.spool.eventsMax} events, ${s.spool.bytes} / ${s.spool.bytesMax} bytes${s.spool.full ? ' (FULL: intake answers 503 spool_full)' : ''}`],
    ['in flight', `${s.inflight} submitted, waiting for finality; ${s.retrying} to send again; ${s.stuck} stuck`],
    ['events', `${c.accepted} accepted, ${c.final} final, ${c.duplicates} duplicates, ${c.conflicts} conflicts, ${c.full} refused (full)`],
    ['submissions', `${c.entriesSent} entries sent, ${c.retimed} re-timed, ${c.entryErrors} refused, ${c.requestFailures} failed requests`],
    ['current peer', s.currentPeer],
    ['last error', s.lastError ?? 'none'],
  ];
  for (const p of s.peers) rows.push([`  ${p.url}`, p.failures === 0 ? 'ok' : `${p.failures} failures, retry in ${Math.ceil(p.backoffMs / 1000)} s: ${p.lastError ?? ''}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  io.stdout(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join(''));
}

export function registerAgent(program: Command, io: CliIo): void {
  const agent = program.command('agent').description('the client-side agent: a durable spool between applications and the peers');
  agent
    .command('run')
    .description('accept events (HTTP JSON, OTLP/HTTP logs) locally, spool them durably, submit them signed to any reachable peer until final')
    .requiredOption('--key <file>', 'client key file (authorized in the genesis): PKCS#8 PEM, JWK, 64 hex or PRIVATE+KEY+')
    .option('--peer <url>', 'peer API URL; repeat (or comma-separate) for failover, tried in order', collect, [] as string[])
    .requiredOption('--spool <dir>', 'spool directory (LevelDB; created when missing)')
    .option('--listen <host:port>', `loopback address of the intake (default ${AGENT_LISTEN_DEFAULT})`)
    .option('--socket <path>', 'listen on a Unix socket instead')
    .option('--spool-events-max <n>', 'events the spool holds at most (default 1,000,000)')
    .option('--spool-bytes-max <n>', 'bytes the spool holds at most (default 1 GiB)')
    .action(async (opts: RunFlags) => runAgent(io, opts));
  agent
    .command('status')
    .description("an agent's spool, in-flight entries, peers and counters")
    .option('--url <url>', `the agent's address (default http://${AGENT_LISTEN_DEFAULT})`)
    .option('--socket <path>', "the agent's Unix socket")
    .option('--json', 'print the JSON answer')
    .action(async (opts: { url?: string; socket?: string; json?: boolean }) => statusAgent(io, opts));
}
