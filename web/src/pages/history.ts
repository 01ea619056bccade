// Resource history: the verified versions of one resource, oldest first, with field-level diffs of
// data.before → data.after and a warning where a change was not logged.
import { useEffect, useState } from 'preact/hooks';
import { toHex } from '../../../src/encoding/bytes.js';
import { leafHash } from '../../../src/merkle/hash.js';
import { historySteps, type HistoryStep } from '../../../src/search/diff.js';
import type { Row, Session } from '../session.js';
import { ErrorBox, h, Section, type El } from '../ui.js';

const PAGE_LIMIT = 100;

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
                'div',
                { class: 'table-wrap', role: 'region', 'aria-label': `Changes in entry ${r.index}`, tabIndex: 0 },
                h(
                  'table',
                  { class: 'diff' },
                  h('thead', null, h('tr', null, ['Field', 'Change', 'Old', 'New'].map((c) => h('th', { scope: 'col' }, c)))),
                  h('tbody', null, s.changes.map((c) => h('tr', { class: c.op }, h('td', null, c.path === '' ? '(whole state)' : c.path), h('td', null, c.op), h('td', null, fmt(c.old)), h('td', null, fmt(c.new))))),
                ),
              ),
          s.truncated ? h('p', { class: 'muted' }, 'More changes not shown.') : null,
        );
      }),
    ),
  );
}
