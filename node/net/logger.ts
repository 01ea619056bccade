// The logger the networking layer writes to. The argument order is pino's (`obj, msg`), so a
// pino logger (or child) can be passed as is.

export interface NetLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const noop = (): void => {};

export const silentLogger: NetLogger = { debug: noop, info: noop, warn: noop, error: noop };
