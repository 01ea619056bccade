import { toBase64 } from '../../src/encoding/bytes.js';
import type { TrustRoot, VerifiedTreeHead } from '../../src/verifier/index.js';

/** The human summary of a verified tree head, shared by the offline and online verify commands. */
export function summary(kind: string, head: VerifiedTreeHead, trust: TrustRoot, extra: [string, string][] = []): string {
  const rows: [string, string][] = [
    ['origin', head.origin],
    ['size', String(head.size)],
    ['root', toBase64(head.root)],
    ...extra,
    ['signers', `${head.signers.length} of ${trust.keys.length} (quorum ${trust.quorum}): ${head.signers.join(', ')}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${kind} OK\n` + rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join('');
}
