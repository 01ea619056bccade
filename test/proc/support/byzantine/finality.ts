// "Every accepted entry became final", checked over HTTP within one deadline:
//   A. each accepted leaf hash on the peer that accepted it, long-polling `?wait=final`;
//   B. every other peer's final size covers the largest index seen in A (so the entry is under a
//      final checkpoint there too), and a sample of entries reads back final at the same index.
// Bounded: one deadline for everything, a fixed number of requests in flight.
import { getJson, type PeerProc } from '../peer-procs.js';

export interface Accepted {
  leafHash: string;
  /** Index into `peers` of the peer that answered 202. */
  peer: number;
}

export interface FinalityReport {
  problems: string[];
  /** Entries seen final on their accepting peer, and the slowest such request (ms). */
  finalOnSubmitPeer: number;
  slowestMs: number;
  /** When the last entry was seen final on every peer (ms since epoch), null if never. */
  allFinalAtMs: number | null;
}

const IN_FLIGHT = 48;
/** Entries re-read on each other peer in phase B. */
const CROSS_CHECK_SAMPLE = 100;

async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

export async function checkAllFinal(peers: PeerProc[], accepted: Accepted[], deadlineAtMs: number, longPollMs: number): Promise<FinalityReport> {
  const problems: string[] = [];
  const notFinal: string[] = [];
  const indexOf = new Map<string, number>();
  let unchecked = 0;
  let slowestMs = 0;
  await pool(accepted, IN_FLIGHT, async (a) => {
    const waitMs = Math.min(longPollMs, deadlineAtMs - Date.now());
    if (waitMs <= 0) {
      unchecked++;
      return;
    }
    const p = peers[a.peer]!;
    const t0 = Date.now();
    try {
      const r = await getJson<{ status: string; index?: number }>(p.url, `/v1/entries/${a.leafHash}?wait=final&timeout=${waitMs}ms`, waitMs + 10_000);
      slowestMs = Math.max(slowestMs, Date.now() - t0);
      if (r.status === 'final' && typeof r.index === 'number') indexOf.set(a.leafHash, r.index);
      else notFinal.push(`${a.leafHash.slice(0, 12)} is ${r.status} on ${p.name}`);
    } catch (e) {
      slowestMs = Math.max(slowestMs, Date.now() - t0);
      notFinal.push(`${a.leafHash.slice(0, 12)} on ${p.name}: ${(e as Error).message.slice(0, 120)}`);
    }
  });
  if (notFinal.length + unchecked > 0) {
    problems.push(`${notFinal.length + unchecked} of ${accepted.length} accepted entries not final on the peer that accepted them (${unchecked} not checked before the deadline), e.g. ${notFinal.slice(0, 4).join('; ')}`);
  }
  const need = Math.max(-1, ...indexOf.values()) + 1;
  // B: every peer's final checkpoint covers every index seen final in A.
  let allFinalAtMs: number | null = null;
  const sizes = peers.map(() => -1);
  while (Date.now() < deadlineAtMs) {
    await Promise.all(peers.map(async (p, i) => {
      sizes[i] = await getJson<{ finalSize: number }>(p.url, '/v1/status').then((s) => s.finalSize, () => sizes[i]!);
    }));
    if (sizes.every((s) => s >= need)) {
      allFinalAtMs = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (allFinalAtMs === null) problems.push(`final sizes ${JSON.stringify(sizes)} of ${peers.map((p) => p.name).join(', ')} do not all cover index ${need - 1} by the deadline`);
  const seen = [...indexOf.entries()];
  const step = Math.max(1, Math.floor(seen.length / CROSS_CHECK_SAMPLE));
  const sample = seen.filter((_, k) => k % step === 0 || k === seen.length - 1);
  const mismatches: string[] = [];
  await pool(sample.flatMap(([h, index]) => peers.map((p) => ({ h, index, p }))), IN_FLIGHT, async ({ h, index, p }) => {
    try {
      const r = await getJson<{ status: string; index?: number }>(p.url, `/v1/entries/${h}`, 10_000);
      if (r.status !== 'final' || r.index !== index) mismatches.push(`${h.slice(0, 12)} is ${r.status} at index ${r.index} on ${p.name}, final at ${index} elsewhere`);
    } catch (e) {
      mismatches.push(`${h.slice(0, 12)} on ${p.name}: ${(e as Error).message.slice(0, 120)}`);
    }
  });
  if (mismatches.length > 0) problems.push(`${mismatches.length} cross-checks failed, e.g. ${mismatches.slice(0, 4).join('; ')}`);
  return { problems, finalOnSubmitPeer: indexOf.size, slowestMs, allFinalAtMs };
}
