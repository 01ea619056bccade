// Content negotiation for entry reads (RFC 9110 §12.5.1): JSON by default, the C2SP tlog-proof
// receipt (text/plain) when the client prefers it.

/** Most media ranges looked at in one Accept header (longer headers are cut). */
const ACCEPT_RANGES_MAX = 32;

/** The q-value a media range gives to `type` ("a/b"), 0 when none matches; the most specific range wins. */
function qualityOf(ranges: { type: string; q: number }[], type: string): number {
  const [major] = type.split('/');
  let best: { spec: number; q: number } | null = null;
  for (const r of ranges) {
    const spec = r.type === type ? 3 : r.type === `${major}/*` ? 2 : r.type === '*/*' ? 1 : 0;
    if (spec > 0 && (best === null || spec > best.spec)) best = { spec, q: r.q };
  }
  return best?.q ?? 0;
}

function parseAccept(header: string): { type: string; q: number }[] {
  const out: { type: string; q: number }[] = [];
  for (const part of header.toLowerCase().split(',').slice(0, ACCEPT_RANGES_MAX)) {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    if (type === undefined || !/^[a-z0-9!#$%&'*+.^_`|~-]+\/[a-z0-9!#$%&'*+.^_`|~-]+$/.test(type)) continue;
    let q = 1;
    for (const p of params) {
      if (!p.startsWith('q=')) continue;
      const v = Number(p.slice(2));
      q = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
    }
    out.push({ type, q });
  }
  return out;
}

/** True when the client prefers text/plain (the receipt) over application/json; ties go to JSON. */
export function prefersReceipt(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return false;
  const ranges = parseAccept(accept);
  const text = qualityOf(ranges, 'text/plain');
  const json = qualityOf(ranges, 'application/json');
  return text > 0 && text > json;
}
