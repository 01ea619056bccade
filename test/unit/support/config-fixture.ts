// Scaffolding of the peer-config tests: the smallest valid config, a reader of one parsed field,
// a check that a bad value is refused naming its source, and temp stores closed after each test.
import { afterEach, expect } from 'vitest';
import { parseConfig, type PeerConfig } from '../../../node/peer/config.js';
import type { Store } from '../../../node/storage/index.js';
import { TempDirs } from './storage-fixture.js';

/** The fields every peer config needs (paths relative to the config file). */
export const CONFIG_BASE = { dataDir: 'data', genesis: 'genesis.json', signingKey: 'org.key', p2pKey: 'p2p.key' };

/** Reads `field` of the config parsed from `input` and `env`; throws when the config is refused. */
export function configField<K extends keyof PeerConfig>(field: K): (input: Record<string, unknown>, env?: Record<string, string>) => PeerConfig[K] {
  return (input, env = {}) => {
    const r = parseConfig(input, '/etc/cairn', env);
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    return r.config[field];
  };
}

/** Asserts the config is refused with `code`, naming `field` (a config key or an environment variable). */
export function expectConfigRefused(input: Record<string, unknown>, env: Record<string, string>, code: string, field: string): void {
  const r = parseConfig(input, '/', env);
  expect(r.ok === false && r.code).toBe(code);
  expect(r.ok === false && r.field).toBe(field);
}

/** Temp directories and the stores a test opens in them, closed and removed after each test. */
export function storesClosedAfterEach(): { dirs: TempDirs; open: Store[] } {
  const dirs = new TempDirs();
  const open: Store[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await dirs.removeAll();
  });
  return { dirs, open };
}
