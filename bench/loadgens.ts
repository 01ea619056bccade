// The bench's side of the load generators: starts K loadgen processes (bench/loadgen.ts, each with
// its own share of the genesis client keys), runs phases on all of them at once (same start time,
// rate split evenly) and merges their raw results.
import { spawn, type ChildProcess } from 'node:child_process';
import { codeRoot, nodeEntryArgs } from './paths.js';
import type { LoadgenInit, LoadgenPhase, LoadgenReply, LoadgenResult, ParentMessage } from './protocol.js';
import { cpuSeconds } from './procstat.js';

/** Most load-generator processes. */
export const LOADGENS_MAX = 8;
/** Longest time a load generator may take to pre-sign a phase. */
const PREPARE_TIMEOUT_MS = 180_000;

interface Child {
  proc: ChildProcess;
  pid: number;
  waiting: ((m: LoadgenReply) => void) | null;
  lines: string[];
}

/** The load generators' results of one phase, merged (per-process counters summed, samples concatenated). */
export type MergedResult = Omit<LoadgenResult, 'requestErrors' | 'verifiedSize'>;

export class LoadgenPool {
  private readonly children: Child[] = [];

  static async start(count: number, init: Omit<LoadgenInit, 'index' | 'clientSeedsHex'>, clientSeedsHex: string[]): Promise<LoadgenPool> {
    if (!Number.isInteger(count) || count < 1 || count > LOADGENS_MAX) throw new RangeError(`loadgens must be 1..${LOADGENS_MAX} (LOADGENS_MAX)`);
    if (clientSeedsHex.length < count) throw new RangeError('need at least one client key per load generator');
    const pool = new LoadgenPool();
    for (let i = 0; i < count; i++) {
      const proc = spawn(process.execPath, nodeEntryArgs('bench/loadgen'), { cwd: codeRoot(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
      if (proc.pid === undefined) throw new Error('could not start a load generator');
      const c: Child = { proc, pid: proc.pid, waiting: null, lines: [] };
      const keep = (d: Buffer) => {
        c.lines.push(d.toString('utf8'));
        if (c.lines.length > 50) c.lines.shift();
      };
      proc.stdout!.on('data', keep);
      proc.stderr!.on('data', keep);
      proc.on('message', (m: unknown) => {
        const w = c.waiting;
        c.waiting = null;
        w?.(m as LoadgenReply);
      });
      proc.on('exit', (code) => {
        const w = c.waiting;
        c.waiting = null;
        w?.({ type: 'error', message: `load generator exited (code ${code}): ${c.lines.join('').slice(-2000)}` });
      });
      pool.children.push(c);
    }
    // Client keys dealt round-robin: each generator signs with its own keys.
    await Promise.all(
      pool.children.map((c, i) =>
        pool.ask(c, { type: 'init', init: { ...init, index: i, clientSeedsHex: clientSeedsHex.filter((_, k) => k % count === i) } }, 30_000),
      ),
    );
    return pool;
  }

  private ask(c: Child, m: ParentMessage, timeoutMs: number): Promise<LoadgenReply> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        c.waiting = null;
        reject(new Error(`load generator ${c.pid} did not answer ${m.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      c.waiting = (r) => {
        clearTimeout(t);
        if (r.type === 'error') reject(new Error(`load generator ${c.pid}: ${r.message}`));
        else resolve(r);
      };
      c.proc.send(m);
    });
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid);
  }

  async cpuSeconds(): Promise<number> {
    let s = 0;
    for (const c of this.children) s += await cpuSeconds(c.pid);
    return s;
  }

  /** Pre-signs then runs one phase on every generator; `phase.rate` is the TOTAL rate. */
  async runPhase(phase: LoadgenPhase, onStart?: () => void | Promise<void>): Promise<MergedResult> {
    const k = this.children.length;
    const share: LoadgenPhase = { ...phase, rate: phase.rate / k };
    await Promise.all(this.children.map((c) => this.ask(c, { type: 'prepare', phase: share }, PREPARE_TIMEOUT_MS)));
    await onStart?.();
    const startAtMs = Date.now() + 200;
    const budget = phase.durationMs + phase.drainMs + 120_000;
    const replies = await Promise.all(this.children.map((c) => this.ask(c, { type: 'go', startAtMs }, budget)));
    const results = replies.map((r) => {
      if (r.type !== 'result') throw new Error(`unexpected load generator reply ${r.type}`);
      return r.result;
    });
    return merge(results);
  }

  async close(): Promise<void> {
    for (const c of this.children) {
      try {
        c.proc.send({ type: 'exit' } satisfies ParentMessage);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    this.kill();
  }

  kill(): void {
    for (const c of this.children) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function merge(rs: LoadgenResult[]): MergedResult {
  const m: MergedResult = {
    id: rs[0]?.id ?? '',
    offered: 0,
    sent: 0,
    dropped: 0,
    accepted: 0,
    final: 0,
    finalAccepted: 0,
    codes: {},
    httpStatus: {},
    readStatus: {},
    requests: 0,
    sendMs: 0,
    drainMs: 0,
    lastFinalMs: 0,
    latencyMs: [],
    submitMs: [],
    proofsOk: 0,
    proofsFailed: 0,
    proofProblems: [],
    checkpointsVerified: 0,
    signMs: 0,
    auth: { signed: 0, tokenRequests: 0, bearer: 0 },
  };
  for (const r of rs) {
    m.offered += r.offered;
    m.sent += r.sent;
    m.dropped += r.dropped;
    m.accepted += r.accepted;
    m.final += r.final;
    m.finalAccepted += r.finalAccepted;
    addCounts(m.codes, r.codes);
    addCounts(m.httpStatus, r.httpStatus);
    addCounts(m.readStatus, r.readStatus ?? {});
    m.requests += r.requests;
    m.sendMs = Math.max(m.sendMs, r.sendMs);
    m.drainMs = Math.max(m.drainMs, r.drainMs);
    m.lastFinalMs = Math.max(m.lastFinalMs, r.lastFinalMs);
    for (const x of r.latencyMs) m.latencyMs.push(x);
    for (const x of r.submitMs) m.submitMs.push(x);
    m.proofsOk += r.proofsOk;
    m.proofsFailed += r.proofsFailed;
    m.proofProblems.push(...r.proofProblems);
    m.checkpointsVerified += r.checkpointsVerified;
    m.signMs = Math.max(m.signMs, r.signMs);
    if (r.auth !== undefined) {
      m.auth.signed += r.auth.signed;
      m.auth.tokenRequests += r.auth.tokenRequests;
      m.auth.bearer += r.auth.bearer;
    }
  }
  return m;
}
