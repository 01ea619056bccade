// Verification speeds measured in the bench run itself:
// - the verification bound: node:crypto Ed25519 verifications per second on one core (with a
//   cached key, on a message the size of an entry's signed bytes);
// - auditor speed with the light verifier: checkpoint verifications/s and inclusion-proof
//   verifications/s (a receipt check: quorum checkpoint + RFC 9162 proof), on real checkpoints
//   and proofs fetched from the bench network;
// - `cairn audit` over the whole benchmark log (a separate process, the real CLI).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { nodeSigner, nodeVerifier } from '../src/crypto/node.js';
import { nobleVerifier } from '../src/crypto/noble.js';
import { fromBase64 } from '../src/encoding/bytes.js';
import { decodeEntryBundle, entryBundlePath, TILE_WIDTH } from '../src/merkle/index.js';
import { verifyCheckpoint, verifyInclusion, type TrustRoot } from '../src/verifier/index.js';
import type { BenchHttp } from './http.js';
import { codeRoot, nodeEntryArgs } from './paths.js';

/** Runs op repeatedly for about budgetMs (at least minOps times); returns operations per second. */
export function opsPerSecond(budgetMs: number, minOps: number, op: (i: number) => void): number {
  const start = performance.now();
  let n = 0;
  let elapsed = 0;
  do {
    for (let k = 0; k < 8; k++) op(n++);
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs || n < minOps);
  return (n / elapsed) * 1000;
}

/** node:crypto Ed25519 verifications/s on this core, message of `messageBytes`. */
export function verifyRatePerCore(messageBytes: number, budgetMs: number): number {
  const signers = [1, 2, 3, 4, 5, 6, 7, 8].map((b) => nodeSigner(new Uint8Array(32).fill(b)));
  const msgs = signers.map((_, i) => new Uint8Array(messageBytes).fill(65 + i));
  const sigs = signers.map((s, i) => s.sign(msgs[i]!));
  return opsPerSecond(budgetMs, 200, (i) => {
    const k = i % signers.length;
    if (!nodeVerifier.verify(signers[k]!.publicKey, msgs[k]!, sigs[k]!)) throw new Error('verify-bound: signature rejected');
  });
}

export interface ProofSample {
  leaf: Uint8Array;
  index: number;
  proof: Uint8Array[];
  checkpoint: string;
}

/** Fetches `count` entries spread over the log with their inclusion proofs (for auditor timing). */
export async function fetchProofSamples(http: BenchHttp, url: string, treeSize: number, count: number): Promise<ProofSample[]> {
  const out: ProofSample[] = [];
  const bundles = Math.max(1, Math.floor(treeSize / TILE_WIDTH));
  for (let s = 0; s < count; s++) {
    const b = Math.floor((s * bundles) / count);
    const r = await http.request(`${url}/${entryBundlePath({ index: b, width: TILE_WIDTH })}`);
    if (r.status !== 200) continue;
    const leaves = decodeEntryBundle(new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.length));
    const leaf = leaves[s % leaves.length]!;
    const hash = createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest('hex');
    const e = await http.json<{ status?: string; index?: number; proof?: string[]; checkpoint?: string }>(`${url}/v1/entries/${hash}`);
    const v = e.value;
    if (e.status !== 200 || v === null || v.status !== 'final' || typeof v.index !== 'number' || !Array.isArray(v.proof) || typeof v.checkpoint !== 'string') continue;
    out.push({ leaf, index: v.index, proof: v.proof.map((p) => fromBase64(p)!), checkpoint: v.checkpoint });
  }
  return out;
}

export interface AuditorSpeed {
  checkpointVerifyPerSecNode: number;
  checkpointVerifyPerSecNoble: number;
  inclusionVerifyPerSecNode: number;
  inclusionVerifyPerSecNoble: number;
  samples: number;
}

export function auditorSpeed(trust: TrustRoot, samples: ProofSample[], budgetMs: number): AuditorSpeed {
  if (samples.length === 0) throw new Error('auditor speed: no inclusion-proof samples could be fetched');
  const check = (i: number, verifier: typeof nodeVerifier) => {
    const r = verifyCheckpoint(trust, samples[i % samples.length]!.checkpoint, { verifier });
    if (!r.ok) throw new Error(`auditor speed: checkpoint rejected: ${r.code}`);
  };
  const incl = (i: number, verifier: typeof nodeVerifier) => {
    const s = samples[i % samples.length]!;
    const r = verifyInclusion(trust, { entryLeaf: s.leaf, index: s.index, proof: s.proof, checkpoint: s.checkpoint }, { verifier });
    if (!r.ok) throw new Error(`auditor speed: inclusion proof rejected: ${r.code}: ${r.message}`);
  };
  return {
    checkpointVerifyPerSecNode: opsPerSecond(budgetMs, 50, (i) => check(i, nodeVerifier)),
    checkpointVerifyPerSecNoble: opsPerSecond(budgetMs / 2, 5, (i) => check(i, nobleVerifier)),
    inclusionVerifyPerSecNode: opsPerSecond(budgetMs, 50, (i) => incl(i, nodeVerifier)),
    inclusionVerifyPerSecNoble: opsPerSecond(budgetMs / 2, 5, (i) => incl(i, nobleVerifier)),
    samples: samples.length,
  };
}

export interface AuditRun {
  ok: boolean;
  entries: number;
  seconds: number;
  entriesPerSec: number;
  output: string;
}

/** Runs the real `cairn audit <url> --trust <file>` as a child process and times it. */
export function runCairnAudit(url: string, trustPath: string, timeoutMs: number, env: Record<string, string> = {}): Promise<AuditRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    // env: the CLI's credential variables when the peers have an access policy (bench --auth).
    const proc = spawn(process.execPath, [...nodeEntryArgs('node/cli/main'), 'audit', url, '--trust', trustPath], { cwd: codeRoot(), stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8000)));
    proc.stderr!.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8000)));
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      const m = /entries\s+(\d+) checked/.exec(out);
      const entries = m ? Number(m[1]) : 0;
      resolve({ ok: code === 0, entries, seconds, entriesPerSec: entries / seconds, output: out.trim() });
    });
  });
}
