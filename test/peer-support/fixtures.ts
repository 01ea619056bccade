// Test fixtures for the peer program: organizations (signing + p2p keys), clients, a genesis.
import { createServer } from 'node:net';
import { nodeSigner } from '../../src/crypto/node.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { formatVerifierKey, formatSignerKey } from '../../src/checkpoint/keys.js';
import { sha256 } from '../../src/crypto/hash.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { buildGenesis, type Genesis, type BuildGenesisInput } from '../../node/peer/genesis.js';
import { p2pKeyFromSeed } from '../../node/peer/config.js';
import type { PrivateKey } from '@libp2p/interface';

export interface OrgFixture {
  name: string;
  seed: Uint8Array;
  signer: Ed25519Signer;
  publicKey: Uint8Array;
  verifierKey: string;
  signerKeyText: string;
  p2pSeed: Uint8Array;
  p2pKey: PrivateKey;
  peerId: string;
  port: number;
}

export interface ClientFixture {
  name: string;
  seed: Uint8Array;
  signer: Ed25519Signer;
  publicKeyHex: string;
}

/** Deterministic 32-byte seed from a label (tests only). */
export function seedOf(label: string): Uint8Array {
  return sha256(utf8(`cairn-test-seed/${label}`));
}

/** Ports this test process has already handed out: once closed, the kernel may offer the same port to the next
 * bind(0), and two peers of one test given the same port fail with EADDRINUSE. */
const issuedPorts = new Set<number>();

/** A TCP port that was free a moment ago on 127.0.0.1 and was not handed out before in this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const addr = s.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        s.close(() => resolve(p));
      });
    });
    if (port !== 0 && !issuedPorts.has(port)) {
      issuedPorts.add(port);
      return port;
    }
  }
  throw new Error('no unused TCP port on 127.0.0.1 after 100 attempts');
}

export async function makeOrgs(n: number, label = 'org'): Promise<OrgFixture[]> {
  const out: OrgFixture[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${label}${i}`;
    const seed = seedOf(`${name}/sign`);
    const publicKey = publicKeyFromSeed(seed);
    const p2pSeed = seedOf(`${name}/p2p`);
    const { privateKey, peerId } = await p2pKeyFromSeed(p2pSeed);
    out.push({
      name,
      seed,
      signer: nodeSigner(seed),
      publicKey,
      verifierKey: formatVerifierKey(name, publicKey),
      signerKeyText: formatSignerKey(name, seed),
      p2pSeed,
      p2pKey: privateKey,
      peerId,
      port: await freePort(),
    });
  }
  return out;
}

export function makeClients(n: number, label = 'client'): ClientFixture[] {
  const out: ClientFixture[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${label}${i}`;
    const seed = seedOf(`${name}/client`);
    out.push({ name, seed, signer: nodeSigner(seed), publicKeyHex: toHex(publicKeyFromSeed(seed)) });
  }
  return out;
}

export function makeGenesis(
  orgs: OrgFixture[],
  clients: ClientFixture[],
  opts: { origin?: string; limits?: BuildGenesisInput['limits'] } = {},
): Genesis {
  return buildGenesis({
    origin: opts.origin ?? 'cairn.example/test',
    validators: orgs.map((o) => ({ name: o.name, verifierKey: o.verifierKey, peerId: o.peerId, addrs: [`/ip4/127.0.0.1/tcp/${o.port}`] })),
    clients: clients.map((c, i) => ({ name: c.name, publicKey: c.publicKeyHex, vouchedBy: orgs[i % orgs.length]!.name })),
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
  });
}
