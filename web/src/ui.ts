// Small shared view helpers (Preact's h, no JSX build step).
import { h, type ComponentChildren, type VNode } from 'preact';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- components of any props
export type El = VNode<any>;
import type { Check } from './checks.js';

export { h };

/** A JSON download of `value`, generated in the page (no request). */
export function downloadJson(fileName: string, value: unknown): void {
  downloadBytes(fileName, JSON.stringify(value, null, 2) + '\n', 'application/json');
}

/** A download of exact bytes (or text), generated in the page. */
export function downloadBytes(fileName: string, data: Uint8Array | string, type: string): void {
  const blob = new Blob([typeof data === 'string' ? data : new Uint8Array(data)], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export function ErrorBox(props: { title: string; message: string }): El {
  return h('div', { class: 'error', role: 'alert' }, h('strong', null, props.title), ' ', props.message);
}

export function Section(props: { title: string; children?: ComponentChildren }): El {
  return h('section', { 'aria-label': props.title }, h('h2', null, props.title), props.children);
}

/** The verification panel: "Verified" only when every check ran in this page and passed. */
export function VerifyPanel(props: { checks: Check[] | null; verified: boolean }): El {
  if (props.checks === null) return h('div', { class: 'verify pending', 'data-verdict': 'pending', role: 'status' }, 'Checking in your browser…');
  const failed = props.checks.filter((c) => !c.ok);
  return h(
    'div',
    { class: `verify ${props.verified ? 'ok' : 'bad'}`, 'data-verdict': props.verified ? 'verified' : 'failed', role: 'status' },
    h('p', { class: 'verdict' }, props.verified ? '✔ Verified in this browser' : `✘ Verification failed: ${failed.map((c) => c.name).join(', ')}`),
    h(
      'ul',
      null,
      props.checks.map((c) => h('li', { class: c.ok ? 'ok' : 'bad', 'data-check': c.name }, h('strong', null, `${c.ok ? '✔' : '✘'} ${c.name}: `), c.detail)),
    ),
  );
}

export function Json(props: { value: unknown; label: string }): El {
  return h('pre', { class: 'json', tabIndex: 0, role: 'region', 'aria-label': props.label }, JSON.stringify(props.value, null, 2));
}

export function shortHex(s: string, n = 16): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
