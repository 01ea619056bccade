// Access control of the devnet (docs/access-control.md): two request-signing keys and, for each
// organization's peer, a policy file that trusts them.
//   <dir>/keys/auditor.pem    role `auditor`: every entry, entry bundles (cairn get, audit, receipts)
//   <dir>/keys/operator.pem   role `operator`: status, metrics (cairn status)
//   <dir>/peers/<org>/policy.json
// The key files are what `cairn auth keygen` writes (a `keyid:` line, then a PKCS#8 PEM), so
// `--auth-key .devnet/keys/auditor.pem` works as is. They are created once and kept; the policy
// files are rewritten from them on every start (so an older devnet dir gains them too).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CairnCredentials } from '../src/client/index.js';
import { nodeSigner } from '../src/crypto/node.js';
import { randomSeed } from '../src/crypto/noble.js';
import { toHex } from '../src/encoding/bytes.js';
import { formatAuthKeyFile } from '../node/cli/auth-cmd.js';
import { parseAuthKeyText } from '../node/cli/credentials.js';

/**
 * Whether each peer's config points at its policy file (`auth.policy`), so reads of entries,
 * bundles and status need the keys above (checkpoints, hash tiles and proofs stay public). Off,
 * the files are still written and every client of the devnet still sends its credential.
 */
export const DEVNET_ENFORCE_POLICY = true;
export const AUDITOR_KEY_NAME = 'auditor';
export const OPERATOR_KEY_NAME = 'operator';
/** Policy file name, in each peer's directory next to its config.json. */
export const POLICY_FILE = 'policy.json';

export interface DevnetAuth {
  auditorKeyFile: string;
  operatorKeyFile: string;
  policyFiles: string[];
  /** True when the peers enforce the policy (DEVNET_ENFORCE_POLICY). */
  enforced: boolean;
  /** SDK credentials of the two keys. */
  auditor: CairnCredentials;
  operator: CairnCredentials;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Writes `text` unless the file already holds it (temp file + rename: never half-written). */
async function writeIfChanged(path: string, text: string, mode = 0o644): Promise<void> {
  if ((await readIfExists(path)) === text) return;
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

async function ensureKey(path: string, name: string): Promise<Uint8Array> {
  let text = await readIfExists(path);
  if (text === null) {
    text = formatAuthKeyFile(name, randomSeed());
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  }
  return parseAuthKeyText(text, path).seed;
}

/** The policy every devnet peer gets: the auditor key as `auditor`, the operator key as `operator`. */
export function devnetPolicy(auditorPublicKeyHex: string, operatorPublicKeyHex: string): unknown {
  return {
    keys: [
      { name: AUDITOR_KEY_NAME, publicKey: auditorPublicKeyHex, roles: ['auditor'] },
      { name: OPERATOR_KEY_NAME, publicKey: operatorPublicKeyHex, roles: ['operator'] },
    ],
    roles: {
      auditor: { kind: 'auditor' },
      operator: { kind: 'operator' },
    },
  };
}

/**
 * Creates the two keys if missing, (re)writes each organization's policy file, and when
 * `enforce` points each peer's config at it. `dir` is the devnet directory.
 */
export async function ensureDevnetAuth(dir: string, orgNames: readonly string[], enforce = DEVNET_ENFORCE_POLICY): Promise<DevnetAuth> {
  const auditorKeyFile = join(dir, 'keys', `${AUDITOR_KEY_NAME}.pem`);
  const operatorKeyFile = join(dir, 'keys', `${OPERATOR_KEY_NAME}.pem`);
  const auditor = nodeSigner(await ensureKey(auditorKeyFile, AUDITOR_KEY_NAME));
  const operator = nodeSigner(await ensureKey(operatorKeyFile, OPERATOR_KEY_NAME));
  const policyText = JSON.stringify(devnetPolicy(toHex(auditor.publicKey), toHex(operator.publicKey)), null, 2) + '\n';
  const policyFiles: string[] = [];
  for (const org of orgNames) {
    const peerDir = join(dir, 'peers', org);
    const policyFile = join(peerDir, POLICY_FILE);
    await writeIfChanged(policyFile, policyText);
    policyFiles.push(policyFile);
    if (enforce) {
      const configFile = join(peerDir, 'config.json');
      const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
      const auth = (config.auth ?? {}) as Record<string, unknown>;
      if (auth.policy !== POLICY_FILE) {
        // Relative to the config file's directory, like every other path in it.
        config.auth = { ...auth, policy: POLICY_FILE };
        await writeIfChanged(configFile, JSON.stringify(config, null, 2) + '\n');
      }
    }
  }
  return {
    auditorKeyFile,
    operatorKeyFile,
    policyFiles,
    enforced: enforce,
    auditor: { signingKey: { name: AUDITOR_KEY_NAME, signer: auditor } },
    operator: { signingKey: { name: OPERATOR_KEY_NAME, signer: operator } },
  };
}
