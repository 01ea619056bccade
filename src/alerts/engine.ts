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
import { prepareEntry, type Filter, type PreparedEntry } from '../filter/index.js';
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
  /** Slots of the rule's condition and (temporal) `then` in the per-entry results. */
  condSlot: number;
  thenSlot: number;
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

/** The bytes an alert id hashes before the leaf hashes: domain ‖ 0 ‖ rule id ‖ 0 ‖ u32 version. */
function alertIdPrefix(ruleId: string, version: number): Uint8Array {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, version);
  return concatBytes(utf8(ALERT_ID_DOMAIN), Uint8Array.of(0), utf8(ruleId), Uint8Array.of(0), v);
}

/** The alert id: SHA-256(domain ‖ 0 ‖ rule id ‖ 0 ‖ u32 version ‖ leaf hashes in log order), hex. */
export function alertId(ruleId: string, version: number, leafHashes: readonly Uint8Array[]): string {
  return toHex(sha256(concatBytes(alertIdPrefix(ruleId, version), ...leafHashes)));
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

/** Approximate bytes a group holds (its key, entries and distinct values). */
function groupBytes(key: string, g: Group): number {
  let n = 64 + 2 * key.length;
  for (const e of g.events) n += evBytes(e);
  if (g.distinct) for (const e of g.distinct.values()) n += evBytes(e);
  return n;
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
  private readonly single: { rule: Rule; slot: number }[] = [];
  private readonly correlated: RuleState[] = [];
  private nextIndex = -1;
  readonly stats: EngineStats = { entries: 0, alerts: 0, skipped: 0, groupsEvictedForLimits: 0, conditionErrors: 0 };

  /** Per rule: the constant first bytes of its alert ids. */
  private readonly idPrefixes = new Map<Rule, Uint8Array>();

  constructor(rules: readonly Rule[], private readonly limits: EngineLimits = DEFAULT_ENGINE_LIMITS) {
    // One result slot per distinct filter: rules sharing a condition (compiled filters are
    // cached by source, so the same object) evaluate it once per entry.
    const slots = new Map<Filter, number>();
    const slot = (f: Filter): number => {
      let i = slots.get(f);
      if (i === undefined) {
        i = slots.size;
        slots.set(f, i);
        this.filters.push(f);
      }
      return i;
    };
    for (const r of rules) {
      this.idPrefixes.set(r, alertIdPrefix(r.id, r.version));
      if (r.correlation === undefined) this.single.push({ rule: r, slot: slot(r.condition) });
      else {
        const c = r.correlation;
        this.correlated.push({ rule: r, corr: c, groups: new Map(), bytes: 0, condSlot: slot(r.condition), thenSlot: c.type === 'temporal' ? slot(c.then) : -1 });
      }
    }
    this.resultAt = new Array<number>(this.filters.length).fill(-1);
    this.matched = new Array<boolean>(this.filters.length).fill(false);
    this.erred = new Array<boolean>(this.filters.length).fill(false);
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
    // Converted once for all the rules.
    this.current = prepareEntry(entry);
    this.entrySeq++;
    for (const { rule, slot } of this.single) {
      if (this.match(slot)) out.push(this.alert(rule, entry, [], [], [fe]));
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

  /** The distinct filters of the rules, by slot. */
  private readonly filters: Filter[] = [];
  /** The entry being evaluated, prepared for the filters. */
  private current: PreparedEntry | null = null;
  private entrySeq = 0;
  /** Per slot: the entry (entrySeq) its result below is for, the result, and whether it erred. */
  private readonly resultAt: number[];
  private readonly matched: boolean[];
  private readonly erred: boolean[];

  private match(slot: number): boolean {
    if (this.resultAt[slot] !== this.entrySeq) {
      const r = this.filters[slot]!.explainPrepared(this.current!);
      this.resultAt[slot] = this.entrySeq;
      this.matched[slot] = r.match;
      this.erred[slot] = r.error !== undefined;
    }
    // Counted for each rule that uses the condition, as when each evaluated it itself.
    if (this.erred[slot]) this.stats.conditionErrors++;
    return this.matched[slot]!;
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
      id: this.alertId(rule, evs),
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

  /** alertId() with the rule's prefix made once, in one buffer. */
  private alertId(rule: Rule, evs: readonly { leafHash: Uint8Array }[]): string {
    const prefix = this.idPrefixes.get(rule)!;
    const buf = new Uint8Array(prefix.length + 32 * evs.length);
    buf.set(prefix, 0);
    let at = prefix.length;
    for (const e of evs) {
      if (e.leafHash.length !== 32) return alertId(rule.id, rule.version, evs.map((x) => x.leafHash));
      buf.set(e.leafHash, at);
      at += 32;
    }
    return toHex(sha256(buf));
  }

  private correlate(s: RuleState, fe: FinalEntry, t: number): Alert | undefined {
    const { rule, corr } = s;
    const entry = fe.entry;
    const isA = this.match(s.condSlot);
    const isB = corr.type === 'temporal' && this.match(s.thenSlot);
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
      if (group.events.some((e) => e.t <= cutoff)) group.events = group.events.filter((e) => e.t > cutoff);
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
    group.bytes = groupBytes(key, group);
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
        g.bytes = groupBytes(key, g);
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
