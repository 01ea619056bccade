// JSON wire format of a search / history page (what GET /v1/search and
// GET /v1/resources/{type}/{id}/history answer), and its bounded decoder for clients.
//
//   {
//     "checkpoint": "<signed note text>", "treeSize": 123, "order": "newest" | "oldest",
//     "filter": { "actor": "alice", "actionPrefix": "db.", "fromMs": 1767225600000, ... },
//     "results": [ { "index": 17, "entry": "<base64 leaf bytes>", "proof": ["<base64 hash>", ...] } ],
//     "covered": { "from": 0, "to": 123 }, "stop": "limit" | "budget" | "end",
//     "next": "<cursor>"?, "plan": { "streams": ["actor"], "scan": false },
//     "steps": [ ... ]?   (history only: src/search/history-budget.ts BudgetedStep per result)
//   }
import { fromBase64, fromUtf8, toBase64 } from '../encoding/bytes.js';
import type { BudgetedStep } from './history-budget.js';
import type { SearchFilter } from './fields.js';
import type { AnswerResult, SearchAnswer } from './verify.js';

/** Most results one page may hold (the peer's limit is 1,000). */
export const WIRE_RESULTS_MAX = 1000;
/** Most hashes in one inclusion proof (a tree of 2^63 leaves needs 63). */
export const WIRE_PROOF_HASHES_MAX = 64;

export interface WirePage {
  checkpoint: string;
  treeSize: number;
  order: 'oldest' | 'newest';
  filter: SearchFilter;
  results: { index: number; entry: string; proof: string[] }[];
  covered: { from: number; to: number };
  stop: 'limit' | 'budget' | 'end';
  next?: string;
  plan: { streams: string[]; scan: boolean };
  steps?: BudgetedStep[];
}

/** A decoded page: a SearchAnswer (for verification) plus paging information. */
export interface DecodedPage extends SearchAnswer {
  checkpoint: string;
  treeSize: number;
  results: AnswerResult[];
  covered: { from: number; to: number };
  stop: 'limit' | 'budget' | 'end';
  next?: string;
  plan: { streams: string[]; scan: boolean };
  steps?: BudgetedStep[];
}

/**
 * Encodes a page from the engine (node/search/query.ts SearchPage has these fields). `base64` may
 * be a faster native encoder (the peer passes Node's): a page of 1,000 results holds ~20,000
 * proof hashes and 1,000 entries, and the portable encoder builds each string a character at a time.
 */
export function encodePage(p: {
  checkpoint: Uint8Array;
  treeSize: number;
  order: 'oldest' | 'newest';
  filter: SearchFilter;
  results: readonly { index: number; entry: Uint8Array; proof: readonly Uint8Array[] }[];
  covered: { from: number; to: number };
  stop: 'limit' | 'budget' | 'end';
  next?: string;
  plan: { streams: string[]; scan: boolean };
  steps?: BudgetedStep[];
}, base64: (b: Uint8Array) => string = toBase64): WirePage {
  const out: WirePage = {
    checkpoint: fromUtf8(p.checkpoint),
    treeSize: p.treeSize,
    order: p.order,
    filter: p.filter,
    results: p.results.map((r) => ({ index: r.index, entry: base64(r.entry), proof: r.proof.map((h) => base64(h)) })),
    covered: p.covered,
    stop: p.stop,
    plan: p.plan,
  };
  if (p.next !== undefined) out.next = p.next;
  if (p.steps !== undefined) out.steps = p.steps;
  return out;
}

function nat(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Decodes and shape-checks a page from JSON; the reason on failure. Verification is separate. */
export function decodePage(json: unknown): { ok: true; page: DecodedPage } | { ok: false; message: string } {
  const bad = (m: string) => ({ ok: false as const, message: `search page: ${m}` });
  if (json === null || typeof json !== 'object') return bad('not an object');
  const o = json as Record<string, unknown>;
  if (typeof o.checkpoint !== 'string') return bad('checkpoint must be the signed note text');
  if (!nat(o.treeSize)) return bad('treeSize must be a non-negative integer');
  if (o.order !== 'oldest' && o.order !== 'newest') return bad('order must be oldest or newest');
  if (o.filter === null || typeof o.filter !== 'object' || Array.isArray(o.filter)) return bad('filter must be an object');
  if (!Array.isArray(o.results) || o.results.length > WIRE_RESULTS_MAX) return bad(`results must be an array of at most ${WIRE_RESULTS_MAX}`);
  const cov = o.covered as Record<string, unknown> | null;
  if (cov === null || typeof cov !== 'object' || !nat(cov.from) || !nat(cov.to)) return bad('covered must be { from, to }');
  if (o.stop !== 'limit' && o.stop !== 'budget' && o.stop !== 'end') return bad('stop must be limit, budget or end');
  if (o.next !== undefined && typeof o.next !== 'string') return bad('next must be a string');
  if (o.stop !== 'end' && o.next === undefined) return bad('a page that did not reach the end must carry a cursor');
  const results: AnswerResult[] = [];
  for (const r of o.results as unknown[]) {
    const x = r as Record<string, unknown> | null;
    if (x === null || typeof x !== 'object' || !nat(x.index) || typeof x.entry !== 'string' || !Array.isArray(x.proof) || x.proof.length > WIRE_PROOF_HASHES_MAX) {
      return bad('each result needs index, entry (base64) and proof (array of base64)');
    }
    const entry = fromBase64(x.entry);
    const proof = (x.proof as unknown[]).map((h) => (typeof h === 'string' ? fromBase64(h) : null));
    if (entry === null || proof.some((h) => h === null)) return bad(`result ${String(x.index)}: bad base64`);
    results.push({ index: x.index, entry, proof: proof as Uint8Array[] });
  }
  const plan = o.plan as { streams?: unknown; scan?: unknown } | undefined;
  const page: DecodedPage = {
    checkpoint: o.checkpoint,
    treeSize: o.treeSize,
    order: o.order,
    filter: o.filter as SearchFilter,
    results,
    covered: { from: cov.from as number, to: cov.to as number },
    stop: o.stop,
    plan: { streams: Array.isArray(plan?.streams) ? (plan.streams as unknown[]).filter((s): s is string => typeof s === 'string') : [], scan: plan?.scan === true },
  };
  if (typeof o.next === 'string') page.next = o.next;
  if (Array.isArray(o.steps)) page.steps = o.steps as BudgetedStep[];
  return { ok: true, page };
}

/** Query-string parameters for a filter (the inverse of node/search filterFromParams). */
export function filterToParams(f: SearchFilter): Record<string, string> {
  const p: Record<string, string> = {};
  if (f.actor !== undefined) p.actor = f.actor;
  if (f.action !== undefined) p.action = f.action;
  if (f.actionPrefix !== undefined) p.action = `${f.actionPrefix.endsWith('.') ? f.actionPrefix : `${f.actionPrefix}.`}*`;
  if (f.resourceType !== undefined) p['resource.type'] = f.resourceType;
  if (f.resourceId !== undefined) p['resource.id'] = f.resourceId;
  if (f.tenant !== undefined) p.tenant = f.tenant;
  if (f.outcome !== undefined) p.outcome = f.outcome;
  if (f.client !== undefined) p.client = f.client;
  if (f.fromMs !== undefined) p.from = String(f.fromMs);
  if (f.toMs !== undefined) p.to = String(f.toMs);
  return p;
}

