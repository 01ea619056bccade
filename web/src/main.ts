// Cairn explorer: the page trusts the organizations' keys (a trust file the user pins once), not
// the peer that serves it. Login: the organization's OpenID provider (oidc.ts) or an auditor key
// file; the credential lives in memory only.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CairnClient } from '../../src/client/client.js';
import { parseTrustFile, type TrustRoot } from '../../src/verifier/trust.js';
import { apiGetter } from './api.js';
import { compareWithStored, toStored, type MemoryVerdict } from './checks.js';
import { loadUiConfig, type UiConfig } from './config.js';
import { Login, loginWith, TrustInfo, TrustSetup, type LoggedIn } from './login.js';
import { finishOidcLogin, isOidcCallback } from './oidc.js';
import { AlertsPage } from './pages/alerts.js';
import { EntryPage } from './pages/entry.js';
import { HistoryPage } from './pages/history.js';
import { MemoryWarning, Overview } from './pages/overview.js';
import { SearchPage } from './pages/search.js';
import type { Session } from './session.js';
import { checkpointKey, kvDelete, kvGet, kvPut, TRUST_KEY, type StoredCheckpoint } from './store.js';
import { ErrorBox, h, type El } from './ui.js';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

type CpState = { note: string; memory: MemoryVerdict; seenAt: number | null } | { error: string } | null;

function whoText(l: LoggedIn): string {
  const w = l.who;
  const roles = w.roles.map((r) => `${r.name} (${r.kind}${r.scope === 'true' ? '' : `, scope ${r.scope}`})`).join(', ') || 'no roles';
  return `${w.principal} — ${roles} · ${w.scope}${w.rolesMissingMfa && w.rolesMissingMfa.length > 0 ? ` · needs MFA for ${w.rolesMissingMfa.join(', ')}` : ''} · via ${l.via}`;
}

function App(): El {
  const hash = useHash();
  const [trust, setTrust] = useState<{ trust: TrustRoot } | null | undefined>(undefined);
  const [config, setConfig] = useState<UiConfig | null>(null);
  const [login, setLogin] = useState<LoggedIn | null>(null);
  const [loginError, setLoginError] = useState<string | null>(null);
  const [cp, setCp] = useState<CpState>(null);
  useEffect(() => {
    kvGet<string>(TRUST_KEY)
      .then((text) => {
        const r = text === undefined ? null : parseTrustFile(text);
        setTrust(r !== null && r.ok ? { trust: r.trust } : null);
      })
      .catch(() => setTrust(null));
    void loadUiConfig().then(async (c) => {
      setConfig(c);
      // Back from the identity provider: exchange the code (once) and log in with the token.
      if (c.oidc !== null && isOidcCallback()) {
        try {
          const r = await finishOidcLogin(c.oidc);
          const who = [r.claims.name, r.claims.email].filter((x) => typeof x === 'string').join(', ');
          setLogin(await loginWith({ token: r.accessToken }, `${c.oidc.name}${who !== '' ? ` (${who})` : ''}`));
        } catch (e) {
          setLoginError((e as Error).message);
        }
      }
    });
  }, []);
  // Once per visit: the latest checkpoint, verified, and compared with the one stored last time.
  const checkMemory = async (client: CairnClient, t: TrustRoot): Promise<void> => {
    try {
      const note = await client.checkpoint();
      const key = checkpointKey(t.origin);
      const stored = await kvGet<StoredCheckpoint>(key);
      const memory = await compareWithStored(t, stored, note, async (a, b) => (await client.consistency(a, b)).proof);
      if (memory.kind === 'first' || memory.kind === 'extended') {
        const s = toStored(t, note, Date.now());
        if (s !== null) await kvPut(key, s);
      }
      setCp({ note, memory, seenAt: memory.kind === 'same' && stored !== undefined ? stored.seenAt : null });
    } catch (e) {
      setCp({ error: (e as Error).message });
    }
  };
  useEffect(() => {
    if (login !== null && trust) void checkMemory(login.client, trust.trust);
  }, [login, trust]);
  // Keyboard and screen-reader users land on the new page's content after a navigation (not
  // when only the query changes, e.g. a column toggled: the focus stays on the checkbox).
  const route = hash.split('?', 1)[0];
  useEffect(() => {
    document.getElementById('page')?.focus({ preventScroll: true });
  }, [route]);
  if (trust === undefined || config === null) return h('p', { role: 'status' }, 'Loading…');
  if (trust === null) return h(TrustSetup, { onTrust: (t, text) => void kvPut(TRUST_KEY, text).then(() => setTrust({ trust: t })) });
  if (login === null) {
    return h('div', null,
      config.problem !== undefined ? h(ErrorBox, { title: 'The peer\u2019s UI config is unusable:', message: config.problem }) : null,
      h(TrustInfo, { trust: trust.trust, onForget: () => void kvDelete(TRUST_KEY).then(() => setTrust(null)) }),
      h(Login, { config, onLogin: setLogin, error: loginError }));
  }
  const session: Session = { client: login.client, trust: trust.trust, config };
  if (cp === null) return h('p', { role: 'status' }, 'Verifying the latest checkpoint…');
  if ('error' in cp) return h(ErrorBox, { title: 'Cannot read the checkpoint:', message: cp.error });
  if (cp.memory.kind === 'rollback' || cp.memory.kind === 'fork') {
    return h(MemoryWarning, { v: cp.memory, onForget: () => void kvDelete(checkpointKey(trust.trust.origin)).then(() => checkMemory(login.client, trust.trust)) });
  }
  const [path, qs] = location.hash.replace(/^#/, '').split('?', 2) as [string, string | undefined];
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  let page: El;
  let current = 'overview';
  if (parts[0] === 'search') {
    current = 'search';
    page = h(SearchPage, { session, query: new URLSearchParams(qs ?? '') });
  } else if (parts[0] === 'entry' && parts[1] !== undefined) page = h(EntryPage, { session, hash: parts[1] });
  else if (parts[0] === 'history' && parts[1] !== undefined && parts[2] !== undefined) page = h(HistoryPage, { session, type: parts[1], id: parts[2] });
  else if (parts[0] === 'alerts') {
    current = 'alerts';
    page = h(AlertsPage, { get: apiGetter(location.origin, login.credentials) });
  } else page = h(Overview, { session, note: cp.note, memory: cp.memory, seenAt: cp.seenAt });
  const link = (href: string, key: string, label: string): El => h('a', { href, ...(current === key ? { 'aria-current': 'page' } : {}) }, label);
  return h(
    'div',
    null,
    h('nav', { 'aria-label': 'Pages' }, link('#/', 'overview', 'Overview'), link('#/search', 'search', 'Search'), link('#/alerts', 'alerts', 'Alerts'),
      h('span', { class: 'who', id: 'whoami' }, whoText(login))),
    h('main', { id: 'page', tabIndex: -1 }, page),
  );
}

render(
  h('div', null,
    h('a', { class: 'skip', href: '#page', onClick: (ev: Event) => {
      // The hash is the router's: move the focus instead of navigating.
      ev.preventDefault();
      document.getElementById('page')?.focus();
    } }, 'Skip to content'),
    h('header', null, h('h1', null, 'Cairn explorer')),
    h(App, null)),
  document.getElementById('app')!,
);
