// Portable request authentication for clients (Node and browsers): RFC 9421 request signing.
export { signRequest, contentDigest, randomNonce, SignRequestError } from './sign.js';
export type { SignRequestInput, SignOptions } from './sign.js';
