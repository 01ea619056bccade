// `npm run bench:core`: micro-benchmarks of the pure core on this machine (not part of `npm test`).
// Each section is time-bounded (~1-2 s) so the whole run stays short.
import os from 'node:os';
import { benchCrypto } from './core-crypto.js';
import { benchMerkle } from './core-merkle.js';
import { benchCheckpoint } from './core-checkpoint.js';

async function main(): Promise<void> {
  console.log(`cairn core benchmarks — ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, node ${process.version}`);
  const rows: [string, number][] = [];
  for (const part of [benchCrypto, benchMerkle, benchCheckpoint]) {
    for (const [name, value] of Object.entries(await part())) rows.push([name, value]);
  }
  const width = Math.max(...rows.map(([n]) => n.length));
  for (const [name, value] of rows) {
    console.log(`${name.padEnd(width)}  ${Math.round(value).toLocaleString('en-US').padStart(12)} /s`);
  }
}

main().catch((err) => {
  console.error(`bench:core: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
