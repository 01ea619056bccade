// The entry page: every field, the raw JSON, the verification panel (checks.ts, run here), and for
// a verified entry its evidence bundle: one file with the exact logged bytes, the receipt and the
// pinned trust file, which `cairn verify receipt <file>` checks offline, trusting no peer.
import { useEffect, useState } from 'preact/hooks';
import type { EntryResponse } from '../../../src/client/types.js';
import { fromBase64 } from '../../../src/encoding/bytes.js';
import { formatEvidence } from '../../../src/verifier/evidence.js';
import { formatTrustFile } from '../../../src/verifier/trust.js';
import { verifyEntry, type EntryVerdict } from '../checks.js';
import type { Session } from '../session.js';
import { downloadBytes, downloadJson, ErrorBox, h, Json, Section, VerifyPanel, type El } from '../ui.js';

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
  // Fields are shown from the proven leaf when it parses, else from what the peer sent.
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
    h(Section, { title: 'Raw JSON' }, h(Json, { value: r.entry, label: 'Raw JSON of the entry' })),
  );
}

/** One file for offline verification; the receipt is fetched on click. Offered only for a verified entry. */
function Evidence(props: { session: Session; r: EntryResponse }): El {
  const [error, setError] = useState<string | null>(null);
  const name = `cairn-evidence-${props.r.leafHash.slice(0, 12)}.json`;
  const download = async (): Promise<void> => {
    try {
      const leaf = fromBase64(props.r.leaf);
      if (leaf === null || props.r.index === undefined) throw new Error('no leaf bytes');
      const receipt = await props.session.client.getReceipt(props.r.leafHash);
      downloadBytes(name, formatEvidence({ leafHash: props.r.leafHash, index: props.r.index, entry: leaf, receipt, trust: formatTrustFile(props.session.trust) }), 'application/json');
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return h(
    Section,
    { title: 'Evidence' },
    h('p', null, 'One file with the exact logged entry, its receipt (inclusion proof and the quorum-signed checkpoint) and your pinned trust file. Anyone can verify it offline, trusting no peer, with ',
      h('code', null, `cairn verify receipt ${name}`), ' (add ', h('code', null, '--trust <file>'), ' to check it against your own trust file rather than the one inside).'),
    h('p', { class: 'buttons' }, h('button', { type: 'button', id: 'dl-evidence', onClick: () => void download() }, 'Download evidence bundle')),
    error !== null ? h(ErrorBox, { title: 'No receipt:', message: error }) : null,
  );
}
