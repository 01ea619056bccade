// Checkpoint verification throughput: a checkpoint note with 4 organization signatures, q = 3,
// verified end to end (parse note, parse body, verify every known signature, count the quorum).
// Each measurement is time-bounded (~0.6 s) so the section stays under ~2 s.
import { formatCheckpoint, quorumSize, verifyCheckpointQuorum, type QuorumTrust } from '../src/checkpoint/checkpoint.js';
import { signNote, verifierKey, type NoteSigner } from '../src/checkpoint/note.js';
import { nobleSigner, nobleVerifier } from '../src/crypto/noble.js';
import { nodeVerifier } from '../src/crypto/node.js';
import type { Ed25519Verifier } from '../src/crypto/types.js';
import { loadSodiumVerifier } from '../node/crypto/sodium.js';
import { measure, type Rate } from './core-rate.js';

const MEASURE_MS = 600;

function rate(verifier: Ed25519Verifier, note: string, trust: QuorumTrust): Promise<Rate> {
  // Warm-up (JIT, node:crypto KeyObject cache) is measure's; every call must verify.
  return measure(MEASURE_MS, 1, 1, () => {
    if (!verifyCheckpointQuorum(note, trust, verifier).ok) throw new Error('bench checkpoint does not verify');
  });
}

export async function benchCheckpoint(): Promise<Record<string, Rate>> {
  const orgs: NoteSigner[] = [1, 2, 3, 4].map((i) => ({ name: `org${i}.bench.example`, signer: nobleSigner(new Uint8Array(32).fill(i)) }));
  const trust: QuorumTrust = { origin: 'bench.example/log', keys: orgs.map((o) => verifierKey(o.name, o.signer.publicKey)), quorum: quorumSize(4) };
  const body = formatCheckpoint({ origin: trust.origin, size: 123_456_789, root: new Uint8Array(32).fill(7) });
  const note = signNote(body, orgs);
  const sodium = loadSodiumVerifier();
  return {
    'checkpoint verify (4 sigs, q=3), noble': await rate(nobleVerifier, note, trust),
    'checkpoint verify (4 sigs, q=3), node:crypto': await rate(nodeVerifier, note, trust),
    ...(sodium.ok ? { 'checkpoint verify (4 sigs, q=3), libsodium': await rate(sodium.verifier, note, trust) } : {}),
  };
}
