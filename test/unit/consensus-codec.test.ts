// Wire codec and sign-bytes: round trips, one encoding per message, every malformed input
// rejected with a code (never an exception), domain separation of the signed bytes.
import { describe, expect, it } from 'vitest';
import { concatBytes, toHex, utf8 } from '../../src/encoding/bytes.js';
import {
  decodeCertificate,
  decodeMessage,
  encodeCertificate,
  encodeMessage,
  MESSAGE_BYTES_MAX,
  CERTIFICATE_SIGNATURES_MAX,
} from '../../src/consensus/codec.js';
import { ConsensusError } from '../../src/consensus/errors.js';
import { proposalSignBytes, voteSignBytes } from '../../src/consensus/sign-bytes.js';
import type { CommitCertificate, ConsensusMessage, Proposal, Vote } from '../../src/consensus/types.js';
import { id, makeNet } from './consensus-support/harness.js';
import { SeededRandom } from './support/seeded-random.js';

const net = makeNet(4);
const V = utf8('value V');
const samples: ConsensusMessage[] = [
  net.proposal(1, 1, 0, V),
  net.proposal(3, 7, 5, new Uint8Array(0), 4),
  net.proposal(2, 2 ** 53 - 1, 0, V),
  net.vote(0, 'prevote', 1, 0, id(V)),
  net.vote(1, 'prevote', 1, 2, null),
  net.vote(2, 'precommit', 9, 3, id(V)),
  net.vote(3, 'precommit', 9, 3, null),
];

function cert(): CommitCertificate {
  return {
    height: 3,
    round: 1,
    valueId: id(V),
    signatures: [0, 1, 2].map((i) => ({ validator: i, signature: net.vote(i, 'precommit', 3, 1, id(V)).signature })),
  };
}

describe('message codec', () => {
  it('round-trips every message kind', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes);
      expect(back).toEqual({ ok: true, message: m });
      // canonical: re-encoding gives the same bytes
      if (back.ok) expect(encodeMessage(back.message)).toEqual(bytes);
    }
  });

  it('decoded messages do not alias the input buffer', () => {
    const bytes = encodeMessage(samples[0]!);
    const back = decodeMessage(bytes);
    bytes.fill(0);
    expect(back.ok && (back.message as Proposal).value).toEqual(V);
  });

  it('rejects every strict prefix with TRUNCATED and any trailing byte with TRAILING_BYTES', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m);
      for (let i = 0; i < bytes.length; i++) {
        const r = decodeMessage(bytes.subarray(0, i));
        expect(r.ok, `prefix ${i}`).toBe(false);
        if (!r.ok) expect(['TRUNCATED'], `prefix ${i} of ${m.type}`).toContain(r.code);
      }
      const r = decodeMessage(concatBytes(bytes, Uint8Array.of(0)));
      expect(r).toMatchObject({ ok: false, code: 'TRAILING_BYTES' });
    }
  });

  it('rejects bad fields with specific codes', () => {
    const vote = encodeMessage(samples[3]!);
    const nilVote = encodeMessage(samples[4]!);
    const prop = encodeMessage(samples[0]!);
    const patch = (b: Uint8Array, at: number, ...vals: number[]) => {
      const c = b.slice();
      c.set(vals, at);
      return c;
    };
    const cases: [Uint8Array | unknown, string][] = [
      ['not bytes', 'NOT_BYTES'],
      [new Uint8Array(0), 'TRUNCATED'],
      [patch(vote, 0, 2), 'BAD_VERSION'],
      [patch(vote, 1, 9), 'BAD_TYPE'],
      [patch(vote, 2, 0x00, 0x20), 'BAD_HEIGHT'], // height >= 2^53
      [patch(vote, 10, 0xff, 0xff, 0xff, 0xff), 'BAD_ROUND'],
      [patch(nilVote, 16, 2), 'BAD_NIL_FLAG'],
      [patch(vote, 14, 0x04, 0x00), 'BAD_VALIDATOR'], // index 1024
      [patch(vote, 17, 0), 'BAD_VALUE_ID'],
      [patch(vote, 17, 65), 'BAD_VALUE_ID'],
      [patch(prop, 16, 0, 0, 0, 1), 'BAD_VALID_ROUND'], // vr = 0 in round 0
      [patch(prop, 20, 0x7f, 0xff, 0xff, 0xff), 'VALUE_TOO_LARGE'],
      [new Uint8Array(MESSAGE_BYTES_MAX + 1), 'TOO_LARGE'],
    ];
    for (const [input, code] of cases) {
      const r = decodeMessage(input as Uint8Array);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code, code).toBe(code);
    }
    // a smaller value limit may be configured by the caller
    const r = decodeMessage(prop, 3);
    expect(r).toMatchObject({ ok: false, code: 'VALUE_TOO_LARGE' });
  });

  it('never throws on random bytes or random mutations (fuzz)', () => {
    const rnd = new SeededRandom('codec-fuzz');
    const encoded = samples.map(encodeMessage);
    for (let i = 0; i < 3000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) b = rnd.bytes(rnd.int(120));
      else {
        b = encoded[rnd.int(encoded.length)]!.slice();
        for (let k = 0; k <= rnd.int(4); k++) b[rnd.int(b.length)] = rnd.int(256);
      }
      const r = decodeMessage(b);
      expect(typeof r.ok).toBe('boolean');
      if (r.ok) expect(encodeMessage(r.message)).toEqual(b); // anything accepted is canonical
    }
  });

  it('encodeMessage throws ConsensusError on a malformed message object', () => {
    const bad: Vote = { ...(samples[3] as Vote), round: -1 };
    expect(() => encodeMessage(bad)).toThrow(ConsensusError);
    const bad2: Proposal = { ...(samples[0] as Proposal), validRound: 0 };
    expect(() => encodeMessage(bad2)).toThrow(ConsensusError);
  });
});

describe('certificate codec', () => {
  it('round-trips and rejects malformed bytes with codes', () => {
    const c = cert();
    const bytes = encodeCertificate(c);
    expect(decodeCertificate(bytes)).toEqual({ ok: true, certificate: c });
    for (let i = 0; i < bytes.length; i++) expect(decodeCertificate(bytes.subarray(0, i))).toMatchObject({ ok: false, code: 'TRUNCATED' });
    expect(decodeCertificate(concatBytes(bytes, Uint8Array.of(1)))).toMatchObject({ ok: false, code: 'TRAILING_BYTES' });
    const v2 = bytes.slice();
    v2[0] = 7;
    expect(decodeCertificate(v2)).toMatchObject({ ok: false, code: 'BAD_VERSION' });
    const tag = bytes.slice();
    tag[1] = 1;
    expect(decodeCertificate(tag)).toMatchObject({ ok: false, code: 'BAD_TYPE' });
    const many = bytes.slice();
    const countAt = 1 + 1 + 8 + 4 + 1 + 32;
    many[countAt] = 0xff;
    many[countAt + 1] = 0xff;
    expect(decodeCertificate(many)).toMatchObject({ ok: false, code: 'TOO_MANY_SIGNATURES' });
    expect(decodeCertificate('x' as unknown as Uint8Array)).toMatchObject({ ok: false, code: 'NOT_BYTES' });
    expect(() => encodeCertificate({ ...c, signatures: new Array(CERTIFICATE_SIGNATURES_MAX + 1).fill(c.signatures[0]) })).toThrow(ConsensusError);
  });
});

describe('sign-bytes', () => {
  it('is domain separated with cairn/consensus/v1', () => {
    const b = voteSignBytes('c', 'prevote', 1, 0, null);
    expect(new TextDecoder().decode(b.subarray(0, 19))).toBe('cairn/consensus/v1\n');
  });

  it('differs whenever type, chain, height, round, value id, nil-ness or validRound differ', () => {
    const all = [
      voteSignBytes('c', 'prevote', 1, 0, null),
      voteSignBytes('c', 'precommit', 1, 0, null),
      voteSignBytes('d', 'prevote', 1, 0, null),
      voteSignBytes('c', 'prevote', 2, 0, null),
      voteSignBytes('c', 'prevote', 1, 1, null),
      voteSignBytes('c', 'prevote', 1, 0, id(V)),
      voteSignBytes('c', 'prevote', 1, 0, Uint8Array.of(0)),
      voteSignBytes('c', 'prevote', 2 ** 32, 0, null), // high 32 bits of the height count
      proposalSignBytes('c', 1, 1, id(V), -1),
      proposalSignBytes('c', 1, 1, id(V), 0),
      proposalSignBytes('c', 1, 1, Uint8Array.of(0), -1),
      voteSignBytes('c', 'prevote', 1, 1, id(V)),
    ].map(toHex);
    expect(new Set(all).size).toBe(all.length);
  });

  it('throws ConsensusError with a code on invalid arguments', () => {
    const bad: [() => unknown, string][] = [
      [() => voteSignBytes('', 'prevote', 1, 0, null), 'BAD_CHAIN_ID'],
      [() => voteSignBytes('x'.repeat(256), 'prevote', 1, 0, null), 'BAD_CHAIN_ID'],
      [() => voteSignBytes('c', 'prevote', -1, 0, null), 'BAD_HEIGHT'],
      [() => voteSignBytes('c', 'prevote', 1, 0.5, null), 'BAD_ROUND'],
      [() => voteSignBytes('c', 'prevote', 1, 0, new Uint8Array(65)), 'BAD_VALUE_ID'],
      [() => voteSignBytes('c', 'proposal' as 'prevote', 1, 0, null), 'BAD_TYPE'],
      [() => proposalSignBytes('c', 1, 1, id(V), 1), 'BAD_VALID_ROUND'],
      [() => proposalSignBytes('c', 1, 1, id(V), -2), 'BAD_VALID_ROUND'],
    ];
    for (const [f, code] of bad) {
      expect(f).toThrow(ConsensusError);
      try {
        f();
      } catch (e) {
        expect((e as ConsensusError).code).toBe(code);
      }
    }
  });
});
