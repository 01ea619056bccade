// Webhook destinations: Standard Webhooks signatures (`v1` HMAC-SHA256 with the endpoint's
// "whsec_" secret, `v1a` Ed25519 with the organization's key) and Slack-compatible incoming
// webhooks. The signed content is `${webhook-id}.${webhook-timestamp}.${body}`; the id is the
// alert id, identical on every retry, so receivers use it as their idempotency key.
import { createHmac, sign as edSign, type KeyObject } from 'node:crypto';
import type { Alert } from '../../src/alerts/types.js';
import type { SlackDestination, WebhookDestination, AlertmanagerDestination } from './destinations-config.js';
import type { QueuedDelivery } from './outbox.js';

export const DELIVERY_TIMEOUT_MS = 15_000;
/** Bytes of a receiver's response read (for the error message); the rest is discarded. */
const RESPONSE_BYTES_MAX = 4096;

/** The `webhook-signature` header value for one message. */
export function standardWebhookSignature(
  id: string,
  timestampSec: number,
  body: string,
  keys: { hmacSecret?: Uint8Array; ed25519Key?: KeyObject },
): string {
  const content = Buffer.from(`${id}.${timestampSec}.${body}`, 'utf8');
  const sigs: string[] = [];
  if (keys.hmacSecret) sigs.push(`v1,${createHmac('sha256', keys.hmacSecret).update(content).digest('base64')}`);
  if (keys.ed25519Key) sigs.push(`v1a,${edSign(null, content, keys.ed25519Key).toString('base64')}`);
  return sigs.join(' ');
}

/** The webhook body: a typed event whose data is the alert. */
export function webhookBody(alert: Alert): string {
  return JSON.stringify({ type: 'cairn.alert', timestamp: alert.time, data: alert });
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    redirect: 'manual',
    signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
  });
  const text = res.body ? await readBounded(res) : '';
  // 2xx only: a redirect is a failure (the URL should be updated), per Standard Webhooks.
  if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status} from ${new URL(url).host}: ${text.slice(0, 200)}`);
}

async function readBounded(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n < RESPONSE_BYTES_MAX) chunks.push(value);
    n += value.length;
    if (n >= RESPONSE_BYTES_MAX) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function sendWebhook(dest: WebhookDestination, d: QueuedDelivery, nowMs: number = Date.now()): Promise<void> {
  const body = webhookBody(d.alert);
  const ts = Math.floor(nowMs / 1000);
  await post(dest.url, body, {
    'webhook-id': d.alert.id,
    'webhook-timestamp': String(ts),
    'webhook-signature': standardWebhookSignature(d.alert.id, ts, body, dest),
  });
}

/** Slack-compatible incoming webhook: a text message (no idempotency on the receiver's side). */
export function slackBody(alert: Alert): string {
  const where = alert.entries.map((e) => e.index).join(', ');
  return JSON.stringify({
    text: `[${alert.severity.toUpperCase()}] ${alert.title} (rule ${alert.ruleId} v${alert.ruleVersion}, entries ${where}, alert ${alert.id.slice(0, 16)})`,
  });
}

export async function sendSlack(dest: SlackDestination, d: QueuedDelivery): Promise<void> {
  await post(dest.url, slackBody(d.alert), {});
}

/** Prometheus Alertmanager API v2 body: one alert, labelled by rule and alert id. */
export function alertmanagerBody(alert: Alert, startsAt: number, endsAt: number): string {
  return JSON.stringify([
    {
      labels: { ...alert.labels, alertname: alert.ruleId, severity: alert.severity, alert_id: alert.id, source: 'cairn' },
      annotations: {
        title: alert.title,
        entries: alert.entries.map((e) => `${e.index}:${e.leafHash}`).join(' '),
        rule_version: String(alert.ruleVersion),
      },
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
    },
  ]);
}

export async function sendAlertmanager(dest: AlertmanagerDestination, d: QueuedDelivery, nowMs: number = Date.now()): Promise<void> {
  const endsAt = d.activeUntil ?? nowMs + dest.activeMs;
  const startsAt = Math.min(Date.parse(d.alert.time) || nowMs, nowMs);
  await post(`${dest.url}/api/v2/alerts`, alertmanagerBody(d.alert, startsAt, endsAt), {});
}
