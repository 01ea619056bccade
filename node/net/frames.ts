// Byte formats of the request/response and hello protocols (pure: no I/O).
//
// Request/response, one exchange per stream, each message one varint-length-prefixed frame
// (lpStream from @libp2p/utils):
//   request  = the request bytes (0..maxRequestBytes)
//   response = 0x00 ‖ response bytes                      (success)
//            | 0x01 ‖ UTF-8 JSON {"code","message",...}   (error; at most MAX_ERROR_BODY_BYTES)
// Hello, once per connection, dialer first, then the listener answers with its own:
//   UTF-8 JSON {"v":1,"genesis":"<lowercase hex>","namespace":"<namespace>"} (at most HELLO_MAX_BYTES)
import { fromHex, fromUtf8, toHex, utf8, concatBytes } from '../../src/encoding/bytes.js';
import { NetError, REMOTE_ERROR_CODES, isAppCode, type NetErrorCode } from './errors.js';

export const STATUS_OK = 0x00;
export const STATUS_ERROR = 0x01;
export const MAX_ERROR_BODY_BYTES = 2048;
export const MAX_ERROR_MESSAGE_CHARS = 512;
export const HELLO_MAX_BYTES = 1024;
export const HELLO_VERSION = 1;
export const MAX_GENESIS_HASH_BYTES = 64;

export function encodeOkResponse(body: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(STATUS_OK), body);
}

export interface WireError {
  code: NetErrorCode;
  message: string;
  limit?: string;
  remoteCode?: string;
}

export function encodeErrorResponse(err: WireError): Uint8Array {
  const obj: Record<string, string> = {
    code: err.code,
    message: err.message.length > MAX_ERROR_MESSAGE_CHARS ? err.message.slice(0, MAX_ERROR_MESSAGE_CHARS) : err.message,
  };
  if (err.limit !== undefined) obj['limit'] = err.limit.slice(0, 128);
  if (err.remoteCode !== undefined) obj['remoteCode'] = err.remoteCode;
  return concatBytes(Uint8Array.of(STATUS_ERROR), utf8(JSON.stringify(obj)));
}

/**
 * Decodes a response frame. Returns the body on success; throws the remote's error (a NetError
 * with remote=true) on an error frame, and MALFORMED_FRAME on anything that is neither.
 */
export function decodeResponse(frame: Uint8Array, maxResponseBytes: number): Uint8Array {
  if (frame.length === 0) throw new NetError('MALFORMED_FRAME', 'empty response frame (no status byte)');
  const status = frame[0]!;
  const body = frame.subarray(1);
  if (status === STATUS_OK) {
    if (body.length > maxResponseBytes) {
      throw new NetError('RESPONSE_TOO_LARGE', `response of ${body.length} bytes exceeds maxResponseBytes=${maxResponseBytes}`, {
        limit: `maxResponseBytes=${maxResponseBytes}`,
      });
    }
    return body;
  }
  if (status !== STATUS_ERROR) throw new NetError('MALFORMED_FRAME', `unknown response status byte 0x${status.toString(16)}`);
  throw decodeErrorBody(body);
}

function decodeErrorBody(body: Uint8Array): NetError {
  if (body.length > MAX_ERROR_BODY_BYTES) {
    return new NetError('MALFORMED_FRAME', `error response body of ${body.length} bytes exceeds ${MAX_ERROR_BODY_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(body));
  } catch {
    return new NetError('MALFORMED_FRAME', 'error response body is not UTF-8 JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return new NetError('MALFORMED_FRAME', 'error response body is not a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  const code = o['code'];
  const message = o['message'];
  if (typeof code !== 'string' || !REMOTE_ERROR_CODES.has(code as NetErrorCode)) {
    return new NetError('MALFORMED_FRAME', `error response has an unknown code ${JSON.stringify(code)?.slice(0, 80)}`);
  }
  if (typeof message !== 'string' || message.length > MAX_ERROR_MESSAGE_CHARS) {
    return new NetError('MALFORMED_FRAME', 'error response message missing or too long');
  }
  const limit = typeof o['limit'] === 'string' ? (o['limit'] as string).slice(0, 128) : undefined;
  const remoteCode = isAppCode(o['remoteCode']) ? o['remoteCode'] : undefined;
  return new NetError(code as NetErrorCode, `remote: ${message}`, {
    remote: true,
    ...(limit === undefined ? {} : { limit }),
    ...(remoteCode === undefined ? {} : { remoteCode }),
  });
}

export interface Hello {
  genesis: Uint8Array;
  namespace: string;
}

export function encodeHello(h: Hello): Uint8Array {
  return utf8(JSON.stringify({ v: HELLO_VERSION, genesis: toHex(h.genesis), namespace: h.namespace }));
}

/** Strict decoding: exactly the keys v, genesis, namespace; returns a reason string when invalid. */
export function decodeHello(bytes: Uint8Array): Hello | string {
  if (bytes.length > HELLO_MAX_BYTES) return `hello of ${bytes.length} bytes exceeds ${HELLO_MAX_BYTES}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(bytes));
  } catch {
    return 'hello is not UTF-8 JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'hello is not a JSON object';
  const o = parsed as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  if (keys !== 'genesis,namespace,v') return `hello has keys [${keys.slice(0, 80)}], expected [genesis,namespace,v]`;
  if (o['v'] !== HELLO_VERSION) return `hello version ${JSON.stringify(o['v'])} unsupported (we speak ${HELLO_VERSION})`;
  const g = o['genesis'];
  if (typeof g !== 'string' || !/^([0-9a-f]{2}){1,64}$/.test(g)) return 'hello genesis is not 1..64 bytes of lowercase hex';
  const ns = o['namespace'];
  if (typeof ns !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(ns)) return 'hello namespace is malformed';
  return { genesis: fromHex(g)!, namespace: ns };
}
