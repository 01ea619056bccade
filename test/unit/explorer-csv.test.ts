// The explorer's CSV export (web/src/csv.ts): RFC 4180 quoting, and cells a spreadsheet would run
// as formulas are neutralized.
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/entry/types.js';
import { CSV_COLUMNS, toCsv } from '../../web/src/csv.js';

const entry = (actor: string, action: string): AuditEntry =>
  ({ v: 1, id: 'e1', time: '2026-12-01T00:00:00Z', actor: { id: actor }, action, resource: { type: 't', id: 'r, "1"' }, outcome: 'success', client: 'ab'.repeat(32), sig: 'x' }) as unknown as AuditEntry;

describe('explorer CSV', () => {
  it('quotes commas and quotes, ends lines with CRLF, and neutralizes formula cells', () => {
    const csv = toCsv([
      { index: 3, hash: 'cd'.repeat(32), entry: entry('=HYPERLINK("http://evil")', 'db.query') },
      { index: 4, hash: 'ef'.repeat(32), entry: entry('bob', '@SUM(A1)') },
    ]);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(lines[1]).toContain('"r, ""1"""');
    expect(lines[2]).toContain(`"'@SUM(A1)"`);
    expect(lines[2]!.startsWith('4,2026-12-01T00:00:00Z,bob,')).toBe(true);
  });
});
