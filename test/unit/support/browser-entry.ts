// Entry point bundled for the browser by test/unit/browser-bundle.test.ts: the light verifier,
// client SDK and their dependencies, plus what the test needs to build a signed log inside the
// bundle (so nothing from Node crosses into the sandbox).
export * as verifier from '../../../src/verifier/index.js';
export * as client from '../../../src/client/index.js';
export * as consensus from '../../../src/consensus/index.js';
export { MerkleLog } from '../../../src/merkle/index.js';
export { formatCheckpoint } from '../../../src/checkpoint/checkpoint.js';
export { signNote } from '../../../src/checkpoint/note.js';
export { nobleSigner } from '../../../src/crypto/noble.js';
