// Alert delivery of a peer: rules file loading, the durable outbox and the destinations' senders.
import type { Destination } from './destinations-config.js';
import type { QueuedDelivery, Sender } from './outbox.js';
import { sendAlertmanager, sendSlack, sendWebhook } from './webhook.js';
import { sendSyslog } from './syslog.js';

export { loadRulesFile, parseRulesText, RulesHolder, RulesFileError, formatProblem, RULES_FILE_BYTES_MAX, type LoadedRules, type RulesFileProblem, type ReloadResult } from './rules-file.js';
export { loadDestinations, decodeWhsec, type Destination } from './destinations-config.js';
export { Outbox, OutboxFullError, type OutboxOptions, type OutboxAlarm, type OutboxStats, type QueuedDelivery, type Sender } from './outbox.js';
export { standardWebhookSignature, webhookBody, slackBody, alertmanagerBody } from './webhook.js';
export { syslogMessage, octetFrame } from './syslog.js';

/** The real senders, one per destination type. */
export const DEFAULT_SENDERS: Record<Destination['type'], Sender> = {
  webhook: (dest, d: QueuedDelivery) => sendWebhook(dest as Extract<Destination, { type: 'webhook' }>, d),
  slack: (dest, d) => sendSlack(dest as Extract<Destination, { type: 'slack' }>, d),
  alertmanager: (dest, d) => sendAlertmanager(dest as Extract<Destination, { type: 'alertmanager' }>, d),
  syslog: (dest, d) => sendSyslog(dest as Extract<Destination, { type: 'syslog' }>, d),
};
export { AlertEvaluator, ENQUEUE_CHUNK, type EvaluatorOptions } from './evaluator.js';
