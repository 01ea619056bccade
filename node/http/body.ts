// The JSON body parser of POST /v1/entries, replacing fastify's (which buffers up to bodyLimit and
// then runs JSON.parse, whatever the body's shape). Cheap facts first: the declared length against
// bodyBytesMax and the bytes-in-flight budgets (from the headers, before any byte is read), then,
// as bytes arrive, the running length and the shape scan (depth, entries, values), and JSON.parse
// only for a body that passed all of them. A refused body closes the connection so its remaining
// bytes are not read. Budget bytes are held from the first byte until the response is done: the
// parsed body lives as long as its submission is being checked, so this bounds that memory too.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyBudget, clientAddress } from './admission.js';
import { whenResponseDone } from './context.js';
import { ApiError } from './errors.js';
import { JsonShapeScanner, type JsonScanLimits } from './json-scan.js';
import type { HttpLimits } from './limits.js';
import { ENTRY_VALUES_MAX } from '../../src/entry/limits.js';

export function registerJsonBodyParser(app: FastifyInstance, limits: HttpLimits, budget: BodyBudget): void {
  // fastify's own parse step (secure-json-parse): refuses "__proto__" keys, as before.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  const scanLimits: JsonScanLimits = {
    depthMax: limits.jsonDepthMax,
    topLevelMax: limits.entriesPerRequestMax,
    valuesMax: limits.jsonValuesMax,
    elementValuesMax: ENTRY_VALUES_MAX,
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => {
    const address = clientAddress(req.raw.socket?.remoteAddress);
    const header = req.headers['content-length'];
    const declared = header === undefined ? null : Number(header);
    let reserved = 0;
    let finished = false;
    const finish = (err: Error | null, body?: unknown) => {
      if (finished) return;
      finished = true;
      const held = reserved;
      reserved = 0;
      if (err !== null) budget.release(address, held);
      else whenResponseDone(req, () => budget.release(address, held));
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      if (err !== null) done(err);
      else done(null, body);
    };
    const tooLarge = () => new ApiError('body_too_large', `request body larger than ${limits.bodyBytesMax} bytes (bodyBytesMax)`, true);

    if (declared !== null && Number.isSafeInteger(declared) && declared > limits.bodyBytesMax) return finish(tooLarge());
    // A declared length is reserved whole at once: a crowd of slow senders is refused up front,
    // not after each has been allowed to trickle in part of its body.
    if (declared !== null && Number.isSafeInteger(declared) && declared > 0) {
      const refusal = budget.reserve(address, declared);
      if (refusal !== null) return finish(refusal);
      reserved = declared;
    }
    const scanner = new JsonShapeScanner(scanLimits);
    const chunks: Buffer[] = [];
    let received = 0;
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (received > limits.bodyBytesMax) return finish(tooLarge());
      if (received > reserved) {
        // Chunked transfer (no Content-Length): reserve as the bytes arrive.
        const refusal = budget.reserve(address, received - reserved);
        if (refusal !== null) return finish(refusal);
        reserved = received;
      }
      const refused = scanner.push(chunk);
      if (refused !== null) return finish(new ApiError(refused.code, refused.message, true));
      chunks.push(chunk);
    }
    function onEnd(): void {
      const text = Buffer.concat(chunks, received).toString('utf8');
      chunks.length = 0;
      parseJson(req, text, (err, body) => finish(err, body));
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    // 'aborted' and other stream errors mean the client went away: nothing internal failed.
    // (Checked before building the error: 'close' also fires after every complete body, and an
    // Error captures a stack trace each time.)
    payload.on('error', (e) => finished || finish(new ApiError('bad_request', `the request body could not be read: ${e.message}`, true)));
    // A client that leaves mid-body gives its budget back at once.
    payload.on('close', () => finished || finish(new ApiError('bad_request', 'the client closed the connection before sending the whole body', true)));
  });
}
