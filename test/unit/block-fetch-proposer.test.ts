// Rebuilding a compact proposal asks the proposer for the missing entries first: it built the
// block, so it holds them, while the other connected peers may be slow or lack them. The block
// header's proposer index is mapped to its libp2p peer id through the validator set.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BLOCK_CAPS, encodeBlock, entriesHashOf, type Block } from '../../node/peer/block.js';
import { BlockAssembly } from '../../node/peer/block-assembly.js';
import { encodeCompact } from '../../node/peer/block-compact.js';
import { ENTRY_FETCH_PROTOCOL, serveFetch } from '../../node/peer/block-fetch.js';
import { fastLeafHash } from '../../node/peer/entries.js';
import { fastSha256 } from '../../node/peer/runner/envelope.js';
import { toHex } from '../../src/encoding/bytes.js';

const PROPOSER_INDEX = 2;
const peerIds = ['peer-a', 'peer-b', 'peer-proposer', 'peer-d'];

function proposal(count: number): { bytes: Uint8Array; compact: Uint8Array; held: Map<string, Uint8Array> } {
  const entries = Array.from({ length: count }, () => new Uint8Array(randomBytes(200)));
  const hashes = entries.map(fastLeafHash);
  const block: Block = {
    header: { height: 5, prevHash: new Uint8Array(32).fill(1), proposer: PROPOSER_INDEX, timeMs: 1_700_000_000_000, treeSize: 100 + count, root: new Uint8Array(32).fill(3), entriesHash: entriesHashOf(hashes) },
    entries,
  };
  return { bytes: encodeBlock(block), compact: encodeCompact(block, hashes), held: new Map(entries.map((e, i) => [toHex(hashes[i]!), e])) };
}

type Source = 'slow' | Map<string, Uint8Array>;

/** A network whose connected peers are `sources`, in that order; a slow one answers only at the request's timeout. */
function network(sources: Record<string, Source>, asked: string[]) {
  return {
    handle: async () => {},
    connectedPeers: () => Object.keys(sources),
    request: async (peer: string, protocol: string, req: Uint8Array, o: { timeoutMs: number }) => {
      expect(protocol).toBe(ENTRY_FETCH_PROTOCOL);
      asked.push(peer);
      const s = sources[peer]!;
      if (s === 'slow') return new Promise<Uint8Array>((_, reject) => setTimeout(() => reject(new Error('timeout')), o.timeoutMs));
      const r = serveFetch(req, (h) => s.get(h));
      if (!r.ok) throw new Error(r.message);
      return r.response;
    },
  };
}

const assembly = () => new BlockAssembly({ leafOf: () => undefined, leafHash: fastLeafHash, valueId: fastSha256, limitsAt: () => BLOCK_CAPS });

describe('compact proposal fetch: the proposer first', () => {
  it('the first request goes to the proposer, which completes the fetch alone', async () => {
    const p = proposal(40);
    const asked: string[] = [];
    const asm = assembly();
    await asm.serve(network({ 'peer-a': 'slow', 'peer-b': new Map(), 'peer-proposer': p.held }, asked), (height, index) => (height === 5 ? peerIds[index] : undefined));
    const started = Date.now();
    const r = await asm.expand(p.compact, Date.now() + 1_500);
    expect(r.ok && toHex(r.value)).toBe(toHex(p.bytes));
    expect(asked).toEqual(['peer-proposer']);
    expect(asm.stats.rebuiltFetched).toBe(1);
    // Not held up by the slow peer.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('the others are still asked for what the proposer lacks; a proposer not connected is not dialled', async () => {
    const p = proposal(10);
    const asked: string[] = [];
    const asm = assembly();
    await asm.serve(network({ 'peer-a': new Map(), 'peer-proposer': new Map([...p.held].slice(0, 6)), 'peer-b': p.held }, asked), (_h, index) => peerIds[index]);
    expect((await asm.expand(p.compact, Date.now() + 1_500)).ok).toBe(true);
    expect(asked).toEqual(['peer-proposer', 'peer-a', 'peer-b']);

    const asked2: string[] = [];
    const asm2 = assembly();
    await asm2.serve(network({ 'peer-a': new Map(), 'peer-b': p.held }, asked2), () => 'peer-elsewhere');
    expect((await asm2.expand(p.compact, Date.now() + 1_500)).ok).toBe(true);
    expect(asked2).toEqual(['peer-a', 'peer-b']);
  });
});
