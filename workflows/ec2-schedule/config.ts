/**
 * The Ec2Schedule section of opsflow's config (`ec2Schedule`): its named schedules and its settings, validated at
 * synth so a bad schedule fails `cdk synth` naming the field, e.g.
 * `ec2Schedule.schedules.office-hours.timezone: unknown time zone 'Europe/Berln'`.
 *
 * A schedule is a set of periods (days of week, start and/or stop wall time), an IANA time zone, optional skip
 * dates and optional ordering groups. Each period boundary becomes one EventBridge Scheduler schedule
 * (`scheduleTriggers`) with `ScheduleExpressionTimezone`, so EventBridge does the DST arithmetic and nothing
 * polls. Instances opt in with the tag `Schedule=<name>` and join a group with `opsflow:group=<group>`.
 */
import { DAY_NAMES, type PeriodConfig, type SchedulesConfig } from '../../tasks/ec2-schedule/core/schedules';
import { KINDS, type Kind } from '../../tasks/ec2-schedule/core/types';
import { SCHEDULE_TAG } from '../../tasks/ec2-schedule/core/tags';
import { parseChatDestination, type ChatDestination } from '../../tasks/shared/chat-target';
import { INSTANCE_ID } from '../../tasks/shared/instance-id';
import { asObject, emails, int, stringList, unknownKeys } from '../shared/config';
import { parseTargetsOverride } from '../shared/targets';

export interface ControlConfig {
  /**
   * Which instances links and chat commands may control: `Key` (tag present) or `Key=Value`. An instance is
   * allowed when it matches any entry here or is listed in `allowInstanceIds`. @default ['Schedule']
   */
  readonly allowTags: string[];
  /** @default [] */
  readonly allowInstanceIds: string[];
}

export interface Ec2ScheduleConfig {
  /** Named schedules; instances opt in with the tag `Schedule=<name>`. @default {} */
  readonly schedules: SchedulesConfig;
  /**
   * The kinds of resource the schedules move (`ec2`, `rds-instance`, `rds-cluster`, `asg`, `ecs-service`); the
   * workflow's roles get the permissions of these kinds only. @default ['ec2']
   */
  readonly kinds: Kind[];
  /** Instances per Start/StopInstances call. @default 50 */
  readonly batchSize: number;
  /** How long verification waits for instances to reach the target state. @default 900 */
  readonly verifyTimeoutSeconds: number;
  /** KMS keys of encrypted EBS volumes the workflow may create grants on (needed to start such instances). @default [] */
  readonly kmsKeyArns: string[];
  /** Email addresses subscribed to the schedule report topic. @default [] */
  readonly reportEmails: string[];
  /** A chat channel that also gets every run's report (tasks/shared/chat-target.ts): `{ slack?, mattermost?, teams?, mattermostUrl? }`. @default none */
  readonly reportChat?: ChatDestination;
  readonly control: ControlConfig;
}

export const DEFAULT_EC2_SCHEDULE: Ec2ScheduleConfig = {
  schedules: {},
  kinds: ['ec2'],
  batchSize: 50,
  verifyTimeoutSeconds: 900,
  kmsKeyArns: [],
  reportEmails: [],
  control: { allowTags: [SCHEDULE_TAG], allowInstanceIds: [] },
};

const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const TAG_KEY = /^[^=]{1,128}$/;

/** Parses `ec2Schedule.schedules`; pushes one problem per bad field. */
export function parseSchedules(raw: unknown, problems: string[]): SchedulesConfig {
  if (raw === undefined) return DEFAULT_EC2_SCHEDULE.schedules;
  const all = asObject(raw, 'ec2Schedule.schedules', problems);
  const out: SchedulesConfig = {};
  for (const [name, value] of Object.entries(all)) {
    const field = `ec2Schedule.schedules.${name}`;
    if (!NAME.test(name)) problems.push(`${field}: a schedule name must be 1-40 lower-case letters, digits or '-', starting with a letter or digit`);
    const s = asObject(value, field, problems);
    unknownKeys(s, ['description', 'timezone', 'periods', 'skipDates', 'groups', 'hibernate', 'targets'], field, problems);
    if (s.hibernate !== undefined && typeof s.hibernate !== 'boolean') problems.push(`${field}.hibernate: must be true or false`);
    const timezone = typeof s.timezone === 'string' ? s.timezone : '';
    if (!timezone) problems.push(`${field}.timezone: required, an IANA time zone such as Europe/Berlin`);
    else if (!isTimeZone(timezone)) problems.push(`${field}.timezone: unknown time zone '${timezone}' (expected an IANA name such as Europe/Berlin)`);
    const groups = stringList(s.groups ?? [], `${field}.groups`, problems);
    groups.forEach((g, i) => {
      if (!NAME.test(g)) problems.push(`${field}.groups[${i}]: '${g}' must be lower-case letters, digits or '-'`);
      if (groups.indexOf(g) !== i) problems.push(`${field}.groups[${i}]: '${g}' is listed twice`);
    });
    const skipDates = stringList(s.skipDates ?? [], `${field}.skipDates`, problems);
    skipDates.forEach((d, i) => {
      if (!isDate(d)) problems.push(`${field}.skipDates[${i}]: '${d}' is not a YYYY-MM-DD date`);
    });
    let periods: PeriodConfig[] = [];
    if (!Array.isArray(s.periods) || s.periods.length === 0) problems.push(`${field}.periods: required, a non-empty list of periods`);
    else periods = s.periods.map((p, i) => parsePeriod(p, `${field}.periods[${i}]`, groups, problems));
    const description = s.description === undefined ? undefined : String(s.description);
    const targets = s.targets === undefined ? undefined : parseTargetsOverride(s.targets, `${field}.targets`, problems);
    out[name] = {
      ...(description !== undefined && { description }),
      timezone,
      periods,
      skipDates,
      groups,
      ...(s.hibernate === true && { hibernate: true }),
      ...(targets && { targets }),
    };
  }
  return out;
}

function parsePeriod(raw: unknown, field: string, groups: string[], problems: string[]): PeriodConfig {
  const p = asObject(raw, field, problems);
  unknownKeys(p, ['days', 'start', 'stop', 'groups'], field, problems);
  const days = parseDays(p.days, `${field}.days`, problems);
  const time = (key: 'start' | 'stop') => {
    const v = p[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !TIME.test(v)) problems.push(`${field}.${key}: must be a 24-hour HH:MM time, got ${JSON.stringify(v)}`);
    return typeof v === 'string' ? v : undefined;
  };
  const start = time('start');
  const stop = time('stop');
  if (p.start === undefined && p.stop === undefined) problems.push(`${field}: needs a start, a stop or both`);
  if (start !== undefined && start === stop) problems.push(`${field}.stop: must differ from start (${start})`);
  let periodGroups: string[] | undefined;
  if (p.groups !== undefined) {
    periodGroups = stringList(p.groups, `${field}.groups`, problems);
    periodGroups.forEach((g, i) => {
      if (!groups.includes(g)) problems.push(`${field}.groups[${i}]: group '${g}' is not defined in the schedule's groups (${groups.join(', ') || 'none'})`);
    });
    if (periodGroups.length === 0) problems.push(`${field}.groups: must name at least one group when present`);
  }
  return { days, ...(start !== undefined && { start }), ...(stop !== undefined && { stop }), ...(periodGroups && { groups: periodGroups }) };
}

/** `"MON-FRI"`, `"SAT,SUN"`, `["MON","WED"]`, `"*"` (every day); ranges may wrap (`FRI-MON`). */
export function parseDays(raw: unknown, field: string, problems: string[]): number[] {
  const tokens = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : undefined;
  if (!tokens || tokens.length === 0) {
    problems.push(`${field}: required, day names such as "MON-FRI" or ["SAT","SUN"]`);
    return [];
  }
  const days = new Set<number>();
  tokens.forEach((token, i) => {
    const t = typeof token === 'string' ? token.trim().toUpperCase() : '';
    if (t === '*') return DAY_NAMES.forEach((_, d) => days.add(d));
    const [from, to, extra] = t.split('-');
    const a = DAY_NAMES.indexOf(from as never);
    const b = to === undefined ? a : DAY_NAMES.indexOf(to as never);
    if (a < 0 || b < 0 || extra !== undefined) {
      problems.push(
        `${field}${Array.isArray(raw) ? `[${i}]` : ''}: bad day ${JSON.stringify(token)} (use ${DAY_NAMES.join(', ')}, a range such as MON-FRI, or *)`,
      );
      return;
    }
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  });
  return [...days].sort((x, y) => x - y);
}

/** Parses `ec2Schedule`, checking control settings against known tag and id formats. */
export function parseEc2Schedule(raw: unknown, problems: string[]): Ec2ScheduleConfig {
  const d = DEFAULT_EC2_SCHEDULE;
  const e = asObject(raw ?? {}, 'ec2Schedule', problems);
  if (e.maxConcurrency !== undefined) {
    // A group is paced to EC2's token buckets, which no concurrency setting speeds up: a config that still sets the
    // key is told to drop it rather than left believing it applies.
    problems.push('ec2Schedule.maxConcurrency: no longer used (a group is paced to EC2\'s request rates, see the README\'s "How it scales"); remove it');
  }
  unknownKeys(e, [...Object.keys(d), 'reportChat', 'maxConcurrency'], 'ec2Schedule', problems);
  const c = asObject(e.control ?? {}, 'ec2Schedule.control', problems);
  unknownKeys(c, Object.keys(d.control), 'ec2Schedule.control', problems);
  const batchSize = int(e.batchSize ?? d.batchSize, 'ec2Schedule.batchSize', 1, 1000, problems);
  const verifyTimeoutSeconds = int(e.verifyTimeoutSeconds ?? d.verifyTimeoutSeconds, 'ec2Schedule.verifyTimeoutSeconds', 60, 3600, problems);
  const kmsKeyArns = stringList(e.kmsKeyArns ?? d.kmsKeyArns, 'ec2Schedule.kmsKeyArns', problems);
  kmsKeyArns.forEach((k, i) => {
    if (!KMS_KEY_ARN.test(k)) problems.push(`ec2Schedule.kmsKeyArns[${i}]: '${k}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`);
  });
  const reportEmails = emails(e.reportEmails ?? d.reportEmails, 'ec2Schedule.reportEmails', problems);
  const reportChat = e.reportChat === undefined ? undefined : parseChatDestination(e.reportChat, 'ec2Schedule.reportChat', problems);
  const allowTags = stringList(c.allowTags ?? d.control.allowTags, 'ec2Schedule.control.allowTags', problems);
  allowTags.forEach((t, i) => {
    if (!TAG_KEY.test(t.split('=')[0])) problems.push(`ec2Schedule.control.allowTags[${i}]: '${t}' must be Key or Key=Value`);
  });
  const allowInstanceIds = stringList(c.allowInstanceIds ?? d.control.allowInstanceIds, 'ec2Schedule.control.allowInstanceIds', problems);
  allowInstanceIds.forEach((id, i) => {
    if (!INSTANCE_ID.test(id)) problems.push(`ec2Schedule.control.allowInstanceIds[${i}]: '${id}' is not an instance id`);
  });
  const schedules = parseSchedules(e.schedules, problems);
  const kinds = stringList(e.kinds ?? d.kinds, 'ec2Schedule.kinds', problems) as Kind[];
  kinds.forEach((k, i) => {
    if (!(KINDS as readonly string[]).includes(k)) problems.push(`ec2Schedule.kinds[${i}]: '${k}' is not a kind (${KINDS.join(', ')})`);
    if (kinds.indexOf(k) !== i) problems.push(`ec2Schedule.kinds[${i}]: '${k}' is listed twice`);
  });
  if (kinds.length === 0) problems.push('ec2Schedule.kinds: name at least one kind');
  return {
    schedules,
    kinds,
    batchSize,
    verifyTimeoutSeconds,
    kmsKeyArns,
    reportEmails,
    ...(reportChat && { reportChat }),
    control: { allowTags, allowInstanceIds },
  };
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}
