// Cairn explorer: the page trusts the organizations' keys (a trust file the user pins once), not
// the peer that serves it. Login signs every request with an auditor key file held in memory.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { CairnClient, type WhoamiResponse } from '../../src/client/client.js';
import { parseTrustFile, type TrustRoot } from '../../src/verifier/trust.js';
import { verifyCheckpoint } from '../../src/verifier/verify.js';
import { compareWithStored, toStored, type MemoryVerdict } from './checks.js';
import { parseKeyFile } from './keyfile.js';
import { EntryPage, HistoryPage, SearchPage, type Session } from './pages.js';
import { checkpointKey, kvDelete, kvGet, kvPut, TRUST_KEY, type StoredCheckpoint } from './store.js';
import { ErrorBox, h, Section, shortHex, type El } from './ui.js';

const TRUST_TEXT_MAX = 128 * 1024;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function TrustSetup(props: { onTrust: (t: TrustRoot, text: string) => void }): El {
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
    h('label', null, 'Trust file ', h('input', { type: 'file', id: 'trust-file', accept: '.json,application/json', onChange: async (ev: Event) => {
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

function Login(props: { onLogin: (c: CairnClient, who: WhoamiResponse) => void }): El {
  const [error, setError] = useState<string | null>(null);
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
      const client = new CairnClient({ url: location.origin, credentials: { signingKey: { name: k.name, seed: k.seed } } });
      const who = await client.whoami();
      setError(null);
      props.onLogin(client, who);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return h(
    Section,
    { title: 'Log in' },
    h('p', null, 'Choose the auditor key file named in the peer\u2019s policy (e.g. written by ', h('code', null, 'cairn auth keygen'), '). It is read in this page and kept in memory only; every request is signed with it.'),
    h('form', { onSubmit, 'aria-label': 'Log in with a key file' },
      h('label', null, 'Key file ', h('input', { type: 'file', name: 'key', id: 'key-file', required: true })),
      h('label', null, 'Key name (if the file does not say) ', h('input', { name: 'name', id: 'key-name', autocomplete: 'off' })),
      h('button', { type: 'submit', disabled: busy }, busy ? 'Logging in…' : 'Log in'),
    ),
    error !== null ? h(ErrorBox, { title: 'Login failed:', message: error }) : null,
  );
}

function CheckpointText(props: { title: string; note: string }): El {
  return h('figure', null, h('figcaption', null, props.title), h('pre', { class: 'note' }, props.note));
}

function MemoryWarning(props: { v: Extract<MemoryVerdict, { kind: 'rollback' | 'fork' }>; onForget: () => void }): El {
  return h(
    'div',
    { class: 'blocking', role: 'alertdialog', 'aria-labelledby': 'memory-title', 'data-warning': props.v.kind },
    h('h2', { id: 'memory-title' }, props.v.kind === 'rollback' ? '⚠ Rollback: the log went backwards' : '⚠ Fork: the log is inconsistent with what you verified before'),
    h('p', null, props.v.message, '. Both checkpoints carry a quorum of the organizations\u2019 signatures: keep both as evidence and tell the organizations.'),
    h(CheckpointText, { title: `Stored on ${new Date(props.v.stored.seenAt).toISOString()}`, note: props.v.stored.note }),
    h(CheckpointText, { title: 'Served now', note: props.v.served }),
    h('button', { type: 'button', onClick: () => {
      if (confirm('Forget the stored checkpoint and trust the one served now?')) props.onForget();
    } }, 'Forget the stored checkpoint'),
  );
}

function Overview(props: { session: Session; note: string; memory: MemoryVerdict; who: WhoamiResponse }): El {
  const cp = verifyCheckpoint(props.session.trust, props.note);
  const m = props.memory;
  return h(
    'div',
    null,
    h(
      Section,
      { title: 'Latest final checkpoint' },
      cp.ok
        ? h('div', { class: 'verify ok', 'data-verdict': 'verified', role: 'status' },
            h('p', { class: 'verdict' }, '✔ Verified in this browser'),
            h('dl', { class: 'fields' },
              h('dt', null, 'Log'), h('dd', null, cp.origin),
              h('dt', null, 'Size'), h('dd', { id: 'tree-size' }, String(cp.size)),
              h('dt', null, 'Signed by'), h('dd', null, `${cp.signers.join(', ')} (quorum ${props.session.trust.quorum} of ${props.session.trust.keys.length})`),
              h('dt', null, 'Consistency'), h('dd', { id: 'memory' }, m.kind === 'first' ? 'first visit: stored for the next one' : m.kind === 'same' ? 'same tree as on your last visit' : m.kind === 'extended' ? `consistent with your last visit (${m.from} → ${m.to}, proof checked)` : m.kind === 'unchecked' ? `not checked: ${m.message}` : m.message),
            ))
        : h(ErrorBox, { title: 'The checkpoint does not verify:', message: `${cp.message} (${cp.code})` }),
      h(CheckpointText, { title: 'Signed note', note: props.note }),
    ),
  );
}

function App(): El {
  const hash = useHash();
  const [trust, setTrust] = useState<{ trust: TrustRoot } | null | undefined>(undefined);
  const [login, setLogin] = useState<{ client: CairnClient; who: WhoamiResponse } | null>(null);
  const [cp, setCp] = useState<{ note: string; memory: MemoryVerdict } | { error: string } | null>(null);
  useEffect(() => {
    kvGet<string>(TRUST_KEY)
      .then((text) => {
        const r = text === undefined ? null : parseTrustFile(text);
        setTrust(r !== null && r.ok ? { trust: r.trust } : null);
      })
      .catch(() => setTrust(null));
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
      setCp({ note, memory });
    } catch (e) {
      setCp({ error: (e as Error).message });
    }
  };
  useEffect(() => {
    if (login !== null && trust) void checkMemory(login.client, trust.trust);
  }, [login, trust]);
  if (trust === undefined) return h('p', { role: 'status' }, 'Loading…');
  if (trust === null) return h(TrustSetup, { onTrust: (t, text) => void kvPut(TRUST_KEY, text).then(() => setTrust({ trust: t })) });
  if (login === null) return h('div', null, h(TrustInfo, { trust: trust.trust, onForget: () => void kvDelete(TRUST_KEY).then(() => setTrust(null)) }), h(Login, { onLogin: (client, who) => setLogin({ client, who }) }));
  const session: Session = { client: login.client, trust: trust.trust };
  if (cp === null) return h('p', { role: 'status' }, 'Verifying the latest checkpoint…');
  if ('error' in cp) return h(ErrorBox, { title: 'Cannot read the checkpoint:', message: cp.error });
  if (cp.memory.kind === 'rollback' || cp.memory.kind === 'fork') {
    return h(MemoryWarning, { v: cp.memory, onForget: () => void kvDelete(checkpointKey(trust.trust.origin)).then(() => checkMemory(login.client, trust.trust)) });
  }
  const [path, qs] = hash.replace(/^#/, '').split('?', 2) as [string, string | undefined];
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  let page: El;
  if (parts[0] === 'search') page = h(SearchPage, { session, query: new URLSearchParams(qs ?? '') });
  else if (parts[0] === 'entry' && parts[1] !== undefined) page = h(EntryPage, { session, hash: parts[1] });
  else if (parts[0] === 'history' && parts[1] !== undefined && parts[2] !== undefined) page = h(HistoryPage, { session, type: parts[1], id: parts[2] });
  else page = h(Overview, { session, note: cp.note, memory: cp.memory, who: login.who });
  return h(
    'div',
    null,
    h('nav', { 'aria-label': 'Pages' }, h('a', { href: '#/' }, 'Overview'), h('a', { href: '#/search' }, 'Search'),
      h('span', { class: 'who', id: 'whoami' }, `${login.who.principal} — ${login.who.roles.map((r) => `${r.name} (${r.kind}${r.scope === 'true' ? '' : `, scope ${r.scope}`})`).join(', ') || 'no roles'} · ${login.who.scope}`)),
    h('main', { id: 'page' }, page),
  );
}

function TrustInfo(props: { trust: TrustRoot; onForget: () => void }): El {
  return h('p', { class: 'muted' }, `Trust file pinned: ${props.trust.origin}, quorum ${props.trust.quorum} of ${props.trust.keys.map((k) => k.name).join(', ')}. `,
    h('button', { type: 'button', onClick: props.onForget }, 'Replace'));
}

void shortHex;
render(h('div', null, h('header', null, h('h1', null, 'Cairn explorer')), h(App, null)), document.getElementById('app')!);
