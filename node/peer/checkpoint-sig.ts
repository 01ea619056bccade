// Checkpoint signature gossip message codec (split from ledger.ts; re-exported there).
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { ByteReader, ByteWriter } from '../../src/consensus/byte-io.js';
import { formatSignatureLine, parseSignatureLine, type NoteSignature } from '../../src/checkpoint/note.js';
import { failure, type PeerFailure } from './errors.js';

/** Largest checkpoint-signature gossip message. */
export const CHECKPOINT_SIG_MESSAGE_BYTES_MAX = 1024;

// Checkpoint signature gossip message (version 1):
//   u8 version = 1 | u64 treeSize | u64 sentAtMs (makes re-sends distinct for gossip dedup)
//   u16 length | signature line (UTF-8, `— <name> <base64(keyID ‖ sig)>\n`, as in the note)
export function encodeCheckpointSig(size: number, sig: NoteSignature, sentAtMs: number): Uint8Array {
  const line = utf8(formatSignatureLine(sig));
  const w = new ByteWriter(1 + 8 + 8 + 2 + line.length);
  w.u8(1).u64(size).u64(sentAtMs).u16(line.length).bytes(line);
  return w.finish();
}

export function decodeCheckpointSig(data: Uint8Array): { ok: true; size: number; sig: NoteSignature } | PeerFailure {
  if (!(data instanceof Uint8Array) || data.length > CHECKPOINT_SIG_MESSAGE_BYTES_MAX) return failure('sig_too_large', `checkpoint signature message over ${CHECKPOINT_SIG_MESSAGE_BYTES_MAX} bytes`);
  const r = new ByteReader(data);
  const version = r.u8();
  const size = r.u64();
  r.u64();
  const len = r.u16();
  const line = r.bytes(len);
  if (r.truncated || r.remaining !== 0) return failure('sig_malformed', 'checkpoint signature message truncated or with trailing bytes');
  if (version !== 1) return failure('sig_malformed', `unknown version ${version}`);
  if (size < 1) return failure('sig_malformed', 'tree size must be >= 1');
  let text: string;
  try {
    text = fromUtf8(line);
  } catch {
    return failure('sig_malformed', 'signature line is not UTF-8');
  }
  const p = parseSignatureLine(text);
  if (!p.ok) return failure('sig_malformed', `${p.code}: ${p.message}`);
  if (p.signature.signature.length !== 64) return failure('sig_malformed', 'Ed25519 signatures are 64 bytes');
  return { ok: true, size, sig: p.signature };
}
