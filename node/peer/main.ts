// Process entry of a Cairn peer: `node dist/node/peer/main.js --config <file>` (also
// `cairn start --config <file>`). Logs JSON lines to stdout (pino), one status line per
// CAIRN_STATUS_INTERVAL_MS (default 1000 ms; 0 disables), and stops cleanly on SIGTERM/SIGINT
// (a second signal exits at once). Exit codes: 0 clean stop, 1 runtime failure, 2 bad
// configuration (one line `cairn: <code>: <message>` on stderr).
import '../polyfills.js';
import { pino, type Logger } from 'pino';
import { loadConfig, loadSigningKey } from './config.js';
import { PeerError } from './errors.js';
import { startPeerFromConfig, type Peer } from './peer.js';
import { attachHttp, prepareHttpAccess, type AttachAccess } from '../http/attach.js';
import { attachMetaAudit } from '../meta-audit/index.js';
import { attachAlertsFromEnv } from '../alerts/peer-alerts.js';
import { peerVerifierChoice } from '../crypto/peer-verifier.js';
import { installFastKeyCheck } from '../crypto/fast-key-check.js';
import { applyHeapGrowth, semiSpaceMiB } from './v8-memory.js';

function netLogger(l: Logger) {
  return {
    debug: (o: Record<string, unknown>, m: string) => l.debug(o, m),
    info: (o: Record<string, unknown>, m: string) => l.info(o, m),
    warn: (o: Record<string, unknown>, m: string) => l.warn(o, m),
    error: (o: Record<string, unknown>, m: string) => l.error(o, m),
  };
}

/** The process's memory in MiB: resident set, V8 heap in use and reserved, and memory outside the heap (Buffers). */
function memoryMiB(): { rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number } {
  const m = process.memoryUsage();
  const mib = (b: number) => Math.round(b / 1048576);
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external) };
}

export function parseArgs(argv: string[]): { config: string } | { error: string } {
  let config: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' && i + 1 < argv.length) config = argv[++i]!;
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else return { error: `unknown argument ${JSON.stringify(a)}; usage: main.js --config <file>` };
  }
  return config === null ? { error: 'missing --config <file>' } : { config };
}

/** Runs a peer until a signal; resolves to the process exit code. */
export async function runPeerProcess(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let peer: Peer;
  let log: Logger;
  // Genesis and policy keys are vetted with libsodium's point check when it loads (fast-key-check.ts).
  const keyCheck = installFastKeyCheck();
  try {
    const config = await loadConfig(configPath, env);
    // Access control (docs/access-control.md): refused transport, a bad policy or unreadable TLS
    // files stop the start here, before the peer joins consensus.
    const prepared = await prepareHttpAccess(config.http, { auth: config.auth });
    const access: AttachAccess = { auth: config.auth, ...(config.auth?.policy ? { signingSeed: (await loadSigningKey(config.signingKey)).seed } : {}) };
    log = pino({ level: config.logLevel, base: { pid: process.pid } });
    // Which Ed25519 verifier checks client signatures (libsodium, or node:crypto as the fallback),
    // and in how many worker threads (0: the main thread).
    log.info({ verifier: peerVerifierChoice.verifier.name, fallbackReason: peerVerifierChoice.fallbackReason, workers: config.verifyWorkers ?? 0, keyCheck }, 'ed25519 verifier');
    // glibc gives each thread that allocates its own arena (up to 8 per core); under load their
    // fragmentation was ~90 MiB of a peer's RSS. The variable is read when the process starts.
    // Set before the heap grows: V8 reads it at every full collection (v8-memory.ts).
    const heapGrowth = applyHeapGrowth(config.heapGrowingPercent);
    log.info({ heapGrowingPercent: heapGrowth.percent ?? 'v8', source: heapGrowth.source, semiSpaceMiB: semiSpaceMiB() ?? 'node default' }, 'memory: V8 heap');
    if (process.platform === 'linux' && env.MALLOC_ARENA_MAX === undefined) {
      log.info({ hint: 'set MALLOC_ARENA_MAX=2 in the environment of the peer process (docs/peer.md, Memory)' }, 'memory: MALLOC_ARENA_MAX not set');
    }
    peer = await startPeerFromConfig(config, netLogger(log));
    // The HTTP API (docs/api.md) when the config has "http"; peer.stop() then closes it first.
    try {
      // The meta-audit log of reads (closed after the HTTP server: attached before it).
      const metaAudit = await attachMetaAudit(
        peer,
        { dataDir: config.dataDir, metaAuditKey: config.auth?.metaAuditKey ?? null, failClosed: prepared.auth?.policy.metaAudit.failClosed === true },
        (level, msg, fields) => log[level](fields ?? {}, msg),
      );
      if (metaAudit !== null) access.metaAudit = metaAudit;
      await attachHttp(peer, config.http, log, undefined, access);
      // Alert rules when CAIRN_ALERTS names a rules file (docs/monitoring.md); stopped before the peer.
      await attachAlertsFromEnv(peer, env, log);
    } catch (e) {
      await peer.stop().catch(() => undefined);
      throw e;
    }
  } catch (e) {
    const msg = e instanceof PeerError ? `${e.message}` : `failed to start: ${(e as Error).message}`;
    process.stderr.write(`cairn: ${msg.replace(/\s+/g, ' ')}\n`);
    return e instanceof PeerError ? 2 : 1;
  }
  const intervalMs = Number(env.CAIRN_STATUS_INTERVAL_MS ?? '1000');
  const statusLine = () => {
    const s = peer.status();
    log.info(
      {
        status: {
          height: s.height,
          treeSize: s.treeSize,
          finalSize: s.finalSize,
          mempool: s.mempool.entries,
          connected: s.peers.filter((p) => p.connected).length,
          problem: s.problem,
          round: s.consensus.round,
          evidence: s.evidence,
          catchUpEntriesPerSec: Math.round(s.sync.lastRateEntriesPerSec),
          ...memoryMiB(),
        },
      },
      'status',
    );
  };
  const timer = intervalMs > 0 ? setInterval(statusLine, intervalMs) : null;
  peer.events.on('final', (f) => log.info({ final: { treeSize: f.treeSize } }, 'checkpoint final'));
  statusLine();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      log.info({ signal: sig }, 'stopping');
      if (timer) clearInterval(timer);
      peer
        .stop()
        .then(() => {
          log.info({}, 'stopped');
          resolve(0);
        })
        .catch((e: Error) => {
          log.error({ error: e.message }, 'stop failed');
          resolve(1);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

// Run when executed directly (not when imported by the CLI or tests).
const invokedDirectly = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/node/peer/main.ts') === true || process.argv[1]?.endsWith('/node/peer/main.js') === true;
if (invokedDirectly) {
  const args = parseArgs(process.argv.slice(2));
  if ('error' in args) {
    process.stderr.write(`cairn: ${args.error}\n`);
    process.exitCode = 2;
  } else {
    process.on('uncaughtException', (e) => {
      process.stderr.write(`cairn: fatal: ${e.stack ?? e.message}\n`);
      process.exit(1);
    });
    const code = await runPeerProcess(args.config);
    process.exit(code);
  }
}
