// Search, Entry and Resource history pages. Every result shown was verified in this page against
// the pinned trust file (the SDK's search verification, or checks.ts for a single entry).
import { useEffect, useState } from 'preact/hooks';

import type { CairnClient } from '../../src/client/client.js';
import type { EntryResponse } from '../../src/client/types.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { fromBase64, toHex } from '../../src/encoding/bytes.js';
import { formatTrustFile } from '../../src/verifier/trust.js';
import { leafHash } from '../../src/merkle/hash.js';
import { historySteps, type HistoryStep } from '../../src/search/diff.js';
import type { SearchFilter } from '../../src/search/fields.js';
import type { TrustRoot } from '../../src/verifier/trust.js';
import { verifyEntry, type EntryVerdict } from './checks.js';
import { toCsv } from './csv.js';
import { downloadBytes, downloadJson, ErrorBox, h, Json, Section, shortHex, VerifyPanel, type El } from './ui.js';

export interface Session {
  client: CairnClient;
  trust: TrustRoot;
}

const TEXT_FIELDS = [
  ['actor', 'Actor id'],
  ['action', 'Action'],
  ['actionPrefix', 'Action prefix (e.g. db.)'],
  ['resourceType', 'Resource type'],
  ['resourceId', 'Resource id'],
  ['tenant', 'Tenant'],
  ['outcome', 'Outcome'],
  ['client', 'Client key (hex)'],
] as const;
const PAGE_LIMIT = 100;

/** The filter a shareable URL query states (unknown or empty parameters are ignored). */
export function filterFromQuery(q: URLSearchParams): SearchFilter {
  const f: SearchFilter = {};
  for (const [k] of TEXT_FIELDS) {
    const v = q.get(k);
    if (v !== null && v !== '') f[k] = v;
  }
  for (const k of ['from', 'to'] as const) {
    const v = q.get(k);
    const ms = v === null || v === '' ? NaN : Date.parse(v);
    if (Number.isFinite(ms)) f[k === 'from' ? 'fromMs' : 'toMs'] = ms;
  }
  return f;
}

interface Row {
  index: number;
  hash: string;
  entry: AuditEntry;
}

export function SearchPage(props: { session: Session; query: URLSearchParams }): El {
  const q = props.query;
  const filter = filterFromQuery(q);
  const [state, setState] = useState<{ rows: Row[]; size: number; more: boolean } | { error: string } | null>(null);
  const key = q.toString();
  useEffect(() => {
    let live = true;
    setState(null);
    (async () => {
      const it = props.session.client.search(filter, { trust: props.session.trust, limit: PAGE_LIMIT, maxPages: 1, order: 'newest' });
      for await (const page of it) {
        const rows = page.results.map((r, i) => ({ index: r.index, hash: toHex(leafHash(r.entry)), entry: page.entries[i]! }));
        if (live) setState({ rows, size: page.results.length, more: page.next !== undefined });
        return;
      }
      if (live) setState({ rows: [], size: 0, more: false });
    })().catch((e: Error) => live && setState({ error: e.message }));
    return () => {
      live = false;
    };
  }, [key]);
  const onSubmit = (ev: Event): void => {
    ev.preventDefault();
    const form = new FormData(ev.target as HTMLFormElement);
    const out = new URLSearchParams();
    for (const [k, v] of form.entries()) if (typeof v === 'string' && v.trim() !== '') out.set(k, v.trim());
    location.hash = `#/search?${out.toString()}`;
  };
  return h(
    'div',
    null,
    h(
      Section,
      { title: 'Search' },
      h(
        'form',
        { class: 'filters', onSubmit, 'aria-label': 'Search filters' },
        TEXT_FIELDS.map(([k, label]) => h('label', { key: k }, label, h('input', { name: k, value: q.get(k) ?? '', autocomplete: 'off' }))),
        h('label', null, 'From (ISO time)', h('input', { name: 'from', value: q.get('from') ?? '', placeholder: '2026-01-01T00:00:00Z' })),
        h('label', null, 'To (ISO time, exclusive)', h('input', { name: 'to', value: q.get('to') ?? '' })),
        h('button', { type: 'submit' }, 'Search'),
      ),
    ),
    state === null
      ? h('p', { role: 'status' }, 'Searching and verifying…')
      : 'error' in state
        ? h(ErrorBox, { title: 'Search failed:', message: state.error })
        : h(
            'div',
            null,
            h(
              'p',
              { role: 'status', class: 'verify ok', 'data-verdict': 'verified' },
              `✔ ${state.rows.length} results verified in this browser (checkpoint quorum, inclusion proofs, client signatures, filter)${state.more ? `; newest ${PAGE_LIMIT} shown` : ''}.`,
              ' ',
              h('button', { type: 'button', id: 'dl-json', onClick: () => downloadJson('cairn-search.json', state.rows.map((r) => ({ index: r.index, leafHash: r.hash, entry: r.entry }))) }, 'Download JSON'),
              ' ',
              h('button', { type: 'button', id: 'dl-csv', onClick: () => downloadBytes('cairn-search.csv', toCsv(state.rows), 'text/csv') }, 'Download CSV'),
            ),
            h(
              'table',
              { class: 'results' },
              h('thead', null, h('tr', null, ['Index', 'Time', 'Actor', 'Action', 'Resource', 'Outcome', ''].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                null,
                state.rows.map((r) =>
                  h(
                    'tr',
                    { key: r.hash },
                    h('td', null, h('a', { href: `#/entry/${r.hash}` }, String(r.index))),
                    h('td', null, r.entry.time),
                    h('td', null, r.entry.actor.id),
                    h('td', null, r.entry.action),
                    h('td', null, h('a', { href: `#/history/${encodeURIComponent(r.entry.resource.type)}/${encodeURIComponent(r.entry.resource.id)}` }, `${r.entry.resource.type}/${r.entry.resource.id}`)),
                    h('td', null, r.entry.outcome),
                    h('td', null, h('a', { href: `#/entry/${r.hash}`, 'aria-label': `open entry ${r.index}` }, 'open')),
                  ),
                ),
              ),
            ),
          ),
  );
}

export function EntryPage(props: { session: Session; hash: string }): El {
  const [state, setState] = useState<{ r: EntryResponse; v: EntryVerdict } | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    setState(null);
    props.session.client
      .getEntry(props.hash)
      .then((r) => live && setState({ r, v: verifyEntry(props.session.trust, r) }))
      .catch((e: Error) => live && setState({ error: e.message }));
    return () => {
      live = false;
    };
  }, [props.hash]);
  if (state === null) return h(Section, { title: 'Entry' }, h(VerifyPanel, { checks: null, verified: false }));
  if ('error' in state) return h(Section, { title: 'Entry' }, h(ErrorBox, { title: 'Cannot read the entry:', message: state.error }));
  const { r, v } = state;
  // Fields are shown from the proven leaf when it parses, else from what the peer sent (marked).
  const e = v.entry ?? r.entry;
  const rows: [string, string][] = [
    ['Leaf hash', r.leafHash],
    ['Status', r.status],
    ['Index', r.index === undefined ? '—' : String(r.index)],
    ['Id', e.id],
    ['Time', e.time],
    ['Actor', `${e.actor?.id ?? ''}${e.actor?.type ? ` (${e.actor.type})` : ''}`],
    ['Action', e.action],
    ['Resource', `${e.resource?.type}/${e.resource?.id}`],
    ['Outcome', e.outcome],
    ['Tenant', e.tenant ?? '—'],
    ['Client', e.client],
  ];
  return h(
    'div',
    null,
    h(Section, { title: 'Verification' }, h(VerifyPanel, { checks: v.checks, verified: v.verified })),
    h(
      Section,
      { title: 'Entry' },
      h('dl', { class: 'fields' }, rows.map(([k, val]) => [h('dt', null, k), h('dd', null, val)])),
      h('p', null, h('a', { href: `#/history/${encodeURIComponent(e.resource?.type ?? '')}/${encodeURIComponent(e.resource?.id ?? '')}` }, 'Resource history'), ' · ', h('button', { type: 'button', onClick: () => downloadJson(`cairn-entry-${r.leafHash.slice(0, 12)}.json`, r) }, 'Download JSON')),
    ),
    v.verified ? h(Evidence, { session: props.session, r }) : null,
    h(Section, { title: 'Raw JSON' }, h(Json, { value: r.entry })),
  );
}

/**
 * The evidence for offline verification: the logged entry bytes, the receipt (checkpoint +
 * inclusion proof, fetched now) and the pinned trust file, checked by `cairn verify receipt`
 * without any peer. Offered only for an entry verified here.
 */
function Evidence(props: { session: Session; r: EntryResponse }): El {
  const [error, setError] = useState<string | null>(null);
  const leaf = fromBase64(props.r.leaf);
  const receipt = async (): Promise<void> => {
    try {
      downloadBytes('receipt.tlog-proof', await props.session.client.getReceipt(props.r.leafHash), 'text/plain');
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return h(
    Section,
    { title: 'Evidence' },
    h('p', null, 'Download the three files and verify offline, trusting no peer: ', h('code', null, 'cairn verify receipt receipt.tlog-proof --entry entry.json --trust trust.json')),
    h('p', { class: 'buttons' },
      h('button', { type: 'button', id: 'dl-entry', onClick: () => leaf !== null && downloadBytes('entry.json', leaf, 'application/json') }, 'entry.json'), ' ',
      h('button', { type: 'button', id: 'dl-receipt', onClick: () => void receipt() }, 'receipt.tlog-proof'), ' ',
      h('button', { type: 'button', id: 'dl-trust', onClick: () => downloadBytes('trust.json', formatTrustFile(props.session.trust), 'application/json') }, 'trust.json'),
    ),
    error !== null ? h(ErrorBox, { title: 'No receipt:', message: error }) : null,
  );
}

function fmt(v: unknown): string {
  return v === undefined ? '—' : JSON.stringify(v);
}

export function HistoryPage(props: { session: Session; type: string; id: string }): El {
  const [state, setState] = useState<{ rows: Row[]; steps: HistoryStep[] } | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    setState(null);
    (async () => {
      const rows: Row[] = [];
      for await (const page of props.session.client.history(props.type, props.id, { trust: props.session.trust, limit: PAGE_LIMIT, maxPages: 10 })) {
        page.results.forEach((r, i) => rows.push({ index: r.index, hash: toHex(leafHash(r.entry)), entry: page.entries[i]! }));
      }
      if (live) setState({ rows, steps: historySteps(rows.map((r) => r.entry)) });
    })().catch((e: Error) => live && setState({ error: e.message }));
    return () => {
      live = false;
    };
  }, [props.type, props.id]);
  const title = `History of ${props.type}/${props.id}`;
  if (state === null) return h(Section, { title }, h('p', { role: 'status' }, 'Loading and verifying…'));
  if ('error' in state) return h(Section, { title }, h(ErrorBox, { title: 'History failed:', message: state.error }));
  return h(
    Section,
    { title },
    h('p', { role: 'status', class: 'verify ok', 'data-verdict': 'verified' }, `✔ ${state.rows.length} versions verified in this browser (oldest first).`),
    h(
      'ol',
      { class: 'timeline' },
      state.rows.map((r, i) => {
        const s = state.steps[i]!;
        return h(
          'li',
          { key: r.hash },
          h('p', null, h('a', { href: `#/entry/${r.hash}` }, `#${r.index}`), ` ${r.entry.time} — ${r.entry.actor.id} ${r.entry.action} (${r.entry.outcome})`),
          s.continuous === false ? h('p', { class: 'warn' }, 'The state before this change differs from the state after the previous one: a change was not logged.') : null,
          s.changes === null
            ? h('p', { class: 'muted' }, 'No data.before / data.after: no field changes stated.')
            : h(
                'table',
                { class: 'diff' },
                h('thead', null, h('tr', null, ['Field', 'Change', 'Old', 'New'].map((c) => h('th', { scope: 'col' }, c)))),
                h('tbody', null, s.changes.map((c) => h('tr', { class: c.op }, h('td', null, c.path === '' ? '(whole state)' : c.path), h('td', null, c.op), h('td', null, fmt(c.old)), h('td', null, fmt(c.new))))),
              ),
          s.truncated ? h('p', { class: 'muted' }, 'More changes not shown.') : null,
        );
      }),
    ),
  );
}

export { shortHex };
