// The body of a verification worker thread (node/peer/verify-pool.ts). It uses the same verifier
// the peer would use in-thread (peer-verifier.ts: libsodium with OpenSSL's verdicts, or node:crypto),
// so a verdict never depends on which thread computed it.
//
// One message carries a batch (per-message overhead is a large share of one ~50 µs verification):
// { id, buf, n } where buf packs n jobs as verify-job.ts describes;
// the reply { id, verdicts } has one byte per job (1 = valid).
import { parentPort } from 'node:worker_threads';
import { peerVerifier } from './peer-verifier.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from '../../src/crypto/types.js';
import { JOB_HEAD } from './verify-job.js';

export interface VerifyRequest {
  id: number;
  buf: ArrayBuffer;
  n: number;
}

export interface VerifyReply {
  id: number;
  verdicts: Uint8Array;
  verifier: string;
}

/** Verifies a packed batch; a malformed packing yields false for the jobs it cuts short. */
export function verifyPacked(buf: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (at + JOB_HEAD > buf.length) break;
    const pk = buf.subarray(at, at + ED25519_PUBLIC_KEY_BYTES);
    const sig = buf.subarray(at + ED25519_PUBLIC_KEY_BYTES, at + ED25519_PUBLIC_KEY_BYTES + ED25519_SIGNATURE_BYTES);
    const len = view.getUint32(at + JOB_HEAD - 4, true);
    at += JOB_HEAD;
    if (at + len > buf.length) break;
    out[i] = peerVerifier.verify(pk, buf.subarray(at, at + len), sig) ? 1 : 0;
    at += len;
  }
  return out;
}

if (parentPort !== null) {
  const port = parentPort;
  port.on('message', (m: VerifyRequest) => {
    const verdicts = verifyPacked(new Uint8Array(m.buf), m.n);
    const reply: VerifyReply = { id: m.id, verdicts, verifier: peerVerifier.name };
    port.postMessage(reply, [verdicts.buffer as ArrayBuffer]);
  });
}
