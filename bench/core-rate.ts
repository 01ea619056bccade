// Rates for the core micro-benchmarks, per wall-clock second and per CPU second of this process.
// On a machine shared with other work the wall rate falls with the load; the CPU rate (operations
// per second of user + system time this process got) estimates what one free core would do.
export interface Rate {
  wall: number;
  cpu: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Runs `step` (doing `perStep` operations) until `budgetMs` of wall time have passed and it ran at
 * least `minSteps` times; warms up with 3 steps first.
 */
export async function measure(budgetMs: number, minSteps: number, perStep: number, step: (i: number) => unknown): Promise<Rate> {
  // Await only what is a promise: an await per synchronous step would cost more than a proof check.
  for (let i = 0; i < 3; i++) {
    const r = step(i);
    if (r instanceof Promise) await r;
  }
  let n = 0;
  const start = performance.now();
  const cpu0 = cpuMs();
  let elapsed = 0;
  do {
    const r = step(n++);
    if (r instanceof Promise) await r;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs || n < minSteps);
  const cpu = Math.max(cpuMs() - cpu0, 1e-3);
  return { wall: (n * perStep * 1000) / elapsed, cpu: (n * perStep * 1000) / cpu };
}
