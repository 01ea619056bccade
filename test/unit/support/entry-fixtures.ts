// A valid unsigned entry using every optional field, for entry tests.
import type { UnsignedEntry } from '../../../src/entry/types.js';

export function fullUnsignedEntry(): UnsignedEntry {
  return {
    v: 1,
    id: '01HZX3J8K9-a.b_c~d',
    time: '2024-05-01T12:00:00.123Z',
    actor: { id: 'alice@example.com', type: 'user', name: 'Alice Liddell' },
    action: 'db.query',
    resource: { type: 'db.table', id: 'payments', name: 'Payments' },
    outcome: 'success',
    reason: 'monthly report',
    source: { ip: '2001:db8::1', userAgent: 'report-tool/1.2' },
    requestId: 'req-7f3a',
    tenant: 'acme',
    data: { rows: 3, query: { text: 'select * from payments', params: [1, 'x', null, true, 0.5] }, 'clé': 'valeur' },
  };
}

export function minimalUnsignedEntry(): UnsignedEntry {
  return {
    v: 1,
    id: 'e1',
    time: '2024-05-01T12:00:00Z',
    actor: { id: 'alice' },
    action: 'user.login',
    resource: { type: 'app', id: 'console' },
    outcome: 'denied',
  };
}
