// Cairn client SDK (portable; fetch only). See docs/api.md for the API it speaks.
export { CairnClient, verifyReceipt, verifyEntryResponse, LONG_POLL_MS_MAX, type CairnClientOptions, type WaitOptions, type SubmitOk, type CairnCredentials, type WhoamiResponse, type AuthTokenResponse, credentialHeaders, TOKEN_CHARS_MAX } from './client.js';
export { signRequest, contentDigest, type SignOptions, type SignRequestInput } from '../auth/index.js';
export { CairnApiError, type ClientErrorCode } from './errors.js';
export * from './types.js';
export { entryLeaf, leafHashOfEntry, signEntry } from '../entry/index.js';
