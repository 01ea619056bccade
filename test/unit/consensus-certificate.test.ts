// Commit certificates: ≥ q = ⌊2n/3⌋+1 distinct valid precommit signatures for (h, r, valueId).
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { verifyCommitCertificate } from '../../src/consensus/certificate.js';
import type { CommitCertificate } from '../../src/consensus/types.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { CHAIN, id, makeNet } from './consensus-support/harness.js';

const V = utf8('value V');
const W = utf8('value W');

function certFrom(net: ReturnType<typeof makeNet>, signers: number[], valueId = id(V), h = 4, r = 2, chain = CHAIN): CommitCertificate {
  return {
    height: h,
    round: r,
    valueId: id(V),
    signatures: signers.map((i) => ({ validator: i, signature: net.vote(i, 'precommit', h, r, valueId, chain).signature })),
  };
}

describe('verifyCommitCertificate', () => {
  const net = makeNet(7); // q = 5

  it('accepts q distinct valid precommits (with node:crypto and noble)', () => {
    const c = certFrom(net, [0, 2, 3, 5, 6]);
    expect(verifyCommitCertificate(c, net.validators, CHAIN, nodeVerifier)).toEqual({ ok: true });
    expect(verifyCommitCertificate(c, net.validators, CHAIN, nobleVerifier)).toEqual({ ok: true });
    expect(verifyCommitCertificate(certFrom(net, [0, 1, 2, 3, 4, 5, 6]), net.validators, CHAIN, nodeVerifier).ok).toBe(true);
  });

  it('rejects q - 1 signatures', () => {
    expect(verifyCommitCertificate(certFrom(net, [0, 1, 2, 3]), net.validators, CHAIN, nodeVerifier)).toMatchObject({
      ok: false,
      code: 'INSUFFICIENT_SIGNATURES',
    });
  });

  it('counts a duplicated validator once', () => {
    const c = certFrom(net, [0, 1, 2, 3, 3]);
    expect(verifyCommitCertificate(c, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'INSUFFICIENT_SIGNATURES' });
  });

  it('rejects signatures over another value id, another chain, another round, or prevotes', () => {
    const wrongValue = certFrom(net, [0, 1, 2, 3, 4], id(W));
    expect(verifyCommitCertificate(wrongValue, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const wrongChain = certFrom(net, [0, 1, 2, 3, 4], id(V), 4, 2, 'other.chain/log');
    expect(verifyCommitCertificate(wrongChain, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const c = certFrom(net, [0, 1, 2, 3, 4]);
    expect(verifyCommitCertificate({ ...c, round: 3 }, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const prevotes: CommitCertificate = {
      ...c,
      signatures: [0, 1, 2, 3, 4].map((i) => ({ validator: i, signature: net.vote(i, 'prevote', 4, 2, id(V)).signature })),
    };
    expect(verifyCommitCertificate(prevotes, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('rejects unknown validators, malformed fields and oversized signature lists', () => {
    const c = certFrom(net, [0, 1, 2, 3, 4]);
    expect(verifyCommitCertificate({ ...c, signatures: [...c.signatures, { validator: 7, signature: c.signatures[0]!.signature }] }, net.validators, CHAIN, nodeVerifier)).toMatchObject({
      ok: false,
      code: 'UNKNOWN_VALIDATOR',
    });
    expect(verifyCommitCertificate({ ...c, height: -1 }, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(verifyCommitCertificate({ ...c, valueId: new Uint8Array(0) }, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(verifyCommitCertificate({ ...c, signatures: [{ validator: 0, signature: new Uint8Array(3) }] }, net.validators, CHAIN, nodeVerifier)).toMatchObject({
      ok: false,
      code: 'MALFORMED',
    });
    expect(verifyCommitCertificate(null as unknown as CommitCertificate, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'MALFORMED' });
    const flood = { ...c, signatures: new Array(15).fill(c.signatures[0]) };
    expect(verifyCommitCertificate(flood, net.validators, CHAIN, nodeVerifier)).toMatchObject({ ok: false, code: 'TOO_MANY_SIGNATURES' });
  });
});
