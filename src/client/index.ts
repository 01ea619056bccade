// Cairn client SDK (portable; fetch only). See docs/api.md for the API it speaks.
export { CairnClient, verifyReceipt, verifyEntryResponse, LONG_POLL_MS_MAX, type CairnClientOptions, type WaitOptions, type SubmitOk } from './client.js';
export { CairnApiError, type ClientErrorCode } from './errors.js';
export * from './types.js';
export { entryLeaf, leafHashOfEntry, signEntry } from '../entry/index.js';
