// Auditor key files, read in the page the way the CLI reads them (--auth-key): the PKCS#8 PEM that
// `cairn auth keygen` writes (with its `keyid: <name>` line), any Ed25519 PKCS#8 PEM, a private
// JWK, 64 hex digits, or a signed-note signer key. The seed stays in the page's memory only.
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { parsePrivateKey } from '../../src/crypto/keys.js';

export const KEY_FILE_BYTES_MAX = 32 * 1024;
const KEY_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export type KeyFile = { ok: true; seed: Uint8Array; name: string } | { ok: false; message: string };

/** `fileName` gives the name when the file does not (auditor.pem → auditor); `explicitName` wins. */
export function parseKeyFile(text: string, fileName: string, explicitName: string): KeyFile {
  if (text.length > KEY_FILE_BYTES_MAX) return { ok: false, message: `the key file is larger than ${KEY_FILE_BYTES_MAX} bytes` };
  let name: string | null = null;
  const kept: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^keyid:\s*(\S+)\s*$/i.exec(line.trim());
    if (m !== null) {
      if (name !== null) return { ok: false, message: 'the key file has more than one keyid line' };
      name = m[1]!;
    } else if (!line.trim().startsWith('#')) kept.push(line);
  }
  const t = kept.join('\n').trim();
  let seed: Uint8Array;
  if (t.startsWith('PRIVATE+KEY+')) {
    const r = parseSignerKey(t);
    if (!r.ok) return { ok: false, message: `invalid signer key: ${r.message}` };
    seed = r.key.seed;
    name ??= r.key.name;
  } else {
    const r = parsePrivateKey(t);
    if (!r.ok) return { ok: false, message: `not an Ed25519 private key (${r.code}): expected a PKCS#8 PEM, a private JWK, 64 hex digits or a PRIVATE+KEY+ signer key` };
    seed = r.value.seed;
    if (name === null && t.startsWith('{')) {
      try {
        const kid = (JSON.parse(t) as { kid?: unknown }).kid;
        if (typeof kid === 'string') name = kid;
      } catch {
        // parsePrivateKey accepted it, so it is JSON
      }
    }
  }
  const stem = fileName.replace(/\.[^.]*$/, '');
  const chosen = explicitName.trim() !== '' ? explicitName.trim() : name ?? (KEY_NAME_RE.test(stem) ? stem : null);
  if (chosen === null) return { ok: false, message: 'the key file does not name its key: type the key name of the peer policy' };
  if (!KEY_NAME_RE.test(chosen)) return { ok: false, message: 'key names are [a-z0-9][a-z0-9._-]{0,63}' };
  return { ok: true, seed, name: chosen };
}
