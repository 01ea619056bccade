// A real, certified OpenID provider (`oidc-provider`) on loopback for the explorer's browser
// login: authorization code + PKCE for a public browser client, with the provider's own login and
// consent pages (its development interactions: any login name, any password), JWT access tokens
// for the peer's audience (resource indicators) carrying the account's groups. The HTTP server
// binds first (the peers' policy needs the issuer URL), the provider is attached once the page's
// redirect URI is known.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface BrowserIdp {
  issuer: string;
  /** Creates the provider with a public client that may redirect to `redirectUri` only. */
  attach(clientId: string, redirectUri: string): Promise<void>;
  close(): Promise<void>;
}

/** `accounts`: login name → claims added to its access tokens (e.g. groups). */
export async function startBrowserIdp(audience: string, accounts: Record<string, Record<string, unknown>>): Promise<BrowserIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    async attach(clientId, redirectUri) {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(privateKey)), kid: 'browser-es256', alg: 'ES256', use: 'sig' };
      const pageOrigin = new URL(redirectUri).origin;
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [redirectUri], id_token_signed_response_alg: 'ES256' }],
        jwks: { keys: [jwk] },
        pkce: { required: () => true },
        // The page calls the token endpoint from its own origin (a CORS request).
        clientBasedCORS: (_ctx: unknown, origin: string) => origin === pageOrigin,
        findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub, name: `${sub} (test IdP)` }) }),
        claims: { openid: ['sub'], profile: ['name'] },
        features: {
          devInteractions: { enabled: true },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => audience,
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({ scope: 'read', audience, accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } }),
          },
        },
        extraTokenClaims: (_ctx: unknown, t: { accountId?: string }) => (t.accountId !== undefined ? accounts[t.accountId] : undefined),
      });
      server.on('request', provider.callback());
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
