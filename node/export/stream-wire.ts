// Wire format of GET /v1/stream (docs/monitoring.md, "Streaming"): one JSON object per line
// (NDJSON), or the same objects as server-sent events. Shared by the route and `cairn export`.
import type { CoveringCheckpoint } from './formats.js';

/** A final entry: its index, leaf hash, exact logged text and the final checkpoint that covers it. */
export interface StreamEntry {
  type: 'entry';
  index: number;
  /** Lowercase hex RFC 9162 leaf hash (SHA-256 of 0x00 ‖ leaf). */
  leafHash: string;
  /** The leaf bytes as text: the entry's canonical JSON, exactly as logged. */
  leaf: string;
  checkpoint: CoveringCheckpoint;
}
/** Sent before the first entry a new final checkpoint covers: the signed note, to verify with. */
export interface StreamCheckpoint {
  type: 'checkpoint';
  treeSize: number;
  note: string;
}
/**
 * Sent when nothing else was for a while, and after a stretch of entries the filter or scope left
 * out: `next` is the index to resume from (every entry before it was sent or did not match).
 */
export interface StreamHeartbeat {
  type: 'heartbeat';
  next: number;
  finalSize: number;
}
/** The last line of a stream the peer ends (slow consumer, shutting down). */
export interface StreamErrorLine {
  type: 'error';
  code: string;
  message: string;
  next: number;
}
export type StreamLine = StreamEntry | StreamCheckpoint | StreamHeartbeat | StreamErrorLine;

/** Longest line a client accepts (an entry is at most 64 KiB of leaf, escaped, plus the envelope). */
export const STREAM_LINE_BYTES_MAX = 512 * 1024;

/** Parses one line; throws on anything that is not a well-formed stream object. */
export function parseStreamLine(text: string): StreamLine {
  const o = JSON.parse(text) as Record<string, unknown>;
  const nat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  switch (o.type) {
    case 'entry': {
      const c = o.checkpoint as Record<string, unknown> | undefined;
      if (!nat(o.index) || typeof o.leafHash !== 'string' || !/^[0-9a-f]{64}$/.test(o.leafHash) || typeof o.leaf !== 'string') break;
      if (c === undefined || typeof c.origin !== 'string' || !nat(c.treeSize) || typeof c.rootHash !== 'string' || c.treeSize <= o.index) break;
      return o as unknown as StreamEntry;
    }
    case 'checkpoint':
      if (nat(o.treeSize) && typeof o.note === 'string') return o as unknown as StreamCheckpoint;
      break;
    case 'heartbeat':
      if (nat(o.next) && nat(o.finalSize)) return o as unknown as StreamHeartbeat;
      break;
    case 'error':
      if (typeof o.code === 'string' && typeof o.message === 'string' && nat(o.next)) return o as unknown as StreamErrorLine;
      break;
  }
  throw new Error(`not a stream line: ${text.slice(0, 120)}`);
}

/** origin, tree size and root hash (base64) of a C2SP checkpoint note's body. */
export function checkpointOf(note: string): CoveringCheckpoint {
  const [origin, size, root] = note.split('\n');
  if (origin === undefined || size === undefined || root === undefined || !/^\d{1,16}$/.test(size)) throw new Error('not a checkpoint note');
  return { origin, treeSize: Number(size), rootHash: root };
}
