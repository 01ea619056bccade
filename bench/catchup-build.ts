// The source log of the catch-up benchmark, built fast but as the peers would hold it: entries
// signed by the bench's genesis clients (the test fixtures' makeEntries), blocks encoded by the
// peer's block codec, commit certificates carrying precommit signatures of organizations 0-2
// (q = 3 of 4) over the consensus sign-bytes, each certificate checked by the ledger's own
// verifyCertificate and each block applied by the peer's own catch-up path
// (ConsensusRunner.applySyncedWith -> Ledger.apply -> Store.applyBlock) in a real peer started
// in this process on organization 0's data directory, and a final checkpoint of the head signed
// by the three. Consensus never runs: nobody else is up.
import { join } from 'node:path';
import { fromHex, toHex, utf8 } from '../src/encoding/bytes.js';
import { formatCheckpoint } from '../src/checkpoint/checkpoint.js';
import { signNote } from '../src/checkpoint/note.js';
import { nodeSigner } from '../src/crypto/node.js';
import { publicKeyFromSeed } from '../src/crypto/noble.js';
import { entryLeaf } from '../src/entry/index.js';
import { encodeCertificate, proposer, voteSignBytes } from '../src/consensus/index.js';
import { EMPTY_RANGE, appendLeafHashes, rootOf } from '../src/merkle/index.js';
import { blockHash, encodeBlock, entriesHashOf } from '../node/peer/block.js';
import { fastLeafHash } from '../node/peer/entries.js';
import { loadP2PKey, loadSigningKey } from '../node/peer/config.js';
import { startPeer } from '../node/peer/peer.js';
import { makeEntries } from '../test/peer-support/cluster.js';
import type { ClientFixture } from '../test/peer-support/fixtures.js';
import type { BenchNetworkSpec } from './network.js';

/** Organizations whose peers hold the log and sign its certificates (the 4th one catches up). */
const SOURCES = [0, 1, 2];

export async function buildCatchupLog(
  net: BenchNetworkSpec,
  count: number,
  blockEntries: number,
  log: (m: string) => void,
): Promise<{ entries: number; heights: number; leafBytes: number; signMs: number; buildMs: number }> {
  const g = net.genesis;
  const n = g.validators.length;
  const keys = await Promise.all(net.peers.map((p) => loadSigningKey(join(p.dir, 'signing.key'))));
  const indexOf = (seed: Uint8Array) => g.validators.findIndex((v) => toHex(v.publicKey) === toHex(publicKeyFromSeed(seed)));
  const signers = SOURCES.map((i) => ({ validator: indexOf(keys[i]!.seed), signer: nodeSigner(keys[i]!.seed) }));
  const clients: ClientFixture[] = net.clients.map((c) => {
    const seed = fromHex(c.seedHex)!;
    return { name: c.name, seed, signer: nodeSigner(seed), publicKeyHex: c.publicKeyHex };
  });

  const t0 = performance.now();
  const leaves = makeEntries(clients, count, 'catchup').map((e) => entryLeaf(e));
  const signMs = performance.now() - t0;

  const p2p = await loadP2PKey(join(net.peers[0]!.dir, 'p2p.key'));
  const peer = await startPeer({ genesis: g, signingSeed: keys[0]!.seed, p2pKey: p2p.privateKey, dataDir: net.peers[0]!.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] });
  const t1 = performance.now();
  try {
    const { ledger, runner } = peer.internals;
    const sourceSet = new Set(signers.map((s) => s.validator));
    let range = EMPTY_RANGE;
    let height = 0;
    const time0 = Date.now() - Math.ceil(count / blockEntries) - 1_000;
    for (let from = 0; from < count; from += blockEntries) {
      height++;
      const part = leaves.slice(from, from + blockEntries);
      const hashes = part.map(fastLeafHash);
      const appended = appendLeafHashes(range, hashes);
      // The 4th organization is down while this log is decided: where it would propose at round
      // 0, the next round's proposer does (the certificate is of that round).
      let round = 0;
      while (!sourceSet.has(proposer(height, round, n))) round++;
      const block = encodeBlock({
        header: {
          height,
          prevHash: ledger.getHead().blockHash,
          proposer: proposer(height, round, n),
          timeMs: time0 + height,
          treeSize: appended.state.size,
          root: rootOf(appended.state),
          entriesHash: entriesHashOf(hashes),
        },
        entries: part,
      });
      const valueId = blockHash(block);
      const signBytes = voteSignBytes(g.origin, 'precommit', height, round, valueId);
      const cert = encodeCertificate({ height, round, valueId, signatures: signers.map((s) => ({ validator: s.validator, signature: s.signer.sign(signBytes) })) });
      const v = ledger.verifyCertificate(height, block, cert);
      if (!v.ok) throw new Error(`built certificate of height ${height} does not verify: ${v.code}: ${v.message}`);
      if ((await runner.applySyncedWith(height, () => ledger.apply(block, cert, { sign: false, mode: 'sync' }))) === null) throw new Error(`built block ${height} did not apply`);
      range = appended.state;
      if (height % 200 === 0) log(`  applied ${height} heights, ${from + part.length} entries`);
    }
    // The head's final checkpoint, signed by the three organizations as their peers would have
    // (checked and stored by the ledger's own adoption path): the sources start final.
    const text = formatCheckpoint({ origin: g.origin, size: range.size, root: rootOf(range) });
    const note = signNote(text, SOURCES.map((i) => ({ name: keys[i]!.name ?? net.peers[i]!.name, signer: nodeSigner(keys[i]!.seed) })));
    const adopted = await ledger.adoptFinalCheckpoint(utf8(note));
    if (!adopted.ok) throw new Error(`built final checkpoint not adopted: ${adopted.code}: ${adopted.message}`);
    return { entries: count, heights: height, leafBytes: leaves[0]!.length, signMs, buildMs: performance.now() - t1 };
  } finally {
    await peer.stop();
  }
}
