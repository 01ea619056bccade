// Request/response over libp2p streams: one request and one response per stream, each a
// length-prefixed frame (see frames.ts). The server enforces, per remote peer and protocol, a
// token-bucket rate limit and a concurrency limit, plus size and time limits; every refusal is
// an error frame naming the limit, so the caller learns why instead of seeing a reset stream.
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { deadline } from './deadline.js';
import { NetError, HandlerError, describeError } from './errors.js';
import { encodeErrorResponse, encodeOkResponse, decodeResponse, MAX_ERROR_BODY_BYTES, type WireError } from './frames.js';
import type { ProtocolLimits } from './limits.js';
import { MAX_FRAME_BYTES } from './limits.js';
import type { NetLogger } from './logger.js';
import { TokenBucket, monotonicClockMs, type ClockMs } from './token-bucket.js';

/**
 * Serves one request. `from` is the remote peer id; `signal` fires when handlerTimeoutMs passes
 * or the network stops. Throw a HandlerError to send a specific code and message to the caller;
 * any other exception is reported to the caller as HANDLER_ERROR "internal error" and logged here.
 */
export type RequestHandler = (from: string, req: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

export interface RequestOptions {
  /** Deadline for the whole exchange: dial, protocol negotiation, request and response. */
  timeoutMs: number;
  /** Largest response body we accept (at most MAX_FRAME_BYTES - 1). */
  maxResponseBytes: number;
}

/**
 * Longest varint length prefix we read. lpStream would otherwise derive it from maxDataLength,
 * and a too-long request would fail as a malformed prefix instead of REQUEST_TOO_LARGE.
 * 5 varint bytes encode up to 2^35 - 1, far past any frame we accept.
 */
const LENGTH_PREFIX_MAX_BYTES = 5;

/**
 * Extra headroom over the concurrency limit before libp2p itself resets streams: past its
 * maxInboundStreams a stream fails with an unclear "stream closed" instead of our CONCURRENCY_LIMIT answer.
 */
const INBOUND_STREAM_HEADROOM = 40;

function errName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

export class ProtocolServer {
  private readonly inFlight = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly stopController = new AbortController();

  constructor(
    readonly protocol: string,
    private readonly handler: RequestHandler,
    readonly limits: ProtocolLimits,
    private readonly log: NetLogger,
    private readonly clock: ClockMs = monotonicClockMs,
  ) {}

  /** libp2p's own per-connection cap for this protocol; above our limit so ours answers first. */
  get maxInboundStreams(): number {
    return this.limits.maxConcurrentPerPeer + INBOUND_STREAM_HEADROOM;
  }

  /** Called when the last connection to a peer closes: its counters go with it. */
  forgetPeer(peerId: string): void {
    if ((this.inFlight.get(peerId) ?? 0) === 0) this.inFlight.delete(peerId);
    this.buckets.delete(peerId);
  }

  stop(): void {
    this.stopController.abort(new NetError('STOPPED', 'network stopped'));
  }

  /** The libp2p stream handler. Never throws: every failure ends as an error frame or an abort. */
  async onStream(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const l = this.limits;
    // The read buffer may hold more than one request's worth: a too-large request keeps arriving
    // while we answer REQUEST_TOO_LARGE, and overflowing the buffer would reset the stream
    // before the caller hears why. It stays bounded by the 4 MiB frame limit.
    const lp = lpStream(stream, { maxDataLength: l.maxRequestBytes, maxLengthLength: LENGTH_PREFIX_MAX_BYTES, maxBufferSize: MAX_FRAME_BYTES + 16 });

    // Cheap refusals first, before reading (possibly megabytes of) request body.
    let bucket = this.buckets.get(from);
    if (bucket === undefined) {
      bucket = new TokenBucket(l.rateLimitPerSecond, l.rateLimitBurst, this.clock);
      this.buckets.set(from, bucket);
    }
    if (!bucket.tryTake()) {
      const limit = `rateLimitPerSecond=${l.rateLimitPerSecond},rateLimitBurst=${l.rateLimitBurst}`;
      await this.refuse(stream, lp, { code: 'RATE_LIMITED', message: `rate limit exceeded on ${this.protocol} (${limit})`, limit });
      return;
    }
    const busy = this.inFlight.get(from) ?? 0;
    if (busy >= l.maxConcurrentPerPeer) {
      const limit = `maxConcurrentPerPeer=${l.maxConcurrentPerPeer}`;
      await this.refuse(stream, lp, { code: 'CONCURRENCY_LIMIT', message: `too many concurrent requests on ${this.protocol} (${limit})`, limit });
      return;
    }
    this.inFlight.set(from, busy + 1);
    try {
      await this.serve(from, stream, lp);
    } finally {
      const left = (this.inFlight.get(from) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(from);
      else this.inFlight.set(from, left);
    }
  }

  private async serve(from: string, stream: Stream, lp: ReturnType<typeof lpStream>): Promise<void> {
    const l = this.limits;
    let req: Uint8Array;
    const readLimit = deadline(l.requestReadTimeoutMs, this.stopController.signal);
    try {
      req = (await lp.read({ signal: readLimit.signal })).subarray();
    } catch (err) {
      if (errName(err) === 'InvalidDataLengthError') {
        const limit = `maxRequestBytes=${l.maxRequestBytes}`;
        await this.refuse(stream, lp, { code: 'REQUEST_TOO_LARGE', message: `request exceeds ${limit} on ${this.protocol}`, limit });
      } else if (errName(err) === 'TimeoutError') {
        const limit = `requestReadTimeoutMs=${l.requestReadTimeoutMs}`;
        await this.refuse(stream, lp, { code: 'TIMEOUT', message: `request not received within ${limit}`, limit });
      } else {
        // Reset by the caller, EOF before a full frame, or a bad length varint: nobody to answer.
        this.log.debug({ protocol: this.protocol, from, err: describeError(err) }, 'request stream failed before the request was read');
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
      return;
    } finally {
      readLimit.clear();
    }

    const controller = new AbortController();
    const onStop = (): void => controller.abort(new NetError('STOPPED', 'network stopped'));
    this.stopController.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => {
      controller.abort(new NetError('HANDLER_TIMEOUT', `handler exceeded handlerTimeoutMs=${l.handlerTimeoutMs}`));
    }, l.handlerTimeoutMs);
    let response: Uint8Array;
    try {
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      });
      aborted.catch(() => {});
      // The handler runs inside a promise chain so a synchronous throw is caught too.
      const result = await Promise.race([Promise.resolve().then(() => this.handler(from, req, controller.signal)), aborted]);
      if (!(result instanceof Uint8Array)) {
        throw new Error(`handler returned ${typeof result}, expected Uint8Array`);
      }
      response = result;
    } catch (err) {
      if (err instanceof NetError && err.code === 'HANDLER_TIMEOUT') {
        const limit = `handlerTimeoutMs=${l.handlerTimeoutMs}`;
        this.log.warn({ protocol: this.protocol, from, limit }, 'request handler timed out');
        await this.refuse(stream, lp, { code: 'HANDLER_TIMEOUT', message: `handler did not answer within ${limit}`, limit });
      } else if (err instanceof HandlerError) {
        await this.refuse(stream, lp, { code: 'HANDLER_ERROR', message: err.message, remoteCode: err.code });
      } else {
        this.log.error({ protocol: this.protocol, from, err: describeError(err) }, 'request handler threw');
        await this.refuse(stream, lp, { code: 'HANDLER_ERROR', message: 'internal error in request handler' });
      }
      return;
    } finally {
      clearTimeout(timer);
      this.stopController.signal.removeEventListener('abort', onStop);
    }

    if (response.length > l.maxResponseBytes) {
      const limit = `maxResponseBytes=${l.maxResponseBytes}`;
      this.log.error({ protocol: this.protocol, from, bytes: response.length, limit }, 'request handler produced an oversize response');
      await this.refuse(stream, lp, { code: 'RESPONSE_TOO_LARGE', message: `server response of ${response.length} bytes exceeds ${limit}`, limit });
      return;
    }
    await this.finish(stream, lp, encodeOkResponse(response));
  }

  private async refuse(stream: Stream, lp: ReturnType<typeof lpStream>, e: WireError): Promise<void> {
    this.log.debug({ protocol: this.protocol, code: e.code, limit: e.limit }, 'refusing request');
    await this.finish(stream, lp, encodeErrorResponse(e));
  }

  /**
   * Writes the response frame and closes our writing end. We do not close our reading end: on
   * yamux that would drop the stream, and the rest of a refused request would then draw a RST
   * that can overtake our answer at the caller. The caller closes (or resets, after an error)
   * its end; a caller that does neither is cut off after requestReadTimeoutMs.
   */
  private async finish(stream: Stream, lp: ReturnType<typeof lpStream>, frame: Uint8Array): Promise<void> {
    const limit = deadline(this.limits.requestReadTimeoutMs, this.stopController.signal);
    try {
      await lp.write(frame, { signal: limit.signal });
      await stream.close({ signal: limit.signal });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      return;
    } finally {
      limit.clear();
    }
    if (stream.status === 'open' || stream.status === 'closing') {
      const timer = setTimeout(() => {
        if (stream.status === 'open' || stream.status === 'closing') {
          stream.abort(new NetError('TIMEOUT', `caller did not close the stream within requestReadTimeoutMs=${this.limits.requestReadTimeoutMs}`));
        }
      }, this.limits.requestReadTimeoutMs);
      timer.unref?.();
      stream.addEventListener('close', () => clearTimeout(timer), { once: true });
    }
  }
}

/** Maps what libp2p throws while opening a stream to our error codes. */
export function classifyOpenError(err: unknown, peerId: string, protocol: string, timeoutMs: number, timedOut: boolean): NetError {
  if (err instanceof NetError) return err;
  if (timedOut) return new NetError('TIMEOUT', `request to ${peerId} on ${protocol} exceeded timeoutMs=${timeoutMs}`, { limit: `timeoutMs=${timeoutMs}`, cause: err });
  const name = errName(err);
  if (name === 'UnsupportedProtocolError') {
    return new NetError('PROTOCOL_UNSUPPORTED', `${peerId} does not serve ${protocol} (different namespace/genesis, or no handler)`, { cause: err });
  }
  if (name === 'TooManyOutboundProtocolStreamsError') {
    return new NetError('CONCURRENCY_LIMIT', `libp2p outbound stream limit reached for ${protocol}: ${describeError(err)}`, { cause: err });
  }
  return new NetError('DIAL_FAILED', `could not open ${protocol} to ${peerId}: ${describeError(err)}`, { cause: err });
}

/**
 * Runs one exchange on an opened stream. The request is written while the response is awaited,
 * so a server that refuses early (too large, rate limited) is heard even if it never reads our
 * whole request.
 */
export async function exchange(stream: Stream, req: Uint8Array, opts: RequestOptions, signal: AbortSignal, describe: () => string): Promise<Uint8Array> {
  const maxFrame = Math.max(opts.maxResponseBytes + 1, MAX_ERROR_BODY_BYTES + 1);
  const lp = lpStream(stream, { maxDataLength: maxFrame, maxLengthLength: LENGTH_PREFIX_MAX_BYTES, maxBufferSize: maxFrame + 16 });
  const writing = (async () => {
    await lp.write(req, { signal });
    await stream.close({ signal });
  })();
  writing.catch(() => {}); // its failure shows up as a failed read below, or does not matter
  try {
    const frame = await lp.read({ signal });
    const body = decodeResponse(frame.subarray(), opts.maxResponseBytes);
    await writing; // the server read our whole request before answering OK, so this is done
    return body;
  } catch (err) {
    if (stream.status === 'open') stream.abort(err instanceof Error ? err : new Error(String(err)));
    if (err instanceof NetError) throw err;
    if (signal.aborted) {
      throw new NetError('TIMEOUT', `${describe()} exceeded timeoutMs=${opts.timeoutMs}`, { limit: `timeoutMs=${opts.timeoutMs}`, cause: err });
    }
    if (errName(err) === 'InvalidDataLengthError') {
      throw new NetError('RESPONSE_TOO_LARGE', `${describe()}: response exceeds maxResponseBytes=${opts.maxResponseBytes}`, {
        limit: `maxResponseBytes=${opts.maxResponseBytes}`,
        cause: err,
      });
    }
    if (errName(err) === 'InvalidMessageLengthError' || errName(err) === 'InvalidDataLengthLengthError') {
      throw new NetError('MALFORMED_FRAME', `${describe()}: malformed response length prefix`, { cause: err });
    }
    throw new NetError('STREAM_ERROR', `${describe()}: stream failed: ${describeError(err)}`, { cause: err });
  }
}

export function validateRequestOptions(opts: unknown): RequestOptions {
  if (opts === null || typeof opts !== 'object') throw new NetError('INVALID_ARGUMENT', 'request options must be an object');
  const o = opts as Record<string, unknown>;
  const t = o['timeoutMs'];
  const m = o['maxResponseBytes'];
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) {
    throw new NetError('INVALID_ARGUMENT', `timeoutMs must be an integer in [1, 3600000], got ${String(t)}`);
  }
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m > MAX_FRAME_BYTES - 1) {
    throw new NetError('INVALID_ARGUMENT', `maxResponseBytes must be an integer in [0, ${MAX_FRAME_BYTES - 1}], got ${String(m)}`);
  }
  return { timeoutMs: t, maxResponseBytes: m };
}
