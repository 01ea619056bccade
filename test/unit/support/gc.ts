// Garbage collection on demand inside a test worker, for tests of what must survive a collection
// (a timer or signal held only weakly is lost to one). V8's `gc` is exposed to a fresh context
// once the flag is set; the test's own context is left as it is.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Runs a full collection `rounds` times, `everyMs` apart (the caller's awaited work runs between them). */
export async function collectGarbage(rounds: number, everyMs: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    gc();
  }
}
