// Argument checks shared by the store's modules: every bad argument is a StoreError with code
// BAD_ARGUMENT, every argument beyond a limit LIMIT_EXCEEDED naming that limit.

import { checkTileId } from '../../src/merkle/tiles.js';
import type { TileId } from '../../src/merkle/index.js';
import { StoreError } from './errors.js';

export function bad(message: string): never {
  throw new StoreError('BAD_ARGUMENT', message);
}

export function checkNat(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(`${name} must be a non-negative safe integer, got ${String(n)}`);
  return n;
}

export function checkBytes(name: string, b: unknown, maxBytes: number, limitName: string, minBytes = 0): Uint8Array {
  if (!(b instanceof Uint8Array)) bad(`${name} must be a Uint8Array, got ${typeof b}`);
  if (b.length > maxBytes) throw new StoreError('LIMIT_EXCEEDED', `${name} is ${b.length} bytes, more than ${limitName} = ${maxBytes}`);
  if (b.length < minBytes) bad(`${name} is ${b.length} bytes, needs at least ${minBytes}`);
  return b;
}

export function checkLimit(name: string, n: unknown, max: number, limitName: string): number {
  checkNat(name, n);
  if ((n as number) > max) throw new StoreError('LIMIT_EXCEEDED', `${name} ${String(n)} exceeds ${limitName} = ${max}`);
  return n as number;
}

export function checkTileIdArg(t: TileId): void {
  try {
    checkTileId(t);
  } catch (e) {
    throw new StoreError('BAD_ARGUMENT', (e as Error).message, { cause: e });
  }
}
