// CEL timestamp accessors (getHours, getDayOfWeek, ... with an optional time zone) for the filter
// language. They replace the library's versions for two reasons:
// - speed: the library builds a new Intl.DateTimeFormat on every call (about 1,000 calls/s), far
//   below what alert rules need; here one formatter per zone is kept in a bounded cache;
// - determinism: the library's zone-less path goes through the machine's local time zone for the
//   day of the year; these compute in UTC (or the given zone) only, so every peer and every browser
//   gets the same answer.
// Semantics follow the CEL language definition: getMonth, getDayOfMonth, getDayOfYear are 0-based,
// getDate is 1-based, getDayOfWeek is 0 for Sunday; a zone is an IANA name ("Europe/Paris"), "UTC",
// or a fixed offset "+02:00" / "-05:30".
import { celMethod, CelScalar, objectType } from '@bufbuild/cel';
import type { CelFunc } from '@bufbuild/cel';
import { timestampDate, TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';

const TIMESTAMP = objectType(TimestampSchema);

interface Civil {
  year: number;
  month: number; // 0-based
  day: number; // 1-based
  hour: number;
  minute: number;
  second: number;
  ms: number;
  weekday: number; // 0 = Sunday
}

// Formatters are costly to build; zones used by rules are few. Bounded so that expressions naming
// many distinct zones cannot grow memory without limit.
const ZONE_CACHE_MAX = 64;
const zoneCache = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = zoneCache.get(tz);
  if (f === undefined) {
    // Throws RangeError for an unknown zone: the evaluation then errs and the filter does not match.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (zoneCache.size >= ZONE_CACHE_MAX) zoneCache.delete(zoneCache.keys().next().value as string);
    zoneCache.set(tz, f);
  }
  return f;
}

function civilUtc(ms: number): Civil {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth(),
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
    weekday: d.getUTCDay(),
  };
}

const FIXED_OFFSET = /^([+-]?)(\d\d):(\d\d)$/;

// Offsets of a zone, by 15-minute slice of UTC time: every transition in use today falls on a
// quarter hour, and a slice whose two ends disagree is never cached, so a cached offset is exact.
const SLICE_MS = 15 * 60_000;
const OFFSET_CACHE_MAX = 4096;
const offsetCache = new Map<string, number>();

function zoneOffsetAt(ms: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(tz).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const { year, month, day, hour, minute, second } = parts;
  if (year === undefined || month === undefined || day === undefined || hour === undefined ||
      minute === undefined || second === undefined) {
    throw new Error(`cannot convert a timestamp to time zone ${tz}`);
  }
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

function zoneOffset(ms: number, tz: string): number {
  const slice = Math.floor(ms / SLICE_MS);
  const key = `${tz} ${slice}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const start = zoneOffsetAt(slice * SLICE_MS, tz);
  const end = zoneOffsetAt(slice * SLICE_MS + SLICE_MS - 1000, tz);
  if (start !== end) return zoneOffsetAt(ms, tz);
  if (offsetCache.size >= OFFSET_CACHE_MAX) offsetCache.delete(offsetCache.keys().next().value as string);
  offsetCache.set(key, start);
  return start;
}

function civilIn(ms: number, tz: string | undefined): Civil {
  if (tz === undefined || tz === 'UTC') return civilUtc(ms);
  const fixed = FIXED_OFFSET.exec(tz);
  if (fixed) {
    const offset = (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000;
    return civilUtc(fixed[1] === '-' ? ms - offset : ms + offset);
  }
  return civilUtc(ms + zoneOffset(ms, tz));
}

function dayOfYear(c: Civil): number {
  return Math.round((Date.UTC(c.year, c.month, c.day) - Date.UTC(c.year, 0, 1)) / 86_400_000);
}

const ACCESSORS: Record<string, (c: Civil) => number> = {
  getFullYear: (c) => c.year,
  getMonth: (c) => c.month,
  getDate: (c) => c.day,
  getDayOfMonth: (c) => c.day - 1,
  getDayOfWeek: (c) => c.weekday,
  getDayOfYear: dayOfYear,
  getHours: (c) => c.hour,
  getMinutes: (c) => c.minute,
  getSeconds: (c) => c.second,
  getMilliseconds: (c) => c.ms,
};

function msOf(ts: Timestamp): number {
  return timestampDate(ts).getTime();
}

/** Timestamp accessor methods, with and without a time zone argument, overriding the library's. */
export const timeFuncs: CelFunc[] = Object.entries(ACCESSORS).flatMap(([name, get]) => [
  celMethod(name, TIMESTAMP, [], CelScalar.INT, function () {
    return BigInt(get(civilIn(msOf((this as unknown as { message: Timestamp }).message), undefined)));
  }),
  celMethod(name, TIMESTAMP, [CelScalar.STRING], CelScalar.INT, function (tz: string) {
    return BigInt(get(civilIn(msOf((this as unknown as { message: Timestamp }).message), tz)));
  }),
]);
