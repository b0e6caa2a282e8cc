import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../../infra/config';
import { validateRequest } from '../../../tasks/ec2-schedule/core/validate';
import { ec2Schedule } from '../../../workflows/ec2-schedule';

const schedules = { 'office-hours': { timezone: 'Europe/Berlin', skipDates: [], groups: ['db', 'app'] } };

describe('Ec2Schedule input', () => {
  it('normalises a scheduled start', () => {
    expect(validateRequest({ action: 'start', schedule: 'office-hours' }, schedules)).toEqual({
      action: 'start',
      schedule: 'office-hours',
      instanceIds: null,
      resources: null,
      dryRun: false,
      requestedBy: null,
      groups: null,
    });
  });

  it('de-duplicates instance ids', () => {
    const r = validateRequest({ action: 'stop', instanceIds: ['i-0feed000000000001', 'i-0feed000000000001'], dryRun: true, requestedBy: ' bob ' }, schedules);
    expect(r).toMatchObject({ instanceIds: ['i-0feed000000000001'], dryRun: true, requestedBy: 'bob' });
  });

  it('lists every problem at once, each naming its field', () => {
    let problems: string[] = [];
    try {
      validateRequest({ action: 'reboot', schedule: 'nope', dryRun: 'yes', extra: 1, groups: ['web'] }, schedules);
    } catch (err) {
      expect((err as Error).name).toBe('Input.Invalid');
      problems = (err as { problems: string[] }).problems;
    }
    expect(problems).toEqual([
      'extra: unknown field (allowed: action, schedule, instanceIds, resources, dryRun, requestedBy, groups)',
      'action: must be "start" or "stop", got "reboot"',
      'schedule: unknown schedule "nope" (known: office-hours)',
      'dryRun: must be true or false, got "yes"',
    ]);
  });

  it.each([
    [{ action: 'start' }, 'schedule, instanceIds, resources: give exactly one of them'],
    [{ action: 'start', schedule: 'office-hours', instanceIds: ['i-0feed000000000001'] }, 'schedule, instanceIds, resources: give exactly one of them'],
    [{ action: 'start', instanceIds: [] }, 'instanceIds: must be a non-empty array'],
    [{ action: 'start', instanceIds: ['web-01'] }, 'instanceIds[0]: not an instance id'],
    [{ action: 'stop', schedule: 'office-hours', groups: ['web'] }, "groups[0]: 'web' is not a group of schedule office-hours"],
    [{ action: 'stop', instanceIds: ['i-0feed000000000001'], groups: ['db'] }, 'groups: only allowed together with schedule'],
    ['start', 'input: must be a JSON object'],
    [
      { action: 'stop', resources: [{ kind: 'ec2', id: 'i-0feed000000000001', account: '111111111111' }] },
      'resources[0]: give both account and region, or neither',
    ],
    [
      { action: 'stop', resources: [{ kind: 'ec2', id: 'i-0feed000000000001', account: '1111', region: 'eu-west-1' }] },
      'resources[0].account: not an account id (12 digits)',
    ],
    [
      { action: 'stop', resources: [{ kind: 'ec2', id: 'i-0feed000000000001', account: '111111111111', region: 'Europe' }] },
      'resources[0].region: not a region code',
    ],
  ])('refuses %j', (input, problem) => {
    expect(() => validateRequest(input, schedules)).toThrow(problem);
  });

  it('keeps the account and region of a resource in a target, the same id in two places twice', () => {
    const at = (account: string) => ({ kind: 'ec2', id: 'i-0feed000000000001', account, region: 'eu-west-1' });
    const r = validateRequest({ action: 'stop', resources: [at('111111111111'), at('222222222222'), at('111111111111')] }, schedules);
    expect(r.resources).toEqual([at('111111111111'), at('222222222222')]);
  });
});

describe('shipped examples', () => {
  it('are valid inputs for the shipped config', () => {
    const config = loadConfig();
    const runtime = Object.fromEntries(
      Object.entries(config.ec2Schedule.schedules).map(([n, s]) => [n, { timezone: s.timezone, skipDates: s.skipDates, groups: s.groups }]),
    );
    const files = ec2Schedule.examples;

    expect(files.length).toBeGreaterThan(0);
    // With the shipped config's kinds: an example naming a kind the demo does not schedule would fail the run.
    for (const f of files) expect(() => validateRequest(JSON.parse(readFileSync(f, 'utf8')), runtime, config.ec2Schedule.kinds), f).not.toThrow();
    expect(
      files.some((f) => 'resources' in JSON.parse(readFileSync(f, 'utf8'))),
      'an example names resources of other kinds',
    ).toBe(true);
  });
});
