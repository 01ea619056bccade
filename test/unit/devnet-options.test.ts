// startDevnet's checks that run before any process starts: option ranges, a directory that is not
// a devnet, and a reused devnet with different settings (the ports and organizations are baked
// into its genesis). The start-up itself is tested with real processes in test/proc/devnet-*.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevnet, exampleCommands, formatBanner, type Devnet } from '../../devnet/start.js';
import { startupExitError } from '../../devnet/launch.js';
import { tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  dir = await tempDir('devnet-opts');
});

afterAll(async () => {
  await dir.cleanup();
});

describe('startDevnet option checks', () => {
  it('rejects out-of-range options with a coded error naming the limit', async () => {
    await expect(startDevnet({ dir: join(dir.path, 'a'), orgs: 0 })).rejects.toMatchObject({ code: 'bad_option', message: expect.stringMatching(/1\.\.16 \(DEVNET_ORGS_MAX\)/) });
    await expect(startDevnet({ dir: join(dir.path, 'a'), orgs: 2.5 })).rejects.toMatchObject({ code: 'bad_option' });
    await expect(startDevnet({ dir: join(dir.path, 'a'), basePort: 80 })).rejects.toMatchObject({ code: 'bad_option', message: expect.stringMatching(/--base-port must be an integer in 1024\.\./) });
    await expect(startDevnet({ dir: join(dir.path, 'a'), basePort: 65500 })).rejects.toMatchObject({ code: 'bad_option' });
    await expect(startDevnet({ dir: join(dir.path, 'a'), samples: -1 })).rejects.toMatchObject({ code: 'bad_option' });
  });

  it('refuses a directory that exists but is not a devnet, and a devnet with other settings', async () => {
    await mkdir(join(dir.path, 'not-devnet'));
    await expect(startDevnet({ dir: join(dir.path, 'not-devnet') })).rejects.toMatchObject({ code: 'bad_dir', message: expect.stringMatching(/is not a devnet directory/) });
    const d = join(dir.path, 'old');
    await mkdir(d);
    await writeFile(join(d, 'devnet.json'), JSON.stringify({ version: 1, orgs: 4, basePort: 8400 }));
    await expect(startDevnet({ dir: d, orgs: 5 })).rejects.toMatchObject({ code: 'bad_option', message: expect.stringMatching(/holds a devnet of 4 organizations; use --orgs 4/) });
    await expect(startDevnet({ dir: d, basePort: 9000 })).rejects.toMatchObject({ code: 'bad_option', message: expect.stringMatching(/was created with --base-port 8400/) });
    // Settings that match, but the genesis is missing: named, with the way out.
    await expect(startDevnet({ dir: d, basePort: 8400 })).rejects.toMatchObject({ code: 'bad_dir', message: expect.stringMatching(/genesis\.json: .*delete .* to start a fresh devnet/) });
    await writeFile(join(d, 'devnet.json'), '{nope');
    await expect(startDevnet({ dir: d })).rejects.toMatchObject({ code: 'bad_dir', message: expect.stringMatching(/devnet\.json is unreadable/) });
  });

  it('shows paths relative to the working directory in the banner and commands', () => {
    const d = {
      dir: '/w/.devnet',
      origin: 'cairn.example/devnet',
      quorum: 3,
      peers: [1, 2, 3, 4].map((i) => ({ name: `org${i}.devnet`, url: `http://127.0.0.1:840${i}`, httpPort: 8400 + i, p2pPort: 8500 + i, configFile: '', logFile: `/w/.devnet/logs/org${i}.devnet.log`, pid: 100 + i })),
      urls: [1, 2, 3, 4].map((i) => `http://127.0.0.1:840${i}`),
      trustFile: '/w/.devnet/trust.json',
      genesisFile: '/w/.devnet/genesis.json',
      clientKeyFile: '/w/.devnet/keys/client.pem',
      samples: ['ab'.repeat(32)],
    } as unknown as Devnet;
    d.commands = exampleCommands(d, '/w');
    expect(d.commands).toContain('npx cairn audit http://127.0.0.1:8403 --trust .devnet/trust.json');
    expect(d.commands[0]).toBe('npx cairn submit --peer http://127.0.0.1:8401 --key .devnet/keys/client.pem --action db.query --actor alice@example.com --resource-type db.table --resource-id payments --wait');
    expect(exampleCommands(d, '/elsewhere')).toContain('npx cairn audit http://127.0.0.1:8403 --trust /w/.devnet/trust.json');
    const banner = formatBanner(d, '/w');
    expect(banner).toContain('org2.devnet  http://127.0.0.1:8402   (pid 102, log .devnet/logs/org2.devnet.log)');
    expect(banner).toContain(`sample entries (final): ${'ab'.repeat(32)}`);
  });
});

describe('a peer that exits during start-up', () => {
  it('is reported as port_in_use when its log says a port was taken after the check, else as peer_exited', () => {
    const taken = startupExitError('org4.devnet', { code: 1, signal: null }, 'logs/org4.devnet.log', 'cairn: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:34004');
    expect(taken).toMatchObject({ code: 'port_in_use', message: expect.stringMatching(/^peer org4\.devnet exited during start-up \(code 1, signal null\).*127\.0\.0\.1:34004\n.*--base-port/s) });
    const corrupt = startupExitError('org1.devnet', { code: 1, signal: null }, 'logs/org1.devnet.log', 'cairn: failed to start: store_corrupt: leaf 7 does not match its hash');
    expect(corrupt).toMatchObject({ code: 'peer_exited', message: expect.stringMatching(/store_corrupt/) });
  });
});
