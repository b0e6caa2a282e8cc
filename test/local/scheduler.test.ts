import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Clock, ManualClock, StateDir, type Target } from '../../local/kernel';
import { nextFire, Scheduler, validateExpression } from '../../local/services/scheduler';

const next = (expression: string, timezone: string, after: string, anchor?: string) =>
  nextFire(expression, timezone, new Date(after), anchor ? new Date(anchor) : undefined)?.toISOString();

describe('nextFire', () => {
  it.each([
    [
      'weekday mornings in Paris (summer, UTC+2), Friday to Monday',
      'cron(0 9 ? * MON-FRI *)',
      'Europe/Paris',
      '2024-06-07T08:00:00Z',
      '2024-06-10T07:00:00.000Z',
    ],
    ['numeric day-of-week 2-6 is MON-FRI', 'cron(0 9 ? * 2-6 *)', 'Europe/Paris', '2024-06-07T08:00:00Z', '2024-06-10T07:00:00.000Z'],
    ['half-hour zone', 'cron(*/15 * * * ? *)', 'Asia/Kolkata', '2024-03-01T00:07:00Z', '2024-03-01T00:15:00.000Z'],
    ['lists and month names', 'cron(0 6,18 1 JAN,JUL ? *)', 'UTC', '2024-01-01T07:00:00Z', '2024-01-01T18:00:00.000Z'],
    ['third Friday (6#3)', 'cron(0 12 ? * 6#3 *)', 'UTC', '2024-01-01T00:00:00Z', '2024-01-19T12:00:00.000Z'],
    ['last Friday of the month (6L)', 'cron(0 12 ? * 6L *)', 'UTC', '2024-01-01T00:00:00Z', '2024-01-26T12:00:00.000Z'],
    ['last day of month (L) in a leap year', 'cron(0 0 L * ? *)', 'UTC', '2024-02-01T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['nearest weekday (15W, the 15th is a Saturday)', 'cron(0 0 15W * ? *)', 'UTC', '2024-06-01T00:00:00Z', '2024-06-14T00:00:00.000Z'],
    ['29 February, four years away', 'cron(0 0 29 FEB ? *)', 'UTC', '2024-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['range with step', 'cron(10-30/10 8 * * ? *)', 'UTC', '2024-05-05T08:10:00Z', '2024-05-05T08:20:00.000Z'],
    [
      'spring forward: 02:30 does not exist, fires when clocks jump to 03:00 EDT',
      'cron(30 2 * * ? *)',
      'America/New_York',
      '2024-03-10T05:00:00Z',
      '2024-03-10T07:00:00.000Z',
    ],
    ['spring forward at midnight (Santiago)', 'cron(30 0 * * ? *)', 'America/Santiago', '2024-09-07T12:00:00Z', '2024-09-08T04:00:00.000Z'],
    ['fall back: first occurrence of 01:30 (EDT)', 'cron(30 1 * * ? *)', 'America/New_York', '2024-11-03T04:00:00Z', '2024-11-03T05:30:00.000Z'],
    ['fall back: the second 01:30 (EST) does not fire again', 'cron(30 1 * * ? *)', 'America/New_York', '2024-11-03T05:30:00Z', '2024-11-04T06:30:00.000Z'],
    [
      'every 30 minutes through the fall-back hour skips the repeated hour',
      'cron(0,30 * * * ? *)',
      'America/New_York',
      '2024-11-03T05:30:00Z',
      '2024-11-03T07:00:00.000Z',
    ],
    ['at() in the schedule zone', 'at(2030-01-02T03:04:05)', 'Asia/Tokyo', '2024-01-01T00:00:00Z', '2030-01-01T18:04:05.000Z'],
    ['rate keeps the phase of its anchor', 'rate(5 minutes)', 'UTC', '2024-03-01T00:07:00Z', '2024-03-01T00:10:30.000Z', '2024-03-01T00:00:30Z'],
    ['rate before its anchor fires one period after it', 'rate(1 hour)', 'UTC', '2024-03-01T00:00:00Z', '2024-03-01T11:00:00.000Z', '2024-03-01T10:00:00Z'],
  ])('%s', (_name, expression, tz, after, expected, anchor?: string) => {
    expect(next(expression, tz, after, anchor)).toBe(expected);
  });

  it('returns undefined when nothing fires again', () => {
    expect(next('cron(0 0 1 1 ? 2020)', 'UTC', '2024-01-01T00:00:00Z')).toBeUndefined();
    expect(next('at(2020-01-01T00:00:00)', 'UTC', '2024-01-01T00:00:00Z')).toBeUndefined();
  });

  it('is fast for rare expressions (no minute-by-minute scan)', () => {
    // Fifth Monday of February happens once every several years; the search must still be quick and correct.
    expect(next('cron(0 9 ? FEB 2#5 *)', 'Europe/London', '2024-03-01T00:00:00Z')).toBe('2044-02-29T09:00:00.000Z');
  });

  it('throws on an invalid expression', () => {
    expect(() => nextFire('cron(0 9 * * *)', 'UTC', new Date())).toThrow(/6 fields/);
  });
});

describe('validateExpression', () => {
  it('accepts valid expressions', () => {
    expect(validateExpression('cron(0 8 ? * MON-FRI *)', 'Europe/Berlin')).toEqual([]);
    expect(validateExpression('rate(1 day)')).toEqual([]);
    expect(validateExpression('at(2030-05-01T10:00:00)', 'UTC')).toEqual([]);
  });

  it.each([
    ['cron(0 9 * * MON *)', 'UTC', /exactly one of day-of-month and day-of-week must be '\?'/],
    ['cron(61 * * * ? *)', 'UTC', /minutes '61'/],
    ['cron(0 9 ? * 2#6 *)', 'UTC', /occurrence/],
    ['rate(5 minute)', 'UTC', /use 'minute' for 1 and 'minutes' otherwise/],
    ['rate(0 minutes)', 'UTC', /at least 1/],
    ['at(2030-02-30T10:00:00)', 'UTC', /not a valid date/],
    ['every day', 'UTC', /expected cron/],
    ['rate(1 day)', 'Mars/Olympus', /unknown time zone 'Mars\/Olympus'/],
  ])('reports %s in %s', (expression, tz, problem) => {
    const problems = validateExpression(expression, tz);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });
});

describe('Scheduler', () => {
  const start = Date.parse('2024-01-01T00:00:00Z');
  const target: Target = { arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:sm', input: '{"at":"<aws.scheduler.scheduled-time>"}' };
  let scheduler: Scheduler | undefined;
  afterEach(() => scheduler?.stop());

  /** Virtual time moves only through `clock.advance()`: nothing here depends on how fast the machine is. */
  function setup() {
    const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-scheduler-')));
    const clock = new ManualClock(start);
    const fired: Target[] = [];
    const invoke = async (t: Target) => {
      fired.push(t);
    };
    return { state, clock, fired, invoke };
  }

  it('fires on the virtual clock, re-arms, and substitutes context attributes', async () => {
    // Prepare
    const { state, clock, fired, invoke } = setup();
    scheduler = new Scheduler({ clock, state, invoke });
    scheduler.add({ name: 'every-minute', expression: 'cron(* * * * ? *)', target });

    // Act: three and a half virtual minutes
    scheduler.start();
    await clock.advance(3.5 * 60_000);

    // Assess: each firing carries its own scheduled minute, and nothing fired twice
    expect(fired.map((t) => JSON.parse(t.input).at)).toEqual(['2024-01-01T00:01:00Z', '2024-01-01T00:02:00Z', '2024-01-01T00:03:00Z']);
    expect(scheduler.list()[0]).toMatchObject({ lastFiredAt: '2024-01-01T00:03:00.000Z', next: '2024-01-01T00:04:00.000Z' });
  });

  it('fire() runs a schedule now and persists lastFiredAt across restarts', async () => {
    // Prepare
    const { state, clock, fired, invoke } = setup();
    scheduler = new Scheduler({ clock, state, invoke });
    scheduler.add({ name: 'stop-dev', expression: 'cron(0 19 ? * MON-FRI *)', timezone: 'Europe/Paris', target });

    // Act
    await scheduler.fire('stop-dev');
    const restarted = new Scheduler({ clock, state, invoke });
    restarted.add({ name: 'stop-dev', expression: 'cron(0 19 ? * MON-FRI *)', timezone: 'Europe/Paris', target });

    // Assess
    expect(fired).toHaveLength(1);
    expect(fired[0].arn).toBe(target.arn);
    const [summary] = restarted.list();
    expect(summary).toMatchObject({ name: 'stop-dev', timezone: 'Europe/Paris', next: '2024-01-01T18:00:00.000Z' });
    expect(summary.lastFiredAt).toBe('2024-01-01T00:00:00.000Z');
  });

  it('keeps the phase of a rate schedule across restarts', () => {
    // Prepare: created at 00:00 virtual, restarted 90 minutes later
    const { state, invoke } = setup();
    new Scheduler({ clock: new ManualClock(start), state, invoke }).add({ name: 'hourly', expression: 'rate(1 hour)', target });
    const later = new ManualClock(start + 90 * 60_000);

    // Act
    scheduler = new Scheduler({ clock: later, state, invoke });
    scheduler.add({ name: 'hourly', expression: 'rate(1 hour)', target });

    // Assess: 02:00, not 02:30
    expect(scheduler.list()[0].next).toBe('2024-01-01T02:00:00.000Z');
  });

  it('throws for an unknown schedule, listing the known names', () => {
    const { state, clock, invoke } = setup();
    scheduler = new Scheduler({ clock, state, invoke });
    scheduler.add({ name: 'a', expression: 'rate(1 day)', target });
    scheduler.add({ name: 'b', expression: 'rate(1 day)', target });
    expect(() => scheduler!.fire('nope')).toThrow("unknown schedule 'nope'; known schedules: a, b");
  });

  it('rejects an invalid schedule naming it', () => {
    const { state, clock, invoke } = setup();
    scheduler = new Scheduler({ clock, state, invoke });
    expect(() => scheduler!.add({ name: 'bad', expression: 'cron(0 9 * * ? *)', timezone: 'Nowhere/City', target })).toThrow(
      /^schedule bad: unknown time zone/,
    );
  });

  it('honours state, start and end dates', () => {
    const { state, clock, invoke } = setup();
    scheduler = new Scheduler({ clock, state, invoke });
    scheduler.add({ name: 'off', expression: 'rate(1 day)', state: 'DISABLED', target });
    scheduler.add({ name: 'later', expression: 'cron(0 12 * * ? *)', startDate: '2024-02-01T00:00:00Z', target });
    scheduler.add({ name: 'ended', expression: 'cron(0 12 * * ? *)', endDate: '2023-12-31T00:00:00Z', target });
    expect(Object.fromEntries(scheduler.list().map((s) => [s.name, s.next]))).toEqual({ off: null, later: '2024-02-01T12:00:00.000Z', ended: null });
  });

  it('arms a far-away schedule without overflowing setTimeout', () => {
    // Prepare
    const warn = vi.spyOn(process, 'emitWarning');
    const { state, invoke } = setup();
    // The real-time clock: this is about the timers it arms.
    const clock = new Clock({ start });
    scheduler = new Scheduler({ clock, state, invoke });
    scheduler.add({ name: 'far', expression: 'at(2030-01-01T00:00:00)', target });

    // Act
    scheduler.start();

    // Assess
    expect(warn.mock.calls.filter((c) => String(c[1] ?? c[0]).includes('TimeoutOverflow'))).toEqual([]);
    expect(scheduler.list()[0].next).toBe('2030-01-01T00:00:00.000Z');
    warn.mockRestore();
  });

  it('logs a failing target and keeps going', async () => {
    const { state, clock } = setup();
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    scheduler = new Scheduler({ clock, state, invoke: async () => Promise.reject(new Error('boom')) });
    scheduler.add({ name: 'x', expression: 'rate(1 day)', target });
    await scheduler.fire('x');
    expect(error).toHaveBeenCalledWith(expect.stringMatching(/schedule x failed to invoke .*: boom/));
    error.mockRestore();
  });
});
