// Signature schemes for the simulator, injected into the driver through the Ed25519Signer /
// Ed25519Verifier seams (src/crypto/types.ts).
//
// - "fast" (default): a deterministic keyed-hash scheme so that 10,000 seeds run in minutes:
//   sig = SHA-256(secret ‖ msg) ‖ publicKey (64 bytes, the Ed25519 signature length), where
//   publicKey = SHA-256("cairn-sim-pk" ‖ secret). The verifier knows every validator's secret
//   (it is the simulator's omniscient oracle, not a real verifier); Byzantine code only ever gets
//   a signer for its OWN key, so it cannot forge correct validators' messages — exactly the
//   assumption of the paper (§2: messages are authenticated).
// - "real": Ed25519 through node:crypto (`nodeSigner` / `nodeVerifier`), for `--real-crypto`.

import type { Ed25519Signer, Ed25519Verifier } from '../../src/crypto/types.js';
import { ED25519_SIGNATURE_BYTES } from '../../src/crypto/types.js';
import { sha256 } from '../../src/crypto/hash.js';
import { sha256 as sha256Hasher } from '@noble/hashes/sha2.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { bytesEqual, concatBytes, toHex, utf8 } from '../../src/encoding/bytes.js';
import { Prng } from './prng.js';

export interface KeyPair {
  publicKey: Uint8Array;
  signer: Ed25519Signer;
}

export interface SimCrypto {
  readonly kind: 'fast' | 'real';
  /** One key pair per validator index. */
  readonly keys: KeyPair[];
  readonly verifier: Ed25519Verifier;
}

const PK_DOMAIN = utf8('cairn-sim-pk');

/** SHA-256(secret ‖ message) without concatenating (incremental hashing). */
function keyedHash(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return sha256Hasher.create().update(secret).update(message).digest();
}

function fastKeys(secrets: Uint8Array[]): SimCrypto {
  const byPublicKey = new Map<string, Uint8Array>();
  // Cache by array identity: the driver passes validators[i].publicKey, the same object each time.
  const byObject = new WeakMap<Uint8Array, Uint8Array>();
  const keys: KeyPair[] = secrets.map((secret) => {
    const publicKey = sha256(concatBytes(PK_DOMAIN, secret));
    byPublicKey.set(toHex(publicKey), secret);
    const signer: Ed25519Signer = {
      publicKey,
      sign: (message: Uint8Array) => {
        const sig = new Uint8Array(ED25519_SIGNATURE_BYTES);
        sig.set(keyedHash(secret, message), 0);
        sig.set(publicKey, 32);
        return sig;
      },
    };
    return { publicKey, signer };
  });
  const verifier: Ed25519Verifier = {
    name: 'sim-fast-keyed-hash',
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
        return false;
      }
      if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== 32) return false;
      let secret = byObject.get(publicKey);
      if (secret === undefined) {
        secret = byPublicKey.get(toHex(publicKey));
        if (secret === undefined) return false;
        byObject.set(publicKey, secret);
      }
      if (!bytesEqual(signature.subarray(32), publicKey)) return false;
      return bytesEqual(signature.subarray(0, 32), keyedHash(secret, message));
    },
  };
  return { kind: 'fast', keys, verifier };
}

/** Keys for `n` validators derived from `seed` (so a replay uses the same keys). */
export function makeSimCrypto(seed: number, n: number, real: boolean): SimCrypto {
  const prng = Prng.derive(seed, 'keys');
  const secrets = Array.from({ length: n }, () => prng.bytes(32));
  if (!real) return fastKeys(secrets);
  const keys = secrets.map((s) => {
    const signer = nodeSigner(s);
    return { publicKey: signer.publicKey, signer };
  });
  return { kind: 'real', keys, verifier: nodeVerifier };
}
