// The meta-audit: every restricted read and every denial becomes an entry of the log itself,
// signed by the organization's meta-audit client key (the genesis client `<org>-meta-audit`
// vouched by that organization, node/peer/genesis-sharing.ts).
//
//   const ma = await openMetaAudit({ peer, dir: join(dataDir, 'meta-audit'), seed, organization });
//   await ma.record({ actor, action: 'cairn.read.entry', resource, address, outcome: 'success', atMs });
//
// record() resolves once the event is synced in the local queue (queue.ts); the pump (pump.ts)
// turns queued records into entries and removes them once final. See docs/access-control.md.
import { join } from 'node:path';
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { toHex } from '../../src/encoding/bytes.js';
import { loadSigningKey } from '../peer/config.js';
import { PeerError } from '../peer/errors.js';
import { metaAuditClientFor, metaAuditClientName } from '../peer/genesis-sharing.js';
import type { Genesis } from '../peer/genesis.js';
import { Pump, type PumpLog, type PumpPeer } from './pump.js';
import { MetaAuditQueue } from './queue.js';
import { DEFAULT_META_AUDIT_LIMITS, type MetaAudit, type MetaAuditEvent, type MetaAuditLimits, type MetaAuditStats } from './types.js';

export type { MetaAudit, MetaAuditEvent, MetaAuditLimits, MetaAuditStats } from './types.js';
export { DEFAULT_META_AUDIT_LIMITS } from './types.js';
export { metaAuditEntryId, recordEntry } from './entry.js';

export interface MetaAuditOptions {
  /** The running peer (its submit, lookups by (client, id), 'final' events and genesis). */
  peer: PumpPeer & { genesis: Genesis; status?: () => { validator: { name: string } | null } };
  /** The queue's LevelDB directory, e.g. <dataDir>/meta-audit. */
  dir: string;
  /** The organization's meta-audit client key: a 32-byte Ed25519 seed, or a signer. */
  seed?: Uint8Array;
  signer?: Ed25519Signer;
  /** The organization whose meta-audit client signs (default: the peer's validator name). */
  organization?: string;
  /** The access policy fails closed: a successful read at 'full' is not counted (the gate answers 503). */
  failClosed?: boolean;
  limits?: Partial<MetaAuditLimits>;
  /** false: queue only, no submissions (tests of the queue's durability). Default true. */
  pump?: boolean;
  now?: () => number;
  log?: PumpLog;
}

/**
 * Opens the queue and starts the pump. Throws PeerError:
 * `meta_audit_no_organization` (no organization given and the peer is not a validator),
 * `meta_audit_no_client` (the genesis has no client `<org>-meta-audit` vouched by the organization),
 * `meta_audit_key_mismatch` (the key is not that client's key), `meta_audit_bad_key` (no usable key).
 */
export async function openMetaAudit(opts: MetaAuditOptions): Promise<MetaAudit> {
  const limits: MetaAuditLimits = { ...DEFAULT_META_AUDIT_LIMITS, ...(opts.limits ?? {}) };
  const signer = opts.signer ?? (opts.seed !== undefined && opts.seed.length === 32 ? nodeSigner(opts.seed) : null);
  if (signer === null) throw new PeerError('meta_audit_bad_key', 'the meta-audit key must be a 32-byte Ed25519 seed or a signer');
  const org = opts.organization ?? opts.peer.status?.().validator?.name;
  if (org === undefined) throw new PeerError('meta_audit_no_organization', 'the peer is not a validator: name the organization whose meta-audit client signs');
  // Checked at start rather than at the first submission: entries signed by any other key would be
  // refused (unknown_client) or attributed to the wrong organization, and the queue would only grow.
  const client = metaAuditClientFor(opts.peer.genesis, org);
  if (client === undefined) {
    throw new PeerError('meta_audit_no_client', `the genesis has no client "${metaAuditClientName(org)}" vouched by ${org}: add the organization's meta-audit client key to the genesis`);
  }
  if (client.publicKeyHex !== toHex(signer.publicKey)) {
    throw new PeerError('meta_audit_key_mismatch', `the meta-audit key is not the key of genesis client "${client.name}"`);
  }
  const now = opts.now ?? Date.now;
  const log: PumpLog = opts.log ?? (() => {});
  const queue = await MetaAuditQueue.open(opts.dir, limits, { failClosed: opts.failClosed ?? false, now });
  const pump = new Pump(opts.peer, queue, signer, limits, log, now);
  if (opts.pump !== false) pump.start();
  let closed = false;
  let wake: NodeJS.Timeout | null = null;
  return {
    record: async (ev) => {
      if (closed) throw new PeerError('meta_audit_closed', 'the meta-audit is closed');
      const r = await queue.record(ev);
      // A new record is submitted once its coalescing window ends: wake the pump then (one timer
      // at a time, whatever the request rate; the pump's own poll catches the rest).
      if (opts.pump !== false && wake === null && !closed) {
        wake = setTimeout(() => {
          wake = null;
          pump.kick();
        }, limits.coalesceWindowMs + 1);
        wake.unref();
      }
      return r;
    },
    stats: (): MetaAuditStats => ({
      queued: queue.size,
      submitted: pump.counters.submitted,
      final: pump.counters.final,
      coalesced: queue.counters.coalesced,
      events: queue.counters.events,
      overflow: queue.counters.overflow,
      full: queue.counters.full,
      submitErrors: pump.counters.submitErrors,
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      if (wake !== null) clearTimeout(wake);
      await pump.stop();
      await queue.close();
    },
  };
}

/** The peer-config part attachMetaAudit reads. */
export interface MetaAuditConfig {
  dataDir: string;
  /** Path of the organization's meta-audit client key file (signer key string or PKCS#8 PEM); absent = no meta-audit. */
  metaAuditKey?: string | null;
  failClosed?: boolean;
}

/**
 * For the peer process: opens the meta-audit at <dataDir>/meta-audit when the config names a key
 * and makes peer.stop() close it first. Call it after startPeer and BEFORE attachHttp, so the HTTP
 * server (which records into it) is closed before the meta-audit is. Returns null without a key.
 */
export async function attachMetaAudit(
  peer: MetaAuditOptions['peer'] & { stop(): Promise<void> },
  config: MetaAuditConfig,
  log?: PumpLog,
): Promise<MetaAudit | null> {
  if (config.metaAuditKey === undefined || config.metaAuditKey === null) return null;
  const { seed } = await loadSigningKey(config.metaAuditKey);
  const ma = await openMetaAudit({ peer, dir: join(config.dataDir, 'meta-audit'), seed, ...(config.failClosed !== undefined ? { failClosed: config.failClosed } : {}), ...(log ? { log } : {}) });
  const stopPeer = peer.stop.bind(peer);
  peer.stop = async () => {
    await ma.close();
    await stopPeer();
  };
  return ma;
}
