// Crypto + entry micro-benchmarks (wired into `npm run bench:core` by bench/core.ts).
// Each measurement is time-bounded so the whole section takes ~2-3 s on the 2-core dev machine.
import { nodeSigner, nodeVerifier } from '../src/crypto/node.js';
import { nobleVerifier } from '../src/crypto/noble.js';
import type { Ed25519Verifier } from '../src/crypto/types.js';
import { signEntry, verifyEntrySignature } from '../src/entry/sign.js';
import { validateEntry } from '../src/entry/validate.js';
import { entryLeaf, entrySigningMessage, parseLeaf } from '../src/entry/leaf.js';
import { canonicalEntry } from '../src/entry/canonical.js';
import type { AuditEntry } from '../src/entry/types.js';
import { utf8 } from '../src/encoding/bytes.js';
import { loadSodiumVerifier } from '../node/crypto/sodium.js';
import { measure, type Rate } from './core-rate.js';

const ENTRIES = 2000;
const BUDGET_MS = 600;

/** Runs `op(i)` for about `budgetMs` (at least `minOps` times), 16 calls per step. */
function rate(budgetMs: number, minOps: number, op: (i: number) => void): Promise<Rate> {
  let k = 0;
  return measure(budgetMs, Math.ceil(minOps / 16), 16, () => {
    for (let j = 0; j < 16; j++) op(k++);
  });
}

function preSignedEntries(count: number): AuditEntry[] {
  const clients = [1, 2, 3, 4].map((b) => nodeSigner(new Uint8Array(32).fill(b)));
  const out: AuditEntry[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      signEntry(
        {
          v: 1,
          id: `bench-${i}`,
          time: '2024-05-01T12:00:00.123Z',
          actor: { id: `user-${i % 97}@example.com`, type: 'user' },
          action: 'db.query',
          resource: { type: 'db.table', id: 'payments' },
          outcome: 'success',
          source: { ip: '192.0.2.7' },
          data: { rows: i % 50, query: 'select * from payments where id = ?', params: [i] },
        },
        clients[i % clients.length]!,
      ),
    );
  }
  return out;
}

export async function benchCrypto(): Promise<Record<string, Rate>> {
  const entries = preSignedEntries(ENTRIES);
  const inputs = entries.map((e) => JSON.parse(JSON.stringify(e)) as unknown);
  const leaves = entries.map(entryLeaf);

  const validateVerify = (verifier: Ed25519Verifier) => (i: number) => {
    const r = validateEntry(inputs[i % ENTRIES]);
    if (!r.ok || !verifyEntrySignature(r.entry, verifier)) throw new Error('bench entry rejected');
  };

  // The peer's fast path; a machine without the native module reports node:crypto only.
  const sodium = loadSodiumVerifier();
  const signer = nodeSigner(new Uint8Array(32).fill(9));
  const msg = utf8('x'.repeat(300));
  const sig = signer.sign(msg);
  const pub = signer.publicKey;

  return {
    'entry validate (no verify)': await rate(BUDGET_MS, 1000, (i) => {
      if (!validateEntry(inputs[i % ENTRIES]).ok) throw new Error('bench entry rejected');
    }),
    'entry parseLeaf': await rate(BUDGET_MS, 1000, (i) => {
      if (!parseLeaf(leaves[i % ENTRIES]!).ok) throw new Error('bench leaf rejected');
    }),
    'entry validate+verify (node)': await rate(BUDGET_MS, 500, validateVerify(nodeVerifier)),
    // The serialization work of a submission as a peer did it before (three JCS: validation, leaf,
    // signed message) and does it now (one canonical form, src/entry/canonical.ts). Verification
    // is left out: it is the same call either way (rows 'ed25519 verify').
    'entry validate+leaf+signed message, 3 JCS': await rate(BUDGET_MS, 1000, (i) => {
      const r = validateEntry(inputs[i % ENTRIES]);
      if (!r.ok || entryLeaf(r.entry).length === 0 || entrySigningMessage(r.entry).length === 0) throw new Error('bench entry rejected');
    }),
    'entry canonicalEntry+signed message, 1 JCS': await rate(BUDGET_MS, 1000, (i) => {
      const r = canonicalEntry(inputs[i % ENTRIES]);
      if (!r.ok || r.value.signedMessage.length === 0) throw new Error('bench entry rejected');
    }),
    ...(sodium.ok ? { 'entry validate+verify (libsodium)': await rate(BUDGET_MS, 500, validateVerify(sodium.verifier)) } : {}),
    'ed25519 verify node:crypto': await rate(BUDGET_MS, 1000, () => {
      if (!nodeVerifier.verify(pub, msg, sig)) throw new Error('bench signature rejected');
    }),
    ...(sodium.ok
      ? {
          'ed25519 verify libsodium': await rate(BUDGET_MS, 1000, () => {
            if (!sodium.verifier.verify(pub, msg, sig)) throw new Error('bench signature rejected');
          }),
        }
      : {}),
    // noble is ~15x slower: a shorter budget keeps the section bounded.
    'ed25519 verify noble': await rate(BUDGET_MS / 2, 50, () => {
      if (!nobleVerifier.verify(pub, msg, sig)) throw new Error('bench signature rejected');
    }),
    'ed25519 sign node:crypto': await rate(BUDGET_MS / 2, 1000, () => {
      signer.sign(msg);
    }),
  };
}
