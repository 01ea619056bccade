// One parser for trust files: a version 1 file gets the same verdict (code and message) from
// parseTrustFile and parseTrustChainFile, and every set of a version 2 file (root and epochs) is
// held to the same set rules, so the two readers cannot drift apart.
import { describe, expect, it } from 'vitest';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { parseTrustChainFile, parseTrustFile, TRUST_CHAIN_VERSION, TRUST_FILE_BYTES_MAX } from '../../src/verifier/index.js';

const keys = [1, 2, 3, 4, 5].map((i) => formatVerifierKey(`org${i}.example`, publicKeyFromSeed(new Uint8Array(32).fill(i))));
const base = { origin: 'cairn.example/chain-file', quorum: 3, keys: keys.slice(0, 4) };
const REC = 'ab'.repeat(32);

/** Version 1 files, good and bad, one per rule of the set check and of the file prologue. */
const V1: [string, string | Uint8Array][] = [
  ['valid', JSON.stringify(base)],
  ['not JSON', '{origin:'],
  ['array', '[]'],
  ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
  ['unknown field', JSON.stringify({ ...base, quroum: 3 })],
  ['bad origin', JSON.stringify({ ...base, origin: 'a\nb' })],
  ['no keys', JSON.stringify({ ...base, keys: [] })],
  ['bad key', JSON.stringify({ ...base, keys: [...keys.slice(0, 3), 'nope'] })],
  ['duplicate key', JSON.stringify({ ...base, keys: [...keys.slice(0, 3), keys[0]] })],
  ['quorum too low', JSON.stringify({ ...base, quorum: 2 })],
  ['quorum too high', JSON.stringify({ ...base, quorum: 5 })],
  ['string quorum', JSON.stringify({ ...base, quorum: '3' })],
  ['larger than a version 1 file may be', JSON.stringify(base) + ' '.repeat(TRUST_FILE_BYTES_MAX)],
  ['the same, as bytes', utf8(JSON.stringify(base) + ' '.repeat(TRUST_FILE_BYTES_MAX))],
];

describe('trust files: one parser', () => {
  it.each(V1)('version 1, %s: parseTrustChainFile gives parseTrustFile verdict', (_name, input) => {
    const one = parseTrustFile(input);
    const chain = parseTrustChainFile(input);
    if (one.ok) {
      expect(chain.ok && chain.chain).toEqual({ origin: one.trust.origin, epochs: [{ afterSize: -1, keys: one.trust.keys, quorum: one.trust.quorum }] });
    } else {
      expect(chain).toMatchObject({ ok: false, code: one.code, message: one.message });
    }
  });

  it('version 2: the root and every epoch are held to the version 1 set rules', () => {
    const v2 = (root: object, epoch: object) => JSON.stringify({ version: TRUST_CHAIN_VERSION, ...base, ...root, epochs: [{ afterSize: 10, quorum: 4, keys: keys.slice(0, 5), record: REC, ...epoch }] });
    const good = parseTrustChainFile(v2({}, {}));
    expect(good.ok && good.chain.epochs.map((e) => [e.afterSize, e.quorum, e.keys.length])).toEqual([
      [-1, 3, 4],
      [10, 4, 5],
    ]);
    for (const [name, bad] of V1.slice(5, 12)) {
      const fields = JSON.parse(bad as string) as Record<string, unknown>;
      const one = parseTrustFile(bad);
      if (one.ok) throw new Error(`${name} should be refused`);
      // As the root: the same code and message.
      expect(parseTrustChainFile(v2(fields, {})), `root: ${name}`).toMatchObject({ ok: false, code: one.code, message: one.message });
      // As an epoch (origin comes from the root): the same code, the message prefixed with the epoch.
      if (name === 'bad origin') continue;
      const { origin: _o, ...set } = fields;
      expect(parseTrustChainFile(v2({}, set)), `epoch: ${name}`).toMatchObject({ ok: false, code: one.code, message: `epochs[0]: ${one.message}` });
    }
    expect(parseTrustChainFile(v2({}, { quroum: 4 }))).toMatchObject({ ok: false, code: 'trust_unknown_field', message: 'epochs[0]: unknown field "quroum"' });
    // A version 2 file may be larger than a version 1 file.
    expect(parseTrustChainFile(v2({}, {}) + ' '.repeat(TRUST_FILE_BYTES_MAX)).ok).toBe(true);
  });
});
