// A signal that aborts after a deadline or when a parent signal aborts, whichever comes first.
//
// Why not `AbortSignal.any([AbortSignal.timeout(ms), parent])`: in Node 20 the combined signal
// holds its sources only weakly, and a timeout signal's own timer holds it weakly too, so once
// nothing else references the timeout signal a garbage collection can take it and the combined
// signal never fires (a known Node bug). A request to a peer that never answers would then wait
// forever. Here the timer's closure holds the controller strongly until it fires or is cleared.

export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the parent; call it when the guarded work is over. */
  clear(): void;
}

/** Aborts with a `TimeoutError` DOMException (as `AbortSignal.timeout` does) after `ms`, or with the parent's reason. */
export function deadline(ms: number, parent: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(parent.reason);
  const timer = setTimeout(() => controller.abort(new DOMException(`The operation was aborted due to timeout after ${ms} ms`, 'TimeoutError')), ms);
  timer.unref?.();
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
