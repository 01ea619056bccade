// The capture loop (node/cdc/capture.ts) driven by a scripted replication stream and a scripted
// peer: the position is written only after waitFinal, clock-skew refusals are re-stamped,
// conflicts are taken as "already logged", any other refusal stops the capture, and the buffer
// bound pauses reading from the stream until Cairn catches up.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CairnClient } from '../../src/client/client.js';
import { CairnApiError } from '../../src/client/errors.js';
import type { SubmitItem } from '../../src/client/types.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { parseCdcConfig } from '../../node/cdc/config.js';
import { runCapture, CdcFatalError, TRANSACTION_WAIT_MS } from '../../node/cdc/capture.js';
import type { ReplicationStream } from '../../node/cdc/pg.js';
import { parseLsn } from '../../node/cdc/pgoutput.js';
import { W } from './support/cdc-wire.js';

/** XLogData wrapping a pgoutput message. */
const xlog = (payload: Uint8Array): Uint8Array => Uint8Array.from([...new W().u8(0x77).u64(0n).u64(0n).u64(0n).bytes(), ...payload]);
const relation = xlog(new W().u8(0x52).i32(16384).str('public').str('items').u8(0x66).i16(2).u8(1).str('id').i32(23).i32(-1).u8(0).str('name').i32(25).i32(-1).bytes());
const NOW_PG = BigInt(Date.now() - 946_684_800_000) * 1000n;
const begin = (lsn: bigint, time = NOW_PG) => xlog(new W().u8(0x42).u64(lsn).u64(time).i32(700).bytes());
const insert = (id: number) => xlog(new W().u8(0x49).i32(16384).u8(0x4e).i16(2).text(String(id)).text(`row ${id}`).bytes());
const commit = (lsn: bigint, end: bigint) => xlog(new W().u8(0x43).u8(0).u64(lsn).u64(end).u64(NOW_PG).bytes());

function fakeStream(): ReplicationStream & { feed(b: Uint8Array): void; sent: Uint8Array[]; pauses: number; resumes: number; paused: boolean } {
  let onData: ((c: Uint8Array) => void) | null = null;
  let onEnd: ((e: Error | null) => void) | null = null;
  const s = {
    systemId: '7000000000000000001',
    sent: [] as Uint8Array[],
    pauses: 0,
    resumes: 0,
    paused: false,
    start(_slot: string, _pub: string, _from: bigint, d: (c: Uint8Array) => void, e: (err: Error | null) => void) {
      onData = d;
      onEnd = e;
    },
    feed(b: Uint8Array) {
      onData!(b);
    },
    send(b: Uint8Array) {
      s.sent.push(b);
    },
    pause() {
      s.pauses++;
      s.paused = true;
    },
    resume() {
      s.resumes++;
      s.paused = false;
    },
    async close() {
      onEnd?.(null);
    },
  };
  return s;
}

/** A peer: `answer` decides each entry's submit result; waitFinalMany resolves when `final` is opened. */
function fakePeer(answer: (e: AuditEntry, attempt: number) => SubmitItem, url = 'http://peer-a') {
  const submitted: AuditEntry[][] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const seen = new Map<string, number>();
  const client = {
    url,
    async submit(batch: AuditEntry[]) {
      submitted.push(batch.map((e) => ({ ...e })));
      return batch.map((e) => {
        const n = (seen.get(e.id) ?? 0) + 1;
        seen.set(e.id, n);
        return answer(e, n);
      });
    },
    async waitFinalMany() {
      await gate;
      return [];
    },
  };
  return {
    client: client as unknown as CairnClient,
    submitted,
    release() {
      open();
    },
    hold() {
      gate = new Promise<void>((r) => (open = r));
    },
  };
}

const ok = (): SubmitItem => ({ status: 'accepted', leafHash: '0'.repeat(64) });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-cdc-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}) {
  return parseCdcConfig(
    JSON.stringify({ postgres: { database: 'app', user: 'u' }, slot: 's1', publication: 'p1', tables: [{ name: 'items' }], peer: 'http://127.0.0.1:1', key: 'k', stateFile: 'cdc.state', statusIntervalMs: 60_000, ...extra }),
    join(dir, 'cdc.json'),
  );
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stateLsn = async (): Promise<bigint | null> => {
  try {
    return parseLsn((JSON.parse(await readFile(join(dir, 'cdc.state'), 'utf8')) as { lsn: string }).lsn);
  } catch {
    return null;
  }
};

const signer = nodeSigner(new Uint8Array(32).fill(3));
const tables = [{ schema: 'public', table: 'items', resourceType: 'public.items', key: ['id'] }];

describe('cdc capture loop', () => {
  it('writes the position only once the entries are final, then reports it to the server', async () => {
    const stream = fakeStream();
    const peer = fakePeer(ok);
    const ac = new AbortController();
    const done = runCapture({ config: config(), tables, stream, clients: [peer.client], signer, start: 0x100n, log: () => undefined, signal: ac.signal });
    stream.feed(relation);
    stream.feed(begin(0x1000n));
    stream.feed(insert(1));
    stream.feed(insert(2));
    stream.feed(commit(0x1000n, 0x1040n));
    await until('a submission', () => peer.submitted.length === 1);
    expect(peer.submitted[0]!.map((e) => e.id)).toEqual(['s1.0000000000001000.0', 's1.0000000000001000.1']);
    await new Promise((r) => setTimeout(r, 50));
    expect(await stateLsn()).toBeNull();
    expect(stream.sent.length).toBe(0);
    peer.release();
    await until('the position', async () => (await stateLsn()) === 0x1040n);
    await until('the status update', () => stream.sent.length > 0);
    expect(new DataView(stream.sent.at(-1)!.buffer).getBigUint64(9)).toBe(0x1040n);
    ac.abort();
    const stats = await done;
    expect(stats).toMatchObject({ captured: 2, final: 2, confirmed: '0/1040' });
  });

  it('re-stamps a clock-skew refusal, takes a conflict as already logged, and stops on any other refusal', async () => {
    const stream = fakeStream();
    const old = NOW_PG - 3_600_000_000n; // an hour behind
    const peer = fakePeer((e, n) => (e.id.endsWith('.0') && n === 1 ? { error: { code: 'clock_skew', message: 'skew' } } : e.id.endsWith('.1') ? { error: { code: 'conflict', message: 'exists' } } : ok()));
    peer.release();
    const ac = new AbortController();
    const done = runCapture({ config: config(), tables, stream, clients: [peer.client], signer, start: 0x100n, log: () => undefined, signal: ac.signal });
    stream.feed(relation);
    stream.feed(begin(0x2000n, old));
    stream.feed(insert(1));
    stream.feed(insert(2));
    stream.feed(commit(0x2000n, 0x2040n));
    await until('the position', async () => (await stateLsn()) === 0x2040n);
    const [first, second] = peer.submitted;
    expect(second![0]!.data!.commitTime).toBe(first![0]!.time);
    expect(Date.parse(second![0]!.time) - Date.now()).toBeGreaterThan(-60_000);
    ac.abort();
    expect(await done).toMatchObject({ restamped: 1, conflicts: 2 });

    const stream2 = fakeStream();
    const refusing = fakePeer(() => ({ error: { code: 'unknown_client', message: 'not in the genesis' } }));
    const run2 = runCapture({ config: config(), tables, stream: stream2, clients: [refusing.client], signer, start: 0x2040n, log: () => undefined, signal: new AbortController().signal });
    stream2.feed(relation);
    stream2.feed(begin(0x3000n));
    stream2.feed(insert(3));
    stream2.feed(commit(0x3000n, 0x3040n));
    await expect(run2).rejects.toThrow(CdcFatalError);
    await expect(run2).rejects.toThrow(/unknown_client/);
    expect(await stateLsn()).toBe(0x2040n);
  });

  it('waits for the commit of a transaction whose changes arrive in several reads, so it goes in one batch; a commit that does not come is not waited for long', async () => {
    const stream = fakeStream();
    const peer = fakePeer(ok);
    peer.release();
    const ac = new AbortController();
    const done = runCapture({ config: config(), tables, stream, clients: [peer.client], signer, start: 0x100n, log: () => undefined, signal: ac.signal });
    stream.feed(relation);
    stream.feed(begin(0x6000n));
    stream.feed(insert(1));
    // The rest of the transaction a moment later (another read of the socket).
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.submitted.length).toBe(0);
    stream.feed(insert(2));
    stream.feed(insert(3));
    stream.feed(commit(0x6000n, 0x6040n));
    await until('the position', async () => (await stateLsn()) === 0x6040n);
    expect(peer.submitted.map((b) => b.map((e) => e.id))).toEqual([['s1.0000000000006000.0', 's1.0000000000006000.1', 's1.0000000000006000.2']]);
    // A transaction whose COMMIT does not come: its changes go after TRANSACTION_WAIT_MS.
    const t0 = Date.now();
    stream.feed(begin(0x6100n));
    stream.feed(insert(4));
    await until('the partial batch', () => peer.submitted.length === 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(TRANSACTION_WAIT_MS - 5);
    expect(peer.submitted[1]!.map((e) => e.id)).toEqual(['s1.0000000000006100.0']);
    ac.abort();
    await done;
  });

  it('moves a batch to the next peer when one cannot be reached', async () => {
    const stream = fakeStream();
    const down = fakePeer(() => {
      throw new CairnApiError('network_error', 'connection refused');
    }, 'http://peer-a');
    const up = fakePeer(ok, 'http://peer-b');
    up.release();
    const logs: Record<string, unknown>[] = [];
    const ac = new AbortController();
    const done = runCapture({ config: config(), tables, stream, clients: [down.client, up.client], signer, start: 0x100n, log: (msg, f) => void logs.push({ msg, ...f }), signal: ac.signal });
    stream.feed(relation);
    stream.feed(begin(0x7000n));
    stream.feed(insert(1));
    stream.feed(commit(0x7000n, 0x7040n));
    await until('the position', async () => (await stateLsn()) === 0x7040n);
    expect(up.submitted.length).toBe(1);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'retrying batch', peer: 'http://peer-a', next: 'http://peer-b' }));
    ac.abort();
    await done;
  });

  it('stops reading the stream above bufferEntries and resumes below half of it', async () => {
    const stream = fakeStream();
    const peer = fakePeer(ok);
    const ac = new AbortController();
    const done = runCapture({ config: config({ bufferEntries: 10, batchEntries: 4 }), tables, stream, clients: [peer.client], signer, start: 0x100n, log: () => undefined, signal: ac.signal });
    stream.feed(relation);
    stream.feed(begin(0x4000n));
    for (let i = 0; i < 12; i++) stream.feed(insert(i));
    stream.feed(commit(0x4000n, 0x4040n));
    expect(stream.paused).toBe(true);
    expect(stream.pauses).toBe(1);
    // One batch of 4 in flight at a time.
    await until('a submission', () => peer.submitted.length === 1);
    expect(peer.submitted[0]!.length).toBe(4);
    peer.release();
    await until('the position', async () => (await stateLsn()) === 0x4040n);
    expect(peer.submitted.map((b) => b.length)).toEqual([4, 4, 4]);
    expect(stream.resumes).toBe(1);
    expect(stream.paused).toBe(false);
    ac.abort();
    await done;
  });

  it('moves the position on a keepalive only when nothing captured is waiting', async () => {
    const stream = fakeStream();
    const peer = fakePeer(ok);
    const ac = new AbortController();
    const done = runCapture({ config: config(), tables, stream, clients: [peer.client], signer, start: 0x100n, log: () => undefined, signal: ac.signal });
    const keepalive = (lsn: bigint) => new W().u8(0x6b).u64(lsn).u64(0n).u8(0).bytes();
    stream.feed(relation);
    stream.feed(begin(0x5000n));
    stream.feed(insert(1));
    stream.feed(keepalive(0x5100n)); // inside an open transaction: no move
    stream.feed(commit(0x5000n, 0x5040n));
    stream.feed(keepalive(0x5200n)); // its entry is not final yet: no move
    await new Promise((r) => setTimeout(r, 50));
    expect(await stateLsn()).toBeNull();
    peer.release();
    await until('the position', async () => (await stateLsn()) === 0x5040n);
    stream.feed(keepalive(0x6000n));
    await until('the idle move', async () => (await stateLsn()) === 0x6000n);
    ac.abort();
    await done;
  });
});
