// Per-client and global admission for the HTTP API, checked before any request work: connections
// (total and per client address), request rate per address (token bucket), and bytes of request
// bodies being received or parsed (total and per address). A refusal is 429 (this client) or 503
// (the whole server) with Retry-After and a stable code; it costs a few map operations.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { TokenBucket, monotonicClockMs, type ClockMs } from '../net/token-bucket.js';
import { errorBody } from './errors.js';
import type { ApiErrorCode } from '../../src/client/types.js';
import { ApiError, RETRY_AFTER_S } from './errors.js';

/**
 * The key a client is limited by: its IPv4 address, or the /64 prefix of its IPv6 address (one
 * subscriber usually holds a whole /64, so per-address limits on full IPv6 addresses would be
 * trivially evaded).
 */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined || remote === '') return 'unknown';
  if (remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  if (!remote.includes(':')) return remote;
  const [head = '', tail = ''] = remote.split('%')[0]!.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = remote.includes('::') ? [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Request rate per client address; the least recently seen address is forgotten beyond `tracked`. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly tracked: number,
    private readonly clock: ClockMs = monotonicClockMs,
  ) {}

  /** null when the request may proceed, else the seconds until the address has a token again. */
  take(address: string): number | null {
    let b = this.buckets.get(address);
    if (b === undefined) {
      b = new TokenBucket(this.ratePerSecond, this.burst, this.clock);
      if (this.buckets.size >= this.tracked) this.buckets.delete(this.buckets.keys().next().value!);
    } else {
      this.buckets.delete(address);
    }
    this.buckets.set(address, b);
    if (b.tryTake()) return null;
    return (1 - b.available()) / this.ratePerSecond;
  }
}

/** Bytes of request bodies in flight, in total and per client address. */
export class BodyBudget {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    readonly totalMax: number,
    readonly perAddressMax: number,
  ) {}

  get bytes(): number {
    return this.total;
  }

  /** Reserves `n` more bytes for `address`; an ApiError (nothing reserved) when a budget is full. */
  reserve(address: string, n: number): ApiError | null {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine + n > this.perAddressMax) {
      return new ApiError('too_many_bodies', `this client address already sends ${mine} bytes of request bodies (bodyBytesInFlightPerAddressMax ${this.perAddressMax}); retry later`, true);
    }
    if (this.total + n > this.totalMax) {
      return new ApiError('overloaded', `${this.total} bytes of request bodies are being received (bodyBytesInFlightMax ${this.totalMax}); retry later`, true);
    }
    this.total += n;
    this.perAddress.set(address, mine + n);
    return null;
  }

  release(address: string, n: number): void {
    if (n <= 0) return;
    this.total -= n;
    const left = (this.perAddress.get(address) ?? 0) - n;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }
}

function rawRefusal(status: 429 | 503, code: ApiErrorCode, message: string): string {
  const body = JSON.stringify(errorBody(code, message));
  const reason = status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Retry-After: ${RETRY_AFTER_S}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * Caps open connections in total and per client address. A refused connection gets a raw 429/503
 * and is closed; it never reaches the HTTP parser (Node's own server.maxConnections would drop it
 * silently, leaving the client to guess). Returns the number of open connections.
 */
export function capConnections(server: Server, totalMax: number, perAddressMax: number): () => number {
  const perAddress = new Map<string, number>();
  let open = 0;
  const listeners = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const address = clientAddress(socket.remoteAddress);
    const mine = perAddress.get(address) ?? 0;
    const refusal =
      open >= totalMax
        ? rawRefusal(503, 'overloaded', `${open} connections are open (connectionsMax ${totalMax}); retry later`)
        : mine >= perAddressMax
          ? rawRefusal(429, 'too_many_connections', `this client address has ${mine} open connections (connectionsPerAddressMax ${perAddressMax}); reuse them or retry later`)
          : null;
    if (refusal !== null) {
      socket.on('error', () => socket.destroy());
      socket.end(refusal, () => socket.destroy());
      return;
    }
    open++;
    perAddress.set(address, mine + 1);
    socket.once('close', () => {
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    for (const l of listeners) l.call(server, socket);
  });
  return () => open;
}
