/**
 * EventBridge Scheduler on the virtual clock: `cron(...)`, `rate(...)` and `at(...)` expressions evaluated in
 * the schedule's IANA time zone, with no time zone package — `Intl.DateTimeFormat` maps UTC instants to
 * wall time, and wall time back to instants by checking the zone offsets around it.
 *
 * Daylight saving time (what AWS documents as "adjusts automatically", made precise here):
 * - spring forward: a wall time inside the gap does not exist; it fires at the first valid instant after the
 *   gap, i.e. the moment the clocks jump (02:30 in New York fires at 03:00 EDT). Several times in the same
 *   gap therefore collapse into one firing.
 * - fall back: an ambiguous wall time fires once, at its first occurrence (01:30 EDT, not again at 01:30 EST).
 */
import { randomUUID } from 'node:crypto';
import { ACCOUNT, REGION, type Clock, type StateDir, type Store, type Target, type TargetInvoker } from '../kernel';

const MINUTE = 60_000;
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

function isTimeZone(timezone: string): boolean {
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock time of an instant in a zone, as if it were a UTC timestamp (seconds precision). */
function wallMs(instant: number, timezone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(instant)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second);
}

function offsetAt(instant: number, timezone: string): number {
  return wallMs(instant, timezone) - Math.floor(instant / 1000) * 1000;
}

/** The instant a wall time denotes: first occurrence when ambiguous, the end of the gap when it does not exist. */
function wallToInstant(wall: number, timezone: string): number {
  const before = offsetAt(wall - DAY, timezone);
  const after = offsetAt(wall + DAY, timezone);
  const hits = [before, offsetAt(wall, timezone), after]
    .map((offset) => wall - offset)
    .filter((t) => wallMs(t, timezone) === wall)
    .sort((a, b) => a - b);
  if (hits.length) return hits[0];
  // In a gap: the transition lies in (wall - after, wall - before]; find it to the second.
  let lo = wall - after;
  let hi = wall - before;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, timezone) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------------------
// Expressions

interface Cron {
  minutes: number[];
  hours: number[];
  months: Set<number>;
  years: Set<number>;
  day: (y: number, m: number, d: number, dow: number) => boolean;
}

type Parsed = { kind: 'cron'; cron: Cron } | { kind: 'rate'; periodMs: number } | { kind: 'at'; wall: number };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseExpression(expression: string): Parsed {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) throw new Error(`${expression}: the rate value must be at least 1`);
    const unit = rate[2];
    if ((n === 1) !== !unit.endsWith('s')) throw new Error(`${expression}: use '${unit.replace(/s$/, '')}' for 1 and '${unit.replace(/s?$/, 's')}' otherwise`);
    const unitMs = unit.startsWith('minute') ? MINUTE : unit.startsWith('hour') ? 60 * MINUTE : DAY;
    return { kind: 'rate', periodMs: n * unitMs };
  }
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map(Number);
    const wall = Date.UTC(y, mo - 1, d, h, mi, s);
    const check = new Date(wall);
    if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
      throw new Error(`${expression}: not a valid date and time`);
    }
    return { kind: 'at', wall };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return { kind: 'cron', cron: parseCron(cron[1], expression) };
  throw new Error(`${expression}: expected cron(...), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)`);
}

function parseCron(body: string, expression: string): Cron {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`${expression}: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`);
  const [min, hour, dom, month, dow, year] = fields;
  if ((dom === '?') === (dow === '?')) {
    throw new Error(`${expression}: exactly one of day-of-month and day-of-week must be '?'`);
  }
  const field = <T>(name: string, text: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new Error(`${expression}: ${name} '${text}': ${(err as Error).message}`);
    }
  };
  const minutes = [...field('minutes', min, () => parseList(min, 0, 59))].sort((a, b) => a - b);
  const hours = [...field('hours', hour, () => parseList(hour, 0, 23))].sort((a, b) => a - b);
  const months = field('month', month, () => parseList(month, 1, 12, MONTHS));
  const years = field('year', year, () => parseList(year, 1970, 2199));
  const day =
    dom === '?'
      ? field('day-of-week', dow, () => dayOfWeek(dow, () => parseList(dow, 1, 7, DAYS)))
      : field('day-of-month', dom, () => dayOfMonth(dom, () => parseList(dom, 1, 31)));
  return { minutes, hours, months, years, day };
}

function dayOfMonth(text: string, list: () => Set<number>): Cron['day'] {
  const last = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (text === 'L') return (y, m, d) => d === last(y, m);
  const lastMinus = /^L-(\d+)$/.exec(text);
  if (lastMinus) return (y, m, d) => d === last(y, m) - Number(lastMinus[1]);
  if (text === 'LW') return (y, m, d) => d === nearestWeekday(y, m, last(y, m));
  const w = /^(\d+)W$/.exec(text);
  if (w) {
    const target = Number(w[1]);
    if (target < 1 || target > 31) throw new Error('the day must be 1-31');
    return (y, m, d) => target <= last(y, m) && d === nearestWeekday(y, m, target);
  }
  const days = list();
  return (_y, _m, d) => days.has(d);
}

/** The weekday nearest to `day` without leaving the month (AWS/Quartz `W`). */
function nearestWeekday(y: number, m: number, day: number): number {
  const dow = new Date(Date.UTC(y, m - 1, day)).getUTCDay();
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (dow === 6) return day === 1 ? 3 : day - 1;
  if (dow === 0) return day === last ? day - 2 : day + 1;
  return day;
}

function dayOfWeek(text: string, list: () => Set<number>): Cron['day'] {
  const dayNumber = (t: string) => {
    const n = DAYS.indexOf(t.toUpperCase()) >= 0 ? DAYS.indexOf(t.toUpperCase()) + 1 : Number(t);
    if (!Number.isInteger(n) || n < 1 || n > 7) throw new Error(`'${t}' is not 1-7 or SUN-SAT`);
    return n;
  };
  if (text === 'L') return (_y, _m, _d, dow) => dow === 7;
  const lastOf = /^(\w+)L$/.exec(text);
  if (lastOf) {
    const want = dayNumber(lastOf[1]);
    return (y, m, d, dow) => dow === want && d + 7 > new Date(Date.UTC(y, m, 0)).getUTCDate();
  }
  const nth = /^(\w+)#(\d)$/.exec(text);
  if (nth) {
    const want = dayNumber(nth[1]);
    const k = Number(nth[2]);
    if (k < 1 || k > 5) throw new Error('the occurrence after # must be 1-5');
    return (_y, _m, d, dow) => dow === want && Math.ceil(d / 7) === k;
  }
  const days = list();
  return (_y, _m, _d, dow) => days.has(dow);
}

/** `*`, `?`, `a`, `a-b` (wrapping when a > b, e.g. FRI-MON), `a/s`, `a-b/s`, `*\/s`, comma lists, names. */
function parseList(text: string, lo: number, hi: number, names?: string[]): Set<number> {
  const value = (t: string) => {
    const named = names?.indexOf(t.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + 1 : /^\d+$/.test(t) ? Number(t) : NaN;
    if (!(n >= lo && n <= hi)) throw new Error(`'${t}' is outside ${lo}-${hi}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`invalid step '${stepText}'`);
    let from: number;
    let to: number;
    if (range === '*' || range === '?') [from, to] = [lo, hi];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [from, to] = [value(a), value(b)];
      if (from > to) to += hi - lo + 1;
    } else [from, to] = [value(range), stepText === undefined ? value(range) : hi];
    for (let n = from; n <= to; n += step) out.add(n > hi ? n - (hi - lo + 1) : n);
  }
  return out;
}

/** Problems with a schedule expression and time zone; empty when both are valid. */
export function validateExpression(expression: string, timezone = 'UTC'): string[] {
  const problems: string[] = [];
  try {
    parseExpression(expression);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!isTimeZone(timezone)) problems.push(`unknown time zone '${timezone}' (expected an IANA name such as Europe/Paris)`);
  return problems;
}

/**
 * The first firing strictly after `after`. `rate` schedules fire at `anchor + k * period` (k >= 1), so their
 * phase is that of the anchor (the schedule's start); without an anchor the phase starts at `after`.
 * Returns undefined when the expression never fires again. Throws on an invalid expression or zone.
 */
export function nextFire(expression: string, timezone: string, after: Date, anchor?: Date): Date | undefined {
  const problems = validateExpression(expression, timezone);
  if (problems.length) throw new Error(problems.join('; '));
  const parsed = parseExpression(expression);
  const afterMs = after.getTime();
  switch (parsed.kind) {
    case 'rate': {
      const start = anchor?.getTime() ?? afterMs;
      const k = Math.max(1, Math.floor((afterMs - start) / parsed.periodMs) + 1);
      return new Date(start + k * parsed.periodMs);
    }
    case 'at': {
      const t = wallToInstant(parsed.wall, timezone);
      return t > afterMs ? new Date(t) : undefined;
    }
    case 'cron':
      return nextCron(parsed.cron, timezone, afterMs);
  }
}

/** Iterates calendar days in the zone (skipping whole months and years that cannot match), then hours and minutes. */
function nextCron(cron: Cron, timezone: string, after: number): Date | undefined {
  const wallAfter = wallMs(after, timezone);
  const first = new Date(wallAfter);
  let day = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
  const lastYear = Math.max(...cron.years);
  // Offsets change by at most a few hours, so earlier candidates on the first day cannot be after `after`.
  const skipBefore = wallAfter - 3 * 60 * MINUTE;
  while (new Date(day).getUTCFullYear() <= lastYear) {
    const date = new Date(day);
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    if (!cron.years.has(y)) {
      day = Date.UTC(y + 1, 0, 1);
      continue;
    }
    if (!cron.months.has(m)) {
      day = Date.UTC(y, m, 1);
      continue;
    }
    if (cron.day(y, m, d, date.getUTCDay() + 1)) {
      for (const h of cron.hours) {
        for (const mi of cron.minutes) {
          const wall = day + (h * 60 + mi) * MINUTE;
          if (wall < skipBefore) continue;
          const t = wallToInstant(wall, timezone);
          if (t > after) return new Date(t);
        }
      }
    }
    day += DAY;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The scheduler

export interface ScheduleDefinition {
  name: string;
  /** @default 'default' */
  group?: string;
  expression: string;
  /** IANA zone for cron and at expressions. @default 'UTC' */
  timezone?: string;
  target: Target;
  /** @default 'ENABLED' */
  state?: 'ENABLED' | 'DISABLED';
  startDate?: Date | string;
  endDate?: Date | string;
}

export interface ScheduleSummary {
  name: string;
  group: string;
  expression: string;
  /** IANA zone the expression is evaluated in. */
  timezone: string;
  state: 'ENABLED' | 'DISABLED';
  targetArn: string;
  /** Next fire (ISO, UTC), or null when it will not fire again. */
  next: string | null;
  lastFiredAt: string | null;
}

interface Persisted {
  /** Phase anchor of rate schedules: the first time the runtime saw the schedule. */
  firstStartAt: string;
  lastFiredAt?: string;
}

interface Schedule {
  def: ScheduleDefinition & { group: string; timezone: string; state: 'ENABLED' | 'DISABLED' };
  anchor: Date;
  start?: number;
  end?: number;
  /** The latest scheduled instant already handled, so an early timer can never fire the same slot twice. */
  handledUpTo: number;
  cancel?: () => void;
}

/** setTimeout overflows at 2^31 ms; far-away firings are reached through intermediate wake-ups. */
const MAX_REAL_DELAY_MS = 20 * DAY;

export class Scheduler {
  private readonly clock: Clock;
  private readonly invoke: TargetInvoker;
  private readonly schedules = new Map<string, Schedule>();
  /** Per schedule: when it first started and when it last fired. */
  private readonly persisted: Store<Persisted>;
  private running = false;

  constructor(opts: { clock: Clock; state: StateDir; invoke: TargetInvoker }) {
    this.clock = opts.clock;
    this.invoke = opts.invoke;
    this.persisted = opts.state.store<Persisted>('schedules');
  }

  add(def: ScheduleDefinition): void {
    const timezone = def.timezone ?? 'UTC';
    const problems = validateExpression(def.expression, timezone);
    if (problems.length) throw new Error(`schedule ${def.name}: ${problems.join('; ')}`);
    if (this.schedules.has(def.name)) throw new Error(`schedule ${def.name} is defined twice`);
    let record = this.persisted.get(def.name);
    if (!record) this.persisted.put(def.name, (record = { firstStartAt: this.clock.now().toISOString() }));
    const start = def.startDate === undefined ? undefined : new Date(def.startDate).getTime();
    const schedule: Schedule = {
      def: { ...def, group: def.group ?? 'default', timezone, state: def.state ?? 'ENABLED' },
      anchor: new Date(start ?? record.firstStartAt),
      start,
      end: def.endDate === undefined ? undefined : new Date(def.endDate).getTime(),
      handledUpTo: record.lastFiredAt ? Date.parse(record.lastFiredAt) : -Infinity,
    };
    this.schedules.set(def.name, schedule);
    if (this.running) this.arm(schedule);
  }

  /** Arms a timer for every enabled schedule. Firings missed while the runtime was stopped are not replayed. */
  start(): void {
    this.running = true;
    for (const s of this.schedules.values()) this.arm(s);
  }

  stop(): void {
    this.running = false;
    for (const s of this.schedules.values()) {
      s.cancel?.();
      s.cancel = undefined;
    }
  }

  /** Fires a schedule now, outside its timetable. Throws synchronously for an unknown name. */
  fire(name: string): Promise<void> {
    const s = this.schedules.get(name);
    if (!s) {
      const known = [...this.schedules.keys()].sort();
      throw new Error(`unknown schedule '${name}'; known schedules: ${known.length ? known.join(', ') : '(none)'}`);
    }
    return this.deliver(s, this.clock.nowMs());
  }

  list(): ScheduleSummary[] {
    return [...this.schedules.values()].map((s) => {
      const next = s.def.state === 'ENABLED' ? this.nextOf(s, Math.max(this.clock.nowMs(), s.handledUpTo)) : undefined;
      return {
        name: s.def.name,
        group: s.def.group,
        expression: s.def.expression,
        timezone: s.def.timezone,
        state: s.def.state,
        targetArn: s.def.target.arn,
        next: next?.toISOString() ?? null,
        lastFiredAt: this.persisted.get(s.def.name)?.lastFiredAt ?? null,
      };
    });
  }

  private nextOf(s: Schedule, after: number): Date | undefined {
    const from = s.start !== undefined ? Math.max(after, s.start - 1) : after;
    const next = nextFire(s.def.expression, s.def.timezone, new Date(from), s.anchor);
    return next && (s.end === undefined || next.getTime() <= s.end) ? next : undefined;
  }

  private arm(s: Schedule): void {
    s.cancel?.();
    s.cancel = undefined;
    if (!this.running || s.def.state !== 'ENABLED') return;
    const now = this.clock.nowMs();
    const next = this.nextOf(s, Math.max(now, s.handledUpTo));
    if (!next) return;
    const horizon = now + MAX_REAL_DELAY_MS * this.clock.scale;
    if (next.getTime() > horizon) {
      s.cancel = this.clock.at(horizon, () => this.arm(s));
      return;
    }
    s.cancel = this.clock.at(next, () => {
      s.handledUpTo = next.getTime();
      this.arm(s);
      void this.deliver(s, next.getTime());
    });
  }

  private async deliver(s: Schedule, scheduledMs: number): Promise<void> {
    const firedAt = this.clock.now().toISOString();
    this.persisted.put(s.def.name, { ...this.persisted.get(s.def.name)!, lastFiredAt: firedAt });
    const target = {
      ...s.def.target,
      input: this.contextualize(s, s.def.target.input, scheduledMs),
      source: s.def.target.source ?? {
        service: 'scheduler.amazonaws.com',
        arn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${s.def.group ?? 'default'}/${s.def.name}`,
      },
    };
    try {
      await this.invoke(target);
    } catch (err) {
      console.error(`scheduler: schedule ${s.def.name} failed to invoke ${target.arn}: ${(err as Error).message}`);
    }
  }

  /** EventBridge Scheduler context attributes a target input may reference. */
  private contextualize(s: Schedule, input: string, scheduledMs: number): string {
    const values: Record<string, string> = {
      'aws.scheduler.schedule-arn': `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${s.def.group}/${s.def.name}`,
      'aws.scheduler.scheduled-time': new Date(scheduledMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'aws.scheduler.execution-id': randomUUID(),
      'aws.scheduler.attempt-number': '1',
    };
    return input.replace(/<(aws\.scheduler\.[a-z-]+)>/g, (whole, key: string) => values[key] ?? whole);
  }
}
