// Submitting a governance record as an ordinary audit entry (govEntry) signed by a client key, and
// reading back what the peer's governance rules made of it (GET /v1/governance/records).
import { signEntry } from '../../src/entry/index.js';
import { govEntry, govStatement, type GovRecord } from '../../src/governance/index.js';
import type { HealthResponse } from '../../src/client/types.js';
import { loadClientKey } from './client-key.js';
import { failure, type CliIo } from './io.js';
import { describeHttpFailure, getJson, jsonBody, parseDurationMs, peerRequest } from './peer-http.js';
import { postBatch } from './submit.js';

/** Longest --wait-timeout. */
export const GOV_WAIT_MS_MAX = 600_000;
const GOV_WAIT_MS_DEFAULT = 60_000;
/** How long to wait for the peer's governance scan to reach a final record. */
const SCAN_WAIT_MS = 10_000;

export interface GovRecordWire {
  index: number;
  height: number;
  id: string;
  type: string;
  verdict: string;
  effectiveHeight?: number;
  summary?: string;
  epoch?: number;
  entry: string;
}

export interface GovRecordsPage {
  origin: string;
  finalSize: number;
  complete: boolean;
  state: { height: number; epoch: number; organizations: string[]; quorum: number; pending: { record: string; type: string; effectiveHeight: number } | null };
  records: GovRecordWire[];
  next?: number;
}

/** The peer's height (GET /healthz: public). */
export async function peerHeight(base: string): Promise<number> {
  const h = await getJson<HealthResponse>(base, '/healthz');
  if (typeof h.height !== 'number' || !Number.isSafeInteger(h.height)) throw failure(`${base}/healthz: no height in the answer`);
  return h.height;
}

export async function peerGovState(base: string): Promise<GovRecordsPage['state']> {
  const p = await getJson<GovRecordsPage>(base, '/v1/governance/records?limit=1');
  if (p.state === undefined || typeof p.state.epoch !== 'number') throw failure(`${base}: /v1/governance/records answered without a state`);
  return p.state;
}

/** Submits `record`, waits until final, prints the peer's verdict and effect; a refusal is a failure (exit 1). */
export async function submitGovRecord(io: CliIo, base: string, record: GovRecord, clientKeyPath: string, waitTimeout: string | undefined): Promise<void> {
  const waitMs = waitTimeout === undefined ? GOV_WAIT_MS_DEFAULT : parseDurationMs(waitTimeout, '--wait-timeout', GOV_WAIT_MS_MAX);
  const key = await loadClientKey(io, clientKeyPath);
  const { id } = govStatement(record);
  const by = record.sigs[0]?.by ?? 'governance';
  const entry = signEntry(govEntry(record, { time: new Date().toISOString(), actor: { id: by, type: 'organization' } }), key.signer);
  const [r] = await postBatch(base, [entry]);
  if (r === undefined) throw failure(`${base}: no answer for the submitted record`);
  if ('error' in r) throw failure(`the peer refused the entry carrying record ${id.slice(0, 16)}...: ${r.error.code}: ${r.error.message}`);
  io.stdout(`submitted: leaf ${r.leafHash} (${r.status})\n`);
  const res = await peerRequest(base, `/v1/entries/${r.leafHash}?wait=final&timeout=${waitMs}ms`, { accept: 'application/json', timeoutMs: waitMs + 30_000 });
  if (res.status !== 200) throw failure(`waiting for the record to be final: ${describeHttpFailure(res)}`);
  const got = jsonBody<{ status?: string; index?: number }>(res);
  if (got.status !== 'final' || typeof got.index !== 'number') throw failure(`record ${id.slice(0, 16)}... is not final after ${waitMs} ms (status ${String(got.status)}); check later with cairn gov list`);
  io.stdout(`final at index ${got.index}\n`);
  const end = Date.now() + SCAN_WAIT_MS;
  for (;;) {
    const page = await getJson<GovRecordsPage>(base, `/v1/governance/records?from=${got.index}&limit=1`);
    const rec = page.records.find((x) => x.index === got.index);
    if (rec !== undefined) {
      if (rec.verdict !== 'accepted') throw failure(`record ${id.slice(0, 16)}... is logged at index ${got.index} (height ${rec.height}) but the governance rules refuse it: ${rec.verdict}`);
      io.stdout(`effect: ${rec.summary ?? rec.type} (in block ${rec.height}; from height ${rec.effectiveHeight})\n`);
      return;
    }
    if (Date.now() > end) {
      io.stdout(`the peer has not scanned index ${got.index} yet; see cairn gov list\n`);
      return;
    }
    await new Promise((res2) => setTimeout(res2, 200));
  }
}
