// A decided block's commit certificate, checked for catch-up: cheap facts first (shape, height,
// value id = block hash, the named proposer), then the set of the block's height, then the
// signatures against that set.
import { bytesEqual } from '../../src/encoding/bytes.js';
// Org signatures through the peer's verifier: libsodium with OpenSSL's verdicts on every input (node/crypto/sodium.ts).
import { peerVerifier as nodeVerifier } from '../crypto/peer-verifier.js';
import { decodeCertificate, verifyCommitCertificate, type CommitCertificate } from '../../src/consensus/index.js';
import { attributionOk } from '../../src/consensus/validity.js';
import { blockHash } from './block.js';
import { peekBlockHeader } from './block-rules.js';
import { failure, type PeerFailure } from './errors.js';
import type { ValidatorSets } from './validator-sets.js';

/** A verified certificate, with the block hash computed to check it (callers reuse it: no second hash). */
export type CertificateCheck = { ok: true; certificate: CommitCertificate; hash: Uint8Array } | PeerFailure;

/** Verifies `certBytes` for `blockBytes` at `height`, with the set of that height (head = our head height). */
export function verifyBlockCertificate(
  sets: Pick<ValidatorSets, 'known' | 'view'>,
  origin: string,
  head: number,
  height: number,
  blockBytes: Uint8Array,
  certBytes: Uint8Array,
): CertificateCheck {
  const d = decodeCertificate(certBytes);
  if (!d.ok) return failure('sync_bad_certificate', `${d.code}: ${d.message}`);
  const c = d.certificate;
  if (c.height !== height) return failure('sync_bad_certificate', `certificate is for height ${c.height}, block is ${height}`);
  const hash = blockHash(blockBytes);
  if (!bytesEqual(c.valueId, hash)) return failure('sync_bad_certificate', 'certificate value id is not the block hash');
  // Attribution (cheap, before the signatures): consensus only decides in round r a block that
  // names the proposer of some round r' <= r (the round that first proposed it fresh).
  const hp = peekBlockHeader(blockBytes);
  if (hp === null) return failure('sync_bad_block', 'block header does not parse');
  // The set in force at `height`: final once height − 1 is applied (catch-up applies blocks in
  // order, verifying each just before applying it), never a guess.
  if (!sets.known(height)) return failure('sync_set_unknown', `the validator set of height ${height} is not known yet (head ${head})`);
  const set = sets.view(height);
  if (!attributionOk(hp.proposer, height, c.round, c.round, set.validators.length)) {
    return failure('sync_wrong_proposer', `block names proposer ${hp.proposer}, not a proposer of height ${height} rounds 0..${c.round}`);
  }
  const r = verifyCommitCertificate(c, set.validators, origin, nodeVerifier);
  if (!r.ok) return failure('sync_bad_certificate', `${r.code}: ${r.message}`);
  return { ok: true, certificate: c, hash };
}
