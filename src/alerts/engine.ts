// The deterministic alert rule engine. Input: final entries in log order. Output: alerts. No clock,
// no I/O, no randomness: every decision uses the entries' own `time` and log order, so replaying
// the same range with the same rules yields the same alerts with the same ids on any machine.
//
// State is per correlation rule and per group (the values of its groupBy fields), bounded in count
// and approximate bytes: a group's entries older than the window (by entry time) are dropped when
// the group is touched, whole groups whose newest entry left the window are dropped from the front
// of a least-recently-matched list, and past the limits the least recently matched group goes.
// After a correlation alert fires, its group is cleared: the next alert needs a fresh set.
import { sha256 } from '../crypto/hash.js';
import { concatBytes, fromHex, toHex, utf8 } from '../encoding/bytes.js';
import type { AuditEntry } from '../entry/types.js';
import { renderTitle, scalarText, valueAt } from './template.js';
import { DEFAULT_ENGINE_LIMITS, type Alert, type Correlation, type EngineLimits, type FinalEntry, type Rule } from './types.js';

/** Domain of alert ids, so an alert id can never equal another kind of hash in Cairn. */
export const ALERT_ID_DOMAIN = 'cairn/alert/v1';
/** A temporal rule keeps at most this many pending "A" entries per group (the most recent). */
export const TEMPORAL_PENDING_MAX = 64;

interface Ev {
  t: number;
  index: number;
  leafHash: Uint8Array;
  value?: string;
}

interface Group {
  values: string[];
  events: Ev[];
  /** value_count: the latest entry per distinct value, in insertion order. */
  distinct?: Map<string, Ev>;
  lastT: number;
  bytes: number;
}

interface RuleState {
  rule: Rule;
  corr: Correlation;
  groups: Map<string, Group>;
  bytes: number;
}

export interface EngineStats {
  entries: number;
  alerts: number;
  /** Entries whose time could not be read or whose groupBy fields were missing (skipped by correlation rules). */
  skipped: number;
  /** Groups dropped because a rule reached its count or byte limit (alerts may have been missed). */
  groupsEvictedForLimits: number;
  /** Condition evaluations that erred (treated as no match). */
  conditionErrors: number;
}

/** The alert id: SHA-256(domain ‖ 0 ‖ rule id ‖ 0 ‖ u32 version ‖ leaf hashes in log order), hex. */
export function alertId(ruleId: string, version: number, leafHashes: readonly Uint8Array[]): string {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, version);
  return toHex(sha256(concatBytes(utf8(ALERT_ID_DOMAIN), Uint8Array.of(0), utf8(ruleId), Uint8Array.of(0), v, ...leafHashes)));
}

function nested(paths: readonly string[], values: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  paths.forEach((p, i) => {
    const parts = p.split('.');
    let cur = out;
    for (let j = 0; j < parts.length - 1; j++) {
      const k = parts[j]!;
      if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]!] = values[i];
  });
  return out;
}

function evBytes(e: Ev): number {
  return 96 + 2 * (e.value?.length ?? 0);
}

/** Serialized engine state (JSON-able): see AlertEngine.snapshot(). */
export interface EngineSnapshot {
  v: 1;
  /** The next index the engine expects (all entries before it were evaluated). */
  nextIndex: number;
  rules: {
    id: string;
    version: number;
    /** [key, values, lastT, events [t, index, leafHash hex, value?][], distinct entries or null] */
    groups: [string, string[], number, SnapEv[], SnapEv[] | null][];
  }[];
}
type SnapEv = [number, number, string] | [number, number, string, string];

function evOut(e: Ev): SnapEv {
  return e.value === undefined ? [e.t, e.index, toHex(e.leafHash)] : [e.t, e.index, toHex(e.leafHash), e.value];
}
function evIn(s: SnapEv): Ev {
  const leafHash = fromHex(s[2]);
  if (leafHash === null) throw new Error('bad leaf hash in engine snapshot');
  return s.length === 4 ? { t: s[0], index: s[1], leafHash, value: s[3] } : { t: s[0], index: s[1], leafHash };
}

export class AlertEngine {
  private readonly single: Rule[] = [];
  private readonly correlated: RuleState[] = [];
  private nextIndex = -1;
  readonly stats: EngineStats = { entries: 0, alerts: 0, skipped: 0, groupsEvictedForLimits: 0, conditionErrors: 0 };

  constructor(rules: readonly Rule[], private readonly limits: EngineLimits = DEFAULT_ENGINE_LIMITS) {
    for (const r of rules) {
      if (r.correlation === undefined) this.single.push(r);
      else this.correlated.push({ rule: r, corr: r.correlation, groups: new Map(), bytes: 0 });
    }
  }

  /**
   * Evaluates one final entry; entries must come in strictly increasing index order (throws
   * otherwise: a gap or a repeat would make the result depend on delivery, not on the log).
   */
  evaluate(fe: FinalEntry): Alert[] {
    if (!Number.isSafeInteger(fe.index) || fe.index < 0 || fe.index <= this.nextIndex - 1) {
      throw new RangeError(`entries must be evaluated in increasing index order (got ${fe.index} after ${this.nextIndex - 1})`);
    }
    this.nextIndex = fe.index + 1;
    this.stats.entries++;
    const out: Alert[] = [];
    const entry = fe.entry;
    for (const r of this.single) {
      if (this.match(r.condition, entry)) out.push(this.alert(r, entry, [], [], [fe]));
    }
    if (this.correlated.length > 0) {
      const t = Date.parse(entry.time);
      if (!Number.isFinite(t)) {
        this.stats.skipped++;
      } else {
        for (const s of this.correlated) {
          const a = this.correlate(s, fe, t);
          if (a !== undefined) out.push(a);
        }
      }
    }
    this.stats.alerts += out.length;
    return out;
  }

  private match(f: Rule['condition'], entry: AuditEntry): boolean {
    const r = f.explain(entry);
    if (r.error !== undefined) this.stats.conditionErrors++;
    return r.match;
  }

  private alert(rule: Rule, entry: AuditEntry, groupBy: readonly string[], values: readonly string[], evs: readonly { index: number; leafHash: Uint8Array }[]): Alert {
    const group: Record<string, string> = {};
    groupBy.forEach((g, i) => (group[g] = values[i]!));
    const title = renderTitle(rule.title, {
      entry,
      group: nested(groupBy, values),
      count: evs.length,
      rule: { id: rule.id, version: rule.version, severity: rule.severity },
    });
    return {
      id: alertId(rule.id, rule.version, evs.map((e) => e.leafHash)),
      ruleId: rule.id,
      ruleVersion: rule.version,
      severity: rule.severity,
      title,
      labels: { ...rule.labels },
      destinations: [...rule.destinations],
      time: entry.time,
      group,
      entries: evs.map((e) => ({ index: e.index, leafHash: toHex(e.leafHash) })),
    };
  }

  private correlate(s: RuleState, fe: FinalEntry, t: number): Alert | undefined {
    const { rule, corr } = s;
    const entry = fe.entry;
    const isA = this.match(rule.condition, entry);
    const isB = corr.type === 'temporal' && this.match(corr.then, entry);
    this.expire(s, t);
    if (!isA && !isB) return undefined;
    const values: string[] = [];
    for (const g of corr.groupBy) {
      const v = scalarText(valueAt(entry, g));
      if (v === undefined) {
        this.stats.skipped++;
        return undefined;
      }
      values.push(v);
    }
    const key = JSON.stringify(values);
    // The window is symmetric around this entry's time: entries dated `window` or more before it
    // are dropped for good; entries dated `window` or more after it (a client with a fast clock)
    // stay but do not count with this one.
    const cutoff = t - corr.windowMs;
    const horizon = t + corr.windowMs;
    let group = s.groups.get(key);
    if (group !== undefined) {
      // Least recently matched order: re-inserting moves the group to the back.
      s.groups.delete(key);
      s.bytes -= group.bytes;
      group.events = group.events.filter((e) => e.t > cutoff);
      if (group.distinct) for (const [v, e] of group.distinct) if (e.t <= cutoff) group.distinct.delete(v);
    } else {
      group = { values, events: [], lastT: t, bytes: 0, ...(corr.type === 'value_count' ? { distinct: new Map() } : {}) };
    }
    group.lastT = t;
    const ev: Ev = { t, index: fe.index, leafHash: fe.leafHash };
    let fired: Ev[] | undefined;
    switch (corr.type) {
      case 'event_count':
        group.events.push(ev);
        // Only the most recent `count` entries can ever complete an alert.
        if (group.events.length > corr.count) group.events.shift();
        if (group.events.length >= corr.count) {
          const inWindow = group.events.filter((e) => e.t < horizon);
          if (inWindow.length >= corr.count) fired = inWindow;
        }
        break;
      case 'value_count': {
        const v = scalarText(valueAt(entry, corr.field));
        if (v === undefined) {
          this.stats.skipped++;
          break;
        }
        ev.value = v;
        group.distinct!.delete(v);
        group.distinct!.set(v, ev);
        if (group.distinct!.size >= corr.count) {
          const inWindow = [...group.distinct!.values()].filter((e) => e.t < horizon);
          if (inWindow.length >= corr.count) fired = inWindow.sort((a, b) => a.index - b.index);
        }
        break;
      }
      case 'temporal': {
        if (isB) {
          // The most recent earlier "A" no older than the window before this "B".
          for (let i = group.events.length - 1; i >= 0; i--) {
            const a = group.events[i]!;
            if (a.t <= t && a.index < fe.index) {
              fired = [a, ev];
              break;
            }
          }
        }
        if (fired === undefined && isA) {
          group.events.push(ev);
          if (group.events.length > TEMPORAL_PENDING_MAX) group.events.shift();
        }
        break;
      }
    }
    if (fired !== undefined) {
      const a = this.alert(rule, entry, corr.groupBy, values, fired);
      // The group starts afresh: the next alert needs a new set of entries.
      return a;
    }
    group.bytes = 64 + 2 * key.length + group.events.reduce((n, e) => n + evBytes(e), 0) + (group.distinct ? [...group.distinct.values()].reduce((n, e) => n + evBytes(e), 0) : 0);
    s.groups.set(key, group);
    s.bytes += group.bytes;
    this.enforceLimits(s);
    return undefined;
  }

  /** Drops groups at the front (least recently matched) whose newest entry left the window. */
  private expire(s: RuleState, t: number): void {
    const cutoff = t - s.corr.windowMs;
    for (const [k, g] of s.groups) {
      if (g.lastT > cutoff) break;
      s.groups.delete(k);
      s.bytes -= g.bytes;
    }
  }

  private enforceLimits(s: RuleState): void {
    while (s.groups.size > this.limits.maxGroupsPerRule || (s.bytes > this.limits.maxBytesPerRule && s.groups.size > 1)) {
      const [k, g] = s.groups.entries().next().value as [string, Group];
      s.groups.delete(k);
      s.bytes -= g.bytes;
      this.stats.groupsEvictedForLimits++;
    }
  }

  /** The index the next evaluated entry must have at least (0 before the first). */
  get expectedIndex(): number {
    return Math.max(0, this.nextIndex);
  }

  /**
   * The engine's state as plain JSON. Restoring it into an engine with the same rules and feeding
   * the entries that follow gives exactly the alerts an uninterrupted engine would have given.
   */
  snapshot(): EngineSnapshot {
    return {
      v: 1,
      nextIndex: this.expectedIndex,
      rules: this.correlated.map((s) => ({
        id: s.rule.id,
        version: s.rule.version,
        groups: [...s.groups].map(([k, g]) => [k, g.values, g.lastT, g.events.map(evOut), g.distinct ? [...g.distinct.values()].map(evOut) : null]),
      })),
    };
  }

  /**
   * Loads a snapshot. State of a rule whose id and version are not among this engine's rules is
   * dropped (the rule changed: its alerts start afresh, under new ids).
   */
  restore(snap: EngineSnapshot): void {
    if (snap.v !== 1) throw new Error(`unsupported engine snapshot version ${String(snap.v)}`);
    this.nextIndex = snap.nextIndex;
    for (const s of this.correlated) {
      s.groups.clear();
      s.bytes = 0;
      const r = snap.rules.find((x) => x.id === s.rule.id && x.version === s.rule.version);
      if (r === undefined) continue;
      for (const [key, values, lastT, events, distinct] of r.groups) {
        const g: Group = { values, lastT, events: events.map(evIn), bytes: 0 };
        if (distinct !== null) g.distinct = new Map(distinct.map((d) => { const e = evIn(d); return [e.value!, e]; }));
        g.bytes = 64 + 2 * key.length + g.events.reduce((n, e) => n + evBytes(e), 0) + (g.distinct ? [...g.distinct.values()].reduce((n, e) => n + evBytes(e), 0) : 0);
        s.groups.set(key, g);
        s.bytes += g.bytes;
      }
      this.enforceLimits(s);
    }
  }

  /** Groups and approximate bytes held per correlation rule (for metrics). */
  stateSize(): { ruleId: string; groups: number; bytes: number }[] {
    return this.correlated.map((s) => ({ ruleId: s.rule.id, groups: s.groups.size, bytes: s.bytes }));
  }
}
