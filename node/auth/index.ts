// Access control for the peer's HTTP API: principals (OpenID Connect tokens, HTTP message
// signatures, peer-issued tokens), the policy, and authorization. See docs/access-control.md.
export { AccessControl, ANONYMOUS } from './access.js';
export type { AccessOptions, Decision, Resource } from './access.js';
export { parsePolicy, ACTIONS, KIND_ACTIONS, TOKEN_TTL_MAX_SECONDS, ASYMMETRIC_ALGS } from './policy.js';
export type { Action, Policy, PolicyError, PolicyResult, Role, RoleKind, Issuer, SignatureKey, ClaimRule } from './policy.js';
export type { AuthError, AuthReason } from './errors.js';
export { REALM } from './errors.js';
export type { Principal, PrincipalKind, RequestLike } from './types.js';
export { signRequest, contentDigest, verifyRequestSignature } from './httpsig.js';
export type { SignOptions, SignRequestInput } from './httpsig.js';
export { PEER_TOKEN_PREFIX } from './peer-token.js';
export type { IssuedToken } from './peer-token.js';
