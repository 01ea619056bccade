// A decoder for PostgreSQL's built-in logical decoding plugin `pgoutput`, protocol version 1
// ("Logical Replication Message Formats" in the PostgreSQL manual), and for the two streaming
// replication messages that carry it (XLogData 'w' and primary keepalive 'k').
//
// Written here rather than taken from a library because the capture's exactly-once guarantee
// rests on exact LSN handling: positions are bigint (never hex strings with arithmetic on them),
// and the only position ever reported back to the server is one the capture chose (see
// capture.ts). Only what protocol version 1 sends is decoded (no streamed or two-phase
// transactions, text-format column values). Every length is checked against the buffer: a
// malformed message throws PgoutputError instead of reading past it.

/** A WAL position. */
export type Lsn = bigint;

export class PgoutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgoutputError';
  }
}

/** `16/B374D848` → 0x16B374D848n. */
export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (m === null) throw new PgoutputError(`not an LSN: ${JSON.stringify(text.slice(0, 40))}`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** PostgreSQL timestamps count microseconds from 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = 946_684_800_000;

export function pgTimeToIso(us: bigint): string {
  const ms = Number(us / 1000n) + PG_EPOCH_MS;
  // Keep the microseconds: the entry's time is then exactly the commit time PostgreSQL recorded.
  const micro = Number(((us % 1_000_000n) + 1_000_000n) % 1_000_000n);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${micro.toString().padStart(6, '0')}Z`);
}

export function nowPgTime(): bigint {
  return BigInt(Date.now() - PG_EPOCH_MS) * 1000n;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, private readonly view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)) {}
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new PgoutputError(`truncated message: ${what} needs ${n} bytes at ${this.pos}, ${this.buf.length - this.pos} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    if (n < 0) throw new PgoutputError(`negative length for ${what}`);
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A NUL-terminated string. */
  cstring(what: string): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new PgoutputError(`unterminated string for ${what}`);
    const s = utf8.decode(this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export interface RelationColumn {
  name: string;
  typeOid: number;
  /** Part of the replica identity (the key PostgreSQL sends in old-key images). */
  key: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  table: string;
  /** Replica identity: 'd' default (primary key), 'n' nothing, 'f' full, 'i' index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** One column value: null, not sent (an unchanged TOASTed value), or its text form. */
export type ColumnValue = { kind: 'null' } | { kind: 'unchanged' } | { kind: 'text'; text: string };

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relOid: number; newTuple: ColumnValue[] }
  | { tag: 'update'; relOid: number; oldTuple: ColumnValue[] | null; oldKind: 'key' | 'full' | null; newTuple: ColumnValue[] }
  | { tag: 'delete'; relOid: number; oldTuple: ColumnValue[]; oldKind: 'key' | 'full' }
  | { tag: 'truncate'; relOids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Uint8Array }
  | { tag: 'origin'; lsn: Lsn; name: string }
  | { tag: 'type'; oid: number; schema: string; name: string };

/** Most columns a relation may have (PostgreSQL's own limit is 1,600). */
const COLUMNS_MAX = 1600;
/** Most relations one TRUNCATE message may list. */
const TRUNCATE_RELATIONS_MAX = 100_000;

function tuple(r: Reader): ColumnValue[] {
  const n = r.i16('tuple column count');
  if (n < 0 || n > COLUMNS_MAX) throw new PgoutputError(`tuple with ${n} columns`);
  const out: ColumnValue[] = [];
  for (let i = 0; i < n; i++) {
    const kind = String.fromCharCode(r.u8('column kind'));
    if (kind === 'n') out.push({ kind: 'null' });
    else if (kind === 'u') out.push({ kind: 'unchanged' });
    else if (kind === 't') {
      const len = r.i32('column length');
      out.push({ kind: 'text', text: utf8.decode(r.bytes(len, 'column value')) });
    } else throw new PgoutputError(`column kind ${JSON.stringify(kind)} (binary values are not requested)`);
  }
  return out;
}

/** Decodes one pgoutput message (the payload of an XLogData message). */
export function decodePgoutput(buf: Uint8Array): PgoutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8('message tag'));
  let m: PgoutputMessage;
  switch (tag) {
    case 'B':
      m = { tag: 'begin', finalLsn: r.u64('final LSN'), commitTime: r.i64('commit time'), xid: r.u32('xid') };
      break;
    case 'C': {
      r.u8('commit flags');
      m = { tag: 'commit', commitLsn: r.u64('commit LSN'), endLsn: r.u64('end LSN'), commitTime: r.i64('commit time') };
      break;
    }
    case 'R': {
      const oid = r.u32('relation oid');
      const schema = r.cstring('namespace');
      const table = r.cstring('relation name');
      const replicaIdentity = String.fromCharCode(r.u8('replica identity'));
      const n = r.i16('column count');
      if (n < 0 || n > COLUMNS_MAX) throw new PgoutputError(`relation with ${n} columns`);
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8('column flags');
        const name = r.cstring('column name');
        const typeOid = r.u32('column type');
        r.i32('type modifier');
        columns.push({ name, typeOid, key: (flags & 1) === 1 });
      }
      // pgoutput sends an empty namespace for pg_catalog.
      m = { tag: 'relation', relation: { oid, schema: schema === '' ? 'pg_catalog' : schema, table, replicaIdentity, columns } };
      break;
    }
    case 'I': {
      const relOid = r.u32('relation oid');
      if (r.u8('new tuple marker') !== 0x4e) throw new PgoutputError('insert without a new tuple');
      m = { tag: 'insert', relOid, newTuple: tuple(r) };
      break;
    }
    case 'U': {
      const relOid = r.u32('relation oid');
      let marker = r.u8('tuple marker');
      let oldTuple: ColumnValue[] | null = null;
      let oldKind: 'key' | 'full' | null = null;
      if (marker === 0x4b || marker === 0x4f) {
        oldKind = marker === 0x4b ? 'key' : 'full';
        oldTuple = tuple(r);
        marker = r.u8('new tuple marker');
      }
      if (marker !== 0x4e) throw new PgoutputError('update without a new tuple');
      m = { tag: 'update', relOid, oldTuple, oldKind, newTuple: tuple(r) };
      break;
    }
    case 'D': {
      const relOid = r.u32('relation oid');
      const marker = r.u8('tuple marker');
      if (marker !== 0x4b && marker !== 0x4f) throw new PgoutputError('delete without an old tuple');
      m = { tag: 'delete', relOid, oldKind: marker === 0x4b ? 'key' : 'full', oldTuple: tuple(r) };
      break;
    }
    case 'T': {
      const n = r.i32('relation count');
      if (n < 0 || n > TRUNCATE_RELATIONS_MAX) throw new PgoutputError(`truncate of ${n} relations`);
      const opts = r.u8('truncate options');
      const relOids: number[] = [];
      for (let i = 0; i < n; i++) relOids.push(r.u32('relation oid'));
      m = { tag: 'truncate', relOids, cascade: (opts & 1) === 1, restartIdentity: (opts & 2) === 2 };
      break;
    }
    case 'M': {
      const flags = r.u8('message flags');
      const lsn = r.u64('message LSN');
      const prefix = r.cstring('message prefix');
      const len = r.i32('message length');
      m = { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(len, 'message content') };
      break;
    }
    case 'O':
      m = { tag: 'origin', lsn: r.u64('origin LSN'), name: r.cstring('origin name') };
      break;
    case 'Y':
      m = { tag: 'type', oid: r.u32('type oid'), schema: r.cstring('type namespace'), name: r.cstring('type name') };
      break;
    default:
      throw new PgoutputError(`unknown pgoutput message tag ${JSON.stringify(tag)} (protocol version 1 is requested)`);
  }
  if (r.pos !== buf.length) throw new PgoutputError(`${buf.length - r.pos} trailing bytes after a ${m.tag} message`);
  return m;
}

/** A CopyData message of the replication stream. */
export type StreamMessage =
  | { tag: 'xlog'; walStart: Lsn; walEnd: Lsn; payload: Uint8Array }
  | { tag: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

export function decodeStreamMessage(buf: Uint8Array): StreamMessage {
  const r = new Reader(buf);
  const tag = r.u8('stream message tag');
  if (tag === 0x77) {
    const walStart = r.u64('WAL start');
    const walEnd = r.u64('WAL end');
    r.i64('send time');
    return { tag: 'xlog', walStart, walEnd, payload: buf.subarray(r.pos) };
  }
  if (tag === 0x6b) {
    const walEnd = r.u64('WAL end');
    r.i64('send time');
    return { tag: 'keepalive', walEnd, replyRequested: r.u8('reply requested') === 1 };
  }
  throw new PgoutputError(`unknown replication stream message 0x${tag.toString(16)}`);
}

/**
 * Standby status update ('r'): the position the capture has written, flushed and applied. The
 * server sets the slot's confirmed_flush_lsn from `flushed`, and on the next START_REPLICATION it
 * skips every transaction whose commit record starts before it.
 */
export function standbyStatus(position: Lsn, replyRequested = false): Uint8Array {
  const b = new Uint8Array(34);
  const v = new DataView(b.buffer);
  b[0] = 0x72;
  v.setBigUint64(1, position);
  v.setBigUint64(9, position);
  v.setBigUint64(17, position);
  v.setBigInt64(25, nowPgTime());
  b[33] = replyRequested ? 1 : 0;
  return b;
}
