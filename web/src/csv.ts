// CSV of search results (RFC 4180: CRLF line ends, quoted fields). A cell that a spreadsheet would
// run as a formula (starting with = + - @, tab or carriage return) is prefixed with an apostrophe:
// entry fields are written by applications, and opening an export must not execute them.
import type { AuditEntry } from '../../src/entry/types.js';

export const CSV_COLUMNS = ['index', 'time', 'actor', 'action', 'resourceType', 'resourceId', 'outcome', 'tenant', 'client', 'id', 'leafHash'] as const;

function cell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n']/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(rows: readonly { index: number; hash: string; entry: AuditEntry }[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const e = r.entry;
    lines.push([String(r.index), e.time, e.actor.id, e.action, e.resource.type, e.resource.id, e.outcome, e.tenant ?? '', e.client, e.id, r.hash].map(cell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
