// The offline store commands (`cairn verify store`, `cairn reindex`) open a stopped peer's store
// the same way: exactly one of --config / --store, a missing store is not created, a store held by
// a running peer (its lock) is refused with a hint, and --config resolves <dataDir>/store.
// Every refusal is exactly one `cairn: ...` line, exit 2, identical for both commands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/index.js';
import { cli, expectError, tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
let held: Store;

beforeAll(async () => {
  dir = await tempDir('cli-store');
  // A store a "running peer" holds open (its LevelDB lock).
  held = await openStore(p('held/data/store'));
  await writeFile(p('held.json'), JSON.stringify({ dataDir: p('held/data'), genesis: 'g.json', signingKey: 'k.key', p2pKey: 'p.key', listen: ['/ip4/127.0.0.1/tcp/0'] }));
});

afterAll(async () => {
  await held.close();
  await dir.cleanup();
});

const COMMANDS: [string, string[]][] = [
  ['verify store', ['verify', 'store']],
  ['reindex', ['reindex']],
];

describe('offline store commands share one prologue', () => {
  it.each(COMMANDS)('%s: the same refusals for the same flags', async (_name, cmd) => {
    expectError(await cli(cmd), 2, /give either --config <peer config file> or --store <store directory>/);
    expectError(await cli([...cmd, '--config', p('a'), '--store', p('b')]), 2, /give either --config/);
    expectError(await cli([...cmd, '--config', p('nope.json')]), 2, /config_unreadable: cannot read config file/);
    // Not created as a store: asked again, it is still missing.
    for (let k = 0; k < 2; k++) expectError(await cli([...cmd, '--store', p('no-store')]), 2, /cannot open store .*no-store: /);
    expectError(await cli([...cmd, '--store', p('held/data/store')]), 2, /store .*held\/data\/store is locked: stop the peer that uses it first/);
    // --config finds <dataDir>/store: the same lock.
    expectError(await cli([...cmd, '--config', p('held.json')]), 2, /held\/data\/store is locked/);
  });

  it('both commands answer a refusal with the same line', async () => {
    for (const flags of [[], ['--store', p('no-store')], ['--store', p('held/data/store')], ['--config', p('held.json')]]) {
      const [a, b] = [await cli(['verify', 'store', ...flags]), await cli(['reindex', ...flags])];
      expect(b.stderr, flags.join(' ')).toBe(a.stderr);
      expect(b.code).toBe(a.code);
    }
  });
});
