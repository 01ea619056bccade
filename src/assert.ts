// Invariants: states the code believes cannot happen. Reaching one means a bug or corrupted
// state, so the caller must stop (fail-stop) rather than log it and carry on: a Byzantine-tolerant
// protocol only tolerates faults in OTHER peers, never in its own state.

/** Thrown when an invariant does not hold. Distinct from input errors (those return failures). */
export class InvariantError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`invariant ${code} violated: ${message}`);
    this.name = 'InvariantError';
    this.code = code;
  }
}

/** Throws InvariantError(code, message) unless `cond` holds. */
export function invariant(cond: unknown, code: string, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(code, typeof message === 'function' ? message() : message);
}

/** `invariant` with a generic code, for checks that need no machine-readable reason. */
export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  invariant(cond, 'assertion', message);
}

export function isInvariantError(e: unknown): e is InvariantError {
  return e instanceof InvariantError;
}
