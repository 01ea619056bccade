// The peer's connections follow the validator set (docs/governance.md, "Peer connections"):
// after every applied block the admitted peer ids are recomputed from the governance state
// (node/net/membership-gate.ts: the set in force at the next height plus the decided next set) and
// handed to the network, which closes and refuses removed ids and dials added ones.
//
// Addresses: governance records carry no address (an org.add names the key and peer id only).
// A peer dials the genesis addresses and the `peers` list of its own config; an organization
// added later is reached because it dials the others (from its config) and, once it has
// connected, its listen addresses are known from identify.
import { bytesEqual } from '../../src/encoding/bytes.js';
import { validatorsAt, type GovState, type ValidatorEpoch } from '../../src/governance/index.js';
import { admittedPeers, type MemberPeer, type MemberUpdate, type PeerNetwork } from '../net/index.js';
import { PeerError } from './errors.js';
import type { Genesis } from './genesis.js';
import type { GovTracker } from './governance.js';
import type { Ledger } from './ledger.js';

type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Peer id -> addresses: the genesis addresses, then the config's `peers` (multiaddrs ending in /p2p/<id>). */
export function peerAddressBook(g: Genesis, configPeers: readonly string[]): Map<string, string[]> {
  const book = new Map<string, string[]>();
  for (const v of g.validators) book.set(v.peerId, [...v.addrs]);
  for (const a of configPeers) {
    const i = a.lastIndexOf('/p2p/');
    if (i < 0) continue;
    const id = a.slice(i + 5);
    const list = book.get(id) ?? [];
    // The config comes first: an operator's address overrides a stale genesis one.
    if (!list.includes(a)) list.unshift(a);
    book.set(id, list.slice(0, 16));
  }
  return book;
}

/** The network's admitted peers when the next block is `nextHeight`. */
export function memberUpdates(state: GovState, nextHeight: number, book: ReadonlyMap<string, string[]>): MemberUpdate[] {
  return withAddrs(admittedPeers(state, nextHeight), book);
}

function withAddrs(list: readonly MemberPeer[], book: ReadonlyMap<string, string[]>): MemberUpdate[] {
  return list.map((m) => ({ peerId: m.peerId, name: m.name, role: m.role, addrs: book.get(m.peerId) ?? [] }));
}

/**
 * The validator set in force at the next height and the admitted peers, memoized: the answer
 * changes only with the governance state or when the next height reaches a pending change's
 * effective height (validatorsAt then advances a copy of the state, which costs a copy of the
 * client map: not something to do for every block and status request).
 */
export class SetView {
  private memo: { state: GovState; active: boolean; set: ValidatorEpoch; admitted: MemberPeer[] } | null = null;

  constructor(private readonly state: () => GovState) {}

  at(nextHeight: number): { set: ValidatorEpoch; admitted: readonly MemberPeer[] } {
    const s = this.state();
    const active = s.pending !== null && s.pending.effectiveHeight <= nextHeight;
    if (this.memo === null || this.memo.state !== s || this.memo.active !== active) {
      this.memo = { state: s, active, set: validatorsAt(s, nextHeight), admitted: admittedPeers(s, nextHeight) };
    }
    return this.memo;
  }
}

/**
 * Refuses to start when our signing key belongs to an organization of the set in force at
 * `nextHeight` or of the decided next set, but our p2p key gives a peer id that neither lists for
 * it: the other peers' gaters would refuse every connection, silently.
 */
export function checkOwnPeerId(state: GovState, pub: Uint8Array, ownPeerId: string, nextHeight: number): void {
  const sets = [validatorsAt(state, nextHeight).orgs, state.pending?.orgs ?? []];
  const listed = sets.flatMap((orgs) => orgs.filter((o) => bytesEqual(o.key.publicKey, pub)));
  if (listed.length === 0 || listed.some((o) => o.peerId === ownPeerId)) return;
  const o = listed[0]!;
  throw new PeerError('config_p2p_key_mismatch', `p2p key gives peer id ${ownPeerId}, but the validator set lists ${[...new Set(listed.map((x) => x.peerId))].join(' or ')} for ${o.name}`);
}

export interface MembershipFollower {
  stop(): void;
}

/** Re-evaluates the admitted peers after every applied block; logs set changes and our own role. */
export function followMembership(o: {
  network: PeerNetwork;
  gov: GovTracker;
  ledger: Ledger;
  view: SetView;
  addressBook: ReadonlyMap<string, string[]>;
  log: LogFn;
}): MembershipFollower {
  const { network, gov, ledger, view, addressBook, log } = o;
  const keyOf = (u: readonly MemberPeer[]) => u.map((m) => `${m.peerId}:${m.role}`).join(',');
  let last = keyOf(view.at(ledger.getHead().height + 1).admitted);
  // Our organization is the one whose key is any key we hold (the configured one or a next key
  // from the config's keys.next), as for signing: after a rotation without a restart we are still it.
  const ours = (orgs: readonly { key: { publicKey: Uint8Array } }[]) => orgs.some((x) => ledger.validatorSets.isOwnKey(x.key.publicKey));
  const roleOf = (next: number): string => {
    if (ours(view.at(next).set.orgs)) return 'validator';
    const p = gov.state.pending;
    return p !== null && p.effectiveHeight > next && ours(p.orgs ?? []) ? 'scheduled' : 'follower';
  };
  let lastRole = roleOf(ledger.getHead().height + 1);
  let lastSetFrom = view.at(ledger.getHead().height + 1).set.fromHeight;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const onBlock = (): void => {
    if (stopped) return;
    const next = ledger.getHead().height + 1;
    const { set, admitted } = view.at(next);
    if (set.fromHeight !== lastSetFrom) {
      lastSetFrom = set.fromHeight;
      log('info', 'validator set in force changed', { fromHeight: set.fromHeight, orgs: set.orgs.map((x) => x.name), quorum: set.quorum, record: set.record });
    }
    const role = roleOf(next);
    if (role !== lastRole) {
      log(role === 'follower' ? 'warn' : 'info', `this peer's organization is now ${role === 'validator' ? 'a validator' : role === 'scheduled' ? 'scheduled to join the validator set' : 'not in the validator set (a non-voting follower)'}`, {
        height: next,
        was: lastRole,
      });
      lastRole = role;
    }
    const key = keyOf(admitted);
    if (key === last) return;
    last = key;
    const updates = withAddrs(admitted, addressBook);
    chain = chain
      .then(() => network.setMembers(updates))
      .then(
        (r) => {
          if (r.added.length > 0 || r.removed.length > 0) log('info', 'admitted peers changed with the validator set', { height: next, added: r.added, removed: r.removed });
        },
        (e: Error) => {
          if (!stopped) log('error', 'could not update the admitted peers', { error: e.message });
        },
      );
  };
  ledger.on('block', onBlock);
  return {
    stop() {
      stopped = true;
      ledger.off('block', onBlock);
    },
  };
}
