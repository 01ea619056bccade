// Summarises a V8 CPU profile (`node --cpu-prof`, a .cpuprofile JSON) by self time: which
// functions the peer spends its CPU in. Usable as a script:
//   npx tsx bench/profile.ts <file.cpuprofile> [top]
import { readFile } from 'node:fs/promises';

/** Largest profile read. */
const PROFILE_BYTES_MAX = 512 * 1024 * 1024;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const j = url.search(/\/(src|node|bench|dist)\//);
  return j >= 0 ? url.slice(j + 1) : url.replace(/^file:\/\//, '');
}

/** Where a function's self time goes, for the profile findings (first match wins). */
const CATEGORIES: [string, (name: string, url: string) => boolean][] = [
  ['Ed25519 verify (node:crypto)', (n) => n === 'verifyOneShot'],
  ['garbage collector', (n) => n === '(garbage collector)'],
  ['socket writes/reads (syscalls)', (n) => n === 'writeBuffer' || n === 'writev' || n === 'writeUtf8String' || n === 'onStreamRead'],
  ['LevelDB (classic-level, abstract-level)', (_n, u) => u.includes('classic-level') || u.includes('abstract-level')],
  ['libp2p (gossipsub, noise, yamux, utils, streams)', (_n, u) => /node_modules\/(@libp2p|@chainsafe|libp2p|it-|uint8arraylist|@multiformats|multiformats|race-signal|p-queue|progress-events)/.test(u)],
  ['entry validation + JCS (src/entry, canonicalize)', (_n, u) => u.includes('/src/entry/') || u.includes('canonicalize')],
  ['hashing (SHA-256: noble, node:crypto)', (n, u) => u.includes('@noble/hashes') || u.includes('internal/crypto/hash')],
  ['HTTP API (fastify, node:http)', (_n, u) => u.includes('fastify') || u.includes('find-my-way') || u.includes('light-my-request') || u.includes('node:_http') || u.includes('/node/http/')],
  ['consensus (src/consensus, runner)', (_n, u) => u.includes('/src/consensus/') || u.includes('consensus-runner')],
  ['peer pipeline (mempool, ledger, entries, block, codec)', (_n, u) => /\/node\/peer\//.test(u)],
  ['storage layer (node/storage) + merkle', (_n, u) => u.includes('/node/storage/') || u.includes('/src/merkle/')],
  ['module loading / startup', (n, u) => u.includes('internal/modules') || n === 'compileForInternalLoader' || n === 'wrapSafe'],
  ['client-key vetting at startup (@noble/ed25519, @noble/curves)', (_n, u) => u.includes('@noble/ed25519') || u.includes('@noble/curves')],
  ['Node internals (streams, events, timers, buffers, crypto glue)', (_n, u) => u.startsWith('node:')],
  ['V8/native (program, microtasks, other native)', (_n, u) => u === ''],
];

export async function summarizeProfile(path: string, top: number): Promise<{ totalMs: number; idlePct: number; functions: ProfileRow[]; files: ProfileRow[]; categories: ProfileRow[] }> {
  const text = await readFile(path, 'utf8');
  if (text.length > PROFILE_BYTES_MAX) throw new Error(`profile larger than ${PROFILE_BYTES_MAX} bytes (PROFILE_BYTES_MAX)`);
  const p = JSON.parse(text) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  // Self time per node: sum of the time deltas of samples that landed in it.
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  let total = 0;
  let idle = 0;
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const file = new Map<string, number>();
  const category = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    total += us;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '(native)';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const cat = CATEGORIES.find(([, test]) => test(name, n.callFrame.url))?.[0] ?? 'other';
    category.set(cat, (category.get(cat) ?? 0) + us);
    const f = n.callFrame.url ? shortUrl(n.callFrame.url).replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, 'node_modules/$1') : `(${name})`;
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const functions = [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.us / 1000), selfPct: pct(e.us) }));
  const files = [...file.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, us]) => ({ name: where, where, selfMs: Math.round(us / 1000), selfPct: pct(us) }));
  const categories = [...category.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, where: '', selfMs: Math.round(us / 1000), selfPct: pct(us) }));
  return { totalMs: Math.round(total / 1000), idlePct: Math.round((idle / Math.max(1, total)) * 1000) / 10, functions, files, categories };
}

const invokedDirectly = process.argv[1]?.endsWith('/bench/profile.ts') === true || process.argv[1]?.endsWith('/bench/profile.js') === true;
if (invokedDirectly) {
  const path = process.argv[2];
  if (path === undefined) {
    process.stderr.write('usage: profile <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const s = await summarizeProfile(path, Number(process.argv[3] ?? 30));
  process.stdout.write(`total ${s.totalMs} ms, idle ${s.idlePct} %; self time of the busy part:\n`);
  for (const r of s.functions) process.stdout.write(`${String(r.selfPct).padStart(5)} %  ${String(r.selfMs).padStart(7)} ms  ${r.name}  ${r.where}\n`);
  process.stdout.write('\nby category:\n');
  for (const r of s.categories) process.stdout.write(`${String(r.selfPct).padStart(5)} %  ${String(r.selfMs).padStart(7)} ms  ${r.name}\n`);
  process.stdout.write('\nby file / package:\n');
  for (const r of s.files) process.stdout.write(`${String(r.selfPct).padStart(5)} %  ${String(r.selfMs).padStart(7)} ms  ${r.name}\n`);
}
