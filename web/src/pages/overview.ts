// Overview: the latest final checkpoint of the peer that served the page, verified here, and how it
// relates to the one this browser verified on its last visit; how old the log's head is; and each
// configured peer's head (its public /checkpoint, verified here) with whether they all agree: the
// same size must have the same root, and a smaller head must be a prefix of the largest, by an
// RFC 9162 consistency proof fetched from the larger peer and checked in this page.
import { useEffect, useState } from 'preact/hooks';
import { CairnClient } from '../../../src/client/client.js';
import { toHex } from '../../../src/encoding/bytes.js';
import type { TrustRoot } from '../../../src/verifier/trust.js';
import { verifyCheckpoint, verifyConsistency } from '../../../src/verifier/verify.js';
import type { MemoryVerdict } from '../checks.js';
import { ago, type Session } from '../session.js';
import { ErrorBox, h, Section, shortHex, type El } from '../ui.js';

export function CheckpointText(props: { title: string; note: string }): El {
  return h('figure', null, h('figcaption', null, props.title), h('pre', { class: 'note', tabIndex: 0, role: 'region', 'aria-label': props.title }, props.note));
}

export function MemoryWarning(props: { v: Extract<MemoryVerdict, { kind: 'rollback' | 'fork' }>; onForget: () => void }): El {
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

interface PeerHead {
  name: string;
  url: string;
  size?: number;
  root?: string;
  signers?: string[];
  /** agrees | forked | unverified | unreachable, with the reason. */
  state: 'agrees' | 'forked' | 'unverified' | 'unreachable';
  detail: string;
}

/** Fetches and verifies every configured peer's head, then checks them against the largest. */
export async function comparePeers(trust: TrustRoot, peers: { name: string; url: string }[]): Promise<PeerHead[]> {
  const heads = await Promise.all(
    peers.map(async (p) => {
      const client = new CairnClient({ url: p.url, requestTimeoutMs: 5000 });
      let note: string;
      try {
        note = await client.checkpoint();
      } catch (e) {
        return { peer: p, client, note: '', head: null, error: `unreachable: ${(e as Error).message}` };
      }
      const v = verifyCheckpoint(trust, note);
      return v.ok ? { peer: p, client, note, head: v, error: null } : { peer: p, client, note, head: null, error: `checkpoint does not verify: ${v.message} (${v.code})` };
    }),
  );
  const ok = heads.filter((x) => x.head !== null);
  const top = ok.reduce<(typeof ok)[number] | null>((a, b) => (a === null || b.head!.size > a.head!.size ? b : a), null);
  return Promise.all(
    heads.map(async (x): Promise<PeerHead> => {
      const base = { name: x.peer.name, url: x.peer.url };
      if (x.head === null) return { ...base, state: x.error!.startsWith('unreachable') ? 'unreachable' : 'unverified', detail: x.error! };
      const h0 = x.head;
      const fields = { ...base, size: h0.size, root: toHex(h0.root), signers: h0.signers };
      const t = top!.head!;
      if (x === top || (h0.size === t.size && toHex(h0.root) === toHex(t.root))) return { ...fields, state: 'agrees', detail: 'largest verified head' + (x === top ? '' : ' (same root)') };
      if (h0.size === t.size) return { ...fields, state: 'forked', detail: `same size as ${top!.peer.name}, another root: two quorum-signed histories` };
      if (h0.size === 0) return { ...fields, state: 'agrees', detail: 'empty tree' };
      try {
        const proof = (await top!.client.consistency(h0.size, t.size)).proof;
        const c = verifyConsistency(trust, { old: x.note, new: top!.note, proof });
        return c.ok ? { ...fields, state: 'agrees', detail: `behind ${top!.peer.name} by ${t.size - h0.size}; consistency proof checked` } : { ...fields, state: 'forked', detail: `not a prefix of ${top!.peer.name}'s tree: ${c.message} (${c.code})` };
      } catch (e) {
        return { ...fields, state: 'unverified', detail: `no consistency proof from ${top!.peer.name}: ${(e as Error).message}` };
      }
    }),
  );
}

function Peers(props: { session: Session }): El {
  const peers = props.session.config.peers;
  const [heads, setHeads] = useState<PeerHead[] | null>(null);
  useEffect(() => {
    let live = true;
    if (peers.length > 0) void comparePeers(props.session.trust, peers).then((r) => live && setHeads(r));
    return () => {
      live = false;
    };
  }, []);
  if (peers.length === 0) return h(Section, { title: 'Peers' }, h('p', { class: 'muted' }, 'No peers are configured for this page (CAIRN_UI_CONFIG "peers").'));
  if (heads === null) return h(Section, { title: 'Peers' }, h('p', { role: 'status' }, `Fetching and verifying ${peers.length} peers\u2019 heads…`));
  const agree = heads.every((p) => p.state === 'agrees');
  const forked = heads.some((p) => p.state === 'forked');
  return h(
    Section,
    { title: 'Peers' },
    h('p', { id: 'peers-verdict', role: 'status', class: `verify ${agree ? 'ok' : forked ? 'bad' : ''}`, 'data-agree': agree ? 'yes' : forked ? 'fork' : 'unknown' },
      h('span', { class: 'verdict' }, agree ? `✔ All ${heads.length} peers agree (verified in this browser)` : forked ? '✘ The peers disagree: a fork' : '? Not every peer could be checked')),
    h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Peer heads', tabIndex: 0 },
      h('table', { class: 'peers', id: 'peers' },
        h('thead', null, h('tr', null, ['Peer', 'Size', 'Root', 'Signed by', 'State'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, heads.map((p) => h('tr', { key: p.url, 'data-peer': p.name, 'data-state': p.state },
          h('th', { scope: 'row' }, p.name),
          h('td', null, p.size === undefined ? '—' : String(p.size)),
          h('td', null, p.root === undefined ? '—' : h('code', null, shortHex(p.root))),
          h('td', null, p.signers?.join(', ') ?? '—'),
          h('td', null, h('strong', { class: p.state === 'agrees' ? 'ok-text' : 'bad-text' }, p.state), ` — ${p.detail}`),
        ))),
      )),
  );
}

/** The newest entry you may read: its (client-stated, peer-bounded) time gives the head's age. */
function Age(props: { session: Session; size: number }): El {
  const [s, setS] = useState<{ index: number; time: string } | null | 'none' | { error: string }>(null);
  useEffect(() => {
    let live = true;
    (async () => {
      for await (const page of props.session.client.search({}, { trust: props.session.trust, limit: 1, maxPages: 1, order: 'newest' })) {
        const r = page.results[0];
        if (live) setS(r === undefined ? 'none' : { index: r.index, time: page.entries[0]!.time });
        return;
      }
      if (live) setS('none');
    })().catch((e: Error) => live && setS({ error: e.message }));
    return () => {
      live = false;
    };
  }, [props.size]);
  if (s === null) return h('span', null, 'checking…');
  if (s === 'none') return h('span', null, 'no entry you may read');
  if ('error' in s) return h('span', null, `unknown (${s.error})`);
  const t = Date.parse(s.time);
  return h('span', null, `newest entry you may read: #${s.index}, logged ${s.time}${Number.isFinite(t) ? ` (${ago(t)})` : ''}, verified`);
}

export function Overview(props: { session: Session; note: string; memory: MemoryVerdict; seenAt: number | null }): El {
  const cp = verifyCheckpoint(props.session.trust, props.note);
  const m = props.memory;
  const trust = props.session.trust;
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
              h('dt', null, 'Signed by'), h('dd', { id: 'signers' }, `${cp.signers.join(', ')} (quorum ${trust.quorum} of ${trust.keys.length})`),
              h('dt', null, 'Age'), h('dd', { id: 'age' }, props.seenAt !== null ? `first verified by this browser ${ago(props.seenAt)}; ` : '', h(Age, { session: props.session, size: cp.size })),
              h('dt', null, 'Consistency'), h('dd', { id: 'memory' }, m.kind === 'first' ? 'first visit: stored for the next one' : m.kind === 'same' ? 'same tree as on your last visit' : m.kind === 'extended' ? `consistent with your last visit (${m.from} → ${m.to}, proof checked)` : m.kind === 'unchecked' ? `not checked: ${m.message}` : m.message),
            ))
        : h(ErrorBox, { title: 'The checkpoint does not verify:', message: `${cp.message} (${cp.code})` }),
      h(CheckpointText, { title: 'Signed note', note: props.note }),
    ),
    h(Peers, { session: props.session }),
  );
}
