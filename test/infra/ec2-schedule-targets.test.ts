/**
 * Ec2Schedule with config `targets` (issue 23): the acting functions get TARGETS, a schedule's own targets travel in
 * SCHEDULES, and the run fans out in lanes (one per account × region, side by side) of waves (one at a time).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import aslValidator from 'asl-validator';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { stateMachines } from '../../infra/asl';
import { readTargets } from '../../tasks/shared/targets';
import { requireSchedules } from '../../tasks/ec2-schedule/env';

const TARGETS = {
  organizationId: 'o-abcdef1234',
  externalId: 'opsflow-external-1',
  accounts: ['111111111111', 'ou-abcd-12345678'],
  regions: ['us-east-1', 'eu-west-1'],
};

const dir = mkdtempSync(join(tmpdir(), 'opsflow-ec2-targets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = JSON.parse(readFileSync('opsflow.config.json', 'utf8'));
config.targets = TARGETS;
config.ec2Schedule.schedules['office-hours'].targets = { regions: ['eu-west-1'] };
writeFileSync(join(dir, 'opsflow.config.json'), JSON.stringify(config));
const { stack } = buildApp(new App({ outdir: join(dir, 'cdk.out'), context: { config: join(dir, 'opsflow.config.json'), 'aws:cdk:bundling-stacks': [] } }));
const json = JSON.parse(JSON.stringify(App.of(stack)!.synth().getStackByName(stack.stackName).template));

/** A function's environment with the stack's own account and partition filled in, as Lambda would see it. */
function environmentOf(fnPrefix: string): Record<string, string> {
  const [, fn] = Object.entries<any>(json.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fnPrefix))!;
  const resolve = (v: any): string =>
    typeof v === 'string'
      ? v
      : v['Fn::Join']
        ? v['Fn::Join'][1].map(resolve).join(v['Fn::Join'][0])
        : v.Ref === 'AWS::AccountId'
          ? '999999999999'
          : v.Ref === 'AWS::Partition'
            ? 'aws'
            : `<${JSON.stringify(v)}>`;
  return Object.fromEntries(Object.entries<any>(fn.Properties.Environment.Variables).map(([k, v]) => [k, resolve(v)]));
}

describe('Ec2Schedule with targets', () => {
  it('gives Plan, Advance, Control and Chat the member role and the default targets in TARGETS, and no other function', () => {
    for (const fn of ['Ec2SchedulePlanFn', 'Ec2ScheduleAdvanceFn', 'Ec2ScheduleControlFn', 'Ec2ScheduleChatFn']) {
      expect(readTargets(environmentOf(fn)), fn).toEqual({
        hubAccount: '999999999999',
        partition: 'aws',
        roleName: 'opsflow-member',
        externalId: TARGETS.externalId,
        accounts: TARGETS.accounts,
        regions: TARGETS.regions,
      });
    }
    for (const fn of ['Ec2ScheduleValidateFn', 'Ec2ScheduleReportFn']) expect(environmentOf(fn).TARGETS, fn).toBeUndefined();
  });

  it("carries a schedule's own targets in SCHEDULES, and none for a schedule without", () => {
    const schedules = requireSchedules(environmentOf('Ec2SchedulePlanFn'));
    expect(schedules['office-hours'].targets).toEqual({ regions: ['eu-west-1'] });
    expect(schedules['batch-window'].targets).toBeUndefined();
  });

  const machine = stateMachines(json).find((m) => m.workflow === 'Ec2Schedule')!;
  const states = machine.definition.States as Record<string, any>;

  it('is valid ASL', () => {
    const { isValid, errors } = aslValidator(machine.definition as never);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  it("runs the plan's lanes side by side, 40 at once, and each lane's waves one at a time as child executions", () => {
    expect(states.Plan.Next).toBe('Lanes');
    expect(states.Lanes).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 40,
      ItemsPath: '$.plan.lanes',
      ItemSelector: { 'runId.$': '$.runId', 'lane.$': '$$.Map.Item.Value', 'actUntil.$': '$.plan.actUntil' },
      ResultPath: null,
      Next: 'Report',
    });
    expect(states.Lanes.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Report' }]);
    const lane = states.Lanes.ItemProcessor;
    expect(lane.StartAt).toBe('Waves');
    expect(lane.States.Waves).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.lane.waves',
      ItemSelector: { 'runId.$': '$.runId', 'wave.$': '$$.Map.Item.Value', 'actUntil.$': '$.actUntil' },
      ResultPath: null,
      End: true,
    });
    // A lane whose wave fails ends alone: the other targets go on, and the report says what this one left unfinished.
    expect(lane.States.Waves.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'LaneFailed' }]);
    expect(lane.States.LaneFailed).toMatchObject({ Type: 'Pass', End: true });
    const wave = lane.States.Waves.ItemProcessor;
    expect(wave.States[wave.StartAt]).toMatchObject({ Type: 'Task', Resource: expect.stringContaining(':states:startExecution.sync:2') });
  });

  it('fails the run after its report when a target was unreachable, as when an instance failed', () => {
    const choice = states['AllAccountedFor?'].Choices;
    expect(choice[1]).toEqual({
      Or: [
        { Variable: '$.result.report.counts.failed', NumericGreaterThan: 0 },
        { Variable: '$.result.report.counts.unreachable', IsPresent: true },
      ],
      Next: 'PartialFailure',
    });
  });
});
