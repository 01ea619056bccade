// The peer library API: start one organization's peer in-process and talk to it without HTTP
// (tests, benchmarks, embedding). Wires genesis, storage, networking, mempool, ledger, consensus runner and
// catch-up together; see each module's header for the rules it implements.
import '../polyfills.js';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { loadNextSigners } from './signing-keys.js';
import { bytesEqual, fromHex, fromUtf8, toBase64, toHex } from '../../src/encoding/bytes.js';
import { consistencyProof as merkleConsistencyProof, inclusionProof as merkleInclusionProof } from '../../src/merkle/index.js';
import { createPeerNetwork, silentLogger, type NetLogger, type PeerNetwork, type NetLimits, type NetStats } from '../net/index.js';
import { checkOwnPeerId, followMembership, memberUpdates, peerAddressBook, SetView } from './membership.js';
import { openStore, type Store } from '../storage/store.js';
import { decodeBlock } from './block.js';
import { decodeEntryBatch, decodeEvidence, encodeEntryBatch } from './codec.js';
import { loadConfig, loadP2PKey, loadSigningKey, type PeerConfig } from './config.js';
import { ConsensusRunner, type RunnerStatus } from './consensus-runner.js';
import { createEntryChecker } from './entries.js';
import { VerifyPool } from './verify-pool.js';
import { GovTracker } from './governance.js';
import { PeerError } from './errors.js';
import { loadGenesis, type Genesis } from './genesis.js';
import { Ledger, type AppliedInfo } from './ledger.js';
import { Mempool, GOSSIP_BATCH_ENTRIES_MAX, type SubmitResult } from './mempool.js';
import { Syncer, type SyncStats } from './sync.js';
import { locateByClientId, locateByLeafHash, type Located } from './entry-locate.js';
import { startProofCacheWarm, type ProofCacheOptions } from './proof-warm.js';

/** Entries of a gossiped batch checked synchronously by the topic validator (the rest: by the handler). */
export const GOSSIP_VALIDATOR_SAMPLE = 8;
/** How often the mempool drops entries whose time left the maxClockSkewMs window. */
export const MEMPOOL_EXPIRE_INTERVAL_MS = 10_000;

export interface PeerOptions {
  genesis: Genesis;
  /** The organization's 32-byte Ed25519 seed (validator key); must match a genesis validator to vote. */
  signingSeed: Uint8Array;
  /** libp2p identity. */
  p2pKey: PrivateKey;
  dataDir: string;
  listen: string[];
  /**
   * Addresses of other organizations' peers (multiaddrs ending in /p2p/<id>), from the config:
   * how this peer reaches organizations added after the genesis.
   */
  peers?: string[];
  logger?: NetLogger;
  netLimits?: Partial<NetLimits>;
  /** Write search indexes in each block's batch (default true; false only for benchmarks). */
  searchIndexes?: boolean;
  /** Worker threads verifying client submissions' signatures (verify-pool.ts); 0 or absent = in-thread. */
  verifyWorkers?: number;
  /** Catch-up checks every client signature of a certified block too (LedgerOptions). */
  syncVerifyClientSignatures?: boolean;
  /** Bounds of the search proof cache and delay of its warm-up (proof-warm.ts); no warm-up without search indexes. */
  proofCache?: ProofCacheOptions;
  /** Further keys of this organization (config `keys.next`): a rotation's next key signs from its effective height without a restart. */
  nextSigners?: readonly Ed25519Signer[];
  now?: () => number;
}

export interface PeerStatus {
  origin: string;
  genesisHash: string;
  peerId: string;
  validator: { index: number; name: string } | null;
  height: number;
  treeSize: number;
  root: string;
  finalSize: number;
  latestFinalCheckpoint: string | null;
  mempool: { entries: number; bytes: number };
  /** The validators in force at the next height (and, role 'scheduled', the decided next set's newcomers), us excluded. */
  peers: { name: string; peerId: string; connected: boolean; height: number | null; treeSize: number | null; role?: 'member' | 'scheduled' }[];
  quorum: { needed: number; reachable: number; ok: boolean };
  /** Governance state after the head (docs/governance.md): its hash (equal on peers at the same head), the validator set number of the next height, records applied. */
  governance?: ReturnType<GovTracker['summary']>;
  /**
   * null when healthy; "consensus halted: <code>: <reason>" once consensus stopped for good on
   * this peer (fail-stop, see `halted`); else "no quorum" when fewer than q validators (us
   * included) are reachable.
   */
  problem: string | null;
  /**
   * Set once this peer's consensus stopped for good: a decided block that does not apply
   * (DIVERGENCE), a driver transition limit, a full WAL, a failed durable write, a broken
   * invariant. The peer keeps serving reads; it needs an operator (restart after the cause is
   * understood), so health checks fail.
   */
  halted: { code: string; message: string; atMs: number } | null;
  consensus: RunnerStatus;
  sync: SyncStats;
  evidence: number;
  /** Gossip publishes that failed, by kind (consensus and checkpointSig failures are logged at warn). */
  publishFailures: { consensus: number; checkpointSig: number; entries: number };
  /** The networking layer's counters (gossip verdicts, publishes by priority, bulk sheds, backpressure). */
  net: NetStats;
}

export type EntryLookup =
  | { status: 'unknown' }
  | { status: 'pending'; leafHash: string }
  | { status: 'logged'; leafHash: string; index: number }
  | { status: 'final'; leafHash: string; index: number; leaf: Uint8Array; proof: string[]; checkpoint: string; treeSize: number };

export interface PeerEvents {
  block: [AppliedInfo];
  final: [{ treeSize: number; note: Uint8Array }];
}

export interface Peer {
  readonly peerId: string;
  readonly genesis: Genesis;
  readonly events: EventEmitter<PeerEvents>;
  addresses(): string[];
  submit(entries: unknown[]): Promise<SubmitResult[]>;
  status(): PeerStatus;
  getEntry(leafHash: string | Uint8Array): Promise<EntryLookup>;
  getEntryByClientId(client: string, id: string): Promise<EntryLookup>;
  getLeaf(index: number): Promise<Uint8Array | undefined>;
  inclusionProof(index: number, size: number): Promise<Uint8Array[]>;
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]>;
  /** The latest final checkpoint (C2SP signed note), or null before the first one. */
  latestCheckpoint(): Promise<string | null>;
  readTile(level: number, index: number, width?: number): Promise<Uint8Array | undefined>;
  readEntryBundle(n: number, width?: number): Promise<Uint8Array | undefined>;
  /** Stored equivocation evidence (decoded), oldest first. */
  evidence(limit?: number): Promise<{ height: number; round: number; type: string; validator: number }[]>;
  /**
   * Stops this peer's consensus for good (fail-stop) and reports it in status().problem,
   * /healthz and the cairn_consensus_halted metric. For states the code believes impossible.
   * Only the first call counts.
   */
  halt(code: string, message: string, fields?: Record<string, unknown>): void;
  /** Internals for tests and the HTTP/metrics layers. */
  readonly internals: { store: Store; ledger: Ledger; mempool: Mempool; runner: ConsensusRunner; syncer: Syncer; net: PeerNetwork };
  stop(): Promise<void>;
}

/** Starts a peer from a loaded config (keys and genesis read from disk). */
export async function startPeerFromConfig(config: PeerConfig, logger?: NetLogger): Promise<Peer> {
  const genesis = await loadGenesis(config.genesis);
  const { seed } = await loadSigningKey(config.signingKey);
  const { privateKey } = await loadP2PKey(config.p2pKey);
  const nextSigners = await loadNextSigners(config.keys?.next ?? []);
  return startPeer({
    genesis,
    signingSeed: seed,
    p2pKey: privateKey,
    dataDir: config.dataDir,
    listen: config.listen,
    ...(config.searchIndexes === false ? { searchIndexes: false } : {}),
    ...(config.proofCacheMiB !== undefined ? { proofCache: { maxBytes: config.proofCacheMiB * 1024 * 1024 } } : {}),
    ...(config.verifyWorkers ? { verifyWorkers: config.verifyWorkers } : {}),
    ...(config.syncVerifyClientSignatures === true ? { syncVerifyClientSignatures: true } : {}),
    ...(config.peers !== undefined && config.peers.length > 0 ? { peers: config.peers } : {}),
    ...(nextSigners.length > 0 ? { nextSigners } : {}),
    ...(logger ? { logger } : {}),
  });
}

/** Loads a config file (with env overrides) and starts the peer. */
export async function startPeerFromConfigFile(path: string, logger?: NetLogger): Promise<Peer> {
  return startPeerFromConfig(await loadConfig(path), logger);
}

export async function startPeer(opts: PeerOptions): Promise<Peer> {
  const g = opts.genesis;
  const log = opts.logger ?? silentLogger;
  const logFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => log[level](fields, msg);
  const pub = publicKeyFromSeed(opts.signingSeed);
  const self = g.validators.find((v) => bytesEqual(v.publicKey, pub)) ?? null;
  // Which organization we are at a height is found by key in that height's set (ledger
  // validator-sets.ts): a key added or rotated in by governance signs from its first height.
  const signer = nodeSigner(opts.signingSeed);
  const ownPeerId = peerIdFromPrivateKey(opts.p2pKey).toString();

  const store = await openStore(join(opts.dataDir, 'store'), {
    genesisHash: g.hash,
    ...(opts.searchIndexes === false ? { searchIndexes: false } : {}),
    // No block limits from the genesis: a params.set may raise them. The store's defaults
    // (100,000 leaves, 16 MiB) cover the parameter ranges' maxima (BLOCK_CAPS).
    checkHeadBlock: (head, bytes) => {
      const d = decodeBlock(bytes);
      if (!d.ok) return `head block does not decode: ${d.message}`;
      const h = d.block.header;
      if (h.height !== head.height || h.treeSize !== head.treeSize || !bytesEqual(h.root, head.root)) return 'head block header disagrees with the stored head';
      return null;
    },
  });
  let net: PeerNetwork | null = null;
  // Out here so a failed start closes it too: its worker threads would outlive the peer.
  let pool: VerifyPool | null = null;
  try {
    const gov = await GovTracker.open(g, store, store.head()?.height ?? 0);
    // The other peers' gaters admit exactly the peer id each set lists for an organization: a
    // wrong p2p key would leave this peer silently unable to connect, so refuse to start instead.
    checkOwnPeerId(gov.state, pub, ownPeerId, (store.head()?.height ?? 0) + 1);
    const addressBook = peerAddressBook(g, opts.peers ?? []);
    const setView = new SetView(() => gov.state);
    pool = opts.verifyWorkers ? new VerifyPool({ workers: opts.verifyWorkers }) : null;
    const checker = createEntryChecker(g, undefined, gov, pool);
    let publishSig: (b: Uint8Array) => void = () => {};
    const ledger = await Ledger.open({
      genesis: g,
      store,
      checker,
      selfIndex: self?.index ?? null,
      signer,
      ...(opts.nextSigners !== undefined ? { extraSigners: opts.nextSigners } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      publishCheckpointSig: (b) => publishSig(b),
      log: logFn,
      gov,
      ...(opts.syncVerifyClientSignatures === true ? { syncVerifyClientSignatures: true } : {}),
    });
    net = await createPeerNetwork({
      privateKey: opts.p2pKey,
      listen: opts.listen,
      // The validators in force at the next height and the decided next set (membership.ts).
      peers: memberUpdates(gov.state, ledger.getHead().height + 1, addressBook),
      // Topic and protocol ids carry the genesis hash prefix: peers of another genesis never share a topic.
      namespace: g.hashHex.slice(0, 16),
      genesisHash: g.hash,
      logger: log,
      ...(opts.netLimits ? { limits: opts.netLimits } : {}),
    });
    const network = net;
    const topics = network.topics;
    const publishFailures = { consensus: 0, checkpointSig: 0, entries: 0 };
    // Consensus messages and checkpoint signatures are published 'urgent' (never behind entry
    // batches); a failure there can delay a height or finality, so it is a warning and counted.
    // Entry batches are 'bulk': under backpressure they wait or are shed, which is expected
    // under load (the entries stay in our mempool and reach blocks through our proposals).
    const publish = (topic: string, data: Uint8Array, kind: keyof typeof publishFailures) => {
      const priority = kind === 'entries' ? 'bulk' : 'urgent';
      network.publish(topic, data, { priority }).catch((e: Error) => {
        publishFailures[kind]++;
        logFn(priority === 'urgent' ? 'warn' : 'debug', `${kind} publish failed`, { error: e.message, failures: publishFailures[kind] });
      });
    };
    publishSig = (b) => publish(topics.checkpointSigs, b, 'checkpointSig');
    const mempool = new Mempool(
      g.limits,
      checker,
      {
        indexOfLeafHash: (h) => store.indexOfLeafHash(h),
        lookupClientId: (c, i) => store.lookupClientId(c, i),
        lookupMany: (es) => store.lookupLogged(es),
        finalSize: () => ledger.finalSize(),
      },
      (leaves) => publish(topics.entries, encodeEntryBatch(leaves), 'entries'),
      opts.now,
    );
    ledger.attachMempool(mempool);
    // Compact proposals: peers fetch the entries of a proposal they lack from us (and we from them,
    // its proposer first: the validator set maps the block's proposer index to its peer id).
    await ledger.assembly.serve(network, (height, index) => ledger.validatorSets.view(height).orgs[index]?.peerId);
    let syncer: Syncer | null = null;
    let halted: PeerStatus['halted'] = null;
    // Fail-stop: record the first reason; the runner has stopped itself when it reports one.
    const halt = (code: string, message: string, fields: Record<string, unknown> = {}) => {
      if (halted !== null) return;
      halted = { code, message, atMs: (opts.now ?? Date.now)() };
      logFn('error', 'peer halted: consensus stopped, operator action needed', { code, reason: message, ...fields });
    };
    const runner = new ConsensusRunner({
      genesis: g,
      store,
      ledger,
      mempool,
      selfIndex: self?.index ?? null,
      signer,
      publish: (b) => publish(topics.consensus, b, 'consensus'),
      onBehind: () => syncer?.trigger('message from a higher height'),
      onHalt: (code, message, fields) => halt(code, message, fields),
      log: logFn,
    });
    syncer = new Syncer(network, store, ledger, runner, logFn, halt);
    const sync = syncer;

    network.subscribe(
      topics.entries,
      (_from, data) => {
        // Malformed batches, and batches carrying entries that no honest peer would relay
        // (schema violations, unauthorized clients, bad signatures), are rejected: gossipsub then
        // penalizes the sender. Validators run synchronously inside gossipsub, so only a bounded
        // sample of entries is checked here (verifying a whole 500-entry batch inline would hold
        // consensus messages back for hundreds of ms); the handler checks every entry, in slices,
        // and drops the bad ones. Verdicts are cached, so sampled entries are not verified twice.
        const d = decodeEntryBatch(data, GOSSIP_BATCH_ENTRIES_MAX);
        if (!d.ok) return 'reject';
        const n = d.leaves.length;
        const step = Math.max(1, Math.ceil(n / GOSSIP_VALIDATOR_SAMPLE));
        const sample = new Set<number>([n - 1]);
        for (let i = 0; i < n; i += step) sample.add(i);
        for (const i of sample) {
          const c = checker.checkLeaf(d.leaves[i]!);
          if (!c.ok && (c.code === 'malformed' || c.code === 'unknown_client' || c.code === 'bad_signature' || c.code === 'too_large')) return 'reject';
        }
        return 'accept';
      },
      (_from, data) => {
        const d = decodeEntryBatch(data, GOSSIP_BATCH_ENTRIES_MAX);
        if (d.ok) mempool.receiveGossip(d.leaves).catch((e: Error) => logFn('warn', 'entry batch failed', { error: e.message }));
      },
    );
    network.subscribe(
      topics.consensus,
      (_from, data) => runner.validateGossip(data),
      (_from, data) => runner.onGossip(data),
    );
    network.subscribe(
      topics.checkpointSigs,
      (from, data) => ledger.checkCheckpointSigShape(data, from),
      (_from, data) => {
        ledger.onCheckpointSigMessage(data).catch((e: Error) => logFn('warn', 'checkpoint signature failed', { error: e.message }));
      },
    );
    await sync.serve();
    // Connections follow the validator set, re-evaluated after every applied block.
    const membership = followMembership({ network, gov, ledger, view: setView, addressBook, log: logFn });
    // A final checkpoint note that cannot be written halts consensus whichever path wrote it.
    ledger.on('storeFailed', (e) => runner.storeFailed(`final checkpoint not stored: ${e.message}`));
    await runner.start();
    // A (re)connected peer missed what we sent while it was away.
    // (after a moment: its topic subscriptions reach us just after the connection opens).
    network.onPeerConnect(() => {
      const t = setTimeout(() => runner.resend(), 500);
      t.unref();
    });
    sync.startPolling();
    sync.trigger('startup');
    // Entries whose time left the skew window can never be put in a block: drop them.
    const expireTimer = setInterval(() => mempool.expire(), MEMPOOL_EXPIRE_INTERVAL_MS);
    expireTimer.unref();
    // Without search indexes no search is answered: nothing to warm.
    const proofWarm = startProofCacheWarm(store, () => ledger.finalSize(), { ...(opts.searchIndexes === false ? { warmDelayMs: -1 } : {}), ...opts.proofCache }, logFn);

    const events = new EventEmitter<PeerEvents>();
    ledger.on('block', (i) => events.emit('block', i));
    ledger.on('final', (f) => events.emit('final', f));
    let evidenceCount = (await store.listEvidence(store.limits.maxListEvidence)).length;
    ledger.on('block', () => {
      evidenceCount = runner.status().evidence;
    });

    const latestCheckpoint = async (): Promise<string | null> => {
      const n = await store.latestFinalCheckpoint();
      return n === undefined ? null : fromUtf8(n);
    };
    let latestNote: string | null = await latestCheckpoint();
    ledger.on('final', (f) => {
      latestNote = fromUtf8(f.note);
    });

    const lookup = async (l: Located): Promise<EntryLookup> => {
      if (l === null) return { status: 'unknown' };
      if ('pending' in l) return { status: 'pending', leafHash: toHex(l.pending.leafHash) };
      const { index } = l.logged;
      const hex = toHex(l.logged.leafHash);
      const fin = ledger.finalSize();
      if (index >= fin || latestNote === null) return { status: 'logged', leafHash: hex, index };
      const note = latestNote;
      const leaf = await store.getLeaf(index);
      const proof = await merkleInclusionProof(store, index, fin);
      return { status: 'final', leafHash: hex, index, leaf: leaf!, proof: proof.map(toBase64), checkpoint: note, treeSize: fin };
    };

    let stopped = false;
    const peer: Peer = {
      peerId: network.peerId,
      genesis: g,
      events,
      addresses: () => network.addresses(),
      submit: (entries) => mempool.submit(entries),
      status: () => {
        const head = ledger.getHead();
        const connected = new Set(network.connectedPeers());
        const { set } = setView.at(head.height + 1);
        const peers = network.members().map((v) => {
          const h = sync.peers.get(v.peerId);
          return { name: v.name, peerId: v.peerId, connected: connected.has(v.peerId), height: h?.height ?? null, treeSize: h?.treeSize ?? null, role: v.role };
        });
        // Any key we hold (keys.next too): after a rotation without a restart we are still that organization.
        const selfInSet = set.orgs.findIndex((o) => ledger.validatorSets.isOwnKey(o.key.publicKey));
        const reachable = peers.filter((p) => p.connected && p.role === 'member').length + (selfInSet >= 0 ? 1 : 0);
        const ok = reachable >= set.quorum;
        return {
          origin: g.origin,
          genesisHash: g.hashHex,
          peerId: network.peerId,
          validator: selfInSet < 0 ? null : { index: selfInSet, name: set.orgs[selfInSet]!.name },
          height: head.height,
          treeSize: head.treeSize,
          root: toHex(head.root),
          finalSize: ledger.finalSize(),
          latestFinalCheckpoint: latestNote,
          mempool: { entries: mempool.size, bytes: mempool.sizeBytes },
          peers,
          quorum: { needed: set.quorum, reachable, ok },
          governance: gov.summary(),
          problem: halted !== null ? `consensus halted: ${halted.code}: ${halted.message}` : ok ? null : 'no quorum',
          halted,
          consensus: runner.status(),
          sync: { ...sync.stats },
          evidence: Math.max(evidenceCount, runner.status().evidence),
          publishFailures: { ...publishFailures },
          net: network.stats(),
        };
      },
      getEntry: async (leafHash) => {
        const bytes = typeof leafHash === 'string' ? fromHex(leafHash) : leafHash;
        if (bytes === null || bytes.length !== 32) throw new PeerError('malformed', 'leaf hash must be 32 bytes (64 hex characters)', 'leafHash');
        return lookup(await locateByLeafHash(store, mempool, bytes));
      },
      getEntryByClientId: async (client, id) => lookup(await locateByClientId(store, mempool, client, id)),
      getLeaf: (index) => store.getLeaf(index),
      inclusionProof: (index, size) => merkleInclusionProof(store, index, size),
      consistencyProof: (s1, s2) => merkleConsistencyProof(store, s1, s2),
      // Cached: kept equal to the store's latest final checkpoint by the 'final' event (which
      // fires after the synced write); clients and auditors poll this often.
      latestCheckpoint: async () => latestNote,
      readTile: (level, index, width) => store.readTile(level, index, width),
      readEntryBundle: (n, width) => store.readEntryBundle(n, width),
      evidence: async (limit = 100) => {
        const recs = await store.listEvidence(Math.min(limit, store.limits.maxListEvidence));
        const out: { height: number; round: number; type: string; validator: number }[] = [];
        for (const r of recs) {
          const d = decodeEvidence(r);
          if (d.ok) out.push({ height: d.first.height, round: d.first.round, type: d.first.type, validator: d.first.validator });
        }
        return out;
      },
      halt: (code, message, fields) => {
        if (halted !== null) return;
        halt(code, message, fields);
        // Not awaited: a halt may be raised from inside a consensus task, which stop() waits for.
        void runner.stop();
      },
      internals: { store, ledger, mempool, runner, syncer: sync, net: network },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(expireTimer);
        // Before the store closes: the warm-up reads tiles from it.
        await proofWarm.stop();
        membership.stop();
        mempool.stop();
        await checker.close?.();
        sync.stop();
        await runner.stop();
        // Stopping the network first makes a catch-up request in flight fail at once instead
        // of running into its timeout; then the last catch-up step can finish before the store closes.
        await network.stop();
        await sync.idle().catch(() => undefined);
        await ledger.close();
        await store.close();
      },
    };
    logFn('info', 'peer started', {
      origin: g.origin,
      peerId: network.peerId,
      validator: self?.name ?? null,
      height: ledger.getHead().height,
      treeSize: ledger.getHead().treeSize,
      addresses: network.addresses(),
    });
    return peer;
  } catch (e) {
    await pool?.close().catch(() => undefined);
    await net?.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}
