// Opaque, tamper-proof search cursors. A cursor carries the pinned tree size, the direction, the
// hash of the query it belongs to (filters, scope identity, extra-filter text), where the next page
// resumes and where the completeness claim of the previous pages ends. It is encrypted
// (AES-256-CTR, random IV) so that the resume position — which may lie on an entry outside the
// caller's scope — is not readable, and authenticated (HMAC-SHA256 over IV ‖ ciphertext,
// encrypt-then-MAC) so that a modified cursor is refused with CURSOR_TAMPERED. Both keys are derived
// from one per-peer 32-byte secret kept in the store's metadata.
//
//   base64url( u8 version=1 ‖ iv[16] ‖ AES-CTR(body) ‖ HMAC[32] )
//   body = u64 pinnedSize ‖ u8 order (0 oldest, 1 newest) ‖ queryHash[32] ‖ u64 resume ‖ u64 claimed
import { createCipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readU64, writeU64 } from '../storage/keys.js';
import type { Store } from '../storage/store.js';
import { SearchError } from './errors.js';

const VERSION = 1;
const BODY = 8 + 1 + 32 + 8 + 8;
const TOTAL = 1 + 16 + BODY + 32;
/** Longest cursor text accepted (checked before decoding). */
export const CURSOR_TEXT_MAX = Math.ceil((TOTAL * 4) / 3) + 4;
export const CURSOR_SECRET_META_KEY = 'search.cursor-secret';

export interface CursorState {
  pinnedSize: number;
  order: 'oldest' | 'newest';
  queryHash: Uint8Array;
  /** Next log position to examine (oldest: ascending from it; newest: descending from resume - 1). */
  resume: number;
  /** Boundary of the completeness claim made so far (same convention as resume). */
  claimed: number;
}

export class CursorKeys {
  private readonly enc: Buffer;
  private readonly mac: Buffer;
  constructor(secret: Uint8Array) {
    if (secret.length < 32) throw new SearchError('BAD_ARGUMENT', 'cursor secret must be at least 32 bytes');
    this.enc = createHmac('sha256', secret).update('cairn/search-cursor/enc').digest();
    this.mac = createHmac('sha256', secret).update('cairn/search-cursor/mac').digest();
  }

  seal(c: CursorState): string {
    const body = new Uint8Array(BODY);
    writeU64(body, 0, c.pinnedSize);
    body[8] = c.order === 'newest' ? 1 : 0;
    body.set(c.queryHash, 9);
    writeU64(body, 41, c.resume);
    writeU64(body, 49, c.claimed);
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-ctr', this.enc, iv);
    const ct = Buffer.concat([cipher.update(body), cipher.final()]);
    const head = Buffer.concat([Buffer.of(VERSION), iv, ct]);
    const tag = createHmac('sha256', this.mac).update(head).digest();
    return Buffer.concat([head, tag]).toString('base64url');
  }

  /** Decodes and authenticates; CURSOR_MALFORMED or CURSOR_TAMPERED on failure. */
  open(text: string): CursorState {
    if (typeof text !== 'string' || text.length > CURSOR_TEXT_MAX || !/^[A-Za-z0-9_-]+$/.test(text)) {
      throw new SearchError('CURSOR_MALFORMED', 'cursor is not a cursor this peer issued (wrong length or characters)');
    }
    const raw = Buffer.from(text, 'base64url');
    if (raw.length !== TOTAL || raw[0] !== VERSION) throw new SearchError('CURSOR_MALFORMED', 'cursor has the wrong length or version');
    const head = raw.subarray(0, TOTAL - 32);
    const want = createHmac('sha256', this.mac).update(head).digest();
    if (!timingSafeEqual(want, raw.subarray(TOTAL - 32))) throw new SearchError('CURSOR_TAMPERED', 'cursor authentication failed: it was modified or issued by another peer');
    const decipher = createDecipheriv(this.enc, head.subarray(1, 17));
    const body = new Uint8Array(Buffer.concat([decipher.update(head.subarray(17)), decipher.final()]));
    return {
      pinnedSize: readU64(body, 0),
      order: body[8] === 1 ? 'newest' : 'oldest',
      queryHash: body.slice(9, 41),
      resume: readU64(body, 41),
      claimed: readU64(body, 49),
    };
  }
}

function createDecipheriv(key: Buffer, iv: Uint8Array) {
  // CTR mode: decryption is the same keystream XOR as encryption.
  return createCipheriv('aes-256-ctr', key, iv);
}

/** The peer's cursor secret from the store's metadata, created (synced) on first use. */
export async function loadCursorKeys(store: Store): Promise<CursorKeys> {
  let secret = await store.getMeta(CURSOR_SECRET_META_KEY);
  if (secret === undefined || secret.length < 32) {
    secret = new Uint8Array(randomBytes(32));
    await store.putMeta(CURSOR_SECRET_META_KEY, secret);
  }
  return new CursorKeys(secret);
}
