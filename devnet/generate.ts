// The devnet's files, made once on the first start (later starts reuse them):
//   <dir>/keys/<org>.key, .pub, .p2p       each organization's signing key (cairn keygen format) and libp2p key
//   <dir>/keys/<org>-meta-audit.key, .pub  each organization's meta-audit client key (mode 0600): the
//                                          peer signs the entries that log reads of the log with it
//   <dir>/keys/client.pem                  the sample client's key, vouched for by org 1
//   <dir>/genesis.json                     validators, the sample client and the meta-audit clients
//   <dir>/trust.json                       the auditor's trust root (origin, verifier keys, quorum)
//   <dir>/peers/<org>/config.json          one peer config each (paths relative to its directory)
//   <dir>/devnet.json                      the settings (organizations, base port)
// Everything is generated in a temporary directory and renamed into place at the end, so an
// interrupted first start leaves nothing half-made.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { privateKeyToPem } from '../src/crypto/keys.js';
import { publicKeyFromSeed, randomSeed } from '../src/crypto/noble.js';
import { toHex } from '../src/encoding/bytes.js';
import { formatTrustFile, parseTrustFile } from '../src/verifier/index.js';
import { keygen } from '../node/cli/keygen.js';
import { generateP2PKeyFile, loadSigningKey } from '../node/peer/config.js';
import { buildGenesis, formatGenesis, type Genesis } from '../node/peer/genesis.js';
import { metaAuditClientFor, metaAuditClientName } from '../node/peer/genesis-sharing.js';
import { CLIENT_NAME, DEVNET_ORIGIN, DevnetError, exists, orgName, P2P_PORT_OFFSET, SETTINGS_FILE } from './common.js';

export interface Settings {
  version: 1;
  orgs: number;
  basePort: number;
}

/** Organization `org`'s meta-audit client key file in devnet dir `dir`. */
export function metaAuditKeyFile(dir: string, org: string): string {
  return join(dir, 'keys', `${metaAuditClientName(org)}.key`);
}

export interface GenerateOptions {
  /**
   * Give each organization a meta-audit client (default true). false makes the layout of devnet
   * dirs created before the devnet logged reads (kept for the test that they still start).
   */
  metaAudit?: boolean;
}

/** Generates keys, genesis, trust file and configs into `dir` (which must not exist yet). */
export async function generate(dir: string, orgs: number, basePort: number, opts: GenerateOptions = {}): Promise<void> {
  const withMetaAudit = opts.metaAudit !== false;
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'keys'), { recursive: true, mode: 0o700 });
  try {
    const io = { stdout: () => undefined, stderr: () => undefined, cwd: tmp };
    const validators = [];
    const keys = [];
    const metaAuditClients = [];
    for (let i = 1; i <= orgs; i++) {
      const name = orgName(i);
      const k = await keygen(io, name, 'keys');
      const p2p = await generateP2PKeyFile(join(tmp, 'keys', `${name}.p2p`));
      validators.push({ name, verifierKey: k.verifierKey, peerId: p2p.peerId, addrs: [`/ip4/127.0.0.1/tcp/${basePort + P2P_PORT_OFFSET + i}`] });
      keys.push(k.verifierKey);
      if (withMetaAudit) {
        // A key of its own, not the organization's signing key: the genesis binds each client name
        // to one key, and the peer refuses a meta-audit key that is not its client's.
        const ma = await keygen(io, metaAuditClientName(name), 'keys');
        const { seed } = await loadSigningKey(ma.keyPath);
        metaAuditClients.push({ name: metaAuditClientName(name), publicKey: toHex(publicKeyFromSeed(seed)), vouchedBy: name });
      }
    }
    const clientSeed = randomSeed();
    await writeFile(join(tmp, 'keys', 'client.pem'), privateKeyToPem(clientSeed), { mode: 0o600 });
    const genesis = buildGenesis({
      origin: DEVNET_ORIGIN,
      validators,
      clients: [{ name: CLIENT_NAME, publicKey: toHex(publicKeyFromSeed(clientSeed)), vouchedBy: orgName(1) }, ...metaAuditClients],
    });
    await writeFile(join(tmp, 'genesis.json'), formatGenesis(genesis));
    const trust = parseTrustFile(JSON.stringify({ origin: genesis.origin, quorum: genesis.quorum, keys }));
    if (!trust.ok) throw new DevnetError('internal', `generated trust file is invalid: ${trust.message}`);
    await writeFile(join(tmp, 'trust.json'), formatTrustFile(trust.trust));
    for (let i = 1; i <= orgs; i++) {
      const name = orgName(i);
      await mkdir(join(tmp, 'peers', name), { recursive: true });
      // Paths relative to the config file's directory, so the devnet dir can be moved.
      const config = {
        dataDir: 'data',
        genesis: '../../genesis.json',
        signingKey: `../../keys/${name}.key`,
        p2pKey: `../../keys/${name}.p2p`,
        listen: [`/ip4/127.0.0.1/tcp/${basePort + P2P_PORT_OFFSET + i}`],
        http: `127.0.0.1:${basePort + i}`,
        logLevel: 'info',
        // ensureDevnetAuth adds the access policy to this section on every start.
        ...(withMetaAudit ? { auth: { metaAuditKey: `../../keys/${metaAuditClientName(name)}.key` } } : {}),
      };
      await writeFile(join(tmp, 'peers', name, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    }
    await mkdir(join(tmp, 'logs'), { recursive: true });
    const settings: Settings = { version: 1, orgs, basePort };
    await writeFile(join(tmp, SETTINGS_FILE), JSON.stringify(settings, null, 2) + '\n');
    await mkdir(dirname(dir), { recursive: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

export async function readSettings(dir: string): Promise<Settings> {
  let s: Settings;
  try {
    s = JSON.parse(await readFile(join(dir, SETTINGS_FILE), 'utf8')) as Settings;
  } catch (e) {
    throw new DevnetError('bad_dir', `${dir} exists but ${SETTINGS_FILE} is unreadable (${(e as Error).message}); delete the directory to start a fresh devnet`);
  }
  if (s?.version !== 1 || !Number.isInteger(s.orgs) || !Number.isInteger(s.basePort)) {
    throw new DevnetError('bad_dir', `${join(dir, SETTINGS_FILE)} is not a devnet settings file; delete ${dir} to start a fresh devnet`);
  }
  return s;
}

/**
 * The meta-audit key files of the organizations whose genesis client `<org>-meta-audit` exists
 * and whose peer config names its key (in `orgs` order), and the organizations without. A devnet
 * dir made before the devnet logged reads has no such clients: its peers run without meta-audit
 * (the genesis cannot gain clients without becoming another network).
 */
export async function metaAuditState(dir: string, genesis: Genesis, orgs: readonly string[]): Promise<{ keyFiles: string[]; without: string[] }> {
  const keyFiles: string[] = [];
  const without: string[] = [];
  for (const org of orgs) {
    const keyFile = metaAuditKeyFile(dir, org);
    let configured = false;
    try {
      const config = JSON.parse(await readFile(join(dir, 'peers', org, 'config.json'), 'utf8')) as { auth?: { metaAuditKey?: unknown } };
      configured = typeof config.auth?.metaAuditKey === 'string';
    } catch {
      // an unreadable config is reported by the peer itself when it starts
    }
    if (metaAuditClientFor(genesis, org) !== undefined && configured && (await exists(keyFile))) keyFiles.push(keyFile);
    else without.push(org);
  }
  return { keyFiles, without };
}
