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
import { celFunc, celMethod, CelScalar, objectType } from '@bufbuild/cel';
import type { CelFunc } from '@bufbuild/cel';
import { fromJson } from '@bufbuild/protobuf';
import { timestampMs, TimestampSchema } from '@bufbuild/protobuf/wkt';
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
// One map per zone keyed by slice number (no key string to build), and the last slice asked for
// answered first: entries come in time order, so most calls hit it.
const SLICE_MS = 15 * 60_000;
const OFFSET_CACHE_MAX = 4096;
interface ZoneOffsets {
  slices: Map<number, number>;
  lastSlice: number;
  lastOffset: number;
}
const offsetCache = new Map<string, ZoneOffsets>();
let offsetsCached = 0;

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
  let z = offsetCache.get(tz);
  if (z !== undefined) {
    if (z.lastSlice === slice) return z.lastOffset;
    const hit = z.slices.get(slice);
    if (hit !== undefined) {
      z.lastSlice = slice;
      z.lastOffset = hit;
      return hit;
    }
  }
  const start = zoneOffsetAt(slice * SLICE_MS, tz);
  const end = zoneOffsetAt(slice * SLICE_MS + SLICE_MS - 1000, tz);
  if (start !== end) return zoneOffsetAt(ms, tz);
  // Bounded in all zones together: past the bound everything cached is dropped (refilled as used).
  if (offsetsCached >= OFFSET_CACHE_MAX) {
    offsetCache.clear();
    offsetsCached = 0;
    z = undefined;
  }
  if (z === undefined) {
    if (offsetCache.size >= ZONE_CACHE_MAX) offsetCache.delete(offsetCache.keys().next().value as string);
    z = { slices: new Map(), lastSlice: NaN, lastOffset: 0 };
    offsetCache.set(tz, z);
  }
  z.slices.set(slice, start);
  offsetsCached++;
  z.lastSlice = slice;
  z.lastOffset = start;
  return start;
}

/** `ms` as the local time of `tz` (ms since the epoch of that zone's wall clock), or the UTC time. */
function localMs(ms: number, tz: string | undefined): number {
  if (tz === undefined || tz === 'UTC') return ms;
  const fixed = FIXED_OFFSET.exec(tz);
  if (fixed) {
    const offset = (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000;
    return fixed[1] === '-' ? ms - offset : ms + offset;
  }
  return ms + zoneOffset(ms, tz);
}

function dayOfYear(c: Civil): number {
  return Math.round((Date.UTC(c.year, c.month, c.day) - Date.UTC(c.year, 0, 1)) / 86_400_000);
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** a mod b in [0, b), also for negative a (times before 1970). */
const mod = (a: number, b: number): number => ((a % b) + b) % b;

// Of a local time in ms. Time of day and weekday are plain arithmetic (the epoch was a
// Thursday); the calendar fields go through a Date.
const ACCESSORS: Record<string, (local: number) => number> = {
  getFullYear: (l) => civilUtc(l).year,
  getMonth: (l) => civilUtc(l).month,
  getDate: (l) => civilUtc(l).day,
  getDayOfMonth: (l) => civilUtc(l).day - 1,
  getDayOfWeek: (l) => mod(Math.floor(l / DAY_MS) + 4, 7),
  getDayOfYear: (l) => dayOfYear(civilUtc(l)),
  getHours: (l) => Math.floor(mod(l, DAY_MS) / HOUR_MS),
  getMinutes: (l) => Math.floor(mod(l, HOUR_MS) / 60_000),
  getSeconds: (l) => Math.floor(mod(l, 60_000) / 1000),
  getMilliseconds: (l) => mod(l, 1000),
};

function msOf(ts: Timestamp): number {
  return timestampMs(ts);
}

// timestamp("2024-03-29T06:30:00Z"): the library's conversion (protobuf JSON parsing), with the
// last string's result kept: a rule naming `timestamp(entry.time)` three times parses it once.
// A Timestamp is never modified by an expression, so sharing it is safe.
let lastTimeText: string | undefined;
let lastTime: Timestamp | undefined;
function stringToTimestamp(x: string): Timestamp {
  if (x === lastTimeText && lastTime !== undefined) return lastTime;
  let t: Timestamp;
  try {
    t = fromJson(TimestampSchema, x);
  } catch (e) {
    throw new Error(`Failed to parse timestamp: ${String(e)}`);
  }
  lastTimeText = x;
  lastTime = t;
  return t;
}

/** Timestamp accessor methods, with and without a time zone argument, overriding the library's. */
export const timeFuncs: CelFunc[] = [
  celFunc('timestamp', [CelScalar.STRING], TIMESTAMP, stringToTimestamp),
  ...Object.entries(ACCESSORS).flatMap(([name, get]) => [
    celMethod(name, TIMESTAMP, [], CelScalar.INT, function () {
      return BigInt(get(msOf((this as unknown as { message: Timestamp }).message)));
    }),
    celMethod(name, TIMESTAMP, [CelScalar.STRING], CelScalar.INT, function (tz: string) {
      return BigInt(get(localMs(msOf((this as unknown as { message: Timestamp }).message), tz)));
    }),
  ]),
];
