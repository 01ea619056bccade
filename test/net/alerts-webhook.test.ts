// Alert delivery over HTTP to real receivers on 127.0.0.1: Standard Webhooks signatures verified
// by the receiver (HMAC v1 and Ed25519 v1a) exactly as the specification defines them, retries
// with backoff until the receiver accepts, deduplication by alert id, the bounded queue's alarm,
// Alertmanager re-sending while active, and Slack-compatible bodies.
import { createHmac, generateKeyPairSync, randomBytes, timingSafeEqual, verify as edVerify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Alert, Rule } from '../../src/alerts/types.js';
import { parseRulesText } from '../../node/alerts/rules-file.js';
import { decodeWhsec, type Destination } from '../../node/alerts/destinations-config.js';
import { DEFAULT_SENDERS, Outbox, OutboxFullError, type OutboxAlarm } from '../../node/alerts/index.js';
import { TempDirs } from '../unit/support/storage-fixture.js';
import { log } from '../unit/support/alert-entries.js';

const dirs = new TempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await dirs.removeAll();
});

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver answering each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, got };
}

/** Verification as a receiver implements it from the specification alone. */
function verifyStandardWebhook(r: Received, secret: string | undefined, publicKey: KeyObject | undefined): { v1: boolean; v1a: boolean } {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  const signed = Buffer.from(`${id}.${ts}.${r.body}`, 'utf8');
  const sigs = String(r.headers['webhook-signature']).split(' ');
  let v1 = false;
  let v1a = false;
  for (const s of sigs) {
    const [ver, b64] = s.split(',');
    const sig = Buffer.from(b64!, 'base64');
    if (ver === 'v1' && secret !== undefined) {
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      const want = createHmac('sha256', key).update(signed).digest();
      v1 ||= sig.length === want.length && timingSafeEqual(sig, want);
    }
    if (ver === 'v1a' && publicKey !== undefined) v1a ||= edVerify(null, signed, publicKey, sig);
  }
  return { v1, v1a };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function openDb(): Promise<ClassicLevel<Uint8Array, Uint8Array>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(await dirs.make(), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  cleanups.push(() => db.close());
  return db;
}

const RULE_TEXT = `
destinations: { hook: { type: webhook, url: "http://127.0.0.1/" } }
rules:
  - id: privilege-change
    version: 3
    title: "{{entry.action}} by {{entry.actor.id}}"
    severity: high
    destinations: [hook]
    condition: 'entry.action.startsWith("iam.")'
`;

async function alerts(n: number): Promise<Alert[]> {
  const rules: Rule[] = (await parseRulesText(RULE_TEXT, 'rules.yaml', { baseDir: '.', destinations: false })).rules;
  const engine = new AlertEngine(rules);
  const specs = Array.from({ length: n }, (_, i) => ({ time: `2024-05-02T10:00:${String(i % 60).padStart(2, '0')}Z`, action: 'iam.role.grant', actor: `admin${i}` }));
  return log(specs).flatMap((e) => engine.evaluate(e));
}

describe('Standard Webhooks delivery', () => {
  it('a real receiver verifies v1 (HMAC) and v1a (Ed25519) signatures over id.timestamp.body; the id is the alert id', async () => {
    const rx = await receiver();
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const dest: Destination = { type: 'webhook', name: 'hook', url: `${rx.url}/cairn`, hmacSecret: decodeWhsec(secret)!, ed25519Key: privateKey };
    const outbox = await Outbox.open(await openDb(), { destinations: new Map([['hook', dest]]), senders: DEFAULT_SENDERS });
    cleanups.push(() => outbox.stop());
    const as = await alerts(3);
    expect(await outbox.enqueue(as)).toEqual({ accepted: 3, duplicates: 0 });
    outbox.start();
    await until('3 deliveries', () => rx.got.length === 3);
    for (const r of rx.got) {
      expect(verifyStandardWebhook(r, secret, publicKey)).toEqual({ v1: true, v1a: true });
      const body = JSON.parse(r.body) as { type: string; data: Alert };
      expect(body.type).toBe('cairn.alert');
      expect(r.headers['webhook-id']).toBe(body.data.id);
      expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
    expect(rx.got.map((r) => r.headers['webhook-id']).sort()).toEqual(as.map((a) => a.id).sort());
    // A tampered body, a wrong secret or another organization's key fail verification.
    const r0 = rx.got[0]!;
    expect(verifyStandardWebhook({ ...r0, body: r0.body.replace('iam.role.grant', 'iam.role.grunt') }, secret, publicKey)).toEqual({ v1: false, v1a: false });
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(verifyStandardWebhook(r0, `whsec_${randomBytes(32).toString('base64')}`, other)).toEqual({ v1: false, v1a: false });
    await until('outbox empty', () => outbox.pending().length === 0);
    expect(outbox.stats.delivered).toBe(3);
  });

  it('retries with backoff until the receiver accepts, with the same id; an alert enqueued again is not sent again', async () => {
    const rx = await receiver([500, 503, 500]);
    const dest: Destination = { type: 'webhook', name: 'hook', url: rx.url, hmacSecret: new Uint8Array(32).fill(1) };
    const times: number[] = [];
    const outbox = await Outbox.open(await openDb(), {
      destinations: new Map([['hook', dest]]),
      senders: { webhook: async (d, q) => (times.push(Date.now()), DEFAULT_SENDERS.webhook(d, q)) },
      backoffBaseMs: 100,
      random: () => 1,
      tickMs: 10,
    });
    cleanups.push(() => outbox.stop());
    const [a] = await alerts(1);
    await outbox.enqueue([a!]);
    outbox.start();
    await until('4 attempts', () => rx.got.length === 4);
    await until('delivered', () => outbox.stats.delivered === 1);
    expect(new Set(rx.got.map((r) => r.headers['webhook-id']))).toEqual(new Set([a!.id]));
    // Exponential: waits of about 100, 200, 400 ms between attempts.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    expect(await outbox.enqueue([a!])).toEqual({ accepted: 0, duplicates: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.got.length).toBe(4);
  });

  it('a full outbox refuses the whole batch, writes nothing and raises the outbox_full alarm', async () => {
    const alarms: OutboxAlarm[] = [];
    const dest: Destination = { type: 'webhook', name: 'hook', url: 'http://127.0.0.1:9/', hmacSecret: new Uint8Array(32) };
    const db = await openDb();
    const outbox = await Outbox.open(db, { destinations: new Map([['hook', dest]]), senders: DEFAULT_SENDERS, maxQueued: 5, onAlarm: (a) => alarms.push(a) });
    const as = await alerts(8);
    await outbox.enqueue(as.slice(0, 4));
    await expect(outbox.enqueue(as.slice(4))).rejects.toBeInstanceOf(OutboxFullError);
    expect(alarms).toMatchObject([{ kind: 'outbox_full', queued: 4, max: 5, refused: 4 }]);
    expect(outbox.pending().length).toBe(4);
    // Durable: a fresh outbox on the same database sees the same 4, and the refused ones are not "known".
    const again = await Outbox.open(db, { destinations: new Map([['hook', dest]]), senders: DEFAULT_SENDERS, maxQueued: 10 });
    expect(again.pending().map((p) => p.alert.id)).toEqual(as.slice(0, 4).map((a) => a.id));
    expect(await again.enqueue(as)).toEqual({ accepted: 4, duplicates: 4 });
  });
});

describe('outbox bounds and alarms', () => {
  it('the queue is bounded in bytes too; an alert given twice in one batch is queued once', async () => {
    const alarms: OutboxAlarm[] = [];
    const dest: Destination = { type: 'webhook', name: 'hook', url: 'http://127.0.0.1:9/', hmacSecret: new Uint8Array(32) };
    const outbox = await Outbox.open(await openDb(), { destinations: new Map([['hook', dest]]), senders: DEFAULT_SENDERS, maxQueuedBytes: 2000, onAlarm: (a) => alarms.push(a) });
    const as = await alerts(6);
    expect(await outbox.enqueue([as[0]!, as[0]!])).toEqual({ accepted: 1, duplicates: 1 });
    await expect(outbox.enqueue(as.slice(1))).rejects.toBeInstanceOf(OutboxFullError);
    expect(alarms[0]).toMatchObject({ kind: 'outbox_full', queued: 1, refused: 5, maxBytes: 2000 });
    expect(outbox.pending().length).toBe(1);
  });

  it('a destination that keeps failing raises delivery_failing every N attempts, and the alert stays queued', async () => {
    const rx = await receiver(Array.from({ length: 100 }, () => 500));
    const alarms: OutboxAlarm[] = [];
    const dest: Destination = { type: 'webhook', name: 'hook', url: rx.url, hmacSecret: new Uint8Array(32) };
    const outbox = await Outbox.open(await openDb(), {
      destinations: new Map([['hook', dest]]),
      senders: DEFAULT_SENDERS,
      backoffBaseMs: 5,
      backoffMaxMs: 10,
      failingAfterAttempts: 3,
      tickMs: 5,
      onAlarm: (a) => alarms.push(a),
    });
    cleanups.push(() => outbox.stop());
    const [a] = await alerts(1);
    await outbox.enqueue([a!]);
    outbox.start();
    await until('two alarms', () => alarms.length >= 2);
    await outbox.stop();
    expect(alarms[0]).toMatchObject({ kind: 'delivery_failing', destination: 'hook', alertId: a!.id, attempts: 3 });
    expect(alarms[1]).toMatchObject({ kind: 'delivery_failing', attempts: 6 });
    expect((alarms[0] as { error: string }).error).toMatch(/^HTTP 500 from 127\.0\.0\.1:\d+/);
    expect(outbox.pending().map((p) => p.alert.id)).toEqual([a!.id]);
    expect(outbox.stats.delivered).toBe(0);
  });
});

describe('Alertmanager and Slack', () => {
  it('Alertmanager gets POST /api/v2/alerts, re-sent while active, labelled with the alert id', async () => {
    const rx = await receiver();
    const dest: Destination = { type: 'alertmanager', name: 'am', url: rx.url, resendMs: 150, activeMs: 500 };
    const outbox = await Outbox.open(await openDb(), { destinations: new Map([['am', dest]]), senders: DEFAULT_SENDERS, tickMs: 10 });
    cleanups.push(() => outbox.stop());
    const [a] = await alerts(1);
    await outbox.enqueue([{ ...a!, destinations: ['am'] }]);
    outbox.start();
    await until('delivered and no longer active', () => outbox.stats.delivered === 1, 5000);
    expect(rx.got.length).toBeGreaterThanOrEqual(3);
    expect(rx.got.length).toBeLessThanOrEqual(5);
    for (const r of rx.got) {
      expect(r.path).toBe('/api/v2/alerts');
      const [am] = JSON.parse(r.body) as { labels: Record<string, string>; annotations: Record<string, string>; endsAt: string }[];
      expect(am!.labels).toMatchObject({ alertname: 'privilege-change', severity: 'high', alert_id: a!.id });
      expect(am!.annotations.title).toBe('iam.role.grant by admin0');
    }
    const ends = new Set(rx.got.map((r) => (JSON.parse(r.body) as { endsAt: string }[])[0]!.endsAt));
    expect(ends.size).toBe(1);
  });

  it('Slack-compatible webhooks get a text message naming severity, title, rule and entries', async () => {
    const rx = await receiver();
    const dest: Destination = { type: 'slack', name: 'chat', url: `${rx.url}/services/T0/B0/X` };
    const outbox = await Outbox.open(await openDb(), { destinations: new Map([['chat', dest]]), senders: DEFAULT_SENDERS });
    cleanups.push(() => outbox.stop());
    const [a] = await alerts(1);
    await outbox.enqueue([{ ...a!, destinations: ['chat'] }]);
    outbox.start();
    await until('delivered', () => rx.got.length === 1);
    const { text } = JSON.parse(rx.got[0]!.body) as { text: string };
    expect(text).toBe(`[HIGH] iam.role.grant by admin0 (rule privilege-change v3, entries 0, alert ${a!.id.slice(0, 16)})`);
  });
});
