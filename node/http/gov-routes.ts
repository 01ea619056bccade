// Governance routes (docs/governance.md, docs/api.md):
//   GET /v1/governance/steps?from=<set number>   the chain-of-trust steps an auditor follows from the
//        organization set it trusts: for each accepted membership change creating set `from` or
//        later, the logged entry carrying the record, its leaf index, an inclusion proof and the
//        handover checkpoint (the final checkpoint of the last height before the change takes
//        effect; the proof is for that checkpoint's tree). Changes whose handover height is not
//        final yet are listed under `pending` without proof.
//   GET /v1/governance/records?from=<leaf index>&limit=<1..1000>   every cairn.gov.* entry of the
//        final log with the verdict the governance rules give it (accepted or a gov_* code), what
//        it does and from which height; the entry bytes let the client replay and check them.
// Public like GET /checkpoint (read.checkpoint): the answers carry signed governance records,
// proofs and checkpoints, and the auditor verifies all of it (updateTrustChain) instead of
// trusting this peer. Records are found through the search index (node/search): a peer started
// with search indexes off serves no governance records.
import type { FastifyInstance } from 'fastify';
import { toBase64 } from '../../src/encoding/bytes.js';
import { TRUST_STEPS_MAX } from '../../src/verifier/index.js';
import type { RouteContext } from './context.js';
import { sendError } from './errors.js';
import { GovScanner, type MembershipChange } from './gov-scan.js';

/** Largest answer of either route, in bytes of entries, proofs and checkpoints (the rest is small). */
export const GOV_ANSWER_BYTES_MAX = 4 * 1024 * 1024;
/** Most records per /v1/governance/records page. */
export const GOV_RECORDS_PAGE_MAX = 1000;
const NUM_RE = /^(0|[1-9][0-9]{0,15})$/;

export const GOV_ROUTE_METHODS: Record<string, string[]> = {
  '/v1/governance/steps': ['GET'],
  '/v1/governance/records': ['GET'],
};

/** Wire shape of one step (base64 bytes; the checkpoint as note text). */
export interface GovStepWire {
  epoch: number;
  record: string;
  type: string;
  index: number;
  height: number;
  effectiveHeight: number;
  entry: string;
  proof: string[];
  checkpoint: string;
}

function pendingOf(c: MembershipChange): Record<string, unknown> {
  return { epoch: c.epoch, record: c.id, type: c.type, index: c.index, height: c.height, effectiveHeight: c.effectiveHeight };
}

function num(q: Record<string, unknown>, name: string, dflt: number): number | null {
  const v = q[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !NUM_RE.test(v) || !Number.isSafeInteger(Number(v))) return null;
  return Number(v);
}

export function registerGovRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let scanner: GovScanner | null = null;
  const scan = (): GovScanner => (scanner ??= new GovScanner(ctx.peer.internals.store, ctx.peer.genesis));
  const decoder = new TextDecoder();

  app.get('/v1/governance/steps', async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(q)) if (k !== 'from') return sendError(reply, 'bad_request', `unknown parameter ${JSON.stringify(k.slice(0, 40))} (allowed: from)`, k.slice(0, 40));
    const from = num(q, 'from', 1);
    if (from === null || from < 1) return sendError(reply, 'bad_request', 'from must be an organization set number >= 1 (the number of sets the auditor already trusts)', 'from');
    if ((await ctx.gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const s = scan();
    const { finalSize, complete } = await s.refresh();
    const steps: GovStepWire[] = [];
    const pending: Record<string, unknown>[] = [];
    let bytes = 0;
    let truncated = false;
    for (const c of s.changesFrom(from)) {
      if (c.checkpoint === undefined || c.checkpointSize === undefined || pending.length > 0) {
        pending.push(pendingOf(c));
        continue;
      }
      if (steps.length >= TRUST_STEPS_MAX) {
        truncated = true;
        break;
      }
      const [leaf] = await ctx.peer.internals.store.getLeaves(c.index, 1);
      if (leaf === undefined) break;
      const proof = await ctx.peer.inclusionProof(c.index, c.checkpointSize);
      bytes += leaf.length + c.checkpoint.length + proof.length * 32;
      if (bytes > GOV_ANSWER_BYTES_MAX && steps.length > 0) {
        truncated = true;
        break;
      }
      steps.push({
        epoch: c.epoch,
        record: c.id,
        type: c.type,
        index: c.index,
        height: c.height,
        effectiveHeight: c.effectiveHeight,
        entry: toBase64(leaf),
        proof: proof.map(toBase64),
        checkpoint: decoder.decode(c.checkpoint),
      });
    }
    // `complete` false: more records remain to be scanned or more steps than one answer holds; ask again.
    return reply.code(200).send({ origin: ctx.peer.genesis.origin, finalSize, complete: complete && !truncated, steps, pending });
  });

  app.get('/v1/governance/records', async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(q)) if (k !== 'from' && k !== 'limit') return sendError(reply, 'bad_request', `unknown parameter ${JSON.stringify(k.slice(0, 40))} (allowed: from, limit)`, k.slice(0, 40));
    const from = num(q, 'from', 0);
    if (from === null) return sendError(reply, 'bad_request', 'from must be a leaf index', 'from');
    const limit = num(q, 'limit', 100);
    if (limit === null || limit < 1 || limit > GOV_RECORDS_PAGE_MAX) return sendError(reply, 'bad_request', `limit must be 1..${GOV_RECORDS_PAGE_MAX}`, 'limit');
    if ((await ctx.gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const s = scan();
    const { finalSize, complete } = await s.refresh();
    const { records, dropped } = s.recordsFrom(from);
    const out: Record<string, unknown>[] = [];
    let bytes = 0;
    let next: number | undefined;
    for (const r of records) {
      if (out.length >= limit) {
        next = r.index;
        break;
      }
      const [leaf] = await ctx.peer.internals.store.getLeaves(r.index, 1);
      if (leaf === undefined) break;
      bytes += leaf.length;
      if (bytes > GOV_ANSWER_BYTES_MAX && out.length > 0) {
        next = r.index;
        break;
      }
      out.push({ ...r, entry: toBase64(leaf) });
    }
    const st = s.govState();
    const epoch = st.epochs[st.epochs.length - 1]!;
    return reply.code(200).send({
      origin: ctx.peer.genesis.origin,
      finalSize,
      complete: complete && next === undefined,
      forgotten: dropped,
      state: {
        height: st.height,
        epoch: st.epochs.length - 1,
        organizations: epoch.orgs.map((o) => o.name),
        quorum: epoch.quorum,
        pending: st.pending === null ? null : { record: st.pending.record, type: st.pending.type, effectiveHeight: st.pending.effectiveHeight },
      },
      records: out,
      ...(next !== undefined ? { next } : {}),
    });
  });
}
