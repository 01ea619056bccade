// Alerts: the recent alerts this peer's rules raised (GET /v1/alerts/recent), newest first, each
// with links to the entries that triggered it. Read-only. An alert is the peer's statement, not a
// proof: the page cannot re-run rules it does not have, but every linked entry is verified in this
// browser when opened, and `cairn alerts replay` re-derives alerts from the log with the rules.
import { useEffect, useState } from 'preact/hooks';
import { CairnApiError } from '../../../src/client/errors.js';
import type { ApiGet } from '../api.js';
import { ErrorBox, h, Section, shortHex, type El } from '../ui.js';

interface AlertView {
  id: string;
  ruleId: string;
  ruleVersion: number;
  severity: string;
  title: string;
  time: string;
  group: Record<string, string>;
  entries: { index: number; leafHash: string }[];
  entryCount: number;
}

const LIMIT = 50;
const HEX64 = /^[0-9a-f]{64}$/;

function parse(body: unknown): AlertView[] {
  const list = (body as { alerts?: unknown }).alerts;
  if (!Array.isArray(list)) throw new Error('the answer has no alerts list');
  // Shape-checked before use: only well-formed references become links.
  return list.slice(0, LIMIT).map((a: AlertView) => ({
    ...a,
    entries: Array.isArray(a.entries) ? a.entries.filter((e) => Number.isSafeInteger(e?.index) && typeof e?.leafHash === 'string' && HEX64.test(e.leafHash)) : [],
    group: typeof a.group === 'object' && a.group !== null ? a.group : {},
  }));
}

export function AlertsPage(props: { get: ApiGet }): El {
  const [state, setState] = useState<{ alerts: AlertView[] } | { error: string; disabled: boolean } | null>(null);
  useEffect(() => {
    let live = true;
    props
      .get(`/v1/alerts/recent?limit=${LIMIT}`)
      .then((b) => live && setState({ alerts: parse(b) }))
      .catch((e: Error) => live && setState({ error: e.message, disabled: e instanceof CairnApiError && e.code === 'unavailable' }));
    return () => {
      live = false;
    };
  }, []);
  const title = 'Recent alerts';
  if (state === null) return h(Section, { title }, h('p', { role: 'status' }, 'Loading…'));
  if ('error' in state) {
    return h(Section, { title }, state.disabled ? h('p', { role: 'status' }, 'Alerts are not enabled on this peer (CAIRN_ALERTS).') : h(ErrorBox, { title: 'Cannot read the alerts:', message: state.error }));
  }
  return h(
    Section,
    { title },
    h('p', { class: 'muted' }, 'Raised by this peer\u2019s alert rules since it started, newest first. Open an entry to verify it in this browser.'),
    state.alerts.length === 0
      ? h('p', { role: 'status', id: 'alerts-empty' }, 'No alerts since this peer started.')
      : h(
          'ol',
          { class: 'alerts', id: 'alerts' },
          state.alerts.map((a) =>
            h(
              'li',
              { key: a.id, 'data-alert': a.id, class: `sev-${a.severity}` },
              h('p', null, h('strong', { class: 'sev' }, a.severity), ' ', h('span', { class: 'title' }, a.title)),
              h('p', { class: 'muted' }, `${a.time} · rule ${a.ruleId} v${a.ruleVersion}${Object.keys(a.group).length > 0 ? ` · ${Object.entries(a.group).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''} · id ${shortHex(a.id)}`),
              h('p', null, 'Entries: ',
                a.entries.map((e, i) => [i > 0 ? ', ' : '', h('a', { href: `#/entry/${e.leafHash}`, 'aria-label': `entry ${e.index} of alert ${a.title}` }, `#${e.index}`)]),
                a.entryCount > a.entries.length ? ` and ${a.entryCount - a.entries.length} more` : ''),
            ),
          ),
        ),
  );
}
