// Merkle log throughput on the pure core: appends (leaf hash + compact range, and the in-memory
// tiled log), proof generation from tiles, and RFC 9162 proof verification. Each measurement is
// time-bounded (~0.25 s) so the whole section stays under ~2 s.
import {
  EMPTY_RANGE,
  MerkleLog,
  appendLeafHashes,
  inclusionProof,
  leafHash,
  verifyConsistency,
  verifyInclusion,
  rootFromInclusionProof,
  type CompactRange,
} from '../src/merkle/index.js';
import { measure, type Rate } from './core-rate.js';
import { setSha256Into } from '../src/merkle/index.js';
import { installFastProofHash } from '../node/crypto/sha256-into.js';
import { SHA256_IMPLEMENTATION, sha256, sha256Noble } from '../src/crypto/hash.js';

const MEASURE_MS = 250;
/** Light-verifier goal: inclusion proofs per second (1,000,000-leaf tree) in Node. */
const VERIFY_GOAL = 50_000;
/** The proof benchmarks' log: 70,000 leaves span three tile levels (the tlog-tiles example size). */
const LOG_SIZE = 70_000;

/** Runs `step` (doing `perStep` operations) repeatedly for MEASURE_MS. */
function rate(perStep: number, step: (i: number) => unknown): Promise<Rate> {
  return measure(MEASURE_MS, 1, perStep, step);
}

export async function benchMerkle(): Promise<Record<string, Rate>> {
  const entry = (i: number): Uint8Array => new TextEncoder().encode(`bench entry ${i} `.padEnd(256, '.'));
  const BATCH = 1000;

  // Append: 256-byte entries, leaf-hashed and appended to the compact range, in batches of 1,000.
  let state: CompactRange = EMPTY_RANGE;
  const appendRate = await rate(BATCH, (i) => {
    const hashes: Uint8Array[] = [];
    for (let j = 0; j < BATCH; j++) hashes.push(leafHash(entry(i * BATCH + j)));
    state = appendLeafHashes(state, hashes).state;
  });

  // Append into the tiled in-memory log (compact range + tile writes).
  const log = new MerkleLog();
  const tiledRate = await rate(BATCH, async (i) => {
    const hashes: Uint8Array[] = [];
    for (let j = 0; j < BATCH; j++) hashes.push(leafHash(entry(i * BATCH + j)));
    await log.appendLeafHashes(hashes);
  });

  // A fixed log for proofs; its leaf hashes are derived cheaply (the proofs do not care).
  const fixed = new MerkleLog();
  const leaves: Uint8Array[] = [];
  const seed = leafHash(entry(0));
  for (let i = 0; i < LOG_SIZE; i++) {
    const h = seed.slice();
    new DataView(h.buffer).setUint32(0, i);
    leaves.push(h);
  }
  await fixed.appendLeafHashes(leaves);
  const root = fixed.root();
  const proofs: { index: number; proof: Uint8Array[] }[] = [];
  for (let k = 0; k < 64; k++) {
    const index = (k * 7919) % LOG_SIZE;
    proofs.push({ index, proof: await inclusionProof(fixed.tiles, index, LOG_SIZE) });
  }
  const genRate = await rate(1, (i) => inclusionProof(fixed.tiles, (i * 104_729) % LOG_SIZE, LOG_SIZE));
  // 64 proofs per timed step: a clock read per proof would be a sizeable share of one check.
  const verifyRate = await rate(proofs.length, () => {
    for (const p of proofs) if (!verifyInclusion(leaves[p.index]!, p.index, LOG_SIZE, p.proof, root)) throw new Error('bench proof does not verify');
  });
  // A million-leaf tree (20 hashes per proof) without building it: random proofs, each verified
  // against the root it implies — the same hashing work as a real proof of that size.
  const BIG = 1_000_000;
  const bigProofs: { index: number; leaf: Uint8Array; proof: Uint8Array[]; root: Uint8Array }[] = [];
  for (let k = 0; k < 64; k++) {
    const index = (k * 15_485_863) % BIG;
    const leaf = leafHash(entry(k));
    const proof = Array.from({ length: 20 }, (_, j) => leafHash(entry(BIG + k * 20 + j)));
    const r = rootFromInclusionProof(leaf, index, BIG, proof);
    if (!r.ok) throw new Error(`bench proof shape: ${r.message}`);
    bigProofs.push({ index, leaf, proof, root: r.root });
  }
  const verifyBig = (): void => {
    for (const p of bigProofs) if (!verifyInclusion(p.leaf, p.index, BIG, p.proof, p.root)) throw new Error('bench proof does not verify');
  };
  // Median of 5 short runs each: portable core digest, then the Node-only libsodium digest.
  const median = async (): Promise<Rate> => {
    const runs: Rate[] = [];
    for (let k = 0; k < 5; k++) runs.push(await measure(MEASURE_MS / 2, 1, 64, verifyBig));
    const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[2]!;
    return { wall: mid(runs.map((r) => r.wall)), cpu: mid(runs.map((r) => r.cpu)) };
  };
  setSha256Into(null);
  const verifyBigRate = await median();
  const fastName = installFastProofHash();
  const verifyBigFast = await median();
  const pass = verifyBigFast.cpu >= VERIFY_GOAL ? 'PASS' : 'FAIL';
  console.log(`goal: inclusion proof verify (size 1,000,000) >= ${VERIFY_GOAL.toLocaleString('en-US')}/s per CPU s with ${fastName}: ${pass} (${Math.round(verifyBigFast.cpu).toLocaleString('en-US')}/CPU s, ${Math.round(verifyBigFast.wall).toLocaleString('en-US')}/wall s, medians of 5)`);
  const node65 = new Uint8Array(65).fill(1);
  const shaFast = await rate(1000, () => {
    for (let j = 0; j < 1000; j++) sha256(node65);
  });
  const shaNoble = await rate(1000, () => {
    for (let j = 0; j < 1000; j++) sha256Noble(node65);
  });
  const size1 = 44_444;
  const cproof = await fixed.consistencyProof(size1, LOG_SIZE);
  const root1 = await fixed.rootAt(size1);
  const consistencyRate = await rate(1, () => {
    if (!verifyConsistency(size1, LOG_SIZE, cproof, root1, root)) throw new Error('bench consistency proof does not verify');
  });

  return {
    'merkle append (256 B entries, compact range)': appendRate,
    'merkle append (256 B entries, tiled memory log)': tiledRate,
    'merkle inclusion proof generate (size 70,000, tiles)': genRate,
    'merkle inclusion proof verify (size 70,000)': verifyRate,
    'merkle inclusion proof verify (size 1,000,000), core sha256': verifyBigRate,
    [`merkle inclusion proof verify (size 1,000,000), ${fastName}`]: verifyBigFast,
    [`sha256 65 B (Merkle node), core path = ${SHA256_IMPLEMENTATION}`]: shaFast,
    'sha256 65 B (Merkle node), noble': shaNoble,
    'merkle consistency proof verify (size 70,000)': consistencyRate,
  };
}
