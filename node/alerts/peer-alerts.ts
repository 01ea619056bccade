// Alerts inside a running peer: the rules file's evaluator fed with every FINAL entry, in log
// order, and the durable outbox delivering what it raises.
//
//   const alerts = await attachAlerts(peer, { rulesFile, log });   // peer.stop() then stops it first
//
// State lives in its own LevelDB next to the peer's store (<dataDir>/alerts, keys under the 'A'
// prefix as in node/alerts/outbox.ts): the evaluator's position and correlation state, and the
// outbox. Keeping it out of the consensus store means a full or broken alert queue can never get
// in the way of a block write.
//
// Exactly-once evaluation in effect: the evaluator saves its position only after the alerts of the
// entries before it are durable in the outbox; after a crash it evaluates the entries since the
// saved position again, which makes the same alerts with the same ids, and the outbox accepts an
// (alert, destination) pair once. Delivery is at least once (receivers deduplicate by alert id).
import { dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import type { Peer } from '../peer/peer.js';
import type { Destination } from './destinations-config.js';
import { AlertEvaluator } from './evaluator.js';
import { finalEntryOf } from './replay.js';
import { DEFAULT_SENDERS } from './index.js';
import { Outbox, OutboxFullError, type OutboxAlarm, type OutboxOptions, type Sender } from './outbox.js';
import { RulesHolder, type ReloadResult } from './rules-file.js';
import { IntegrityMonitor, type AlarmConfig } from '../monitor/integrity.js';
import { recordRecentAlerts } from './recent.js';

/**
 * Final entries read from the store and evaluated in one step: bounds memory, and the time the
 * event loop is held (about 10 ms at the measured evaluation speed) before consensus messages
 * get their turn again.
 */
export const FEED_CHUNK = 256;
/** Wait before feeding again after the outbox refused a batch (it needs deliveries to make room). */
export const FULL_RETRY_MS = 1000;

export interface AlertsLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface PeerAlertsOptions {
  /** The rules file (YAML or JSON; docs/monitoring.md). */
  rulesFile: string;
  /** Where the alert LevelDB lives (default: next to the peer's store, "<dataDir>/alerts"). */
  dir?: string;
  log?: AlertsLogger;
  /** Index to start from when nothing is saved yet (default 0: the whole log). */
  startIndex?: number;
  snapshotEvery?: number;
  /** Outbox tuning (tests); destinations come from the rules file. */
  outbox?: Partial<Omit<OutboxOptions, 'destinations' | 'senders'>>;
  senders?: Partial<Record<Destination['type'], Sender>>;
  /** Reload the rules file on SIGHUP (the peer process sets it). */
  reloadOnSighup?: boolean;
  /** Overrides of the alarms section (tests: checkMs). */
  alarms?: Partial<AlarmConfig>;
}

export interface PeerAlertsStats {
  /** Next final index to evaluate (all before it are evaluated and their alerts durable). */
  nextIndex: number;
  evaluated: number;
  alerts: number;
  conditionErrors: number;
  groupsDropped: number;
  rules: number;
  reloads: { ok: number; failed: number };
  outbox: { queued: number; delivered: number; attemptsFailed: number; refused: number };
  alarms: Record<OutboxAlarm['kind'], number>;
  /** The last feed failure other than a full outbox (null when fine). */
  lastError: string | null;
}

export interface PeerAlerts {
  stats(): PeerAlertsStats;
  /** Re-reads the rules file; a bad file keeps the rules in force and says why. */
  reload(): Promise<ReloadResult>;
  /** Resolves once every final entry known now has been evaluated (tests). */
  caughtUp(): Promise<void>;
  /** The built-in integrity alarms, when the rules file has an `alarms` section (else null). */
  readonly monitor: IntegrityMonitor | null;
  stop(): Promise<void>;
}

const handles = new WeakMap<Peer, PeerAlerts>();

/** The alerts attached to a peer, if any (for /metrics). */
export function alertsOf(peer: Peer): PeerAlerts | undefined {
  return handles.get(peer);
}

/** Starts alert evaluation and delivery in `peer`; peer.stop() stops it first. */
export async function attachAlerts(peer: Peer, opts: PeerAlertsOptions): Promise<PeerAlerts> {
  const store = peer.internals.store;
  const log = opts.log;
  const holder = new RulesHolder(opts.rulesFile);
  const first = await holder.reload();
  if (!first.ok) throw first.error;
  // The outbox reads destinations at each attempt: a reload updates this map in place.
  const destinations = new Map<string, Destination>(first.rules.destinations);
  const dir = opts.dir ?? join(dirname(store.dir), 'alerts');
  await mkdir(dir, { recursive: true });
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const alarms: PeerAlertsStats['alarms'] = { outbox_full: 0, delivery_failing: 0 };
  let outbox: Outbox;
  let evaluator: AlertEvaluator;
  // Created below, after the outbox; a full outbox is itself an alarm, delivered through it.
  let monitor: IntegrityMonitor | null = null;
  try {
    outbox = await Outbox.open(db, {
      ...opts.outbox,
      destinations,
      senders: { ...DEFAULT_SENDERS, ...opts.senders },
      onAlarm: (a) => {
        alarms[a.kind]++;
        log?.warn({ alarm: a }, `alert ${a.kind}`);
        opts.outbox?.onAlarm?.(a);
        if (a.kind === 'outbox_full') monitor?.outboxFull(a);
      },
    });
    evaluator = await AlertEvaluator.open(db, {
      rules: first.rules.rules,
      outbox,
      ...(opts.snapshotEvery !== undefined ? { snapshotEvery: opts.snapshotEvery } : {}),
      ...(opts.startIndex !== undefined ? { startIndex: opts.startIndex } : {}),
    });
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  const reloads = { ok: 0, failed: 0 };
  let alertsMade = 0;
  let evaluated = 0;
  let lastError: string | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;

  // One feed loop at a time; a 'final' event during a run makes it run once more.
  const pump = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await feed();
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const feed = async (): Promise<void> => {
    for (;;) {
      if (stopped) return;
      const next = evaluator.nextIndex();
      const fin = peer.internals.ledger.finalSize();
      if (next >= fin) return;
      const count = Math.min(FEED_CHUNK, fin - next, store.limits.maxGetLeaves);
      try {
        const leaves = await store.getLeaves(next, count);
        // Leaves in the store passed the entry checks when they were logged: they are entry JSON.
        const made = await evaluator.onFinal(leaves.map((l, i) => finalEntryOf(next + i, l)));
        alertsMade += made.length;
        recordRecentAlerts(peer, made); // GET /v1/alerts/recent (node/alerts/recent.ts)
        evaluated += leaves.length;
        lastError = null;
        await new Promise((r) => setImmediate(r));
      } catch (e) {
        if (stopped) return;
        // Full outbox: the evaluator rolled back to its saved position; evaluate again once
        // deliveries made room (same alerts, same ids, so nothing is lost or doubled).
        if (!(e instanceof OutboxFullError)) {
          lastError = (e as Error).message;
          log?.error({ error: lastError, index: next }, 'alert evaluation failed; retrying');
        }
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => void pump(), FULL_RETRY_MS);
        retryTimer.unref();
        return;
      }
    }
  };

  const onFinal = (): void => void pump();
  peer.events.on('final', onFinal);
  outbox.start();
  // Integrity alarms go through the same outbox (their destinations and thresholds are read at
  // start; a reload does not change them).
  if (first.rules.alarms !== undefined) {
    const a = first.rules.alarms;
    monitor = new IntegrityMonitor(peer, { ...a, ...opts.alarms, destinations: a.destinations }, async (alarms) => {
      await outbox.enqueue(alarms);
    });
    monitor.start();
  }

  const reload = async (): Promise<ReloadResult> => {
    const r = await holder.reload();
    if (!r.ok) {
      reloads.failed++;
      log?.warn({ error: r.error.message }, 'alert rules reload failed; the previous rules stay in force');
      return r;
    }
    // Between feed steps, so that no batch is evaluated half with the old rules.
    await (running ?? Promise.resolve());
    await evaluator.replaceRules(r.rules.rules);
    destinations.clear();
    for (const [k, v] of r.rules.destinations) destinations.set(k, v);
    reloads.ok++;
    log?.info({ rules: r.rules.rules.length }, 'alert rules reloaded');
    void pump();
    return r;
  };
  const onHup = (): void => void reload();
  if (opts.reloadOnSighup) process.on('SIGHUP', onHup);

  const handle: PeerAlerts = {
    stats: () => {
      // The engine's own counters restart at each rollback; these are since this start.
      const s = evaluator.stats;
      return {
        nextIndex: evaluator.nextIndex(),
        evaluated,
        alerts: alertsMade,
        conditionErrors: s.conditionErrors,
        groupsDropped: s.groupsEvictedForLimits,
        rules: holder.rules?.rules.length ?? 0,
        reloads: { ...reloads },
        outbox: { ...outbox.stats },
        alarms: { ...alarms },
        lastError,
      };
    },
    reload,
    caughtUp: async () => {
      await pump();
    },
    monitor,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      peer.events.off('final', onFinal);
      if (opts.reloadOnSighup) process.off('SIGHUP', onHup);
      clearTimeout(retryTimer);
      await monitor?.stop();
      await (running ?? Promise.resolve()).catch(() => undefined);
      await outbox.stop();
      // A clean stop saves the position: the next start re-evaluates nothing.
      await evaluator.save().catch(() => undefined);
      await db.close();
      handles.delete(peer);
    },
  };
  handles.set(peer, handle);
  const stopPeer = peer.stop.bind(peer);
  peer.stop = async () => {
    await handle.stop();
    await stopPeer();
  };
  log?.info({ rules: first.rules.rules.length, destinations: destinations.size, nextIndex: evaluator.nextIndex() }, 'alerts running');
  void pump();
  return handle;
}

/**
 * The peer process's hook: alerts run when CAIRN_ALERTS names a rules file (CAIRN_ALERTS_START:
 * the first index to evaluate when nothing is saved yet, default 0). Reloaded on SIGHUP.
 */
export async function attachAlertsFromEnv(peer: Peer, env: NodeJS.ProcessEnv, log?: AlertsLogger): Promise<PeerAlerts | null> {
  const file = env.CAIRN_ALERTS;
  if (file === undefined || file === '') return null;
  const start = env.CAIRN_ALERTS_START;
  if (start !== undefined && !/^\d{1,15}$/.test(start)) throw new Error(`CAIRN_ALERTS_START must be a non-negative integer, got ${JSON.stringify(start)}`);
  return attachAlerts(peer, { rulesFile: file, reloadOnSighup: true, ...(log ? { log } : {}), ...(start !== undefined ? { startIndex: Number(start) } : {}) });
}
