// The load generator: a SEPARATE process (started by bench/run.ts with an IPC channel) that plays
// many clients. For each phase it
//   1. pre-signs all the phase's entries (so signing is not inside the timed window), each of
//      exactly `entryBytes` canonical bytes, from the genesis client keys it was given;
//   2. submits them open-loop at a target rate: every `tickMs` one `POST /v1/entries` array per
//      peer, round-robin, whatever the answers (a request that cannot be sent because too many
//      are in flight is counted as `dropped`, never delayed — that is what open-loop means);
//   3. learns finality from the log itself, not from what peers say about themselves: it polls
//      `GET /checkpoint`, verifies each new note with the light verifier (quorum of trusted
//      organization signatures), and reads the C2SP tlog-tiles entry bundles up to the verified
//      size to find the index of each of its entries; an entry is final at the first moment this
//      process held a verified checkpoint whose size exceeds the entry's index;
//   4. after the phase, fetches a sample of its entries' inclusion proofs (`GET /v1/entries/{hash}`)
//      and verifies them against their quorum-signed checkpoint with the light verifier.
// It reports raw per-entry numbers to the parent, which aggregates across load generators.
import { createHash } from 'node:crypto';
import { nodeSigner, nodeVerifier } from '../src/crypto/node.js';
import { fromBase64, fromHex } from '../src/encoding/bytes.js';
import { entryLeaf, signEntry } from '../src/entry/index.js';
import type { AuditEntry, UnsignedEntry } from '../src/entry/types.js';
import { decodeEntryBundle, entryBundlePath, TILE_WIDTH } from '../src/merkle/index.js';
import { parseTrustFile, verifyCheckpoint, verifyInclusion, type TrustRoot } from '../src/verifier/index.js';
import { BenchCredentials } from './auth.js';
import { BenchHttp } from './http.js';
import type { LoadgenInit, LoadgenPhase, LoadgenReply, LoadgenResult, ParentMessage } from './protocol.js';

/** Most entries one load generator pre-signs for one phase. */
export const PHASE_ENTRIES_MAX = 2_000_000;
/** Most submit requests in flight per load generator (beyond: the tick's batch is dropped). */
export const IN_FLIGHT_MAX = 256;
/** Most inclusion proofs verified per phase per load generator. */
export const PROOF_SAMPLE_MAX = 200;

function leafHashHex(leaf: Uint8Array): string {
  return createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest('hex');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface PhaseEntries {
  bodies: string[];
  leaves: Uint8Array[];
  hashes: string[];
}

class Loadgen {
  private readonly http = new BenchHttp(64);
  private trust!: TrustRoot;
  private init!: LoadgenInit;
  private prepared: { phase: LoadgenPhase; entries: PhaseEntries; signMs: number } | null = null;
  /** Verified checkpoint observations: time (performance.now) and size, sizes increasing. */
  private obs: { t: number; size: number }[] = [];
  private verifiedSize = 0;
  private lastNote = '';
  private lastNoteText = '';
  private checkpointsVerified = 0;
  /** Answers to this phase's reads (checkpoint polls, entry bundles, receipts) that were not 200, by "what status". */
  private readStatus: Record<string, number> = {};

  private countRead(what: string, status: number): void {
    if (status === 200) return;
    const k = `${what} ${status}`;
    this.readStatus[k] = (this.readStatus[k] ?? 0) + 1;
  }

  setup(init: LoadgenInit): void {
    const t = parseTrustFile(init.trustJson);
    if (!t.ok) throw new Error(`trust: ${t.code}: ${t.message}`);
    this.trust = t.trust;
    this.init = init;
    if (init.auth !== null && init.auth.mode !== 'none') this.http.credentials = new BenchCredentials(init.auth, (u, o) => this.http.raw(u, o));
  }

  /** Builds and signs `count` entries of exactly entryBytes leaf bytes. */
  private signEntries(phaseId: string, count: number): PhaseEntries {
    const signers = this.init.clientSeedsHex.map((h) => nodeSigner(fromHex(h)!));
    const time = new Date().toISOString();
    const make = (i: number, pad: string): UnsignedEntry => ({
      v: 1,
      // Fixed-width ids: every entry has the same length, so one pad length fits all.
      id: `${phaseId}-${this.init.index}-${String(i).padStart(8, '0')}`,
      time,
      actor: { id: `user-${String(i % 997).padStart(3, '0')}@example.com`, type: 'user' },
      action: 'db.query',
      resource: { type: 'db.table', id: 'payments' },
      outcome: 'success',
      source: { ip: '192.0.2.7' },
      data: { pad },
    });
    const base = entryLeaf(signEntry(make(0, ''), signers[0]!)).length;
    const pad = 'x'.repeat(Math.max(0, this.init.entryBytes - base));
    const entries: AuditEntry[] = [];
    const leaves: Uint8Array[] = [];
    const hashes: string[] = [];
    for (let i = 0; i < count; i++) {
      const e = signEntry(make(i, pad), signers[i % signers.length]!);
      const leaf = entryLeaf(e);
      entries.push(e);
      leaves.push(leaf);
      hashes.push(leafHashHex(leaf));
    }
    return { bodies: entries.map((e) => JSON.stringify(e)), leaves, hashes };
  }

  prepare(phase: LoadgenPhase): { count: number; signMs: number; leafBytes: number } {
    const count = Math.min(PHASE_ENTRIES_MAX, Math.max(0, Math.round((phase.rate * phase.durationMs) / 1000)));
    const t0 = performance.now();
    const entries = this.signEntries(phase.id, count);
    const signMs = performance.now() - t0;
    this.prepared = { phase, entries, signMs };
    return { count, signMs, leafBytes: entries.leaves[0]?.length ?? 0 };
  }

  // ------------------------------------------------------------ finality from the log

  private async pollCheckpoint(url: string): Promise<void> {
    const r = await this.http.request(`${url}/checkpoint`, { timeoutMs: 5_000 });
    this.countRead('checkpoint', r.status);
    if (r.status !== 200) return;
    const note = r.body.toString('utf8');
    if (note === this.lastNote) return;
    const t = performance.now();
    const v = verifyCheckpoint(this.trust, note, { verifier: nodeVerifier });
    if (!v.ok) throw new Error(`checkpoint from ${url} does not verify: ${v.code}: ${v.message}`);
    this.checkpointsVerified++;
    this.lastNote = note;
    if (v.size > this.verifiedSize) {
      this.verifiedSize = v.size;
      this.lastNoteText = note;
      this.obs.push({ t, size: v.size });
    }
  }

  /** First time a verified checkpoint covered index `i` (binary search over observations). */
  private finalTimeOf(i: number): number {
    let lo = 0;
    let hi = this.obs.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.obs[mid]!.size > i) {
        ans = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return ans < 0 ? NaN : this.obs[ans]!.t;
  }

  // ------------------------------------------------------------ a phase

  async run(startAtMs: number): Promise<LoadgenResult> {
    const p = this.prepared;
    if (p === null) throw new Error('phase not prepared');
    this.prepared = null;
    this.readStatus = {};
    const auth0 = { ...(this.http.credentials?.counts ?? { signed: 0, tokenRequests: 0, bearer: 0 }) };
    const { phase, entries } = p;
    const ticks = Math.max(1, Math.round(phase.durationMs / phase.tickMs));
    const n = entries.bodies.length;
    const slotOf = new Map<string, number>();
    for (let i = 0; i < n; i++) slotOf.set(entries.hashes[i]!, i);
    const sentAt = new Float64Array(n).fill(NaN);
    const finalAt = new Float64Array(n).fill(NaN);
    const indexOf = new Float64Array(n).fill(NaN);
    const accepted = new Uint8Array(n);
    const codes: Record<string, number> = {};
    let dropped = 0;
    let inFlight = 0;
    let requests = 0;
    let requestErrors = 0;
    const httpStatus: Record<string, number> = {};
    // A pool that has seen no checkpoint yet (peers started on an existing log) starts at its head,
    // not at index 0.
    if (this.verifiedSize === 0 && phase.urls.length > 0) await this.pollCheckpoint(phase.urls[0]!).catch(() => undefined);
    // Entries of the log before this phase cannot be ours: start reading bundles at the verified size.
    let mapped = this.verifiedSize;
    let finalCount = 0;
    let acceptedCount = 0;
    let stop = false;

    // Wait for the common start time (all load generators start together).
    const wait = startAtMs - Date.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();

    const poller = (async () => {
      let k = 0;
      while (!stop) {
        const url = phase.urls[k++ % phase.urls.length]!;
        try {
          await this.pollCheckpoint(url);
        } catch (e) {
          if ((e as Error).message.includes('does not verify')) throw e;
        }
        await sleep(phase.pollMs);
      }
    })();

    const mapper = (async () => {
      let k = 0;
      while (!stop) {
        if (mapped >= this.verifiedSize) {
          await sleep(phase.pollMs);
          continue;
        }
        const size = this.verifiedSize;
        const bundle = Math.floor(mapped / TILE_WIDTH);
        const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
        const url = phase.urls[k++ % phase.urls.length]!;
        let r;
        try {
          r = await this.http.request(`${url}/${entryBundlePath({ index: bundle, width })}`, { timeoutMs: 10_000 });
        } catch {
          await sleep(phase.pollMs);
          continue;
        }
        this.countRead('bundle', r.status);
        if (r.status !== 200) {
          // This peer may not have served that width yet (it may be behind): try another one.
          await sleep(phase.pollMs);
          continue;
        }
        const leaves = decodeEntryBundle(new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.length), width);
        for (let i = mapped - bundle * TILE_WIDTH; i < width; i++) {
          const slot = slotOf.get(leafHashHex(leaves[i]!));
          if (slot === undefined) continue;
          const idx = bundle * TILE_WIDTH + i;
          indexOf[slot] = idx;
          finalAt[slot] = this.finalTimeOf(idx);
          finalCount++;
        }
        mapped = bundle * TILE_WIDTH + width;
      }
    })();

    // Open-loop sender: tick k fires at t0 + k·tickMs, whatever happened to earlier requests.
    let next = 0;
    let tick = 0;
    let peerTurn = 0;
    const endSend = t0 + phase.durationMs;
    while (next < n && tick < ticks && performance.now() < endSend + phase.tickMs * 4) {
      const due = t0 + tick * phase.tickMs;
      const now = performance.now();
      if (due > now) await sleep(due - now);
      tick++;
      // Cumulative target: exactly n entries spread evenly over the ticks, split over the peers.
      const upTo = Math.min(n, Math.round((n * tick) / ticks));
      const per = Math.ceil((upTo - next) / phase.urls.length);
      for (let u = 0; u < phase.urls.length && next < upTo; u++) {
        const from = next;
        const to = Math.min(upTo, from + per);
        next = to;
        if (inFlight >= IN_FLIGHT_MAX) {
          dropped += to - from;
          continue;
        }
        const url = phase.urls[peerTurn++ % phase.urls.length]!;
        const body = `[${entries.bodies.slice(from, to).join(',')}]`;
        const at = performance.now();
        for (let i = from; i < to; i++) sentAt[i] = at;
        inFlight++;
        requests++;
        void this.http
          .request(`${url}/v1/entries`, { method: 'POST', body, timeoutMs: 30_000 })
          .then((res) => {
            httpStatus[res.status] = (httpStatus[res.status] ?? 0) + 1;
            let results: unknown[] | null = null;
            try {
              const j = JSON.parse(res.body.toString('utf8')) as { results?: unknown[]; error?: { code?: string } };
              if (Array.isArray(j.results)) results = j.results;
              else if (j.error?.code !== undefined) codes[j.error.code] = (codes[j.error.code] ?? 0) + (to - from);
            } catch {
              codes.unparseable = (codes.unparseable ?? 0) + (to - from);
            }
            if (results !== null) {
              for (let i = from; i < to; i++) {
                const it = results[i - from] as { status?: string; error?: { code?: string } } | undefined;
                if (it?.status === 'accepted' || it?.status === 'known-pending' || it?.status === 'known-final') {
                  accepted[i] = 1;
                  acceptedCount++;
                } else {
                  const c = it?.error?.code ?? 'missing_result';
                  codes[c] = (codes[c] ?? 0) + 1;
                }
              }
            }
          })
          .catch(() => {
            requestErrors++;
            codes.request_failed = (codes.request_failed ?? 0) + (to - from);
          })
          .finally(() => {
            inFlight--;
          });
      }
    }
    const sendEnd = performance.now();
    // Drain: wait until every accepted entry is final, bounded by drainMs and by a progress check.
    const drainDeadline = sendEnd + phase.drainMs;
    let lastProgress = performance.now();
    let lastFinal = -1;
    while (performance.now() < drainDeadline) {
      if (inFlight === 0 && finalCount >= acceptedCount) break;
      if (finalCount !== lastFinal) {
        lastFinal = finalCount;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > phase.stallMs) break;
      await sleep(20);
    }
    const drainMs = performance.now() - sendEnd;
    stop = true;
    await Promise.all([poller, mapper]);

    // Inclusion proofs of a sample of final entries, verified with the light verifier.
    const finalSlots: number[] = [];
    for (let i = 0; i < n; i++) if (!Number.isNaN(indexOf[i]!)) finalSlots.push(i);
    const sampleN = Math.min(phase.proofSample, PROOF_SAMPLE_MAX, finalSlots.length);
    let proofsOk = 0;
    let proofsFailed = 0;
    const proofProblems: string[] = [];
    for (let s = 0; s < sampleN; s++) {
      const slot = finalSlots[Math.floor((s * finalSlots.length) / sampleN)]!;
      const url = phase.urls[s % phase.urls.length]!;
      try {
        // wait=final: this peer may not hold the newest final checkpoint yet (another peer served it).
        const r = await this.http.json<{ status?: string; index?: number; proof?: string[]; checkpoint?: string }>(`${url}/v1/entries/${entries.hashes[slot]}?wait=final&timeout=10s`, 15_000);
        const e = r.value;
        this.countRead('receipt', r.status);
        if (r.status !== 200 || e === null || e.status !== 'final' || !Array.isArray(e.proof) || typeof e.checkpoint !== 'string') {
          throw new Error(`entry not final on ${url}: HTTP ${r.status} ${e?.status ?? ''}`);
        }
        if (e.index !== indexOf[slot]) throw new Error(`index ${e.index} differs from the index ${indexOf[slot]} read from the entry bundles`);
        const proof = e.proof.map((b) => fromBase64(b));
        if (proof.some((b) => b === null)) throw new Error('proof hash is not base64');
        const v = verifyInclusion(this.trust, { entryLeaf: entries.leaves[slot]!, index: indexOf[slot]!, proof: proof as Uint8Array[], checkpoint: e.checkpoint }, { verifier: nodeVerifier });
        if (!v.ok) throw new Error(`${v.code}: ${v.message}`);
        proofsOk++;
      } catch (err) {
        proofsFailed++;
        if (proofProblems.length < 5) proofProblems.push((err as Error).message);
      }
    }
    const latencyMs: number[] = [];
    const submitMs: number[] = [];
    for (let i = 0; i < n; i++) {
      if (accepted[i] === 1 && !Number.isNaN(finalAt[i]!)) {
        latencyMs.push(Math.max(0, finalAt[i]! - sentAt[i]!));
        submitMs.push(sentAt[i]! - t0);
      }
    }
    let lastFinalAt = t0;
    for (let i = 0; i < n; i++) if (!Number.isNaN(finalAt[i]!) && finalAt[i]! > lastFinalAt) lastFinalAt = finalAt[i]!;
    return {
      id: phase.id,
      offered: n,
      sent: next - dropped,
      dropped,
      accepted: acceptedCount,
      final: finalCount,
      finalAccepted: latencyMs.length,
      codes,
      httpStatus,
      readStatus: this.readStatus,
      requests,
      requestErrors,
      sendMs: sendEnd - t0,
      drainMs,
      lastFinalMs: lastFinalAt - t0,
      latencyMs,
      submitMs,
      proofsOk,
      proofsFailed,
      proofProblems,
      checkpointsVerified: this.checkpointsVerified,
      verifiedSize: this.verifiedSize,
      signMs: p.signMs,
      auth: (() => {
        const c = this.http.credentials?.counts ?? auth0;
        return { signed: c.signed - auth0.signed, tokenRequests: c.tokenRequests - auth0.tokenRequests, bearer: c.bearer - auth0.bearer };
      })(),
    };
  }

  close(): void {
    this.http.close();
  }
}

// ------------------------------------------------------------ process wiring

function send(m: LoadgenReply): void {
  process.send?.(m);
}

if (process.send !== undefined) {
  const lg = new Loadgen();
  // Die with the parent: the IPC channel closes when the bench process exits in any way.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw: unknown) => {
    const m = raw as ParentMessage;
    void (async () => {
      try {
        switch (m.type) {
          case 'init':
            lg.setup(m.init);
            send({ type: 'ready' });
            break;
          case 'prepare': {
            const r = lg.prepare(m.phase);
            send({ type: 'prepared', id: m.phase.id, ...r });
            break;
          }
          case 'go':
            send({ type: 'result', result: await lg.run(m.startAtMs) });
            break;
          case 'exit':
            lg.close();
            process.exit(0);
        }
      } catch (e) {
        send({ type: 'error', message: (e as Error).stack ?? (e as Error).message });
      }
    })();
  });
}
