// Durations in rules: an integer and a unit (ms, s, m, h, d), e.g. "90s", "10m", "1h".
export const WINDOW_MS_MAX = 7 * 86_400_000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or undefined when `s` is not of that form. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(s);
  if (m === null) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}
