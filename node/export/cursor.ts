// The exporter's cursor file: the index of the next entry to export. It is replaced atomically
// and durably (write a temporary file, fsync it, rename it over the old one, fsync the directory),
// and only after the destination acknowledged every entry before it: a crash at any point leaves
// either the old or the new cursor, never a torn one, and never one past an unacknowledged entry.
import { readFile } from 'node:fs/promises';
import { replaceFileDurably } from '../storage/durable-file.js';

export interface ExportCursor {
  v: 1;
  /** Next index to export: every entry before it was acknowledged (or did not match the filter). */
  next: number;
  /** The log's origin, so a cursor is never reused against another log. */
  origin?: string;
}

const CURSOR_BYTES_MAX = 4096;

/** The saved cursor, or null when the file does not exist. Throws on a malformed file. */
export async function readCursor(path: string): Promise<ExportCursor | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (text.length > CURSOR_BYTES_MAX) throw new Error(`${path}: larger than ${CURSOR_BYTES_MAX} bytes, not a cursor file`);
  let o: Partial<ExportCursor>;
  try {
    o = JSON.parse(text) as Partial<ExportCursor>;
  } catch {
    throw new Error(`${path}: not a cursor file (not JSON)`);
  }
  if (o.v !== 1 || typeof o.next !== 'number' || !Number.isSafeInteger(o.next) || o.next < 0 || (o.origin !== undefined && typeof o.origin !== 'string')) {
    throw new Error(`${path}: not a cursor file ({"v":1,"next":<index>})`);
  }
  return { v: 1, next: o.next, ...(o.origin !== undefined ? { origin: o.origin } : {}) };
}

/** Replaces the cursor file durably (temp + fsync + rename + directory fsync). */
export async function writeCursor(path: string, c: ExportCursor): Promise<void> {
  await replaceFileDurably(path, JSON.stringify(c) + '\n');
}
