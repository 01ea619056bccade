// The one-command devnet: `npm start` (= node dist/devnet/start.js) on a fresh clone brings up a
// Cairn network of N organizations (default 4) on 127.0.0.1 and prints how to use it.
//
// What it does, in order:
//   1. first start only: generates the keys, the genesis, the auditor's trust file and one config
//      file per peer under the devnet dir (default .devnet/; generate.ts). Later starts reuse the
//      directory (same keys, same genesis, same data: the log survives restarts).
//   2. writes the access policy files and keys (auth.ts);
//   3. starts one peer process per organization and waits until the network is ready (launch.ts);
//   4. submits a few sample entries through the client SDK and waits until final (samples.ts);
//   5. prints each peer's API URL, the trust file and copy-pasteable commands (banner.ts).
// Meta-audit: each organization has a `<org>-meta-audit` client in the genesis and its peer signs
// with that key an entry for every read of the log (cairn.read.*), so reads are logged too. A
// devnet dir made before that has no such clients and runs without it (the start says so).
// Ctrl-C / SIGTERM stop every peer cleanly; if the launcher itself dies, even by SIGKILL, each
// peer stops itself when its stdin pipe closes, so no orphan keeps running.
//
// startDevnet(opts) is the same start-up path as a function; the acceptance tests use it.
import '../node/polyfills.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadGenesis, type Genesis } from '../node/peer/genesis.js';
import { ensureDevnetAuth } from './auth.js';
import {
  DEFAULT_BASE_PORT,
  DEFAULT_DIR,
  DEFAULT_ORGS,
  DEFAULT_SAMPLES,
  DEVNET_ORGS_MAX,
  DevnetError,
  exists,
  orgName,
  P2P_PORT_OFFSET,
  SETTINGS_FILE,
  shown,
  type Devnet,
  type DevnetOptions,
  type DevnetPeer,
} from './common.js';
import { exampleCommands, formatBanner } from './banner.js';
import { generate, metaAuditState, readSettings } from './generate.js';
import { abortable, checkAborted, checkPortFree, defaultPeerCommand, launchPeers } from './launch.js';
import { submitSamples } from './samples.js';

export {
  DEFAULT_BASE_PORT,
  DEFAULT_DIR,
  DEFAULT_ORGS,
  DEFAULT_SAMPLES,
  DEVNET_ORGS_MAX,
  DEVNET_ORIGIN,
  DevnetError,
  P2P_PORT_OFFSET,
  READY_STALL_MS,
  READY_TOTAL_MS_MAX,
  SAMPLES_FINAL_MS,
  STOP_GRACE_MS,
  type Devnet,
  type DevnetOptions,
  type DevnetPeer,
} from './common.js';
export { exampleCommands, formatBanner, metaAuditSearchCommand } from './banner.js';
export { generate, metaAuditKeyFile } from './generate.js';
export { defaultPeerCommand } from './launch.js';

function checkOptions(opts: DevnetOptions): { orgs: number | undefined; basePort: number | undefined; samples: number } {
  const { orgs, basePort } = opts;
  if (orgs !== undefined && (!Number.isInteger(orgs) || orgs < 1 || orgs > DEVNET_ORGS_MAX)) {
    throw new DevnetError('bad_option', `--orgs must be an integer in 1..${DEVNET_ORGS_MAX} (DEVNET_ORGS_MAX)`);
  }
  if (basePort !== undefined && (!Number.isInteger(basePort) || basePort < 1024 || basePort + P2P_PORT_OFFSET + DEVNET_ORGS_MAX > 65535)) {
    throw new DevnetError('bad_option', `--base-port must be an integer in 1024..${65535 - P2P_PORT_OFFSET - DEVNET_ORGS_MAX}`);
  }
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 0 || samples > 1000) throw new DevnetError('bad_option', '--samples must be an integer in 0..1000');
  return { orgs, basePort, samples };
}

export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const log = opts.log ?? (() => undefined);
  const cwd = opts.cwd ?? process.cwd();
  const checked = checkOptions(opts);
  const dir = resolve(cwd, opts.dir ?? DEFAULT_DIR);

  let created = false;
  if (!(await exists(join(dir, SETTINGS_FILE)))) {
    if (await exists(dir)) throw new DevnetError('bad_dir', `${dir} exists but is not a devnet directory (no ${SETTINGS_FILE}); choose another --dir or delete it`);
    const orgs = checked.orgs ?? DEFAULT_ORGS;
    const basePort = checked.basePort ?? DEFAULT_BASE_PORT;
    log(`generating keys and a genesis for ${orgs} organizations in ${shown(dir, cwd)}`);
    await generate(dir, orgs, basePort);
    created = true;
  }
  const settings = await readSettings(dir);
  if (checked.orgs !== undefined && checked.orgs !== settings.orgs) {
    throw new DevnetError('bad_option', `${shown(dir, cwd)} holds a devnet of ${settings.orgs} organizations; use --orgs ${settings.orgs}, or another --dir for a different network`);
  }
  if (checked.basePort !== undefined && checked.basePort !== settings.basePort) {
    throw new DevnetError('bad_option', `${shown(dir, cwd)} was created with --base-port ${settings.basePort} (the ports are in its genesis); use that, or another --dir`);
  }
  const genesisFile = join(dir, 'genesis.json');
  let genesis: Genesis;
  try {
    genesis = await loadGenesis(genesisFile);
  } catch (e) {
    throw new DevnetError('bad_dir', `${genesisFile}: ${(e as Error).message}; delete ${dir} to start a fresh devnet`);
  }
  if (!created) log(`reusing the devnet in ${shown(dir, cwd)} (${settings.orgs} organizations)`);

  const peers: DevnetPeer[] = [];
  for (let i = 1; i <= settings.orgs; i++) {
    const name = orgName(i);
    const httpPort = settings.basePort + i;
    const p2pPort = settings.basePort + P2P_PORT_OFFSET + i;
    peers.push({
      name,
      url: `http://127.0.0.1:${httpPort}`,
      httpPort,
      p2pPort,
      configFile: join(dir, 'peers', name, 'config.json'),
      logFile: join(dir, 'logs', `${name}.log`),
      pid: 0,
    });
  }
  const auth = await ensureDevnetAuth(dir, peers.map((p) => p.name));
  for (const p of peers) {
    await checkPortFree(p.httpPort, `${p.name} HTTP`);
    await checkPortFree(p.p2pPort, `${p.name} libp2p`);
  }

  // Meta-audit runs where the genesis has the organization's client and the config its key.
  const ma = await metaAuditState(dir, genesis, peers.map((p) => p.name));
  if (ma.keyFiles.length === 0) {
    log(`meta-audit off: the genesis of ${shown(dir, cwd)} predates the <org>-meta-audit clients, so reads are not logged (delete it for a fresh devnet that logs them)`);
  } else if (ma.without.length > 0) {
    log(`meta-audit off for ${ma.without.join(', ')}: no <org>-meta-audit client in the genesis or no auth.metaAuditKey in its config`);
  }

  await mkdir(join(dir, 'logs'), { recursive: true });
  // The web explorer's overview compares every peer's head (CAIRN_UI_CONFIG, docs/explorer.md).
  const uiConfig = join(dir, 'ui-config.json');
  await writeFile(uiConfig, JSON.stringify({ peers: peers.map((p) => ({ name: p.name, url: p.url })) }, null, 2) + '\n');
  const launched = await launchPeers(
    peers,
    { dir, command: opts.peerCommand ?? defaultPeerCommand(), env: { CAIRN_UI_CONFIG: uiConfig, ...(opts.env ?? {}) }, operator: auth.operator, log, cwd },
    opts.signal,
  );
  try {
    const clientKeyFile = join(dir, 'keys', 'client.pem');
    let samples: string[] = [];
    checkAborted(opts.signal);
    if (checked.samples > 0) {
      samples = await abortable(submitSamples(peers.map((p) => p.url), clientKeyFile, checked.samples, auth), opts.signal);
      checkAborted(opts.signal);
      log(`${samples.length} sample entries submitted and final`);
    }
    const devnet: Devnet = {
      dir,
      origin: genesis.origin,
      quorum: genesis.quorum,
      peers,
      urls: peers.map((p) => p.url),
      trustFile: join(dir, 'trust.json'),
      genesisFile,
      clientKeyFile,
      auth,
      metaAuditKeyFiles: ma.keyFiles,
      samples,
      created,
      commands: [],
      exited: launched.exited,
      stop: launched.stop,
      stopPeer: launched.stopPeer,
      startPeer: launched.startPeer,
    };
    devnet.commands = exampleCommands(devnet, cwd);
    return devnet;
  } catch (e) {
    await launched.stop();
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  const { Command, CommanderError } = await import('commander');
  const program = new Command()
    .name('npm start --')
    .description('start a local Cairn devnet: N organizations, one peer process each, on 127.0.0.1')
    .option('--orgs <n>', `number of organizations (1..${DEVNET_ORGS_MAX}; default ${DEFAULT_ORGS}, or the existing devnet's)`)
    .option('--base-port <port>', `HTTP ports base+1..base+N, libp2p ports base+${P2P_PORT_OFFSET + 1}.. (default ${DEFAULT_BASE_PORT})`)
    .option('--dir <dir>', `devnet directory, reused on the next start (default ${DEFAULT_DIR})`)
    .option('--samples <n>', `sample entries to submit once up (default ${DEFAULT_SAMPLES})`)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')) return 0;
    process.stderr.write(`devnet: ${(e as Error).message.replace(/^error:\s*/i, '')}\n`);
    return 2;
  }
  const o = program.opts<{ orgs?: string; basePort?: string; dir?: string; samples?: string }>();
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d{1,6}$/.test(v)) throw new DevnetError('bad_option', `${flag} must be a number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let devnet: Devnet;
  const say = (l: string) => process.stdout.write(`devnet: ${l}\n`);
  let interrupted = false;
  let stopNow: (() => Promise<void>) | null = null;
  // During start-up a signal aborts startDevnet, which stops the peers started so far cleanly.
  const abort = new AbortController();
  const onSignal = (sig: string) => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping every peer...`);
    if (stopNow !== null) void stopNow().then(() => process.exit(0));
    else abort.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    const orgs = num(o.orgs, '--orgs');
    const basePort = num(o.basePort, '--base-port');
    const samples = num(o.samples, '--samples');
    devnet = await startDevnet({
      ...(o.dir !== undefined ? { dir: o.dir } : {}),
      ...(orgs !== undefined ? { orgs } : {}),
      ...(basePort !== undefined ? { basePort } : {}),
      ...(samples !== undefined ? { samples } : {}),
      log: say,
      signal: abort.signal,
    });
  } catch (e) {
    if (interrupted) {
      say('stopped');
      return 130;
    }
    process.stderr.write(`devnet: ${(e as Error).message}\n`);
    return 1;
  }
  stopNow = devnet.stop;
  if (interrupted) {
    await devnet.stop();
    return 130;
  }
  process.stdout.write(formatBanner(devnet, process.cwd()) + '\n');
  const crashed = await devnet.exited;
  if (interrupted) return new Promise<number>(() => undefined); // onSignal exits when the stop completes
  process.stderr.write(`devnet: peer ${crashed.name} exited unexpectedly (code ${crashed.code}, signal ${crashed.signal}); see its log. Stopping the others.\n`);
  await devnet.stop();
  return 1;
}

const invokedDirectly = process.argv[1] !== undefined && /[/\\]devnet[/\\]start\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
