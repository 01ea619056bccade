// Organizations, clients and signed governance records for the governance and verifier tests.
import { verifierKey, type VerifierKey } from '../../../src/checkpoint/keys.js';
import { nodeSigner, nodeVerifier } from '../../../src/crypto/node.js';
import type { Ed25519Signer } from '../../../src/crypto/types.js';
import { sha256 } from '../../../src/crypto/hash.js';
import { toHex, utf8 } from '../../../src/encoding/bytes.js';
import {
  parseGovRecord,
  signGovRecord,
  unsignedGovRecord,
  type GovGenesis,
  type GovParams,
  type GovRecord,
  type GovSigner,
  type ParsedGovRecord,
} from '../../../src/governance/index.js';

export const OPTS = { verifier: nodeVerifier };
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A syntactically valid libp2p peer id string (the pure core only checks its shape). */
export function fakePeerId(label: string): string {
  const h = sha256(utf8(label));
  let s = '12D3KooW';
  for (let i = 0; i < 44; i++) s += B58[h[i % 32]! % 58];
  return s;
}

export interface TestOrg {
  name: string;
  seed: Uint8Array;
  signer: Ed25519Signer;
  key: VerifierKey;
  peerId: string;
  gov: GovSigner;
}

/** Organization `name`, key generation `gen` (a rotation uses gen + 1). */
export function org(name: string, gen = 0): TestOrg {
  const seed = sha256(utf8(`org:${name}:${gen}`));
  const signer = nodeSigner(seed);
  const key = verifierKey(name, signer.publicKey);
  return { name, seed, signer, key, peerId: fakePeerId(`${name}:${gen}`), gov: { name, signer } };
}

export function clientKey(label: string): { signer: Ed25519Signer; hex: string } {
  const signer = nodeSigner(sha256(utf8(`client:${label}`)));
  return { signer, hex: toHex(signer.publicKey) };
}

export const LIMITS: GovParams = {
  maxBlockEntries: 2_000,
  maxBlockBytes: 2 * 1024 * 1024,
  blockIntervalMs: 50,
  timeouts: { proposeMs: 3_000, prevoteMs: 1_000, precommitMs: 1_000, deltaMs: 500 },
  maxClockSkewMs: 600_000,
  mempoolMaxEntries: 20_000,
  mempoolMaxBytes: 64 * 1024 * 1024,
};

export const ORIGIN = 'cairn.example/gov-test';

export function genesisOf(orgs: readonly TestOrg[], clients: { name: string; hex: string; vouchedBy: string }[] = []): GovGenesis {
  return {
    origin: ORIGIN,
    validators: orgs.map((o) => ({ name: o.name, key: o.key, peerId: o.peerId })),
    clients: clients.map((c) => ({ name: c.name, publicKeyHex: c.hex, vouchedBy: c.vouchedBy })),
    limits: LIMITS,
  };
}

export function parsed(record: GovRecord): ParsedGovRecord {
  const r = parseGovRecord(JSON.parse(JSON.stringify(record)));
  if (!r.ok) throw new Error(`fixture record does not parse: ${r.code}: ${r.message}`);
  return r.parsed;
}

let nonceCounter = 0;
export function nonce(): string {
  return `n${++nonceCounter}`;
}

export function grant(voucher: TestOrg, client: { name: string; hex: string }, deadline: number, extra: { expiresAt?: number; signers?: GovSigner[] } = {}): GovRecord {
  const c: { name: string; publicKey: string; vouchedBy: string; expiresAt?: number } = { name: client.name, publicKey: client.hex, vouchedBy: voucher.name };
  if (extra.expiresAt !== undefined) c.expiresAt = extra.expiresAt;
  return signGovRecord(unsignedGovRecord('client.grant', { client: c, deadline, nonce: nonce() }), extra.signers ?? [voucher.gov]);
}

export function revoke(voucher: TestOrg, hex: string, deadline: number): GovRecord {
  return signGovRecord(unsignedGovRecord('client.revoke', { publicKey: hex, reason: 'key leaked', deadline, nonce: nonce() }), [voucher.gov]);
}

export function rotate(old: TestOrg, next: TestOrg, effectiveHeight: number, deadline: number, signers?: GovSigner[], epoch = 1): GovRecord {
  const u = unsignedGovRecord('org.key.rotate', { epoch, org: old.name, key: next.key.text, peerId: next.peerId, effectiveHeight, deadline, nonce: nonce() });
  return signGovRecord(u, signers ?? [old.gov, next.gov]);
}

export function add(added: TestOrg, voters: readonly TestOrg[], deadline: number, epoch = 1): GovRecord {
  const u = unsignedGovRecord('org.add', { epoch, org: { name: added.name, key: added.key.text, peerId: added.peerId }, deadline, nonce: nonce() });
  return signGovRecord(u, [...voters.map((v) => v.gov), added.gov]);
}

export function remove(name: string, voters: readonly TestOrg[], deadline: number, epoch = 1): GovRecord {
  return signGovRecord(unsignedGovRecord('org.remove', { epoch, org: name, deadline, nonce: nonce() }), voters.map((v) => v.gov));
}

export function paramsSet(patch: Record<string, unknown>, voters: readonly TestOrg[], deadline: number): GovRecord {
  return signGovRecord(unsignedGovRecord('params.set', { params: patch, deadline, nonce: nonce() }), voters.map((v) => v.gov));
}
