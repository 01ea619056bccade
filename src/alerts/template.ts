// Title templates: `{{entry.actor.id}}`, `{{group.actor.id}}`, `{{count}}`, `{{rule.id}}`.
// A path that names nothing renders as the empty string; the result is cut to TITLE_RENDERED_MAX.
export const TITLE_RENDERED_MAX = 1024;

/** The value at a dotted path (`actor.id`, `data.patient`) of a JSON-like object, or undefined. */
export function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** A scalar as the text used in group keys and titles, or undefined for objects, lists and null. */
export function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function renderTitle(template: string, scope: Record<string, unknown>): string {
  const out = template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g, (_m, path: string) => scalarText(valueAt(scope, path)) ?? '');
  return out.length > TITLE_RENDERED_MAX ? out.slice(0, TITLE_RENDERED_MAX) : out;
}
