// Waiting on a bench network: every peer up and connected, and settled between phases (empty
// mempools, every peer's final size at the common tree size), each wait bounded; and the small
// pieces every bench shares (sleep, its stderr logger, its signal handler).
import type { BenchHttp } from './http.js';
import type { PeerProcess } from './network.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A progress logger for a bench: `[<tag> HH:MM:SS] message` on stderr (stdout carries the table). */
export function benchLogger(tag: string): (msg: string) => void {
  return (msg) => process.stderr.write(`[${tag} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const log = benchLogger('bench');

/**
 * A SIGINT/SIGTERM handler for a bench: says so, runs `cleanup` (which kills every child process
 * group, so no peer outlives the bench) and exits 130. Install it with process.once.
 */
export function exitOnSignal(logger: (msg: string) => void, cleanup: () => void): (sig: NodeJS.Signals) => void {
  return (sig) => {
    logger(`${sig}: stopping every child`);
    cleanup();
    process.exit(130);
  };
}

export interface PeerStatusJson {
  height: number;
  treeSize: number;
  finalSize: number;
  peers: { connected: boolean }[];
  mempool: { entries: number };
}

export async function status(http: BenchHttp, url: string): Promise<PeerStatusJson | null> {
  try {
    const r = await http.json<PeerStatusJson>(`${url}/v1/status`, 5_000);
    return r.status === 200 ? r.value : null;
  } catch {
    return null;
  }
}

/** Waits until every listed peer answers and sees all the others; bounded. */
export async function waitConnected(http: BenchHttp, procs: PeerProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ss = await Promise.all(procs.map((p) => status(http, p.spec.url)));
    if (ss.every((s) => s !== null && s.peers.filter((x) => x.connected).length >= procs.length - 1)) return;
    for (const p of procs) if (!p.alive) throw new Error(`peer ${p.spec.name} exited during startup:\n${p.lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) {
      throw new Error(`peers not connected after ${timeoutMs} ms: ${JSON.stringify(ss.map((s) => (s === null ? null : s.peers.map((x) => x.connected))))}\n${procs.map((p) => `${p.spec.name}: ${p.lines.slice(-5).join('\n')}`).join('\n')}`);
    }
    await sleep(250);
  }
}

/**
 * Waits (bounded) until every listed peer has an empty mempool, and all agree on a final size
 * equal to their tree size: nothing left over from the previous phase.
 */
export async function settle(http: BenchHttp, urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ss = await Promise.all(urls.map((u) => status(http, u)));
    if (ss.every((s) => s !== null && s.mempool.entries === 0 && s.finalSize === s.treeSize && s.treeSize === ss[0]!.treeSize)) return;
    await sleep(200);
  }
  log(`network did not settle within ${timeoutMs} ms; continuing (the next phase starts with a backlog)`);
}
