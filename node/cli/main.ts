// Entry point of the `cairn` program (bin/cairn.js imports the compiled dist/node/cli/main.js).
// Runs the CLI on process.argv; the commands themselves live in run.ts (importable by tests
// without side effects).
import '../polyfills.js'; // before anything that may load libp2p (future peer commands)
import { readProcessStdin } from './io.js';
import { run } from './run.js';
import { installFastProofHash } from '../crypto/sha256-into.js';
import { installFastKeyCheck } from '../crypto/fast-key-check.js';

// `cairn verify` and `cairn audit` check many inclusion proofs: libsodium's SHA-256 (a known
// answer is checked before it is used; node:crypto stays when the native module cannot load).
installFastProofHash();
// Commands that read a genesis vet every key in it: libsodium's point check first (same criteria;
// noble names the reason for a refused key).
installFastKeyCheck();

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: readProcessStdin,
});
process.exitCode = code;
