// Shared plumbing of the `cairn` commands: where output goes, how failures are reported, and
// bounded file reading. Every command reports failure by throwing a CliError; run() turns it into
// exactly one stderr line `cairn: <what is wrong>` and the exit code.
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { concatBytes } from '../../src/encoding/bytes.js';

/** Exit codes of every cairn command. */
export const EXIT_OK = 0;
/** The thing checked did not verify, or the operation was refused (e.g. a file already exists). */
export const EXIT_FAILURE = 1;
/** The command was used wrongly: unknown command/option, missing argument, unreadable or invalid input file. */
export const EXIT_USAGE = 2;

/** Where a command writes and reads; tests pass an in-memory implementation. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Directory that relative paths are resolved against (default: process.cwd()). */
  readonly cwd?: string;
  /** Environment variables (credentials: CAIRN_TOKEN, ...); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads all of standard input, for file arguments given as "-" (at most `bytesMax` + 1 bytes). */
  readStdin?(bytesMax: number): Promise<Uint8Array>;
}

export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT_USAGE, message);
}

export function failure(message: string): CliError {
  return new CliError(EXIT_FAILURE, message);
}

export function resolvePath(io: CliIo, path: string): string {
  return resolve(io.cwd ?? process.cwd(), path);
}

/**
 * Reads a whole file, but never more than `bytesMax` bytes: a larger file is refused with the
 * limit named, without reading it all. "-" reads standard input. Unreadable → usage error (2).
 */
export async function readFileBounded(io: CliIo, path: string, what: string, bytesMax: number, limitName: string): Promise<Uint8Array> {
  let data: Uint8Array;
  if (path === '-') {
    if (io.readStdin === undefined) throw usageError(`cannot read ${what} from standard input here`);
    data = await io.readStdin(bytesMax);
  } else {
    let handle;
    try {
      handle = await open(resolvePath(io, path), 'r');
    } catch (e) {
      throw usageError(`cannot read ${what} ${path}: ${describeFsError(e)}`);
    }
    try {
      const buf = new Uint8Array(bytesMax + 1);
      let len = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buf, len, buf.length - len, null);
        if (bytesRead === 0) break;
        len += bytesRead;
        if (len === buf.length) break;
      }
      data = buf.subarray(0, len);
    } catch (e) {
      throw usageError(`cannot read ${what} ${path}: ${describeFsError(e)}`);
    } finally {
      await handle.close();
    }
  }
  if (data.length > bytesMax) throw failure(`${what} ${path} is larger than ${bytesMax} bytes (${limitName})`);
  return data;
}

/** A short reason from a Node fs error ("no such file or directory"), without the stack. */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'EEXIST':
      return 'already exists';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    default:
      return err instanceof Error ? err.message.split('\n')[0]! : String(e);
  }
}

/** Node's real stdin, bounded. */
export async function readProcessStdin(bytesMax: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let len = 0;
  for await (const chunk of process.stdin) {
    const c = chunk as Uint8Array;
    chunks.push(c);
    len += c.length;
    if (len > bytesMax) break;
  }
  return concatBytes(...chunks);
}
