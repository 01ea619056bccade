// `cairn agent`: a client-side process that accepts events locally, spools them durably and
// submits them as signed entries to any reachable peer until each is final (docs/integrations.md).
import { lstat, chmod, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { CairnCredentials } from '../../src/client/client.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { createAgentMetrics } from './metrics.js';
import { createIntakeServer } from './server.js';
import { Spool } from './spool.js';
import { Submitter, type AgentLog } from './submitter.js';
import { AGENT_LIMITS_DEFAULT, type AgentLimits, type AgentStatus } from './types.js';

export { AGENT_LIMITS_DEFAULT, type AgentLimits, type AgentStatus } from './types.js';
export type { AgentLog } from './submitter.js';

export type AgentListen = { host: string; port: number } | { socket: string };

export interface AgentOptions {
  /** LevelDB directory of the spool (created when missing). */
  spoolDir: string;
  /** The client key: entries are signed with it; the genesis (or governance) must authorize it. */
  signer: Ed25519Signer;
  /** Peer API base URLs, tried in order; the next one when a request fails. */
  peers: string[];
  /** Where the intake listens: a loopback address (port 0 = any) or a Unix socket path. */
  listen: AgentListen;
  limits?: Partial<AgentLimits>;
  /** Sent to peers with every request (only needed when a peer's policy gates more than reads). */
  credentials?: CairnCredentials;
  log?: AgentLog;
  now?: () => number;
}

export interface Agent {
  /** http://127.0.0.1:<port> for a TCP listener, null for a Unix socket. */
  readonly url: string | null;
  readonly socket: string | null;
  readonly metrics: Registry;
  status(): AgentStatus;
  /** Stops taking events, stops submitting (spooled events stay for the next start), closes the spool. */
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const limits: AgentLimits = { ...AGENT_LIMITS_DEFAULT, ...(opts.limits ?? {}) };
  const log: AgentLog = opts.log ?? (() => undefined);
  const now = opts.now ?? Date.now;
  if ('host' in opts.listen && !LOOPBACK.test(opts.listen.host)) {
    // The intake has no authentication: whoever can reach it can log under the agent's key.
    throw new Error(`the agent listens on loopback or a Unix socket only, not ${opts.listen.host}`);
  }
  const spool = await Spool.open(opts.spoolDir, limits);
  const submitter = new Submitter({ spool, signer: opts.signer, peers: opts.peers, limits, log, now, ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}) });
  const status = (): AgentStatus => ({
    client: submitter.client,
    instance: spool.instance,
    spool: { events: spool.size, bytes: spool.bytes, eventsMax: limits.spoolEventsMax, bytesMax: limits.spoolBytesMax, full: spool.full },
    inflight: submitter.inflight.size,
    inflightWindow: submitter.inflightWindow,
    retrying: submitter.retrying,
    stuck: submitter.stuck,
    counters: { ...submitter.counters },
    peers: submitter.peerStatus(),
    currentPeer: submitter.currentPeer,
    lastError: submitter.lastError,
  });
  const metrics = createAgentMetrics(status);
  const server: Server = createIntakeServer({
    spool,
    limits,
    counters: submitter.counters,
    status,
    metrics,
    now,
    onError: (e) => log('error', 'agent intake failed', { error: e.message }),
  });
  try {
    if ('socket' in opts.listen) {
      const path = opts.listen.socket;
      // A socket file left by a killed agent: the spool's LevelDB lock (taken above) proves that no
      // other agent on this spool is running, and a path that is not a socket is never removed.
      const st = await lstat(path).catch(() => null);
      if (st !== null) {
        if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
        await unlink(path);
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      await chmod(path, 0o660);
    } else {
      const l = opts.listen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host, () => resolve());
      });
    }
  } catch (e) {
    await spool.close();
    throw e;
  }
  submitter.start();
  const addr = server.address();
  const url = typeof addr === 'object' && addr !== null ? `http://${(addr as AddressInfo).family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : null;
  let stopping: Promise<void> | null = null;
  return {
    url,
    socket: 'socket' in opts.listen ? opts.listen.socket : null,
    metrics,
    status,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeIdleConnections();
        });
        await submitter.stop();
        await spool.close();
      })();
      return stopping;
    },
  };
}
