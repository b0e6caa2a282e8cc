/** Every Lambda step of every workflow is built one way (workflows/shared/steps.ts): timeout from its function, standard retries. */
import { describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { synthOpsflow } from './synth';

type State = {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Retry?: Array<Record<string, unknown>>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Branches?: Array<{ States: Record<string, State> }>;
  ItemProcessor?: { States: Record<string, State> };
};

function allStates(states: Record<string, State>): Array<[string, State]> {
  return Object.entries(states).flatMap(([name, s]) => [
    [name, s] as [string, State],
    ...(s.Branches ?? []).flatMap((b) => allStates(b.States)),
    ...(s.ItemProcessor ? allStates(s.ItemProcessor.States) : []),
  ]);
}

describe('Lambda steps', () => {
  const { json } = synthOpsflow();
  const machines = stateMachines(json).map((m) => ({ name: m.workflow, states: allStates(m.definition.States as Record<string, State>) }));
  /** Function timeouts by the readable name asl.ts gives their ARNs (logical id without the hash). */
  const timeouts = new Map(
    Object.entries(json.Resources as Record<string, any>)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r.Properties.Timeout as number]),
  );
  const lambdaSteps = machines.flatMap((m) =>
    m.states.filter(([, s]) => s.Type === 'Task' && /:lambda:.*:function:/.test(s.Resource ?? '')).map(([name, s]) => ({ id: `${m.name}.${name}`, state: s })),
  );

  it("are found in all three workflows (Ec2Schedule's ordering groups run as child executions of Ec2ScheduleWave)", () => {
    expect(lambdaSteps.map((s) => s.id).sort()).toEqual([
      'Approval.NotifyApprovers',
      'Approval.ValidateInput',
      'Ec2Schedule.Plan',
      'Ec2Schedule.Report',
      'Ec2Schedule.ValidateInput',
      'Ec2ScheduleWave.Advance',
      'TagPolicy.Apply',
      'TagPolicy.Evaluate',
      'TagPolicy.FindRequester',
      'TagPolicy.Plan',
      'TagPolicy.Report',
      'TagPolicy.ValidateInput',
    ]);
  });

  it('allow their function 60 seconds more than its own timeout', () => {
    for (const { id, state } of lambdaSteps) {
      const fn = state.Resource!.split(':function:')[1];
      expect(timeouts.get(fn), id).toBeGreaterThan(0);
      expect(state.TimeoutSeconds, id).toBe(timeouts.get(fn)! + 60);
    }
  });

  it('retry Lambda service errors and throttled invocations first, as AWS recommends', () => {
    for (const { id, state } of lambdaSteps) {
      expect(state.Retry?.[0], id).toEqual({
        ErrorEquals: [
          'Lambda.ClientExecutionTimeoutException',
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
        ],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
      });
    }
  });

  it('end a run on a problems error with that error and the problem list as cause', () => {
    const failures = machines.flatMap((m) =>
      m.states.flatMap(([name, s]) =>
        (s.Catch ?? [])
          .filter((c) => /^(Input|Policy)\.Invalid$/.test(c.ErrorEquals[0]))
          .map((c) => ({ id: `${m.name}.${name}`, error: c.ErrorEquals[0], next: c.Next, states: m.states })),
      ),
    );
    expect(failures.map((f) => `${f.id} ${f.error}`).sort()).toEqual([
      'Approval.ValidateInput Input.Invalid',
      'Ec2Schedule.ValidateInput Input.Invalid',
      'TagPolicy.ValidateInput Input.Invalid',
      'TagPolicy.ValidateInput Policy.Invalid',
    ]);
    for (const f of failures) {
      const states = new Map(f.states);
      const read = states.get(f.next) as State & { Parameters?: unknown; Next?: string };
      expect(read, f.id).toMatchObject({ Type: 'Pass', Parameters: { 'problems.$': 'States.StringToJson($.Cause)' } });
      expect(states.get(read.Next!), f.id).toEqual({ Type: 'Fail', Error: f.error, CausePath: '$.problems.errorMessage' });
    }
  });
});
