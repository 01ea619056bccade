// Bytes on the wire per peer: what each libp2p connection wrote to and read from its TCP socket
// (Noise ciphertext, Yamux and gossipsub framing included), counted where the transport hands
// the socket to the upgrader. Used by /metrics (cairn_net_bytes_*) and the cost bench, which
// divides them by the entries finalized to get bytes on the wire per entry per peer.
import type { Connection, MultiaddrConnection, Transport } from '@libp2p/interface';

/** Peers with their own counters; later ones share one "other" row (the gater admits few). */
export const WIRE_PEERS_TRACKED_MAX = 256;
/** The row of bytes whose peer is not known yet or no longer tracked. */
export const WIRE_OTHER_PEER = 'other';

export interface WireBytes {
  /** Bytes written to / read from the sockets of every libp2p connection since start. */
  sent: number;
  received: number;
  /** socket.write calls (each a send syscall unless the socket was corked). */
  writes: number;
  /** By remote peer id (WIRE_OTHER_PEER: handshakes that never finished, overflow). */
  perPeer: { peer: string; sent: number; received: number }[];
}

interface Row {
  sent: number;
  received: number;
}

interface ConnRecord extends Row {
  row: Row | null;
}

type Sendable = { sendData(data: Iterable<Uint8Array> & { byteLength: number }): { sentBytes: number; canSendMore: boolean } };
type Receivable = { onData(data: { byteLength: number }): void };
type SocketLike = { write(buf: Uint8Array): boolean; cork(): void; uncork(): void; writableCorked?: number };

export interface WireMeter {
  /** Wraps a transport factory (e.g. tcp()) so every connection it makes or accepts is counted. */
  transport<C>(factory: (components: C) => Transport): (components: C) => Transport;
  /** Names the peer of an upgraded inbound connection (from the node's connection:open event). */
  attach(conn: Connection): void;
  snapshot(): WireBytes;
}

export interface WireMeterOptions {
  /**
   * Hold every write a connection makes in one tick of the event loop in the socket (cork) and
   * hand them to the kernel together at the end of the tick (one writev instead of one send per
   * Noise frame).
   */
  coalesceWrites: boolean;
}

export function createWireMeter(opts: WireMeterOptions): WireMeter {
  const rows = new Map<string, Row>();
  const other: Row = { sent: 0, received: 0 };
  /** Inbound connections not yet attached to a peer (libp2p's Connection keeps its maConn). */
  const pending = new WeakMap<object, ConnRecord>();
  let sent = 0;
  let received = 0;
  let writes = 0;

  const rowFor = (peer: string): Row => {
    let r = rows.get(peer);
    if (r === undefined) {
      if (rows.size >= WIRE_PEERS_TRACKED_MAX) return other;
      r = { sent: 0, received: 0 };
      rows.set(peer, r);
    }
    return r;
  };

  const attachTo = (rec: ConnRecord, peer: string): void => {
    const row = rowFor(peer);
    // The handshake's bytes (counted before the peer was known) belong to it too.
    row.sent += rec.sent;
    row.received += rec.received;
    rec.row = row;
  };

  /** Counts a connection's bytes; an inbound one waits in `pending` for attach(). */
  const track = (maConn: MultiaddrConnection, inbound: boolean): ConnRecord => {
    const rec: ConnRecord = { sent: 0, received: 0, row: null };
    if (inbound) pending.set(maConn, rec);
    maConn.addEventListener('close', () => {
      if (rec.row === null) {
        other.sent += rec.sent;
        other.received += rec.received;
      }
    });
    const m = maConn as unknown as Sendable & Receivable & { socket?: SocketLike };
    const onData = m.onData.bind(m);
    m.onData = (data) => {
      const n = data.byteLength;
      received += n;
      rec.received += n;
      if (rec.row !== null) rec.row.received += n;
      onData(data);
    };
    const socket = m.socket;
    if (socket !== undefined && typeof socket.write === 'function') {
      const write = socket.write.bind(socket);
      socket.write = (buf: Uint8Array) => {
        writes++;
        return write(buf);
      };
    }
    const sendData = m.sendData.bind(m);
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket?.uncork();
    };
    m.sendData = (data) => {
      if (opts.coalesceWrites && socket !== undefined && !corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      const r = sendData(data);
      sent += r.sentBytes;
      rec.sent += r.sentBytes;
      if (rec.row !== null) rec.row.sent += r.sentBytes;
      return r;
    };
    return rec;
  };

  type Up = { upgradeInbound(c: MultiaddrConnection, o: unknown): Promise<void>; upgradeOutbound(c: MultiaddrConnection, o: unknown): Promise<Connection> };
  const wrapUpgrader = <U extends Up>(u: U): U =>
    Object.assign(Object.create(u) as U, {
      upgradeInbound: (c: MultiaddrConnection, o: unknown) => {
        track(c, true);
        return u.upgradeInbound(c, o);
      },
      // The dialed address may differ from the connection's remoteAddr: attach by the result.
      upgradeOutbound: async (c: MultiaddrConnection, o: unknown) => {
        const rec = track(c, false);
        const conn = await u.upgradeOutbound(c, o);
        if (rec.row === null) attachTo(rec, conn.remotePeer.toString());
        return conn;
      },
    });

  return {
    transport(factory) {
      return (components) => {
        const t = factory(components);
        const dial = t.dial.bind(t);
        const createListener = t.createListener.bind(t);
        t.dial = (ma, o) => dial(ma, { ...o, upgrader: wrapUpgrader(o.upgrader) });
        t.createListener = (o) => createListener({ ...o, upgrader: wrapUpgrader(o.upgrader) });
        return t;
      };
    },
    attach(conn) {
      const maConn = (conn as unknown as { maConn?: object }).maConn;
      const rec = maConn === undefined ? undefined : pending.get(maConn);
      if (rec === undefined) return;
      pending.delete(maConn!);
      if (rec.row === null) attachTo(rec, conn.remotePeer.toString());
    },
    snapshot() {
      const perPeer = [...rows].map(([peer, r]) => ({ peer, sent: r.sent, received: r.received }));
      if (other.sent > 0 || other.received > 0) perPeer.push({ peer: WIRE_OTHER_PEER, sent: other.sent, received: other.received });
      return { sent, received, writes, perPeer };
    },
  };
}
