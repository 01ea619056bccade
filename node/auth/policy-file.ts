// Reads an organization's access policy file (YAML or JSON; JSON is valid YAML) and validates it
// with parsePolicy. Every problem is a PeerError naming the file and the bad field, so the peer
// exits at start (code 2, one line) instead of running with a policy it misunderstood.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { PeerError } from '../peer/errors.js';
import { parsePolicy } from './policy.js';
import type { Policy } from './policy.js';

/** Largest policy file read, in bytes (1,024 keys with PEM public keys fit). */
export const POLICY_FILE_BYTES_MAX = 1024 * 1024;

export function parsePolicyText(text: string, name: string): Policy {
  let doc: unknown;
  try {
    // Aliases are bounded so a small file cannot expand into a huge document.
    doc = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: false });
  } catch (e) {
    throw new PeerError('config_bad_policy', `policy file ${name} is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = parsePolicy(doc, 'policy');
  if (!r.ok) {
    const first = r.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new PeerError('config_bad_policy', `policy file ${name}: ${first}${r.errors.length > 5 ? ` (and ${r.errors.length - 5} more)` : ''}`);
  }
  return r.policy;
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PeerError('config_bad_policy', `cannot read policy file ${path}: ${(e as Error).message}`, 'auth.policy');
  }
  if (text.length > POLICY_FILE_BYTES_MAX) throw new PeerError('config_bad_policy', `policy file ${path} is larger than ${POLICY_FILE_BYTES_MAX} bytes (POLICY_FILE_BYTES_MAX)`, 'auth.policy');
  return parsePolicyText(text, path);
}
