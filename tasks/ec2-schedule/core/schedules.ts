/**
 * Named EC2 schedules as the Ec2Schedule construct takes them, and the EventBridge Scheduler schedules they
 * become: each period boundary is one schedule with `ScheduleExpressionTimezone`, so EventBridge does the DST
 * arithmetic and nothing polls. The app's config (workflows/ec2-schedule/config.ts) parses into these types; the
 * construct depends on them, never on the config module.
 */

/** Days of week in cron order: cron's 1..7 is SUN..SAT; these indexes are 0..6. */
export const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

export interface PeriodConfig {
  /** Days of week the period starts on, 0 = Sunday .. 6 = Saturday, ascending. */
  readonly days: number[];
  /** `HH:MM` wall time in the schedule's zone; absent for a stop-only period. */
  readonly start?: string;
  /** `HH:MM`; absent for a start-only period. Earlier than `start` means the next day (overnight). */
  readonly stop?: string;
  /** Only these groups of the schedule move at this period's boundaries. @default every instance */
  readonly groups?: string[];
}

export interface ScheduleConfig {
  readonly description?: string;
  /** IANA time zone the periods are written in. */
  readonly timezone: string;
  readonly periods: PeriodConfig[];
  /** `YYYY-MM-DD` dates (in `timezone`) on which scheduled starts do nothing. @default [] */
  readonly skipDates: string[];
  /** Ordering groups: started in this order, stopped in reverse; instances in no group go last on start. @default [] */
  readonly groups: string[];
  /** Stops hibernate the EC2 instances launched with hibernation configured (the others stop normally). @default false */
  readonly hibernate?: boolean;
  /** The accounts and regions this schedule acts in, over the top-level `targets` (workflows/shared/targets.ts). @default the top level's */
  readonly targets?: { readonly accounts?: string[]; readonly regions?: string[] };
}

export type SchedulesConfig = Record<string, ScheduleConfig>;

/** One EventBridge Scheduler schedule: a period boundary of a named schedule. */
export interface ScheduleTrigger {
  /** e.g. `opsflow-office-hours-start-0` (prefix, schedule, action, period index). */
  readonly scheduleName: string;
  readonly schedule: string;
  readonly action: 'start' | 'stop';
  /** `cron(m h ? * DOW *)` */
  readonly expression: string;
  readonly timezone: string;
  readonly groups?: string[];
}

/**
 * The schedules EventBridge Scheduler runs for one named schedule. An overnight period (stop earlier than
 * start) stops on the day after each start day.
 */
export function scheduleTriggers(prefix: string, name: string, s: ScheduleConfig): ScheduleTrigger[] {
  const out: ScheduleTrigger[] = [];
  s.periods.forEach((p, i) => {
    const base = { schedule: name, timezone: s.timezone, ...(p.groups && { groups: p.groups }) };
    if (p.start) out.push({ ...base, scheduleName: `${prefix}-${name}-start-${i}`, action: 'start', expression: cron(p.start, p.days) });
    if (p.stop) {
      const overnight = p.start !== undefined && p.stop < p.start;
      const days = overnight ? p.days.map((d) => (d + 1) % 7) : p.days;
      out.push({ ...base, scheduleName: `${prefix}-${name}-stop-${i}`, action: 'stop', expression: cron(p.stop, days) });
    }
  });
  return out;
}

function cron(time: string, days: number[]): string {
  const [h, m] = time.split(':').map(Number);
  return `cron(${m} ${h} ? * ${dayList(days)} *)`;
}

/** Cron day-of-week field with consecutive days folded into ranges: [1,2,3,4,5] → `MON-FRI`. */
export function dayList(days: number[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  if (sorted.length === 7) return '*';
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(
      j - i >= 2
        ? `${DAY_NAMES[sorted[i]]}-${DAY_NAMES[sorted[j]]}`
        : sorted
            .slice(i, j + 1)
            .map((d) => DAY_NAMES[d])
            .join(','),
    );
    i = j + 1;
  }
  return parts.join(',');
}
