// Syslog destination: RFC 5424 messages over TLS (RFC 5425) with octet-counting framing
// ("<length> <message>"). Syslog has no application-level acknowledgement: an alert counts as
// delivered once the TLS connection that carried it has been closed cleanly (close_notify sent and
// the socket finished), which covers a receiver that is down or refuses the handshake; receivers
// deduplicate repeats by the alert id in the structured data.
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { hostname } from 'node:os';
import type { Alert, Severity } from '../../src/alerts/types.js';
import type { SyslogDestination } from './destinations-config.js';
import type { QueuedDelivery } from './outbox.js';

export const SYSLOG_TIMEOUT_MS = 15_000;
/** Facility 13: "log audit" (RFC 5424 table 1). */
export const FACILITY_LOG_AUDIT = 13;
/** Private enterprise number used for Cairn's structured data (32473 is reserved for documentation, RFC 5612). */
export const SD_ENTERPRISE = 32473;

const SEVERITY_CODE: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };

/** RFC 5424 PARAM-VALUE escaping: '"', '\' and ']' are preceded by a backslash. */
function sdValue(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** HOSTNAME / APP-NAME fields: printable US-ASCII without spaces, bounded, '-' when empty. */
export function headerField(s: string, max: number): string {
  const t = s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return t === '' ? '-' : t;
}

/** One RFC 5424 message for an alert (without the octet-counting frame). */
export function syslogMessage(alert: Alert, host: string = hostname()): string {
  const pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_CODE[alert.severity];
  const ts = new Date(Date.parse(alert.time)).toISOString();
  const sd =
    `[alert@${SD_ENTERPRISE} id="${alert.id}" rule="${sdValue(alert.ruleId)}" version="${alert.ruleVersion}" severity="${alert.severity}" ` +
    `entries="${alert.entries.map((e) => `${e.index}:${e.leafHash}`).join(' ')}"]`;
  // MSG: UTF-8 with a byte-order mark (RFC 5424 section 6.4), the title then the alert as JSON.
  return `<${pri}>1 ${ts} ${headerField(host, 255)} cairn - alert ${sd} \uFEFF${alert.title} ${JSON.stringify(alert)}`;
}

/** Octet-counting frame (RFC 5425 / RFC 6587): the byte length, a space, the message. */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** Where syslog messages go over TLS: the alert destination and `cairn export --to syslog://` alike. */
export interface SyslogTlsTarget {
  host: string;
  port: number;
  /** PEM of the CA(s) that sign the receiver's certificate; the system's when absent. */
  ca?: string;
  /** TLS server name to check (default: host, when it is a name). */
  serverName?: string;
}

/**
 * Sends `bytes` (one or more octet-counted frames) on a new TLS connection and closes it. Resolves
 * only when every byte was flushed to the TLS stream and the connection closed cleanly (syslog has
 * no application acknowledgement); any error, an early close or `timeoutMs` without a clean close
 * rejects, naming the target.
 */
export function sendSyslogTls(target: SyslogTlsTarget, bytes: Uint8Array, timeoutMs: number): Promise<void> {
  const where = `syslog ${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) {
        sock.destroy();
        reject(e);
      } else resolve();
    };
    const sock = connect({
      host: target.host,
      port: target.port,
      // SNI carries host names only (RFC 6066); an IP address is still checked against the certificate.
      ...(target.serverName !== undefined ? { servername: target.serverName } : isIP(target.host) === 0 ? { servername: target.host } : {}),
      ...(target.ca !== undefined ? { ca: target.ca } : {}),
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => done(new Error(`${where}: no clean close within ${timeoutMs} ms`)), timeoutMs);
    let finished = false;
    sock.once('secureConnect', () => {
      sock.end(bytes, () => (finished = true));
    });
    sock.on('error', (e) => done(new Error(`${where}: ${e.message}`)));
    // Success only when the whole of `bytes` was flushed to the TLS stream before a clean close.
    sock.once('close', (hadError) => (hadError || !finished ? done(new Error(`${where}: connection closed before everything was sent`)) : done()));
    sock.resume();
  });
}

export function sendSyslog(dest: SyslogDestination, d: QueuedDelivery): Promise<void> {
  return sendSyslogTls(dest, octetFrame(syslogMessage(d.alert)), SYSLOG_TIMEOUT_MS);
}
