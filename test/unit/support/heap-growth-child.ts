// Child process for the heap-growth test: applies the configured percent through the peer's own
// applyHeapGrowth, then keeps a steady live set while allocating garbage fast (as a loaded peer
// does), and prints the largest heap V8 reserved against the live set measured after a full GC.
// Run with --expose-gc; argv[2] is the configured percent ('none': leave V8's own factor).
import { applyHeapGrowth } from '../../../node/peer/v8-memory.js';

const arg = process.argv[2]!;
const growth = arg === 'none' ? null : applyHeapGrowth(Number(arg));
const live: unknown[][] = [];
let peak = 0;
const KEPT = 150;
for (let round = 0; round < 3000; round++) {
  const batch: unknown[] = [];
  for (let i = 0; i < 2000; i++) batch.push({ i, s: `v${i}`, a: [i, i + 1, i + 2, i + 3] });
  live.push(batch);
  if (live.length > KEPT) live.shift();
  peak = Math.max(peak, process.memoryUsage().heapTotal);
}
(globalThis as { gc?: () => void }).gc!();
const liveBytes = process.memoryUsage().heapUsed;
process.stdout.write(JSON.stringify({ growth, peakHeapTotal: peak, liveBytes, kept: live.length }) + '\n');
