// Before any log data: pin the trust file, then log in — with the organization's OpenID provider
// (authorization code + PKCE, oidc.ts) or with an auditor key file (keyfile.ts). Nothing here
// reads the log; whoami is asked only with a credential.
import { useState } from 'preact/hooks';
import { CairnClient, type CairnCredentials, type WhoamiResponse } from '../../src/client/client.js';
import { parseTrustFile, type TrustRoot } from '../../src/verifier/trust.js';
import type { UiConfig } from './config.js';
import { parseKeyFile } from './keyfile.js';
import { startOidcLogin } from './oidc.js';
import { ErrorBox, h, Section, type El } from './ui.js';

const TRUST_TEXT_MAX = 128 * 1024;

export interface LoggedIn {
  client: CairnClient;
  credentials: CairnCredentials;
  who: WhoamiResponse;
  /** How: "key file" or the identity provider's name, and the ID token's name/email when given. */
  via: string;
}

/** A client with the credential, and who the peer takes it for. */
export async function loginWith(credentials: CairnCredentials, via: string): Promise<LoggedIn> {
  const client = new CairnClient({ url: location.origin, credentials });
  const who = await client.whoami(); // a credential the peer refuses fails here (401)
  return { client, credentials, who, via };
}

export function TrustSetup(props: { onTrust: (t: TrustRoot, text: string) => void }): El {
  const [error, setError] = useState<string | null>(null);
  const accept = (text: string): void => {
    const r = parseTrustFile(text);
    if (!r.ok) return setError(`${r.message} (${r.code})`);
    setError(null);
    props.onTrust(r.trust, text);
  };
  return h(
    Section,
    { title: 'Pin the trust file' },
    h('p', null, 'The explorer checks everything against the organizations\u2019 keys in a trust file you choose, not against this peer. Load it once (from your organization, e.g. ', h('code', null, 'cairn trust'), '); it is kept in this browser.'),
    h('label', null, 'Trust file', h('input', { type: 'file', id: 'trust-file', accept: '.json,application/json', onChange: async (ev: Event) => {
      const f = (ev.target as HTMLInputElement).files?.[0];
      if (f === undefined) return;
      if (f.size > TRUST_TEXT_MAX) return setError(`the trust file is larger than ${TRUST_TEXT_MAX} bytes`);
      accept(await f.text());
    } })),
    h('form', { onSubmit: (ev: Event) => {
      ev.preventDefault();
      accept(String(new FormData(ev.target as HTMLFormElement).get('trust') ?? ''));
    } },
      h('label', null, 'or paste it', h('textarea', { name: 'trust', id: 'trust-text', rows: 6, maxLength: TRUST_TEXT_MAX })),
      h('button', { type: 'submit' }, 'Pin trust file'),
    ),
    error !== null ? h(ErrorBox, { title: 'Not a trust file:', message: error }) : null,
  );
}

export function TrustInfo(props: { trust: TrustRoot; onForget: () => void }): El {
  return h('p', { class: 'muted' }, `Trust file pinned: ${props.trust.origin}, quorum ${props.trust.quorum} of ${props.trust.keys.map((k) => k.name).join(', ')}. `,
    h('button', { type: 'button', class: 'secondary', onClick: props.onForget }, 'Replace'));
}

export function Login(props: { config: UiConfig; onLogin: (l: LoggedIn) => void; error?: string | null }): El {
  const [error, setError] = useState<string | null>(props.error ?? null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const file = (form.elements.namedItem('key') as HTMLInputElement).files?.[0];
    const name = String(new FormData(form).get('name') ?? '');
    if (file === undefined) return setError('choose your key file');
    if (file.size > 32 * 1024) return setError('the key file is larger than 32 KiB');
    const k = parseKeyFile(await file.text(), file.name, name);
    if (!k.ok) return setError(k.message);
    setBusy(true);
    try {
      // The seed lives only in this client object (memory): reloading the page logs out.
      const l = await loginWith({ signingKey: { name: k.name, seed: k.seed } }, 'key file');
      setError(null);
      props.onLogin(l);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const oidc = props.config.oidc;
  return h(
    Section,
    { title: 'Log in' },
    oidc !== null
      ? h('div', { class: 'oidc' },
          h('p', null, 'With your organization\u2019s account (OpenID Connect; the token stays in this page\u2019s memory):'),
          h('button', { type: 'button', id: 'oidc-login', disabled: busy, onClick: () => {
            setBusy(true);
            startOidcLogin(oidc, location.hash).catch((e: Error) => {
              setBusy(false);
              setError(`${oidc.name}: ${e.message}`);
            });
          } }, `Log in with ${oidc.name}`))
      : null,
    h('p', null, oidc !== null ? 'Or with ' : 'With ', 'the auditor key file named in the peer\u2019s policy (e.g. written by ', h('code', null, 'cairn auth keygen'), '). It is read in this page and kept in memory only; every request is signed with it.'),
    h('form', { onSubmit, 'aria-label': 'Log in with a key file' },
      h('label', null, 'Key file', h('input', { type: 'file', name: 'key', id: 'key-file', required: true })),
      h('label', null, 'Key name (if the file does not say)', h('input', { name: 'name', id: 'key-name', autocomplete: 'off' })),
      h('button', { type: 'submit', disabled: busy }, busy ? 'Logging in…' : 'Log in'),
    ),
    error !== null ? h(ErrorBox, { title: 'Login failed:', message: error }) : null,
  );
}
