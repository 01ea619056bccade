// Hardening acceptance: 4 validator processes on 127.0.0.1, one of them Byzantine. The Byzantine
// one is a real peer (its own keys, storage and consensus) that also publishes, through its own
// gossip and signed with its real validator key (test/proc/support/byzantine/attacks.ts):
// 1-2 MiB junk proposals for the current height (WAL flood), junk votes, proposals for rounds it
// does not propose, messages for heights head+10 ... head+2^40, and checkpoint signature lines
// forged in the other validators' names for the current and future tree sizes.
// Meanwhile the three honest peers get a steady trickle of signed entries over HTTP. They must
//   - keep finalizing: in every 15 s window of the load, each honest peer shows new final
//     checkpoints and new heights;
//   - stay within memory (VmRSS) and WAL bounds (runner status walBytes when exposed, otherwise
//     the growth of the data directory);
//   - make every 202-accepted entry final: each one read back final from the peer that accepted
//     it, and every honest peer's final checkpoint covering it (a sample read back from each, at
//     the same index).
// The attack keeps running while finality is checked.
//
// SLOW (~2-3 min on 2 cores): four peer processes under tsx, a 60 s load under a flood of up to
// ~7.5 MiB/s of junk proposals, then the finality check of ~1,200 entries on three peers (flood still on).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeClients, makeGenesis, makeOrgs, type ClientFixture } from '../peer-support/fixtures.js';
import { getJson, postEntries, spawnPeerProc, stopAllPeerProcs, writeHttpPeerFiles, type PeerProc } from './support/peer-procs.js';
import { describePeers, mib, timeline, watch, windows, type Watch } from './support/byzantine/watch.js';
import { checkAllFinal } from './support/byzantine/finality.js';

const MiB = 1024 * 1024;
/** Load: one entry every 50 ms (20/s) for 60 s, to the honest peers in turn. */
const LOAD_MS = 60_000;
const LOAD_EVERY_MS = 50;
/** Submissions in flight at most (the load stays a trickle even if a peer answers slowly). */
const LOAD_IN_FLIGHT_MAX = 64;
/** Each accepted entry must be final on every honest peer within this long-poll ... */
const FINAL_WAIT_MS = 25_000;
/** ... and the whole finality check ends within this time after the load. */
const FINAL_CHECK_MS = FINAL_WAIT_MS + 20_000;
/** The attack outlasts the load and the finality check: entries must become final UNDER attack. */
const ATTACK_MS = LOAD_MS + FINAL_CHECK_MS + 10_000;
const WINDOW_MS = 15_000;
const MIN_FINAL_CHECKPOINTS_PER_WINDOW = 3;
const MIN_HEIGHTS_PER_WINDOW = 3;
/** Memory bound of an honest peer process (VmRSS). */
const RSS_MAX_BYTES = 600 * MiB;
/** Consensus WAL bound when the runner status reports walBytes. */
const WAL_MAX_BYTES = 128 * MiB;
/** Otherwise: growth of the honest peer's data directory (LevelDB) during the attack. */
const DATA_GROWTH_MAX_BYTES = 256 * MiB;
/** Accepted share of the load at least (a peer refusing the load would make the rest vacuous). */
const MIN_ACCEPTED_SHARE = 0.95;

const HONEST = [0, 1, 2];
const BYZ = 3;

let root: string;
let clients: ClientFixture[];
const procs: PeerProc[] = [];
let honest: PeerProc[] = [];
let byz: PeerProc;
const byzReports: { ready?: Record<string, unknown>; status?: Record<string, unknown>; progress?: Record<string, unknown>; done?: Record<string, unknown>; started?: boolean } = {};
let w: Watch | null = null;

function state(): string {
  const b = `${byz?.name} (Byzantine, exit ${byz?.exitCode === undefined ? 'running' : byz.exitCode}): status ${JSON.stringify(byzReports.status ?? null)}\n` +
    `    attack ${JSON.stringify(byzReports.done ?? byzReports.progress ?? null)}\n` +
    (byz?.lines ?? []).filter((l) => !l.includes('"progress"')).slice(-6).map((l) => `    | ${l}`).join('\n');
  return `${describePeers(honest, w)}\n${b}`;
}

/** Polls `cond` every 250 ms until it holds; after maxMs fails with every peer's state. */
async function waitUntil(what: string, cond: () => Promise<boolean>, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${maxMs} ms waiting for ${what}\n${state()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let seq = 0;
function entry(i: number, tag: string): AuditEntry {
  const c = clients[i % clients.length]!;
  return signEntry(
    {
      v: 1,
      id: `byz-${tag}-${process.pid}-${seq++}`,
      time: new Date().toISOString(),
      actor: { id: `user-${i % 13}@example.com`, type: 'user' },
      action: 'db.query',
      resource: { type: 'db.table', id: `t${i % 7}` },
      outcome: 'success',
      data: { i, note: 'byzantine validator acceptance' },
    },
    c.signer,
  );
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cairn-byz-'));
  const orgs = await makeOrgs(4, 'byz');
  clients = makeClients(4, 'byzclient');
  // Short timeouts (like the in-process clusters) so a round lost to junk costs little.
  const genesis = makeGenesis(orgs, clients, { limits: { timeouts: { proposeMs: 1500, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }, blockIntervalMs: 50 } });
  for (let i = 0; i < 4; i++) {
    const dir = join(root, `peer${i}`);
    const { config, url } = await writeHttpPeerFiles(dir, genesis, orgs[i]!);
    const p =
      i === BYZ
        ? spawnPeerProc(`peer${i}`, dir, url, 'test/proc/support/byzantine/byzantine-peer.ts', [config])
        : spawnPeerProc(`peer${i}`, dir, url, 'node/peer/main.ts', ['--config', config], { CAIRN_STATUS_INTERVAL_MS: '1000' });
    procs.push(p);
  }
  honest = HONEST.map((i) => procs[i]!);
  byz = procs[BYZ]!;
  byz.onJson = (j) => {
    const r = j.byzantine as Record<string, Record<string, unknown>> | undefined;
    if (r === undefined) return;
    if (r.ready) byzReports.ready = r.ready;
    if (r.status) byzReports.status = r.status;
    if (r.progress) byzReports.progress = r.progress;
    if (r.done) byzReports.done = r.done;
    if (r.started) byzReports.started = true;
  };
}, 60_000);

afterAll(async () => {
  await w?.stop();
  await stopAllPeerProcs();
  // CAIRN_TEST_KEEP=1 keeps every peer's data and full log (<dir>/peerN/out.log) for a post-mortem.
  if (root && process.env.CAIRN_TEST_KEEP === '1') console.log(`[byzantine] kept ${root}`);
  else if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

describe('Byzantine validator process (slow: ~2-3 min, 4 peer processes and a 60 s load under a gossip flood)', () => {
  it('honest peers keep finalizing a steady load within memory and WAL bounds while one validator floods junk', async () => {
    const connected = async (p: PeerProc) => {
      const s = await getJson<{ peers: { connected: boolean }[] }>(p.url, '/v1/status');
      return s.peers.filter((x) => x.connected).length === 3;
    };
    await waitUntil('all peers up and connected', async () => (await Promise.all(honest.map(connected))).every(Boolean) && Number(byzReports.status?.connected ?? 0) === 3, 90_000);

    // Warm-up: a first final checkpoint before the attack.
    const accepted: { leafHash: string; peer: number }[] = [];
    const warm = await postEntries(honest[0]!.url, Array.from({ length: 10 }, (_, i) => entry(i, 'warm')));
    expect(warm.status, JSON.stringify(warm.body)).toBe(202);
    for (const r of (warm.body!.results as { status: string; leafHash: string }[])) accepted.push({ leafHash: r.leafHash, peer: 0 });
    await waitUntil('warm-up entries final on every honest peer', async () => {
      const s = await Promise.all(honest.map((p) => getJson<{ finalSize: number }>(p.url, '/v1/status')));
      return s.every((x) => x.finalSize >= 10);
    }, 60_000);

    w = watch(honest);
    await new Promise((r) => setTimeout(r, 2_000));
    const dataBefore = w.dataBytes.map((d) => d.at(-1)?.bytes ?? 0);

    // The attack (bounded in the module: every stream has a max count, the run a deadline).
    byz.proc.stdin!.write(`attack ${ATTACK_MS}\n`);
    await waitUntil('the Byzantine peer started attacking', async () => byzReports.started === true, 10_000);
    const attackStart = Date.now();

    // The load: bounded in count (LOAD_MS / LOAD_EVERY_MS entries) and time.
    const total = LOAD_MS / LOAD_EVERY_MS;
    const outcomes = new Map<string, number>();
    const count = (k: string): void => {
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    };
    let inFlight = 0;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = attackStart + i * LOAD_EVERY_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      if (inFlight >= LOAD_IN_FLIGHT_MAX) {
        count('skipped: too many in flight');
        continue;
      }
      const peer = i % HONEST.length;
      inFlight++;
      pending.push(
        postEntries(honest[peer]!.url, entry(i, 'load'))
          .then((r) => {
            const leafHash = r.body?.leafHash;
            if (r.status === 202 && typeof leafHash === 'string') accepted.push({ leafHash, peer });
            count(r.status === 202 ? '202' : `${r.status} ${JSON.stringify(r.body?.error ?? r.body)?.slice(0, 80)}`);
          })
          .catch((e: Error) => count(`failed: ${e.name}`))
          .finally(() => inFlight--),
      );
    }
    await Promise.all(pending);
    const loadEnd = Date.now();
    const loadAccepted = accepted.length - 10;
    console.log(`[byzantine] load done: ${loadAccepted}/${total} accepted; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}\n${state()}`);

    // Every accepted entry final on every honest peer, at the same index (attack still running).
    const problems: string[] = [];
    const fin = await checkAllFinal(honest, accepted, loadEnd + FINAL_CHECK_MS, FINAL_WAIT_MS);
    problems.push(...fin.problems);
    const checkEnd = Date.now();
    const attackStillRunning = byzReports.done === undefined;
    await w.stop();

    if (loadAccepted < MIN_ACCEPTED_SHARE * total) problems.push(`only ${loadAccepted} of ${total} submissions were accepted (202): ${JSON.stringify(Object.fromEntries(outcomes))}`);

    // Progress in every window of the load, on every honest peer.
    honest.forEach((p, i) => {
      for (const win of windows(w!.samples[i]!, attackStart, attackStart + LOAD_MS, WINDOW_MS)) {
        const at = `${p.name} window +${((win.from - attackStart) / 1000).toFixed(0)}..${((win.to - attackStart) / 1000).toFixed(0)} s`;
        if (win.newFinalCheckpoints < MIN_FINAL_CHECKPOINTS_PER_WINDOW) problems.push(`${at}: ${win.newFinalCheckpoints} new final checkpoints (< ${MIN_FINAL_CHECKPOINTS_PER_WINDOW}); ${win.failedSamples} status requests failed`);
        if (win.heightsAdvanced < MIN_HEIGHTS_PER_WINDOW) problems.push(`${at}: height advanced by ${win.heightsAdvanced} (< ${MIN_HEIGHTS_PER_WINDOW})`);
      }
      // Memory and WAL bounds over the whole attack.
      const during = w!.samples[i]!.filter((s) => s.t >= attackStart);
      const rssMax = Math.max(0, ...during.map((s) => s.rss ?? 0));
      if (rssMax > RSS_MAX_BYTES) problems.push(`${p.name}: VmRSS reached ${mib(rssMax)} (> ${mib(RSS_MAX_BYTES)})`);
      const walSamples = during.filter((s) => s.walBytes !== undefined);
      if (walSamples.length > 0) {
        const walMax = Math.max(...walSamples.map((s) => s.walBytes!));
        if (walMax > WAL_MAX_BYTES) problems.push(`${p.name}: consensus WAL reached ${mib(walMax)} (> ${mib(WAL_MAX_BYTES)})`);
      } else {
        const growth = Math.max(0, ...w!.dataBytes[i]!.filter((d) => d.t >= attackStart).map((d) => d.bytes)) - dataBefore[i]!;
        if (growth > DATA_GROWTH_MAX_BYTES) problems.push(`${p.name}: data directory grew by ${mib(growth)} (> ${mib(DATA_GROWTH_MAX_BYTES)}; the runner status has no walBytes)`);
      }
      const halted = during.find((s) => s.halted === true);
      if (halted) problems.push(`${p.name}: consensus halted (${halted.haltCode}) at +${((halted.t - attackStart) / 1000).toFixed(1)} s`);
      if (p.exitCode !== undefined) problems.push(`${p.name} exited with ${p.exitCode}`);
    });

    // The attack really happened (otherwise everything above is vacuous).
    // Sent = published to at least one peer; and the junk reached each honest peer's consensus
    // layer: it recorded the Byzantine validator's equivocations as evidence.
    const a = (byzReports.done ?? byzReports.progress ?? {}) as Record<string, { sent: number; noRecipients: number; bytes: number; failed: number } | undefined>;
    const minSent: Record<string, number> = { walFlood: 30, junkVotes: 100, junkProposer: 10, farFuture: 50, forgedSigsFuture: 30, forgedSigsCurrent: 3 };
    for (const [k, min] of Object.entries(minSent)) {
      const delivered = (a[k]?.sent ?? 0) - (a[k]?.noRecipients ?? 0);
      if (delivered < min) problems.push(`attack stream ${k} published only ${delivered} messages to a peer (< ${min}): ${JSON.stringify(a[k])}`);
    }
    honest.forEach((p, i) => {
      const ev = Number((w!.last[i] as { evidence?: unknown } | null)?.evidence ?? 0);
      if (!(ev >= 1)) problems.push(`${p.name} recorded no equivocation evidence: did the junk reach its consensus layer?`);
    });

    const summary =
      `[byzantine] load ${((loadEnd - attackStart) / 1000).toFixed(1)} s, finality check ${((checkEnd - loadEnd) / 1000).toFixed(1)} s ` +
      `(attack still running: ${attackStillRunning}); flood sent ${a.walFlood?.sent ?? 0} proposals, ${mib(a.walFlood?.bytes)}; ` +
      `${fin.finalOnSubmitPeer}/${accepted.length} final on their accepting peer, slowest long-poll ${fin.slowestMs} ms, ` +
      `all final on every honest peer ${fin.allFinalAtMs === null ? 'never' : `${((fin.allFinalAtMs - loadEnd) / 1000).toFixed(1)} s after the load`}\n` +
      honest.map((p, i) => `${p.name} windows ${JSON.stringify(windows(w!.samples[i]!, attackStart, attackStart + LOAD_MS, WINDOW_MS).map((x) => [x.newFinalCheckpoints, x.heightsAdvanced, x.failedSamples]))} ` +
        `rss max ${mib(Math.max(0, ...w!.samples[i]!.map((s) => s.rss ?? 0)))} wal max ${mib(Math.max(0, ...w!.samples[i]!.map((s) => s.walBytes ?? 0)))} ` +
        `data ${mib(dataBefore[i])} -> max ${mib(Math.max(0, ...w!.dataBytes[i]!.map((d) => d.bytes)))}\n    height/round every 5 s: ${timeline(w!.samples[i]!, attackStart, 5_000)}`).join('\n');
    console.log(`${summary}\n${state()}`);
    expect(problems, `${problems.join('\n')}\n${summary}\n${state()}`).toEqual([]);
  }, 420_000);
});
