// `npm run bench:core`: micro-benchmarks of the pure core on this machine (not part of `npm test`).
// Each section is time-bounded (~1-2 s) so the whole run stays short.
import os from 'node:os';
import { benchCrypto } from './core-crypto.js';
import { benchMerkle } from './core-merkle.js';
import { benchCheckpoint } from './core-checkpoint.js';
import { benchEntryPath } from './core-entry.js';
import type { Rate } from './core-rate.js';

async function main(): Promise<void> {
  console.log(`cairn core benchmarks — ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, node ${process.version}`);
  const load = () => os.loadavg()[0]!.toFixed(2);
  console.log(`load average (1 min) at start ${load()}; other work on the machine lowers the wall rates, the CPU rates estimate one free core`);
  const rows: [string, Rate][] = [];
  for (const part of [benchCrypto, benchEntryPath, benchMerkle, benchCheckpoint]) {
    for (const [name, value] of Object.entries(await part())) rows.push([name, value]);
  }
  const width = Math.max(...rows.map(([n]) => n.length));
  const fmt = (v: number) => Math.round(v).toLocaleString('en-US').padStart(12);
  console.log(`${''.padEnd(width)}  ${'per wall s'.padStart(12)}  ${'per CPU s'.padStart(12)}`);
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${fmt(value.wall)}  ${fmt(value.cpu)}`);
  console.log(`load average (1 min) at end ${load()}`);
}

main().catch((err) => {
  console.error(`bench:core: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
