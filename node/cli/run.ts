// The `cairn` command line, runnable in-process: run(argv, io) → exit code.
//
// Adding a command group: write node/cli/<group>.ts exporting `register<Group>(program, io)` and
// add it to COMMANDS below. Commands report failure by throwing CliError (io.ts); anything else
// thrown is reported as an internal error. Output contract for every command:
//   success  → summary on stdout, exit 0
//   failure  → exactly one line `cairn: <what is wrong>` on stderr, exit 1 (rejected/refused)
//              or 2 (usage: bad arguments, unreadable or invalid input/configuration files)
import { Command, CommanderError } from 'commander';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './io.js';
import { registerKeygen } from './keygen.js';
import { registerVerify } from './verify.js';
import { registerVerifyConsistency } from './verify-online.js';
import { registerVerifyStore } from './verify-store.js';
import { registerReindex } from './reindex.js';
import { registerSubmit } from './submit.js';
import { registerGet } from './get.js';
import { registerAudit } from './audit.js';
import { registerStatus } from './status.js';
import { registerStart } from './start.js';
import { registerGenesis } from './genesis-cmd.js';
import { registerAlerts } from './alerts.js';
import { registerExport } from './export.js';
import { registerAuth } from './auth-cmd.js';
import { registerSearch } from './search.js';
import { registerHistory } from './history.js';
import { registerGov } from './gov.js';
import { registerTrust } from './trust-cmd.js';
import { registerCdc } from './cdc.js';
import { registerAgent } from './agent.js';

export type { CliIo } from './io.js';

/** Command groups, in help order. */
export const COMMANDS: readonly ((program: Command, io: CliIo) => void)[] = [
  registerKeygen,
  registerGenesis,
  registerStart,
  registerSubmit,
  registerGet,
  registerStatus,
  registerVerify,
  registerVerifyConsistency,
  registerVerifyStore,
  registerReindex,
  registerAudit,
  registerSearch,
  registerHistory,
  registerAlerts,
  registerExport,
  registerAuth,
  registerGov,
  registerTrust,
  registerCdc,
  registerAgent,
];

/** Builds a fresh commander program whose commands write to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command();
  program
    .name('cairn')
    .description('Cairn: tamper-evident audit log replicated among independent organizations')
    // Settings below are inherited by every subcommand created afterwards (commander copies them).
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      // Commander's own error text and error-help go nowhere: run() prints the one-line error.
      writeErr: () => undefined,
      outputError: () => undefined,
    });
  for (const register of COMMANDS) register(program, io);
  return program;
}

/** One line, no trailing newline, no "error: " prefix. */
function oneLine(message: string): string {
  return message.replace(/^error:\s*/i, '').replace(/\s+/g, ' ').trim();
}

/** "cairn verify checkpoint": the longest run of leading arguments that name (sub)commands. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = ['cairn'];
  let cmd: Command = program;
  for (const arg of argv) {
    const sub = cmd.commands.find((c) => c.name() === arg);
    if (sub === undefined) break;
    names.push(arg);
    cmd = sub;
  }
  return names.join(' ');
}

function commanderMessage(e: CommanderError, program: Command, argv: readonly string[]): string {
  const path = commandPath(program, argv);
  // 'commander.help' here = a command group invoked without its subcommand (`cairn`, `cairn verify`).
  if (e.code === 'commander.help') return `missing command; see '${path} --help'`;
  return `${oneLine(e.message)} (see '${path} --help')`;
}

/** Runs the CLI on `argv` (arguments after the program name). Never throws; resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version: already written to stdout.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
      io.stderr(`cairn: ${commanderMessage(e, program, argv)}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CliError) {
      io.stderr(`cairn: ${oneLine(e.message)}\n`);
      return e.exitCode;
    }
    io.stderr(`cairn: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return EXIT_FAILURE;
  }
}
