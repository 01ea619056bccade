// The Ed25519 verifier a peer uses for client entry signatures: libsodium when the native module
// loads (about twice node:crypto's rate), node:crypto otherwise. Both give the same verdict on
// every input (see sodium.ts), so peers using different ones still agree on every entry.
// CAIRN_VERIFIER=node-crypto forces the fallback (benchmarks, or a platform without a prebuild).
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { loadSodiumVerifier } from './sodium.js';

export interface VerifierChoice {
  verifier: Ed25519Verifier;
  /** Why the fallback was taken; absent when libsodium is in use. */
  fallbackReason?: string;
}

/** Picks the verifier once per call; reads CAIRN_VERIFIER from `env`. */
export function chooseVerifier(env: NodeJS.ProcessEnv = process.env): VerifierChoice {
  const want = env.CAIRN_VERIFIER;
  if (want === 'node-crypto') return { verifier: nodeVerifier, fallbackReason: 'CAIRN_VERIFIER=node-crypto' };
  const s = loadSodiumVerifier();
  if (s.ok) return { verifier: s.verifier };
  return { verifier: nodeVerifier, fallbackReason: s.reason };
}

/** The choice made when this module loaded: what the peer uses and logs at start. */
export const peerVerifierChoice: VerifierChoice = chooseVerifier();
export const peerVerifier: Ed25519Verifier = peerVerifierChoice.verifier;
