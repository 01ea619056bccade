// OpenID Connect login: authorization code flow with PKCE (RFC 7636) against the organization's
// identity provider, with oauth4webapi (a maintained, certified browser OAuth library). The page is
// a public client (no secret). The PKCE verifier, state and nonce wait in sessionStorage across the
// redirect (this tab only) and are deleted when the provider answers; the access token is kept in
// memory only, like a key file's seed, and every API request carries it as a bearer token that
// the peer verifies against the issuer's keys.
import * as oauth from 'oauth4webapi';
import type { UiConfig } from './config.js';

type OidcConfig = NonNullable<UiConfig['oidc']>;
const PENDING_KEY = 'cairn-oidc-pending';

export interface OidcLogin {
  accessToken: string;
  /** Claims of the validated ID token (who the provider says you are). */
  claims: oauth.IDToken;
}

function redirectUri(): string {
  return `${location.origin}${location.pathname}`;
}

/** Plain http only for a provider on this machine (tests, the devnet). */
function insecureOk(issuer: URL): boolean {
  return issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
}

async function discover(cfg: OidcConfig): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(cfg.issuer);
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: insecureOk(issuer) });
  return oauth.processDiscoveryResponse(issuer, res);
}

/** Sends the browser to the provider's login page; `hash` is the view to come back to. */
export async function startOidcLogin(cfg: OidcConfig, hash: string): Promise<never> {
  const as = await discover(cfg);
  if (as.authorization_endpoint === undefined) throw new Error('the provider publishes no authorization endpoint');
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', cfg.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', cfg.scope);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  if (cfg.resource !== null) url.searchParams.set('resource', cfg.resource);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, hash, issuer: cfg.issuer }));
  location.assign(url.href);
  return new Promise<never>(() => undefined);
}

/** True when this load is the provider's redirect back (a code or an error in the query). */
export function isOidcCallback(): boolean {
  const q = new URLSearchParams(location.search);
  return sessionStorage.getItem(PENDING_KEY) !== null && (q.has('code') || q.has('error')) && q.has('state');
}

/** Exchanges the code for tokens; restores the view the login started from. */
export async function finishOidcLogin(cfg: OidcConfig): Promise<OidcLogin> {
  const pendingText = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY); // one attempt per code: never reused
  const current = new URL(location.href);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', `${current.pathname}${pendingText !== null ? (JSON.parse(pendingText) as { hash: string }).hash : ''}`);
  if (pendingText === null) throw new Error('no login in progress in this tab');
  const pending = JSON.parse(pendingText) as { verifier: string; state: string; nonce: string; issuer: string };
  if (pending.issuer !== cfg.issuer) throw new Error('the identity provider changed during the login');
  const as = await discover(cfg);
  const client: oauth.Client = { client_id: cfg.clientId };
  const params = oauth.validateAuthResponse(as, client, current, pending.state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), pending.verifier, {
    ...(cfg.resource !== null ? { additionalParameters: { resource: cfg.resource } } : {}),
    [oauth.allowInsecureRequests]: insecureOk(new URL(cfg.issuer)),
  });
  const result = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: pending.nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(result);
  if (claims === undefined) throw new Error('the provider returned no ID token');
  return { accessToken: result.access_token, claims };
}
