// What a peer's per-entry answers mean for each event, the versions of one event together
// (every version of an event is sent together, so whichever one the log holds answers):
//   any known-final                   → final: removed from the spool
//   any accepted / known-pending      → in flight: checked again (finality.ts decides when)
//   latest version clock_skew         → it waited longer than the peers' maxClockSkewMs: a new
//                                       version with a fresh time is recorded (synced) and sent
//   latest version conflict           → the log holds a different entry with this id (an event
//                                       re-sent with its id after it was final, or an id reused):
//                                       counted in `conflicts`, logged, removed
//   anything else (busy, unknown_client, ...) → sent again after a backoff; nothing is dropped
import type { SubmitItem } from '../../src/client/types.js';

export type Verdict = 'final' | 'inflight' | 'retime' | 'conflict' | 'error';

export interface EventAnswer {
  verdict: Verdict;
  /** The latest version's own answer (its error, for 'error'). */
  latest: SubmitItem | null;
}

/**
 * Per event (by spool sequence), the verdict of its versions' answers; `owner[i]` names the event
 * of `results[i]` and whether it is that event's latest version. `readmitted`: some entry was
 * answered `accepted` (a peer had lost it, or it had never reached one).
 */
export function verdicts(results: SubmitItem[], owner: { seq: number; latest: boolean }[]): { answers: Map<number, EventAnswer>; readmitted: boolean } {
  const known = new Map<number, { known: 'final' | 'pending' | null; latest: SubmitItem | null }>();
  let readmitted = false;
  results.forEach((r, i) => {
    const o = owner[i]!;
    if ('status' in r && r.status === 'accepted') readmitted = true;
    const a = known.get(o.seq) ?? { known: null, latest: null };
    if ('status' in r) {
      if (r.status === 'known-final') a.known = 'final';
      else if (a.known === null) a.known = 'pending';
    }
    if (o.latest) a.latest = r;
    known.set(o.seq, a);
  });
  const answers = new Map<number, EventAnswer>();
  for (const [seq, a] of known) answers.set(seq, { verdict: verdictOf(a.known, a.latest), latest: a.latest });
  return { answers, readmitted };
}

function verdictOf(known: 'final' | 'pending' | null, l: SubmitItem | null): Verdict {
  if (known === 'final') return 'final';
  if (known === 'pending') return 'inflight';
  if (l !== null && 'error' in l) {
    if (l.error.code === 'clock_skew') return 'retime';
    if (l.error.code === 'conflict') return 'conflict';
  }
  return 'error';
}
