// One timer for the peer's own waits. Node clamps setTimeout(f, 0) to 1 ms (more under load); a
// zero wait is setImmediate instead: the next turn of the event loop, still a macrotask, so work
// delivered together is still seen together.

export type LoopTimer = { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout };

/** Runs f after ms (ms <= 0: on the next turn of the event loop). */
export function startTimer(f: () => void, ms: number): LoopTimer {
  return ms <= 0 ? { immediate: setImmediate(f) } : { timeout: setTimeout(f, ms) };
}

/** Cancels a timer of startTimer (a no-op once it has run). */
export function cancelTimer(t: LoopTimer): void {
  if ('immediate' in t) clearImmediate(t.immediate);
  else clearTimeout(t.timeout);
}
