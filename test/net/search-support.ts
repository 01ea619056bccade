// Shared by the search route tests: a one-organization peer (its own quorum, so entries become
// final) with its HTTP API, entries of two tenants submitted through the API, and a test access
// gate whose principals hold reader roles with real compiled scope expressions.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CairnClient } from '../../src/client/client.js';
import { signEntry } from '../../src/entry/sign.js';
import type { AuditEntry, UnsignedEntry } from '../../src/entry/types.js';
import { compileFilter } from '../../src/filter/index.js';
import type { TrustRoot } from '../../src/verifier/index.js';
import { KIND_ACTIONS, type Action, type Principal, type Role } from '../../node/auth/index.js';
import type { AccessGate } from '../../node/http/access-gate.js';
import { sendError } from '../../node/http/errors.js';
import type { ClientFixture } from '../peer-support/fixtures.js';

export function role(name: string, kind: Role['kind'], scope: string): Role {
  const f = compileFilter(scope);
  if (!f.ok) throw new Error(f.error.message);
  return { name, kind, scope: f.filter, mfa: null };
}

/** Principals by name: roles as a policy would give them. */
export const TEST_PRINCIPALS: Record<string, Role[]> = {
  auditor: [role('auditors', 'auditor', 'true')],
  acme: [role('acme-readers', 'reader', 'entry.tenant == "acme"')],
  operator: [role('ops', 'operator', 'true')],
};

export interface GateRecord {
  actor: string;
  action: string;
  resource: { type: string; id: string };
}

/** A gate with the contract's semantics (401 without credentials, 403 without the action, scope = the reading roles' scopes). */
export function testGate(records: GateRecord[], state: { recordFails: boolean }): AccessGate {
  const principalOf = (req: FastifyRequest): Principal | null => {
    // `x-test-who: <name>`, or `Authorization: Bearer <name>` (what the CLI's --token sends).
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const who = req.headers['x-test-who'] ?? bearer;
    if (typeof who !== 'string' || TEST_PRINCIPALS[who] === undefined) return null;
    return { ok: true, kind: 'key', id: `key:${who}`, keyName: who, roles: TEST_PRINCIPALS[who]!, rolesMissingMfa: [] };
  };
  return {
    async require(req: FastifyRequest, reply: FastifyReply, action: Action) {
      const p = principalOf(req);
      if (p === null) {
        sendError(reply.header('www-authenticate', 'Bearer realm="cairn"'), 'unauthenticated', 'credentials missing');
        return null;
      }
      if (!p.roles.some((r) => KIND_ACTIONS[r.kind].includes(action))) {
        sendError(reply, 'forbidden', `${p.id} may not ${action}`);
        return null;
      }
      return p;
    },
    async scope(req: FastifyRequest) {
      const readers = (principalOf(req)?.roles ?? []).filter((r) => KIND_ACTIONS[r.kind].includes('read.entry'));
      if (readers.some((r) => r.scope.full)) return { full: true };
      return { full: false, matches: (e: AuditEntry) => readers.some((r) => r.scope.matches(e)) };
    },
    async recordRead(_req: FastifyRequest, p: Principal, what: { action: string; resource: { type: string; id: string } }) {
      records.push({ actor: p.id, ...what });
      return !state.recordFails;
    },
  };
}

let seq = 0;
/** One signed entry; `time` near now so the peer's clock-skew check accepts it. */
export function entryOf(c: ClientFixture, fields: { actor: string; action: string; type: string; id: string; tenant?: string; data?: UnsignedEntry['data']; timeMs?: number }): AuditEntry {
  const u: UnsignedEntry = {
    v: 1,
    id: `s-${process.pid}-${Date.now()}-${seq++}`,
    time: new Date(fields.timeMs ?? Date.now()).toISOString(),
    actor: { id: fields.actor },
    action: fields.action,
    resource: { type: fields.type, id: fields.id },
    outcome: 'success',
  };
  if (fields.tenant !== undefined) u.tenant = fields.tenant;
  if (fields.data !== undefined) u.data = fields.data;
  return signEntry(u, c.signer);
}

/** Submits and waits until every entry is final; returns their log indexes. */
export async function submitFinal(url: string, entries: AuditEntry[]): Promise<number[]> {
  const client = new CairnClient({ url });
  await client.submit(entries);
  const fin = await client.waitFinalMany(
    entries.map((e) => ({ client: e.client, id: e.id })),
    { timeoutMs: 30_000 },
  );
  return fin.map((f) => f.index!);
}

export function trustOf(g: { origin: string; validators: { key: TrustRoot['keys'][number] }[]; quorum: number }): TrustRoot {
  return { origin: g.origin, keys: g.validators.map((v) => v.key), quorum: g.quorum };
}
