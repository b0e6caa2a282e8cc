import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../infra/config';
import { parseSchedules } from '../../../workflows/ec2-schedule/config';
import { scheduleTriggers, type ScheduleConfig } from '../../../tasks/ec2-schedule/core/schedules';
import { nextFire } from '../../../local/services/scheduler';

const parse = (schedules: unknown) => {
  const problems: string[] = [];
  const out = parseSchedules(schedules, problems);
  return { out, problems };
};
const officeHours = { timezone: 'Europe/Berlin', periods: [{ days: 'MON-FRI', start: '07:00', stop: '19:00' }], groups: ['db', 'app'] };

describe('schedule → EventBridge Scheduler translation', () => {
  it('turns each period boundary into a cron in the schedule time zone', () => {
    const { out } = parse({ 'office-hours': officeHours });

    expect(scheduleTriggers('opsflow', 'office-hours', out['office-hours'])).toEqual([
      {
        scheduleName: 'opsflow-office-hours-start-0',
        schedule: 'office-hours',
        action: 'start',
        expression: 'cron(0 7 ? * MON-FRI *)',
        timezone: 'Europe/Berlin',
      },
      {
        scheduleName: 'opsflow-office-hours-stop-0',
        schedule: 'office-hours',
        action: 'stop',
        expression: 'cron(0 19 ? * MON-FRI *)',
        timezone: 'Europe/Berlin',
      },
    ]);
  });

  it('stops an overnight period on the following days, and allows start-only and stop-only periods', () => {
    const { out } = parse({
      night: {
        timezone: 'UTC',
        periods: [
          { days: ['FRI', 'SAT'], start: '22:30', stop: '04:15' },
          { days: '*', start: '12:00' },
          { days: 'SUN', stop: '23:59' },
        ],
      },
    });

    expect(scheduleTriggers('opsflow', 'night', out.night).map((t) => [t.scheduleName, t.expression])).toEqual([
      ['opsflow-night-start-0', 'cron(30 22 ? * FRI,SAT *)'],
      ['opsflow-night-stop-0', 'cron(15 4 ? * SUN,SAT *)'],
      ['opsflow-night-start-1', 'cron(0 12 ? * * *)'],
      ['opsflow-night-stop-2', 'cron(59 23 ? * SUN *)'],
    ]);
  });

  it('passes a period restricted to some groups on to the workflow input', () => {
    const { out } = parse({ oh: { ...officeHours, periods: [{ days: 'MON-FRI', stop: '20:00', groups: ['db'] }] } });

    expect(scheduleTriggers('opsflow', 'oh', out.oh)[0]).toMatchObject({ action: 'stop', groups: ['db'] });
  });

  it.each([
    // Summer time starts on Sunday 30 March 2025 (02:00 → 03:00) and ends on Sunday 26 October 2025 (03:00 → 02:00).
    ['the spring change day', '2025-03-30T00:00:00Z', '2025-03-30T05:00:00.000Z'],
    ['the day before it (still winter time)', '2025-03-29T00:00:00Z', '2025-03-29T06:00:00.000Z'],
    ['the autumn change day', '2025-10-26T00:00:00Z', '2025-10-26T06:00:00.000Z'],
    ['the day before it (still summer time)', '2025-10-25T00:00:00Z', '2025-10-25T05:00:00.000Z'],
  ])('fires a 07:00 Europe/Berlin start at 07:00 local time on %s', (_day, after, expected) => {
    const { out } = parse({ daily: { timezone: 'Europe/Berlin', periods: [{ days: '*', start: '07:00' }] } });
    const [start] = scheduleTriggers('opsflow', 'daily', out.daily as ScheduleConfig);

    const fire = nextFire(start.expression, start.timezone, new Date(after));

    expect(fire?.toISOString()).toBe(expected);
  });
});

describe('schedule validation', () => {
  it.each([
    ['the time zone is unknown', { s: { ...officeHours, timezone: 'Europe/Berln' } }, "ec2Schedule.schedules.s.timezone: unknown time zone 'Europe/Berln'"],
    [
      'stop equals start',
      { s: { ...officeHours, periods: [{ days: 'MON', start: '07:00', stop: '07:00' }] } },
      'ec2Schedule.schedules.s.periods[0].stop: must differ from start (07:00)',
    ],
    [
      'a day name is wrong',
      { s: { ...officeHours, periods: [{ days: ['MON', 'FUN'], start: '07:00' }] } },
      'ec2Schedule.schedules.s.periods[0].days[1]: bad day "FUN"',
    ],
    [
      'a day range is wrong',
      { s: { ...officeHours, periods: [{ days: 'MON-FRIDAY', start: '07:00' }] } },
      'ec2Schedule.schedules.s.periods[0].days: bad day "MON-FRIDAY"',
    ],
    [
      'a group is referenced but not defined',
      { s: { ...officeHours, periods: [{ days: 'MON', stop: '20:00', groups: ['web'] }] } },
      "ec2Schedule.schedules.s.periods[0].groups[0]: group 'web' is not defined in the schedule's groups (db, app)",
    ],
    [
      'a time is not HH:MM',
      { s: { ...officeHours, periods: [{ days: 'MON', start: '7am' }] } },
      'ec2Schedule.schedules.s.periods[0].start: must be a 24-hour HH:MM time',
    ],
    [
      'a period has neither start nor stop',
      { s: { ...officeHours, periods: [{ days: 'MON' }] } },
      'ec2Schedule.schedules.s.periods[0]: needs a start, a stop or both',
    ],
    [
      'a skip date is not a date',
      { s: { ...officeHours, skipDates: ['2025-02-30'] } },
      "ec2Schedule.schedules.s.skipDates[0]: '2025-02-30' is not a YYYY-MM-DD date",
    ],
    ['the name cannot be a schedule name', { 'Office Hours': officeHours }, 'ec2Schedule.schedules.Office Hours: a schedule name must be'],
    ['there are no periods', { s: { ...officeHours, periods: [] } }, 'ec2Schedule.schedules.s.periods: required'],
  ])('fails when %s, naming the field', (_case, schedules, message) => {
    expect(() => parseConfig({ ec2Schedule: { schedules } })).toThrow(message);
  });

  it('fails on a bad ec2Schedule setting, naming the field', () => {
    expect(() => parseConfig({ ec2Schedule: { batchSize: 0, control: { allowInstanceIds: ['web-01'] } } })).toThrow(
      /ec2Schedule\.batchSize must be a whole number from 1 to 1000.*ec2Schedule\.control\.allowInstanceIds\[0\]: 'web-01' is not an instance id/,
    );
  });

  it("defaults to no schedules and to the README's ec2Schedule settings", () => {
    expect(parseConfig({}).ec2Schedule).toEqual({
      schedules: {},
      kinds: ['ec2'],
      batchSize: 50,
      verifyTimeoutSeconds: 900,
      kmsKeyArns: [],
      reportEmails: [],
      control: { allowTags: ['Schedule'], allowInstanceIds: [] },
    });
  });

  it('fails synth naming a kind it does not know, or one listed twice', () => {
    expect(() => parseConfig({ ec2Schedule: { kinds: ['ec2', 'rds', 'ec2'] } })).toThrow(
      /ec2Schedule\.kinds\[1\]: 'rds' is not a kind \(rds-cluster, rds-instance, ec2, asg, ecs-service\)[\s\S]*ec2Schedule\.kinds\[2\]: 'ec2' is listed twice/,
    );
  });

  it('points a top-level schedules section (the old place) to ec2Schedule.schedules', () => {
    expect(() => parseConfig({ schedules: {} })).toThrow('schedules is a setting of the Ec2Schedule workflow: move it into ec2Schedule.schedules');
  });

  it('says that maxConcurrency is no longer used, rather than ignoring it', () => {
    expect(() => parseConfig({ ec2Schedule: { maxConcurrency: 4 } })).toThrow(/ec2Schedule\.maxConcurrency: no longer used .*remove it/);
  });

  it('accepts the shipped config (opsflow.config.json) with its two schedules', () => {
    const shipped = loadConfig('opsflow.config.json');
    expect(Object.keys(shipped.ec2Schedule.schedules).sort()).toEqual(['batch-window', 'office-hours']);
    expect(shipped.ec2Schedule.schedules['office-hours']).toMatchObject({ timezone: 'Europe/Berlin', groups: ['db', 'app'] });
    expect(shipped.ec2Schedule.reportEmails).toEqual(['ops-reports@example.com']);
  });
});
