// Access-control routes: POST /v1/auth/token (a principal authenticated by HTTP message signature
// gets a short-lived bearer token carrying its own roles, for tools that can only send a bearer
// token) and GET /v1/auth/whoami (who the peer thinks the caller is: principal, roles, scope).
import type { FastifyInstance } from 'fastify';
import type { PolicyGate } from './access-gate.js';
import { sendError } from './errors.js';

/** Answer of GET /v1/auth/whoami. */
export interface WhoamiResponse {
  /** Principal id: `<issuer>#<subject>`, `key:<name>` or `anonymous`. */
  principal: string;
  kind: 'anonymous' | 'oidc' | 'key' | 'token';
  /** False when the peer has no access policy (everything is open). */
  accessControl: boolean;
  roles: { name: string; kind: string; scope: string }[];
  /** Roles the token's claims map to but that need MFA evidence it lacks. */
  rolesMissingMfa: string[];
  /** `full`: every entry this peer serves; `scoped`: only entries matching the roles' scopes (and the genesis sharing mode). */
  scope: 'full' | 'scoped';
  sharing: 'consortium' | 'own-clients';
  /** When the credential stops being valid (seconds since epoch), if it has an end. */
  expiresAt?: number;
}

/** Largest body of POST /v1/auth/token (it needs none; a body is only covered by the signature). */
export const TOKEN_BODY_BYTES_MAX = 4096;

const NOT_CONFIGURED = 'access control is not configured on this peer (no auth.policy): every route is open';

export function registerAuthRoutes(app: FastifyInstance, gate: PolicyGate | null): void {
  // Its own scope: any body is kept as raw bytes (at most TOKEN_BODY_BYTES_MAX), because a signed
  // request's content-digest covers the bytes as sent, not a parsed value.
  app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: TOKEN_BODY_BYTES_MAX }, (req, body, done) => {
      (req as { rawBody?: Uint8Array }).rawBody = body as Buffer;
      done(null, null);
    });
    sub.post('/v1/auth/token', async (req, reply) => {
      if (gate === null) return sendError(reply, 'not_found', NOT_CONFIGURED);
      const who = await gate.require(req, reply, 'auth.token');
      if (who === null) return reply;
      const t = gate.access.issueToken(who);
      if ('error' in t) {
        await gate.refuse(req, reply, who.id, t);
        return reply;
      }
      return reply.code(200).header('cache-control', 'no-store').send(t);
    });
  });

  app.get('/v1/auth/whoami', async (req, reply) => {
    if (gate === null) {
      const body: WhoamiResponse = { principal: 'anonymous', kind: 'anonymous', accessControl: false, roles: [], rolesMissingMfa: [], scope: 'full', sharing: 'consortium' };
      return reply.code(200).header('cache-control', 'no-store').send(body);
    }
    const who = await gate.principal(req);
    if (!who.ok) {
      await gate.refuse(req, reply, 'anonymous', who);
      return reply;
    }
    const scope = gate.scopeOf(who);
    const body: WhoamiResponse = {
      principal: who.id,
      kind: who.kind,
      accessControl: true,
      roles: who.roles.map((r) => ({ name: r.name, kind: r.kind, scope: r.scope.source })),
      rolesMissingMfa: who.rolesMissingMfa.map((r) => r.name),
      scope: scope.full ? 'full' : 'scoped',
      sharing: gate.sharingMode,
      ...(who.expiresAt !== undefined ? { expiresAt: Math.floor(who.expiresAt / 1000) } : {}),
    };
    return reply.code(200).header('cache-control', 'no-store').send(body);
  });
}
