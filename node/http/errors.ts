// One error shape on every route: {"error": {"code", "message", "field"?}} (docs/api.md).
import type { FastifyReply } from 'fastify';
import { API_ERROR_STATUS, type ApiErrorBody, type ApiErrorCode } from '../../src/client/types.js';

export function errorBody(code: ApiErrorCode, message: string, field?: string): { error: ApiErrorBody } {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** Seconds a client should wait before retrying a 429/503. */
export const RETRY_AFTER_S = 1;

export function sendError(reply: FastifyReply, code: ApiErrorCode, message: string, field?: string, retryAfterS = RETRY_AFTER_S): FastifyReply {
  const status = API_ERROR_STATUS[code];
  if (status === 429 || status === 503) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterS))));
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(code, message, field));
}

/**
 * An API error raised inside request processing (the body parser): the error handler answers it
 * with its code. `close` asks for the connection to be closed after the answer, so the rest of a
 * refused body is not read.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly close = false,
    readonly retryAfterS = RETRY_AFTER_S,
  ) {
    super(message);
  }
}

/** The status of a known code, 500 for anything else (an unexpected code is a bug, never a crash). */
export function statusOf(code: string): number {
  return (API_ERROR_STATUS as Record<string, number>)[code] ?? 500;
}
