// `cairn start --config <file>`: run one organization's peer in this process until SIGINT/SIGTERM
// (node/peer/main.ts does the work: config, keys, genesis, storage, network, HTTP API, status
// lines on stdout, clean stop). Exit codes are the peer's: 0 clean stop, 1 runtime failure,
// 2 bad configuration (one `cairn: ...` line on stderr, written by the peer).
//
// --stop-with-stdin: stop cleanly when standard input reaches end-of-file. A supervisor (the
// devnet launcher) starts peers with a pipe on stdin; the kernel closes that pipe when the
// supervisor dies in any way (even SIGKILL), so a peer never outlives its launcher.
import type { Command } from 'commander';
import { resolvePath, type CliIo } from './io.js';

export function registerStart(program: Command, io: CliIo): void {
  program
    .command('start')
    .description("run an organization's peer (consensus, log, HTTP API) until Ctrl-C / SIGTERM")
    .requiredOption('--config <file>', 'peer config file (JSON: dataDir, genesis, signingKey, p2pKey, listen, http, logLevel)')
    .option('--stop-with-stdin', 'stop cleanly when standard input closes (for supervisors: the peer dies with its launcher)')
    .action(async (opts: { config: string; stopWithStdin?: boolean }) => {
      // Loaded here, not at the top: the other commands never load libp2p.
      const { runPeerProcess } = await import('../peer/main.js');
      if (opts.stopWithStdin === true) {
        // Once: the peer treats a second SIGTERM as "exit now", and 'end' and 'error' can both fire.
        let sent = false;
        const stop = () => {
          if (sent) return;
          sent = true;
          process.kill(process.pid, 'SIGTERM');
        };
        process.stdin.on('end', stop);
        process.stdin.on('error', stop);
        process.stdin.resume();
      }
      const code = await runPeerProcess(resolvePath(io, opts.config));
      // A long-running process command: exit with the peer's code even if a library left a handle open.
      process.exit(code);
    });
}
