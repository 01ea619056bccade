// Search: every filter of GET /v1/search in a shareable URL, a choice of columns (also in the
// URL), and pages of results through the peer's cursor. Each page is verified in this browser by
// the SDK's search verification (checkpoint quorum, inclusion proofs, client signatures, filter,
// order) before a row is shown; later pages are pinned to the first page's checkpoint.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SearchPageResult } from '../../../src/client/search.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { leafHash } from '../../../src/merkle/hash.js';
import type { SearchFilter } from '../../../src/search/fields.js';
import { toCsv } from '../csv.js';
import type { Row, Session } from '../session.js';
import { downloadBytes, downloadJson, ErrorBox, h, Section, shortHex, type El } from '../ui.js';

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
export const PAGE_LIMIT = 100;

const historyHref = (e: Row['entry']): string => `#/history/${encodeURIComponent(e.resource.type)}/${encodeURIComponent(e.resource.id)}`;

/** The table's columns; `cols=` in the URL picks them (the downloads always hold every field). */
export const COLUMNS: { key: string; label: string; cell: (r: Row) => El | string }[] = [
  { key: 'index', label: 'Index', cell: (r) => h('a', { href: `#/entry/${r.hash}` }, String(r.index)) },
  { key: 'time', label: 'Time', cell: (r) => r.entry.time },
  { key: 'actor', label: 'Actor', cell: (r) => r.entry.actor.id },
  { key: 'action', label: 'Action', cell: (r) => r.entry.action },
  { key: 'resource', label: 'Resource', cell: (r) => h('a', { href: historyHref(r.entry) }, `${r.entry.resource.type}/${r.entry.resource.id}`) },
  { key: 'outcome', label: 'Outcome', cell: (r) => r.entry.outcome },
  { key: 'tenant', label: 'Tenant', cell: (r) => r.entry.tenant ?? '' },
  { key: 'client', label: 'Client key', cell: (r) => shortHex(r.entry.client) },
  { key: 'id', label: 'Entry id', cell: (r) => r.entry.id },
  { key: 'leafHash', label: 'Leaf hash', cell: (r) => shortHex(r.hash) },
];
export const DEFAULT_COLUMNS = ['index', 'time', 'actor', 'action', 'resource', 'outcome'];

export function columnsFromQuery(q: URLSearchParams): string[] {
  const v = q.get('cols');
  if (v === null) return DEFAULT_COLUMNS;
  const keys = v.split(',').filter((k) => COLUMNS.some((c) => c.key === k));
  return keys.length > 0 ? keys : DEFAULT_COLUMNS;
}

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

function rowsOf(page: SearchPageResult): Row[] {
  return page.results.map((r, i) => ({ index: r.index, hash: toHex(leafHash(r.entry)), entry: page.entries[i]! }));
}

interface Pages {
  pages: Row[][];
  /** The page shown (0-based). */
  at: number;
  /** Another page is available from the peer's cursor. */
  more: boolean;
  loading: boolean;
}

export function SearchPage(props: { session: Session; query: URLSearchParams }): El {
  const q = props.query;
  const cols = columnsFromQuery(q);
  // The search runs again only when a filter changes, not when the columns do.
  const searchQ = new URLSearchParams(q);
  searchQ.delete('cols');
  const key = searchQ.toString();
  const [state, setState] = useState<Pages | { error: string } | null>(null);
  const iter = useRef<AsyncGenerator<SearchPageResult> | null>(null);
  useEffect(() => {
    let live = true;
    setState(null);
    const it = props.session.client.search(filterFromQuery(q), { trust: props.session.trust, limit: PAGE_LIMIT, order: 'newest' });
    iter.current = it;
    it.next()
      .then((r) => live && setState({ pages: [r.done ? [] : rowsOf(r.value)], at: 0, more: !r.done && r.value.next !== undefined, loading: false }))
      .catch((e: Error) => live && setState({ error: e.message }));
    return () => {
      live = false;
      void it.return(undefined);
    };
  }, [key]);
  const go = async (to: number): Promise<void> => {
    if (state === null || 'error' in state) return;
    if (to < state.pages.length) return setState({ ...state, at: to });
    const it = iter.current;
    if (it === null) return;
    setState({ ...state, loading: true });
    try {
      const r = await it.next();
      if (r.done) return setState({ ...state, more: false, loading: false });
      setState({ pages: [...state.pages, rowsOf(r.value)], at: to, more: r.value.next !== undefined, loading: false });
    } catch (e) {
      setState({ error: (e as Error).message });
    }
  };
  const onSubmit = (ev: Event): void => {
    ev.preventDefault();
    const form = new FormData(ev.target as HTMLFormElement);
    const out = new URLSearchParams();
    for (const [k, v] of form.entries()) if (typeof v === 'string' && v.trim() !== '' && k !== 'col') out.set(k, v.trim());
    if (q.has('cols')) out.set('cols', q.get('cols')!);
    location.hash = `#/search?${out.toString()}`;
  };
  const toggleColumn = (k: string, on: boolean): void => {
    const next = COLUMNS.map((c) => c.key).filter((c) => (c === k ? on : cols.includes(c)));
    const out = new URLSearchParams(q);
    out.set('cols', next.join(','));
    history.replaceState(null, '', `#/search?${out.toString()}`);
    dispatchEvent(new HashChangeEvent('hashchange'));
  };
  const shown = COLUMNS.filter((c) => cols.includes(c.key));
  let results: El;
  if (state === null) results = h('p', { role: 'status' }, 'Searching and verifying…');
  else if ('error' in state) results = h(ErrorBox, { title: 'Search failed:', message: state.error });
  else {
    const rows = state.pages[state.at]!;
    const first = state.at * PAGE_LIMIT;
    results = h(
      'div',
      null,
      h(
        'p',
        { role: 'status', class: 'verify ok', 'data-verdict': 'verified' },
        `✔ ${rows.length} results verified in this browser (checkpoint quorum, inclusion proofs, client signatures, filter)`,
        rows.length > 0 ? `; results ${first + 1}–${first + rows.length}, newest first.` : '.',
      ),
      h('p', { class: 'buttons' },
        h('button', { type: 'button', id: 'dl-json', onClick: () => downloadJson('cairn-search.json', rows.map((r) => ({ index: r.index, leafHash: r.hash, entry: r.entry }))) }, 'Download JSON'),
        ' ',
        h('button', { type: 'button', id: 'dl-csv', onClick: () => downloadBytes('cairn-search.csv', toCsv(rows), 'text/csv') }, 'Download CSV'),
      ),
      h(
        'div',
        { class: 'table-wrap', role: 'region', 'aria-label': 'Search results', tabIndex: 0 },
        h(
          'table',
          { class: 'results' },
          h('caption', { class: 'sr-only' }, 'Verified search results, newest first'),
          h('thead', null, h('tr', null, [...shown.map((c) => h('th', { scope: 'col', 'data-col': c.key }, c.label)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Open'))])),
          h('tbody', null, rows.map((r) => h('tr', { key: r.hash }, [...shown.map((c) => h('td', null, c.cell(r))), h('td', null, h('a', { href: `#/entry/${r.hash}`, 'aria-label': `open entry ${r.index}` }, 'open'))]))),
        ),
      ),
      h('nav', { class: 'pager', 'aria-label': 'Result pages' },
        h('button', { type: 'button', id: 'page-prev', disabled: state.at === 0 || state.loading, onClick: () => void go(state.at - 1) }, '← Previous page'),
        h('span', { 'aria-live': 'polite' }, `Page ${state.at + 1}`),
        h('button', { type: 'button', id: 'page-next', disabled: (!state.more && state.at === state.pages.length - 1) || state.loading, onClick: () => void go(state.at + 1) }, state.loading ? 'Loading…' : 'Next page →'),
      ),
    );
  }
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
      h('fieldset', { class: 'columns' },
        h('legend', null, 'Columns'),
        COLUMNS.map((c) => h('label', { key: c.key, class: 'check' }, h('input', { type: 'checkbox', name: 'col', value: c.key, checked: cols.includes(c.key), 'data-col': c.key, onChange: (ev: Event) => toggleColumn(c.key, (ev.target as HTMLInputElement).checked) }), ` ${c.label}`)),
      ),
    ),
    results,
  );
}
