// A real, certified OpenID provider (`oidc-provider`) on loopback for access-control tests. Tokens
// come from the provider (client credentials grant, JWT access tokens with claims added by the
// provider's own extraTokenClaims hook); attacks a provider never issues are crafted from its
// real keys and tokens by the tests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface OidcClientSpec {
  claims: Record<string, unknown>;
  audience?: string;
  ttl?: number;
}

export interface TestOidcProvider {
  issuer: string;
  signingJwk: JWK;
  token(clientId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcProvider(audience: string, clients: Record<string, OidcClientSpec>): Promise<TestOidcProvider> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-es256', alg: 'ES256', use: 'sig' };
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: Object.keys(clients).map((id) => ({ client_id: id, client_secret: `secret-${id}`, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' })),
    jwks: { keys: [signingJwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        getResourceServerInfo: (_ctx: unknown, _resource: string, client: { clientId: string }) => {
          const c = clients[client.clientId]!;
          return { scope: 'read', audience: c.audience ?? audience, accessTokenFormat: 'jwt', accessTokenTTL: c.ttl ?? 300, jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, t: { clientId: string }) => clients[t.clientId]?.claims,
  });
  server.on('request', provider.callback());
  return {
    issuer,
    signingJwk,
    async token(clientId) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:secret-${clientId}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', resource: audience }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`token for ${clientId}: ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
