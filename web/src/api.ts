// A JSON GET of the peer's API with the user's credential, for routes the SDK has no method for
// (GET /v1/alerts/recent). Errors keep the API's code and message.
import { credentialHeaders, type CairnCredentials } from '../../src/client/client.js';
import { CairnApiError } from '../../src/client/errors.js';

/** Largest answer read (the alerts page asks for at most 200 alerts of at most 20 entries). */
const ANSWER_BYTES_MAX = 4 * 1024 * 1024;

export type ApiGet = (path: string) => Promise<unknown>;

export function apiGetter(base: string, credentials: CairnCredentials): ApiGet {
  const authorize = credentialHeaders(credentials);
  return async (path) => {
    const url = base + path;
    const res = await fetch(url, { headers: { accept: 'application/json', ...(authorize?.('GET', url, undefined) ?? {}) }, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (text.length > ANSWER_BYTES_MAX) throw new CairnApiError('bad_response', 'answer too large', res.status);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CairnApiError('bad_response', `HTTP ${res.status} with a body that is not JSON`, res.status);
    }
    if (!res.ok) {
      const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
      throw new CairnApiError(typeof e?.code === 'string' ? e.code : 'bad_response', typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`, res.status);
    }
    return body;
  };
}
