// `cairn trust ...`: the auditor's trust file across membership changes (docs/governance.md).
//   cairn trust update --peer <url> --trust <file> [--out <file>]
//       fetches the chain-of-trust steps (GET /v1/governance/steps) from the organization set the
//       file already trusts, follows them with updateTrustChain (each new set accepted only through
//       a record final under a quorum of the set before it) and writes the version 2 file
//       atomically; the peer is not trusted: a step that does not verify changes nothing (exit 1).
//   cairn trust export --trust <file> [--format note-verifiers|json] [--out <file>]
//       the newest organization set (currentTrust) for tools that take a static key list: one
//       verifier key per line, or a version 1 trust file.
import type { Command } from 'commander';
import { fromBase64 } from '../../src/encoding/bytes.js';
import { currentTrust, formatTrustChainFile, formatTrustFile, updateTrustChain, type TrustChain, type TrustStep } from '../../src/verifier/index.js';
import { addCredentialOptions, loadCredential, type CliCredential, type CredentialFlags } from './credentials.js';
import { writeAtomic } from './gov-build.js';
import { failure, usageError, type CliIo } from './io.js';
import { getJson, parsePeerUrl } from './peer-http.js';
import { loadTrustChain } from './trust.js';

/** Most step requests one update makes (each answer holds up to TRUST_STEPS_MAX steps). */
export const TRUST_UPDATE_ROUNDS_MAX = 16;

interface StepWire {
  epoch?: unknown;
  type?: unknown;
  index?: unknown;
  entry?: unknown;
  proof?: unknown;
  checkpoint?: unknown;
  effectiveHeight?: unknown;
}
interface StepsAnswer {
  origin?: unknown;
  complete?: unknown;
  steps?: unknown;
  pending?: unknown;
}

function toStep(s: StepWire, i: number, url: string): TrustStep {
  const entry = typeof s.entry === 'string' ? fromBase64(s.entry) : null;
  const proof = Array.isArray(s.proof) ? s.proof.map((h) => (typeof h === 'string' ? fromBase64(h) : null)) : null;
  if (entry === null || proof === null || proof.some((h) => h === null) || typeof s.checkpoint !== 'string' || typeof s.index !== 'number') {
    throw failure(`${url}: step ${i} is not {index, entry (base64), proof (base64 hashes), checkpoint (note)}`);
  }
  return { entryLeaf: entry, index: s.index, proof: proof as Uint8Array[], checkpoint: s.checkpoint };
}

function describeSet(chain: TrustChain, n: number): string {
  const e = chain.epochs[n]!;
  return `set ${n}: ${e.keys.map((k) => k.name).join(', ')} (quorum ${e.quorum})${e.afterSize >= 0 ? `, signs tree sizes > ${e.afterSize}` : ''}`;
}

export async function trustUpdate(io: CliIo, o: { peer: string; trust: string; out?: string } & CredentialFlags): Promise<void> {
  const base = parsePeerUrl(o.peer);
  const start = await loadTrustChain(io, o.trust);
  const auth: CliCredential | null = await loadCredential(io, o);
  let chain = start;
  let pending: unknown[] = [];
  for (let round = 0; round < TRUST_UPDATE_ROUNDS_MAX; round++) {
    const from = chain.epochs.length;
    const url = `${base}/v1/governance/steps?from=${from}`;
    const a = await getJson<StepsAnswer>(base, `/v1/governance/steps?from=${from}`, { auth });
    if (a.origin !== chain.origin) throw failure(`${url}: the peer serves log ${JSON.stringify(String(a.origin).slice(0, 80))}, the trust file is for ${chain.origin}`);
    if (!Array.isArray(a.steps)) throw failure(`${url}: no "steps" array in the answer`);
    pending = Array.isArray(a.pending) ? a.pending : [];
    if (a.steps.length === 0) break;
    const steps = a.steps.map((s, i) => toStep(s as StepWire, i, url));
    const r = updateTrustChain(chain, steps);
    if (!r.ok) throw failure(`step ${from + r.step} from ${base} rejected, trust file unchanged: ${r.message} [${r.code}]`);
    chain = r.chain;
    if (a.complete === true) break;
  }
  const added = chain.epochs.length - start.epochs.length;
  if (added > 0) {
    await writeAtomic(io, o.out ?? o.trust, formatTrustChainFile(chain));
    io.stdout(`followed ${added} membership change(s); wrote ${o.out ?? o.trust}\n`);
    for (let n = start.epochs.length; n < chain.epochs.length; n++) io.stdout(`  ${describeSet(chain, n)} (record ${chain.epochs[n]!.record!.slice(0, 16)}...)\n`);
  } else {
    io.stdout(`up to date: ${describeSet(chain, chain.epochs.length - 1)}\n`);
    if (o.out !== undefined) await writeAtomic(io, o.out, formatTrustChainFile(chain));
  }
  for (const p of pending.slice(0, 16)) {
    const q = p as StepWire;
    io.stdout(`pending: set ${String(q.epoch)} (${String(q.type)}) takes effect at height ${String(q.effectiveHeight)}; run cairn trust update again after that\n`);
  }
}

export async function trustExport(io: CliIo, o: { trust: string; format?: string; out?: string }): Promise<void> {
  const format = o.format ?? 'note-verifiers';
  if (format !== 'note-verifiers' && format !== 'json') throw usageError(`--format must be note-verifiers or json, not ${JSON.stringify(format.slice(0, 40))}`);
  const chain = await loadTrustChain(io, o.trust);
  const t = currentTrust(chain);
  const text = format === 'json' ? formatTrustFile(t) : t.keys.map((k) => k.text).join('\n') + '\n';
  if (o.out !== undefined) {
    await writeAtomic(io, o.out, text);
    io.stdout(`wrote ${o.out}: ${describeSet(chain, chain.epochs.length - 1)}\n`);
  } else io.stdout(text);
}

export function registerTrust(program: Command, io: CliIo): void {
  const trust = program.command('trust').description("the auditor's trust file across membership changes (exit 0 ok, 1 refused, 2 usage)");
  addCredentialOptions(
    trust
      .command('update')
      .description('follow membership changes from a peer, each verified against the set before it, and write the trust file (version 2)')
      .requiredOption('--peer <url>', 'the peer serving GET /v1/governance/steps')
      .requiredOption('--trust <file>', 'the trust file (version 1 from the genesis, or version 2); rewritten atomically')
      .option('--out <file>', 'write the updated file here instead of over --trust'),
  ).action(async (o: { peer: string; trust: string; out?: string } & CredentialFlags) => trustUpdate(io, o));
  trust
    .command('export')
    .description('the current organization set for tools that take a static key list')
    .requiredOption('--trust <file>', 'the trust file (version 1 or 2)')
    .option('--format <format>', 'note-verifiers (one verifier key per line, default) or json (a version 1 trust file)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (o: { trust: string; format?: string; out?: string }) => trustExport(io, o));
}
