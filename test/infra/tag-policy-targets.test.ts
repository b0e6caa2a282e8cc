/**
 * TagPolicy with config `targets` (issue 23): Evaluate and Apply get `TARGETS` (and Evaluate the policy's own
 * `tagPolicy.targets` in `POLICY_TARGETS`), the launch rule passes the event's account and region, and a run that could
 * not read a target ends failed after its report. Without `targets`, none of it is in the template.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { buildApp } from '../../infra/app';

const TARGETS = {
  organizationId: 'o-abcdef1234',
  externalId: 'opsflow-external-1',
  accounts: ['111111111111', 'ou-abcd-12345678'],
  regions: ['us-east-1', 'eu-west-1'],
};

/** The hub template of the shipped config with `change` applied, synthesized without bundling. */
function hubTemplate(change: (config: any) => void): any {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-tagorg-'));
  const config = JSON.parse(readFileSync('opsflow.config.json', 'utf8'));
  change(config);
  writeFileSync(join(dir, 'opsflow.config.json'), JSON.stringify(config));
  const { app } = buildApp(new App({ outdir: join(dir, 'cdk.out'), context: { config: join(dir, 'opsflow.config.json'), 'aws:cdk:bundling-stacks': [] } }));
  try {
    return app.synth().getStackByName('Opsflow').template;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A value as CloudFormation resolves it in account 123456789012, partition aws. */
function resolved(v: any): string {
  if (typeof v === 'string') return v;
  if (v?.Ref === 'AWS::AccountId') return '123456789012';
  if (v?.Ref === 'AWS::Partition') return 'aws';
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(resolved).join(v['Fn::Join'][0]);
  throw new Error(`unresolved ${JSON.stringify(v)}`);
}

const tagPolicyFunctions = (t: any) =>
  Object.entries<any>(t.Resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('TagPolicy')) as Array<[string, any]>;
const envOf = (t: any, prefix: string) => tagPolicyFunctions(t).find(([id]) => id.startsWith(prefix))![1].Properties.Environment.Variables;
const launchTarget = (t: any) =>
  Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.Name === 'Opsflow-TagPolicyLaunch').Properties.Targets[0];
const tagPolicyAsl = (t: any) => stateMachines(t).find((m) => m.workflow === 'TagPolicy')!.definition.States as Record<string, any>;

describe('TagPolicy with targets', () => {
  let hub: any;
  beforeAll(() => {
    hub = hubTemplate((c) => {
      c.targets = TARGETS;
      c.tagPolicy = { ...c.tagPolicy, targets: { regions: ['ap-southeast-2'] } };
    });
  });

  it("gives Evaluate and Apply the hub's account and partition, the member role, the external id and the default targets in TARGETS", () => {
    const expected = {
      hubAccount: '123456789012',
      partition: 'aws',
      roleName: 'opsflow-member',
      externalId: TARGETS.externalId,
      accounts: TARGETS.accounts,
      regions: TARGETS.regions,
    };
    expect(JSON.parse(resolved(envOf(hub, 'TagPolicyEvaluateFn').TARGETS))).toEqual(expected);
    expect(JSON.parse(resolved(envOf(hub, 'TagPolicyApplyFn').TARGETS))).toEqual(expected);
  });

  it("gives Evaluate the policy's own accounts and regions (tagPolicy.targets) in POLICY_TARGETS, and no other function any of it", () => {
    expect(JSON.parse(envOf(hub, 'TagPolicyEvaluateFn').POLICY_TARGETS)).toEqual({ regions: ['ap-southeast-2'] });
    expect(envOf(hub, 'TagPolicyApplyFn').POLICY_TARGETS).toBeUndefined();
    const others = tagPolicyFunctions(hub).filter(([id]) => !/^TagPolicy(Evaluate|Apply)Fn/.test(id));
    expect(others.length).toBe(4);
    for (const [id, fn] of others) expect(Object.keys(fn.Properties.Environment?.Variables ?? {}), id).not.toContain('TARGETS');
  });

  it("passes the launch event's account and region to the run, so a member account's launch is evaluated there", () => {
    const { InputPathsMap, InputTemplate } = launchTarget(hub).InputTransformer;
    expect(InputPathsMap).toMatchObject({ account: '$.account', region: '$.region' });
    expect(InputTemplate).toContain('"account":<account>');
    expect(InputTemplate).toContain('"region":<region>');
  });

  it('ends a run that could not read a target failed, TagPolicy.ReadFailed with the summary as cause, after its report', () => {
    const states = tagPolicyAsl(hub);
    expect(states.Report.Next).toBe('AllTargetsRead');
    expect(states.AllTargetsRead).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.unreachable', IsPresent: true, Next: 'TargetsUnread' }],
      Default: 'Done',
    });
    expect(states.TargetsUnread).toEqual({ Type: 'Fail', Error: 'TagPolicy.ReadFailed', CausePath: '$.summary' });
  });
});

describe('TagPolicy without targets', () => {
  it('has no TARGETS, no account or region in the launch input, and ends at Done after the report, as before', () => {
    const hub = hubTemplate(() => {});
    for (const [id, fn] of tagPolicyFunctions(hub)) {
      const names = Object.keys(fn.Properties.Environment?.Variables ?? {});
      expect(
        names.filter((n) => n === 'TARGETS' || n === 'POLICY_TARGETS'),
        id,
      ).toEqual([]);
    }
    expect(launchTarget(hub).InputTransformer.InputPathsMap).not.toHaveProperty('account');
    expect(tagPolicyAsl(hub).Report.Next).toBe('Done');
  });
});
