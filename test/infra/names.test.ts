import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { parseConfig } from '../../infra/config';
import { OpsflowStack } from '../../infra/opsflow-stack';
import { synthOpsflow } from './synth';

function synth(stackName: string): any {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(new OpsflowStack(app, stackName, { config: parseConfig({ stackName }) })).toJSON();
}

/** Names that must be unique per account and region: state machines, activities, EventBridge schedules. */
function accountWideNames(json: any): string[] {
  return Object.values(json.Resources as Record<string, any>).flatMap((r) => {
    if (r.Type === 'AWS::StepFunctions::StateMachine') return [`states:${r.Properties.StateMachineName}`];
    if (r.Type === 'AWS::StepFunctions::Activity') return [`activity:${r.Properties.Name}`];
    if (r.Type === 'AWS::Scheduler::Schedule' && r.Properties.Name) return [`schedule:${r.Properties.Name}`];
    return [];
  });
}

describe('names in the account and region', () => {
  const staging = synth('OpsflowStaging');

  it('do not collide between two stacks in the same account and region', () => {
    const first = accountWideNames(synthOpsflow().json);
    const second = accountWideNames(staging);
    expect(first.length).toBeGreaterThanOrEqual(3);
    expect(first.filter((n) => second.includes(n))).toEqual([]);
  });

  it('derive state machine names from the stack name, and the workflow name from the state machine name', () => {
    const machines = stateMachines(staging);
    expect(machines.map((m) => [m.name, m.workflow]).sort()).toEqual(
      expect.arrayContaining([
        ['OpsflowStaging-Approval', 'Approval'],
        ['OpsflowStaging-Ec2Schedule', 'Ec2Schedule'],
        ['OpsflowStaging-TagPolicy', 'TagPolicy'],
      ]),
    );
  });

  it('fails at synth when the derived name exceeds 80 characters', () => {
    const stackName = `Opsflow${'x'.repeat(70)}`;
    expect(() => new OpsflowStack(new App(), stackName, { config: parseConfig({ stackName }) })).toThrow(/must be 1-80 letters/);
  });
});

describe('state machine log groups', () => {
  it('live under /aws/vendedlogs/states/, named after their state machine', () => {
    const { json } = synthOpsflow();
    const resources = json.Resources as Record<string, any>;
    const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(machines.length).toBeGreaterThanOrEqual(4);
    for (const m of machines) {
      const arn = m.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      expect(resources[arn].Properties.LogGroupName).toBe(`/aws/vendedlogs/states/${m.Properties.StateMachineName}`);
    }
  });
});
