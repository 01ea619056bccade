// Group commit: callers that arrive while a synced write is in flight are collected and handled
// together by the NEXT write — one fsync for all of them instead of one each — and every caller
// hears its own answer only once that write is done.
//
// The owner supplies `commit(group)`: it applies the group's requests to its in-memory state,
// writes them in ONE synced batch and returns one answer per request (an Error answers that caller
// alone, e.g. a request it refused). If `commit` throws, nothing of the group was written: every
// caller of the group hears that error. Groups are committed one after the other, never two at
// once, in arrival order, so a later group sees what the earlier ones applied.
//
// Used by the agent's spool (node/agent/spool.ts) and the meta-audit queue (node/meta-audit/queue.ts).

export class GroupCommit<Req, Res> {
  private pending: { req: Req; resolve: (r: Res) => void; reject: (e: Error) => void }[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;

  /** `name` only words the error a caller gets after close(). */
  constructor(
    private readonly name: string,
    private readonly commit: (group: Req[]) => Promise<(Res | Error)[]>,
  ) {}

  /** Queues one request; resolves with its answer once its group was committed. */
  submit(req: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new Error(`${this.name} is closed`));
    return new Promise((resolve, reject) => {
      this.pending.push({ req, resolve, reject });
      this.start();
    });
  }

  /** Requests waiting for a commit, the group being written excluded. */
  get waiting(): number {
    return this.pending.length;
  }

  private start(): void {
    if (this.writing !== null) return;
    // The loop may finish without awaiting anything (a group with nothing to write), so `writing`
    // is cleared in a continuation, which also starts a loop for requests that arrived meanwhile.
    this.writing = this.loop().finally(() => {
      this.writing = null;
      if (this.pending.length > 0) this.start();
    });
  }

  private async loop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      let answers: (Res | Error)[];
      try {
        answers = await this.commit(group.map((p) => p.req));
        if (answers.length !== group.length) throw new Error(`${this.name}: commit answered ${answers.length} of ${group.length} requests`);
      } catch (e) {
        for (const p of group) p.reject(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      group.forEach((p, i) => {
        const a = answers[i]!;
        if (a instanceof Error) p.reject(a);
        else p.resolve(a);
      });
    }
  }

  /** Refuses new requests and waits until every queued one was committed (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing !== null) await this.writing;
  }
}
