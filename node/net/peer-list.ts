// Parsing the admitted peers given to the host (at start and by setMembers): canonical peer ids,
// bounded address lists, no duplicates, our own entry skipped.
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { NetError, describeError, type NetErrorCode } from './errors.js';

/** Addresses remembered per admitted peer (config + addPeerAddresses). */
export const MAX_ADDRS_PER_PEER = 16;

export interface ListedPeer {
  id: PeerId;
  addrs: Multiaddr[];
  name: string;
  role: 'member' | 'scheduled';
}

export function parseAddr(peerId: string, s: unknown, what: string): Multiaddr {
  if (typeof s !== 'string' || s.length === 0 || s.length > 1024) {
    throw new NetError('INVALID_CONFIG', `${what}: address must be a non-empty string of at most 1024 chars`);
  }
  let text = s;
  const i = s.lastIndexOf('/p2p/');
  if (i >= 0) {
    const id = s.slice(i + 5);
    if (id !== peerId) throw new NetError('INVALID_CONFIG', `${what}: address ${s} names peer ${id}, not ${peerId}`);
    text = s.slice(0, i);
  }
  try {
    return multiaddr(text);
  } catch (err) {
    throw new NetError('INVALID_CONFIG', `${what}: invalid multiaddr ${JSON.stringify(s)}: ${describeError(err)}`);
  }
}

/**
 * The peers of `list` other than `self`, by peer id string. Throws NetError(code) on a bad entry
 * or more than `maxPeers` entries (limit name `maxGenesisPeers`).
 */
export function parsePeerList(list: unknown, self: string, maxPeers: number, what: string, code: NetErrorCode = 'INVALID_CONFIG'): Map<string, ListedPeer> {
  const fail = (msg: string, limit?: string): never => {
    throw new NetError(code, msg, limit !== undefined ? { limit } : {});
  };
  if (!Array.isArray(list)) fail(`${what} must be an array`);
  const arr = list as unknown[];
  if (arr.length > maxPeers) fail(`${arr.length} ${what} exceed maxGenesisPeers=${maxPeers}`, `maxGenesisPeers=${maxPeers}`);
  const out = new Map<string, ListedPeer>();
  for (const [i, raw] of arr.entries()) {
    const p = raw as { peerId?: unknown; addrs?: unknown; name?: unknown; role?: unknown } | null;
    if (p === null || typeof p !== 'object' || typeof p.peerId !== 'string') fail(`${what}[${i}] must be { peerId: string, addrs: string[] }`);
    const peerId = p!.peerId as string;
    let id: PeerId;
    try {
      id = peerIdFromString(peerId);
    } catch (err) {
      return fail(`${what}[${i}].peerId ${JSON.stringify(peerId).slice(0, 100)} is not a peer id: ${describeError(err)}`);
    }
    if (id.toString() !== peerId) fail(`${what}[${i}].peerId is not in canonical form`);
    if (!Array.isArray(p!.addrs) || p!.addrs.length > MAX_ADDRS_PER_PEER) {
      fail(`${what}[${i}].addrs must be an array of at most MAX_ADDRS_PER_PEER=${MAX_ADDRS_PER_PEER} strings`);
    }
    let addrs: Multiaddr[];
    try {
      addrs = (p!.addrs as unknown[]).map((a) => parseAddr(peerId, a, `${what}[${i}]`));
    } catch (err) {
      return fail((err as Error).message);
    }
    if (p!.name !== undefined && (typeof p!.name !== 'string' || p!.name.length > 256)) fail(`${what}[${i}].name must be a string of at most 256 characters`);
    if (p!.role !== undefined && p!.role !== 'member' && p!.role !== 'scheduled') fail(`${what}[${i}].role must be 'member' or 'scheduled'`);
    if (peerId === self) continue; // our own entry in a shared genesis file
    if (out.has(peerId)) fail(`${what}[${i}]: duplicate peer id ${peerId}`);
    out.set(peerId, { id, addrs, name: (p!.name as string | undefined) ?? peerId, role: (p!.role as 'member' | 'scheduled' | undefined) ?? 'member' });
  }
  return out;
}
