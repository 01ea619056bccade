// Binary records of the peer: round trips and malformed input (decoders never throw).
import { describe, expect, it } from 'vitest';
import {
  decodeBlocksRequest, decodeBlocksResponse, decodeEntryBatch, decodeEvidence, decodeSignerState, decodeStatus,
  encodeBlocksRequest, encodeBlocksResponse, encodeEntryBatch, encodeEvidence, encodeSignerState, encodeStatus,
} from '../../node/peer/codec.js';
import { decodeCheckpointSig, encodeCheckpointSig } from '../../node/peer/ledger.js';
import { encodeEnvelope, openEnvelope } from '../../node/peer/consensus-runner.js';
import { encodeMessage, voteSignBytes, type SignerState, type Vote } from '../../src/consensus/index.js';
import { signText } from '../../src/checkpoint/note.js';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { sha256 } from '../../src/crypto/hash.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';

const signer = nodeSigner(sha256(utf8('codec')));
function vote(valueId: Uint8Array | null): Vote {
  return { type: 'prevote', height: 5, round: 2, valueId, validator: 1, signature: signer.sign(voteSignBytes('o', 'prevote', 5, 2, valueId)) };
}

function mutations(b: Uint8Array, f: (x: Uint8Array) => unknown): void {
  for (let i = 0; i < Math.min(b.length, 300); i++) {
    const m = b.slice();
    m[i] = m[i]! ^ 0xff;
    expect(() => f(m)).not.toThrow();
    expect(() => f(b.subarray(0, i))).not.toThrow();
  }
}

describe('peer codecs', () => {
  it('signer state round-trips (with and without last signed message) and rejects junk', () => {
    const v = vote(sha256(utf8('v')));
    const states: SignerState[] = [
      { version: 1, height: 0, round: 0, step: 'propose', lockedValue: null, lockedRound: -1, validValue: null, validRound: -1, lastSigned: null },
      { version: 1, height: 5, round: 2, step: 'prevote', lockedValue: utf8('L'), lockedRound: 1, validValue: utf8('V'), validRound: 2, lastSigned: { height: 5, round: 2, step: 'prevote', valueId: v.valueId, message: v } },
    ];
    for (const s of states) {
      const d = decodeSignerState(encodeSignerState(s));
      expect(d.ok).toBe(true);
      if (d.ok) expect(encodeSignerState(d.state)).toEqual(encodeSignerState(s));
    }
    expect(decodeSignerState(new Uint8Array([2])).ok).toBe(false);
    mutations(encodeSignerState(states[1]!), decodeSignerState);
  });

  it('evidence, catch-up, status and entry batch messages round-trip; malformed ones fail with codes', () => {
    const a = vote(null);
    const b = vote(sha256(utf8('x')));
    const ev = decodeEvidence(encodeEvidence({ height: 5, round: 2, type: 'prevote', validator: 1, first: a, second: b }));
    expect(ev.ok && toHex(encodeMessage(ev.second))).toBe(toHex(encodeMessage(b)));
    expect(decodeBlocksRequest(encodeBlocksRequest(7, 64))).toEqual({ ok: true, fromHeight: 7, maxCount: 64 });
    expect(decodeBlocksRequest(encodeBlocksRequest(0, 1)).ok).toBe(false);
    const resp = encodeBlocksResponse(9, [{ block: utf8('blk'), certificate: utf8('cert') }]);
    const dr = decodeBlocksResponse(resp, 10);
    expect(dr.ok && dr.peerHeight).toBe(9);
    expect(dr.ok && dr.blocks.length).toBe(1);
    expect((decodeBlocksResponse(resp, 0) as any).code).toBe('sync_bad_response');
    expect(decodeStatus(encodeStatus({ height: 1, treeSize: 2, finalSize: 3 }))).toEqual({ ok: true, height: 1, treeSize: 2, finalSize: 3 });
    const batch = encodeEntryBatch([utf8('a'), utf8('bb')]);
    expect(decodeEntryBatch(batch, 10)).toEqual({ ok: true, leaves: [utf8('a'), utf8('bb')] });
    expect((decodeEntryBatch(batch, 1) as any).code).toBe('batch_malformed');
    for (const [enc, dec] of [
      [encodeEvidence({ height: 5, round: 2, type: 'prevote', validator: 1, first: a, second: b }), decodeEvidence],
      [resp, (x: Uint8Array) => decodeBlocksResponse(x, 10)],
      [batch, (x: Uint8Array) => decodeEntryBatch(x, 10)],
      [encodeStatus({ height: 1, treeSize: 2, finalSize: 3 }), decodeStatus],
    ] as const) mutations(enc, dec as (x: Uint8Array) => unknown);
  });

  it('checkpoint signature messages and consensus envelopes', () => {
    const text = formatCheckpoint({ origin: 'cairn.example/x', size: 3, root: sha256(utf8('r')) });
    const sig = signText(text, { name: 'org0', signer });
    const m = encodeCheckpointSig(3, sig, 1234);
    const d = decodeCheckpointSig(m);
    expect(d.ok && d.size).toBe(3);
    expect(d.ok && toHex(d.sig.signature)).toBe(toHex(sig.signature));
    expect((decodeCheckpointSig(new Uint8Array(2000)) as any).code).toBe('sig_too_large');
    mutations(m, decodeCheckpointSig);
    const env = encodeEnvelope(utf8('hello'), 42);
    expect(openEnvelope(env)).toEqual(utf8('hello'));
    expect(openEnvelope(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toBeNull();
    expect(openEnvelope(new Uint8Array(3))).toBeNull();
  });
});
