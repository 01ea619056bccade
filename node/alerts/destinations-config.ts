// The `destinations` section of a rules file: where alerts go. Secrets are never written in the
// rules file itself: each is read from a file named relative to the rules file (so the rules can
// be reviewed and versioned without them).
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';

export const DESTINATIONS_MAX = 32;
const SECRET_FILE_BYTES_MAX = 16 * 1024;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface WebhookDestination {
  type: 'webhook';
  name: string;
  url: string;
  /** Standard Webhooks symmetric secret (the bytes after "whsec_", base64-decoded): `v1` signatures. */
  hmacSecret?: Uint8Array;
  /** Ed25519 private key: `v1a` signatures, verifiable with the organization's public key. */
  ed25519Key?: KeyObject;
}
export interface SyslogDestination {
  type: 'syslog';
  name: string;
  host: string;
  port: number;
  /** PEM of the CA(s) that sign the receiver's certificate; the system's when absent. */
  ca?: string;
  /** TLS server name to check (default: host). */
  serverName?: string;
}
export interface AlertmanagerDestination {
  type: 'alertmanager';
  name: string;
  /** Base URL; alerts are POSTed to <url>/api/v2/alerts. */
  url: string;
  /** While an alert is active it is re-sent this often (Alertmanager resolves alerts not re-sent). */
  resendMs: number;
  /** How long an alert stays active after it fired. */
  activeMs: number;
}
export interface SlackDestination {
  type: 'slack';
  name: string;
  url: string;
}
export type Destination = WebhookDestination | SyslogDestination | AlertmanagerDestination | SlackDestination;

export interface DestinationProblem {
  path: (string | number)[];
  message: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function httpUrl(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 2048) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

async function readSecret(baseDir: string, file: string): Promise<string> {
  const p = isAbsolute(file) ? file : join(baseDir, file);
  const b = await readFile(p);
  if (b.length > SECRET_FILE_BYTES_MAX) throw new Error(`${file} is larger than ${SECRET_FILE_BYTES_MAX} bytes`);
  return b.toString('utf8').trim();
}

/** Decodes a Standard Webhooks secret "whsec_<base64>" (at least 24 bytes, at most 64). */
export function decodeWhsec(s: string): Uint8Array | undefined {
  if (!s.startsWith('whsec_')) return undefined;
  const b64 = s.slice(6);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  return bytes.length >= 24 && bytes.length <= 64 ? bytes : undefined;
}

/** Validates the destinations section; reads the secret files it names. */
export async function loadDestinations(raw: unknown, baseDir: string): Promise<{ destinations: Map<string, Destination>; problems: DestinationProblem[] }> {
  const destinations = new Map<string, Destination>();
  const problems: DestinationProblem[] = [];
  if (raw === undefined) return { destinations, problems };
  if (!isObject(raw) || Object.keys(raw).length > DESTINATIONS_MAX) {
    problems.push({ path: ['destinations'], message: `destinations must be a mapping of at most ${DESTINATIONS_MAX} names` });
    return { destinations, problems };
  }
  for (const [name, d] of Object.entries(raw)) {
    const at = ['destinations', name];
    const bad = (k: string | undefined, message: string): void => {
      problems.push({ path: k === undefined ? at : [...at, k], message });
    };
    if (!NAME.test(name)) bad(undefined, `destination name "${name}" must be lowercase letters, digits, '.', '_' or '-'`);
    if (!isObject(d)) {
      bad(undefined, 'a destination must be a mapping with a `type`');
      continue;
    }
    const secret = async (k: string): Promise<string | undefined> => {
      const f = d[k];
      if (f === undefined) return undefined;
      if (typeof f !== 'string') {
        bad(k, 'must be a file name');
        return undefined;
      }
      try {
        return await readSecret(baseDir, f);
      } catch (e) {
        bad(k, `cannot read ${f}: ${(e as Error).message}`);
        return undefined;
      }
    };
    switch (d.type) {
      case 'webhook':
      case 'slack': {
        let url = httpUrl(d.url);
        if (d.type === 'slack' && url === undefined && d.urlFile !== undefined) url = httpUrl(await secret('urlFile'));
        if (url === undefined) {
          bad('url', 'url must be an http(s) URL');
          break;
        }
        if (d.type === 'slack') {
          destinations.set(name, { type: 'slack', name, url });
          break;
        }
        const w: WebhookDestination = { type: 'webhook', name, url };
        const s = await secret('secretFile');
        if (s !== undefined) {
          const key = decodeWhsec(s);
          if (key === undefined) bad('secretFile', 'the secret must be "whsec_" followed by 24..64 base64-encoded bytes');
          else w.hmacSecret = key;
        }
        const pem = await secret('ed25519KeyFile');
        if (pem !== undefined) {
          try {
            const k = createPrivateKey(pem);
            if (k.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
            w.ed25519Key = k;
          } catch (e) {
            bad('ed25519KeyFile', `not a PEM Ed25519 private key: ${(e as Error).message}`);
          }
        }
        if (w.hmacSecret === undefined && w.ed25519Key === undefined && d.secretFile === undefined && d.ed25519KeyFile === undefined) {
          bad(undefined, 'a webhook needs secretFile (HMAC v1) or ed25519KeyFile (v1a), or both: receivers must be able to authenticate alerts');
        }
        destinations.set(name, w);
        break;
      }
      case 'syslog': {
        const port = d.port ?? 6514;
        if (typeof d.host !== 'string' || d.host.length === 0 || d.host.length > 253) bad('host', 'host must be a host name or address');
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) bad('port', 'port must be in 1..65535');
        if (d.serverName !== undefined && typeof d.serverName !== 'string') bad('serverName', 'must be a string');
        const ca = await secret('caFile');
        if (typeof d.host === 'string' && typeof port === 'number') {
          destinations.set(name, {
            type: 'syslog',
            name,
            host: d.host,
            port,
            ...(ca !== undefined ? { ca } : {}),
            ...(typeof d.serverName === 'string' ? { serverName: d.serverName } : {}),
          });
        }
        break;
      }
      case 'alertmanager': {
        const url = httpUrl(d.url);
        if (url === undefined) bad('url', 'url must be an http(s) URL');
        const resendMs = typeof d.resendSeconds === 'number' ? d.resendSeconds * 1000 : 60_000;
        const activeMs = typeof d.activeMinutes === 'number' ? d.activeMinutes * 60_000 : 15 * 60_000;
        if (!(resendMs >= 1000 && resendMs <= 3_600_000)) bad('resendSeconds', 'resendSeconds must be in 1..3600');
        if (!(activeMs >= 60_000 && activeMs <= 7 * 86_400_000)) bad('activeMinutes', 'activeMinutes must be in 1..10080');
        if (url !== undefined) destinations.set(name, { type: 'alertmanager', name, url: url.replace(/\/$/, ''), resendMs, activeMs });
        break;
      }
      default:
        bad('type', 'type must be webhook, syslog, alertmanager or slack');
    }
  }
  return { destinations, problems };
}
