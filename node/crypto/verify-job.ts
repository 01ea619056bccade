// The packing of a verification job between the verify pool (node/peer/verify-pool.ts) and its
// worker threads (verify-worker.ts): publicKey(32) ‖ signature(64) ‖ u32le message length ‖ message.
// One definition, so both sides always agree on where a message starts.
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from '../../src/crypto/types.js';

/** Bytes before a job's message: public key, signature and the u32le message length. */
export const JOB_HEAD = ED25519_PUBLIC_KEY_BYTES + ED25519_SIGNATURE_BYTES + 4;
