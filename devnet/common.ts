// What the devnet's parts share: limits and defaults, the options and the running devnet's
// shape, its error type, and small file and path helpers.
import { access, readFile } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { DevnetAuth } from './auth.js';

/** Most organizations a devnet runs (each is a process on this machine). */
export const DEVNET_ORGS_MAX = 16;
/** HTTP port of org i (1-based) = basePort + i; libp2p port = basePort + P2P_PORT_OFFSET + i. */
export const P2P_PORT_OFFSET = 100;
export const DEFAULT_BASE_PORT = 8400;
export const DEFAULT_ORGS = 4;
export const DEFAULT_DIR = '.devnet';
export const DEVNET_ORIGIN = 'cairn.example/devnet';
/** Sample entries submitted on every start. */
export const DEFAULT_SAMPLES = 3;
/** Time a peer gets to stop after SIGTERM before its process group is killed. */
export const STOP_GRACE_MS = 10_000;
/** The readiness wait fails when nothing progressed for this long. */
export const READY_STALL_MS = 45_000;
/** ... and in any case after this long. */
export const READY_TOTAL_MS_MAX = 240_000;
/** The sample entries must be final within this long. */
export const SAMPLES_FINAL_MS = 60_000;
/** The genesis client of the sample entries and `cairn submit`, vouched for by org 1. */
export const CLIENT_NAME = 'devnet-client';
/** The devnet dir's settings file (its presence makes a directory a devnet). */
export const SETTINGS_FILE = 'devnet.json';

export interface DevnetOptions {
  /** Devnet directory (default .devnet, relative to cwd). */
  dir?: string;
  /** Number of organizations (default 4, 1..DEVNET_ORGS_MAX). */
  orgs?: number;
  /** Ports: HTTP basePort+1..basePort+N, libp2p basePort+101..basePort+100+N (default 8400). */
  basePort?: number;
  /** Sample entries to submit once ready (default 3; 0 = none). */
  samples?: number;
  /** Command that runs a peer; `--config <file> --stop-with-stdin` is appended. Default: this build's `cairn start`. */
  peerCommand?: string[];
  /** Extra environment for the peers. */
  env?: Record<string, string>;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
  /** Directory relative paths are shown against (default process.cwd()). */
  cwd?: string;
  /** Aborting it during start-up stops the peers started so far, cleanly, and rejects with DevnetError 'aborted'. */
  signal?: AbortSignal;
}

export interface DevnetPeer {
  name: string;
  url: string;
  httpPort: number;
  p2pPort: number;
  configFile: string;
  logFile: string;
  pid: number;
}

export interface Devnet {
  dir: string;
  origin: string;
  quorum: number;
  peers: DevnetPeer[];
  urls: string[];
  trustFile: string;
  genesisFile: string;
  clientKeyFile: string;
  /** The auditor and operator keys every peer's policy trusts, and the policy files. */
  auth: DevnetAuth;
  /**
   * Each organization's meta-audit client key file (`<org>-meta-audit` in the genesis), in peer
   * order: reads of the log are logged as cairn.read.* entries. Empty for a devnet dir whose
   * genesis predates them (absent in hand-made values: treated as empty).
   */
  metaAuditKeyFiles?: string[];
  /** Leaf hashes of the sample entries submitted by this start (all final). */
  samples: string[];
  /** Whether this start generated the keys and genesis (false: reused). */
  created: boolean;
  /** Copy-pasteable commands that work against this devnet. */
  commands: string[];
  /** Resolves when a peer process exits while the devnet is supposed to be running. */
  exited: Promise<{ name: string; code: number | null; signal: string | null }>;
  /** Stops every peer (SIGTERM to each process group, SIGKILL after STOP_GRACE_MS). Idempotent. */
  stop(): Promise<void>;
  /** Stops one organization's peer (for operations and tests); its exit is not reported in `exited`. */
  stopPeer(name: string): Promise<void>;
  /**
   * Starts a stopped organization's peer again; resolves once it answers /v1/status, rejects with
   * DevnetError 'peer_exited' (and the tail of its log) if it exits first, e.g. refusing a corrupt store,
   * or 'port_in_use' if its log says a port it listens on was taken (EADDRINUSE).
   */
  startPeer(name: string): Promise<void>;
}

export class DevnetError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DevnetError';
  }
}

/** Organization i's name (1-based); also its key and directory name. */
export function orgName(i: number): string {
  return `org${i}.devnet`;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** `path` relative to `cwd` when it is inside it (what a user types), else as is. */
export function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last `lines` lines of a log file (for error messages). */
export async function tail(path: string, lines: number): Promise<string> {
  try {
    const t = await readFile(path, 'utf8');
    return t.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
