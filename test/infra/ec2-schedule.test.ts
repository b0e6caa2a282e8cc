import { App, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { parseSchedules } from '../../workflows/ec2-schedule/config';
import { checkEnvironmentSize } from '../../workflows/shared/task-function';
import { evaluate, type PolicyDocument } from '../../local/iam/policy';
import { isAllowed } from '../../tasks/ec2-schedule/core/allow';
import { Ec2Schedule } from '../../workflows/ec2-schedule/construct';
import { startStopTagConditions } from '../../workflows/ec2-schedule/kinds-iam';
import { asList, statements, synthOpsflow } from './synth';

const resources = (json: any, type: string) => Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
const roleOf = (json: any, fnPrefix: string) =>
  resources(json, 'AWS::Lambda::Function').find(([id]) => id.startsWith(fnPrefix))![1].Properties.Role['Fn::GetAtt'][0];
const policyOf = (json: any, fnPrefix: string) => {
  const role = roleOf(json, fnPrefix);
  return statements(json).filter((s) => json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === role));
};

/** A bare stack with just the construct, for props the shipped config does not use. */
function standalone(props: ConstructorParameters<typeof Ec2Schedule>[2]) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-central-1' } });
  new Ec2Schedule(stack, 'Ec2Schedule', props);
  Aspects.of(app).add(new AwsSolutionsChecks());
  return { stack, json: Template.fromStack(stack).toJSON() };
}

/** Every function that reads the deployment's chat secret: each talks to a chat server. */
const CHAT_SECRET_READERS = ['Ec2ScheduleChatFn', 'ApprovalWorkerFn', 'ApprovalSweepFn', 'ApprovalDecideFn', 'ApprovalChatFn'];

describe('Ec2Schedule schedules', () => {
  const { json } = synthOpsflow();
  const schedules = Object.fromEntries(
    resources(json, 'AWS::Scheduler::Schedule')
      .filter(([id]) => id.startsWith('Ec2Schedule'))
      .map(([, r]) => [r.Properties.Name, r.Properties]),
  );

  it('creates one EventBridge Scheduler schedule per period boundary, in the schedule time zone, and no polling rule', () => {
    expect(Object.keys(schedules).sort()).toEqual([
      'opsflow-batch-window-start-0',
      'opsflow-batch-window-stop-1',
      'opsflow-office-hours-start-0',
      'opsflow-office-hours-stop-0',
    ]);
    expect(schedules['opsflow-office-hours-start-0']).toMatchObject({
      ScheduleExpression: 'cron(0 7 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'ENABLED',
    });
    expect(schedules['opsflow-batch-window-stop-1']).toMatchObject({ ScheduleExpression: 'cron(0 4 ? * TUE-SAT *)', ScheduleExpressionTimezone: 'UTC' });
    const rates = Object.values(schedules).filter((s: any) => s.ScheduleExpression.startsWith('rate(') && JSON.stringify(s.Target).includes('Ec2Schedule'));
    expect(rates).toEqual([]);
  });

  it('targets the workflow with the action and the schedule name', () => {
    const t = schedules['opsflow-office-hours-stop-0'].Target;
    expect(t.Arn.Ref).toMatch(/^Ec2ScheduleStateMachine/);
    expect(JSON.parse(t.Input)).toEqual({ action: 'stop', schedule: 'office-hours', requestedBy: 'EventBridge Scheduler opsflow-office-hours-stop-0' });
  });

  it('fails synth on a schedule name too long for EventBridge Scheduler', () => {
    const problems: string[] = [];
    const long = parseSchedules({ 'a-very-long-schedule-name-that-goes-on-and-on': { timezone: 'UTC', periods: [{ days: 'MON', start: '07:00' }] } }, problems);
    expect(() => standalone({ schedules: long, scheduleNamePrefix: 'opsflow-production-eu-central' })).toThrow("exceeds EventBridge Scheduler's 64 characters");
  });

  it('fails synth, naming the field, when skip dates would push a Lambda environment over 4 KB', () => {
    const problems: string[] = [];
    const day = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const many = parseSchedules(
      { holidays: { timezone: 'UTC', periods: [{ days: 'MON', start: '07:00' }], skipDates: Array.from({ length: 300 }, (_, i) => day(i)) } },
      problems,
    );
    expect(problems).toEqual([]);
    expect(() => standalone({ schedules: many })).toThrow(
      /the schedules take \d+ bytes of the Lambda environment, which holds 4096 bytes.*schedules\.holidays\.skipDates has 300/,
    );
    const fits = parseSchedules(
      { holidays: { timezone: 'UTC', periods: [{ days: 'MON', start: '07:00' }], skipDates: Array.from({ length: 100 }, (_, i) => day(i)) } },
      problems,
    );
    expect(() => standalone({ schedules: fits })).not.toThrow();
  });

  it('refuses any task whose environment is over 4 KB', () => {
    expect(() => checkEnvironmentSize('Fn', { BIG: 'x'.repeat(4094) })).toThrow(
      "Fn: its Lambda environment takes 4097 bytes, over Lambda's 4096-byte limit (largest: BIG 4097 bytes)",
    );
    expect(checkEnvironmentSize('Fn', { OK: 'x'.repeat(4094) })).toBe(4096);
  });

  it.each([
    [{ batchSize: 0 }, 'Ec2Schedule: batchSize must be from 1 to 1000'],
    [{ verifyTimeout: Duration.seconds(15) }, 'Ec2Schedule: verifyTimeout must allow at least two checks'],
    [{ verifyTimeout: Duration.hours(2) }, 'Ec2Schedule: verifyTimeout must be at most 1 hour'],
  ])('fails synth on bad props %j', (props, message) => {
    expect(() => standalone(props)).toThrow(message);
  });
});

describe('Ec2Schedule state machine', () => {
  const { json } = synthOpsflow();
  const machine = stateMachines(json).find((m) => m.workflow === 'Ec2Schedule')!;
  const states = machine.definition.States as Record<string, any>;

  it('is valid ASL', () => {
    const { isValid, errors } = aslValidator(machine.definition as never);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  it('validates the input before anything else and fails with Input.Invalid', () => {
    expect(machine.definition.StartAt).toBe('ValidateInput');
    expect(states.ValidateInput.Catch).toEqual([{ ErrorEquals: ['Input.Invalid'], Next: 'ReadProblems' }]);
    expect(states.InputInvalid).toMatchObject({ Type: 'Fail', Error: 'Input.Invalid', CausePath: '$.problems.errorMessage' });
    expect(states.ValidateInput.Next).toBe('Plan');
  });

  it('runs ordering groups one at a time, each as a child execution, keeping results out of the state', () => {
    expect(states.Waves).toMatchObject({ Type: 'Map', MaxConcurrency: 1, ItemsPath: '$.plan.waves', ResultPath: null });
    expect(states.Waves.ItemSelector).toEqual({ 'runId.$': '$.runId', 'wave.$': '$$.Map.Item.Value', 'actUntil.$': '$.plan.actUntil' });
    expect(states.Waves.ItemProcessor.States.RunWave).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: {
        StateMachineArn: expect.stringContaining(':stateMachine:Ec2ScheduleWaveStateMachine'),
        Input: { 'runId.$': '$.runId', 'wave.$': '$.wave', 'actUntil.$': '$.actUntil', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
      },
      ResultPath: null,
    });
  });

  it("paces a group by Advance passes and Waits on Step Functions' clock, retrying a pass on any error", () => {
    const wave = stateMachines(json).find((m) => m.workflow === 'Ec2ScheduleWave')!.definition as { StartAt: string; States: Record<string, any> };
    expect(wave.StartAt).toBe('Advance');
    expect(wave.States.Advance).toMatchObject({ ResultPath: '$.pass', Next: 'WaveDone?' });
    expect(wave.States.Advance.Retry.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 });
    expect(wave.States['WaveDone?']).toMatchObject({
      Choices: [{ Variable: '$.pass.done', BooleanEquals: true, Next: 'WaveDone' }],
      Default: 'WaitForNextPass',
    });
    expect(wave.States.WaitForNextPass).toEqual({ Type: 'Wait', SecondsPath: '$.pass.waitSeconds', Next: 'Advance' });
  });

  it('reports whatever ends the run early: a failed plan or wave is caught into $.failure and goes to the report', () => {
    expect(states.Plan.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Report' }]);
    expect(states.Waves.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Report' }]);
    expect(states['AllAccountedFor?'].Choices[0]).toEqual({ Variable: '$.failure', IsPresent: true, Next: 'RunFailed' });
    expect(states.RunFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.result.report.summary' });
  });

  it('reports, then fails with Ec2.PartialFailure when anything failed', () => {
    expect(states.Report.Next).toBe('PublishReport');
    expect(states.PublishReport).toMatchObject({
      Resource: 'arn:aws:states:::sns:publish',
      Parameters: { 'Message.$': '$.result.message.text', 'Subject.$': '$.result.message.subject' },
    });
    expect(states['AllAccountedFor?'].Choices[1]).toEqual({ Variable: '$.result.report.counts.failed', NumericGreaterThan: 0, Next: 'PartialFailure' });
    expect(states.PartialFailure).toMatchObject({ Type: 'Fail', Error: 'Ec2.PartialFailure', CausePath: '$.result.report.summary' });
    expect(states.Done).toMatchObject({ Type: 'Succeed', OutputPath: '$.result.report' });
  });

  it('is watched by the failure alerts', () => {
    const [, rule] = resources(json, 'AWS::Events::Rule').find(([id]) => id.startsWith('FailureAlerts'))!;
    expect(JSON.stringify(rule.Properties.EventPattern.detail.stateMachineArn)).toContain('Ec2ScheduleStateMachine');
  });
});

describe('Ec2Schedule IAM', () => {
  const { json } = synthOpsflow();

  it('allows Start/StopInstances only to the Advance task, only on instances carrying the Schedule tag', () => {
    const startStop = statements(json).filter((s) => asList(s.Action).some((a) => a === 'ec2:StartInstances' || a === 'ec2:StopInstances'));
    const actRole = roleOf(json, 'Ec2ScheduleAdvanceFn');
    expect(
      startStop.filter((s) => !json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === actRole) && s.policy.startsWith('Ec2Schedule')),
    ).toEqual([]);
    const act = policyOf(json, 'Ec2ScheduleAdvanceFn').find((s) => asList(s.Action).includes('ec2:StartInstances'))!;
    expect(act.Action).toEqual(['ec2:StartInstances', 'ec2:StopInstances']);
    expect(act.Condition).toEqual({ Null: { 'aws:ResourceTag/Schedule': 'false' } });
    expect(JSON.stringify(act.Resource)).toContain(':instance/*');
  });

  it('lets only the Advance task stop, start and scale the other kinds the demo config schedules, only those carrying the Schedule tag', () => {
    const changes = (s: { Action: string | string[] }) => asList(s.Action).some((a) => /^(rds:(Start|Stop)DB|autoscaling:Update|ecs:Update)/.test(a));
    const actRole = roleOf(json, 'Ec2ScheduleAdvanceFn');
    expect(statements(json).filter((s) => changes(s) && !json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === actRole))).toEqual([]);
    const acts = policyOf(json, 'Ec2ScheduleAdvanceFn').filter(changes);
    const resourceType = (s: { Resource: unknown }) => /:(db|cluster|autoScalingGroup|service)[:/]\*/.exec(JSON.stringify(s.Resource))?.[1];
    const schedule = { Null: { 'aws:ResourceTag/Schedule': 'false' } };
    expect(acts.map((s) => [s.Action, resourceType(s), s.Condition])).toEqual([
      [['rds:StartDBInstance', 'rds:StopDBInstance'], 'db', schedule],
      [['rds:StartDBCluster', 'rds:StopDBCluster'], 'cluster', schedule],
      ['autoscaling:UpdateAutoScalingGroup', 'autoScalingGroup', schedule],
      ['ecs:UpdateService', 'service', schedule],
    ]);
  });

  it('grants KMS CreateGrant for configured keys only, for AWS resources only', () => {
    const key = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const none = standalone({});
    const withKey = standalone({ kmsKeyArns: [key], controlAllowInstanceIds: ['i-0feed000000000020'] });

    expect(statements(none.json).filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')))).toEqual([]);
    const grants = statements(withKey.json).filter((s) => asList(s.Action).includes('kms:CreateGrant'));
    expect(grants).toEqual([
      expect.objectContaining({ Action: 'kms:CreateGrant', Resource: key, Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
    ]);
    const byId = statements(withKey.json).find((s) => !s.Condition && asList(s.Action).includes('ec2:StartInstances'))!;
    expect(JSON.stringify(byId.Resource)).toContain('instance/i-0feed000000000020');
  });

  it('lets the HTTP handlers read the table and start this workflow, and nothing that changes instances', () => {
    // The demo config schedules every kind, so the handlers may describe each kind's resources, and change none.
    for (const fn of ['Ec2ScheduleControlFn', 'Ec2ScheduleChatFn']) {
      const actions = policyOf(json, fn).flatMap((s) => asList(s.Action));
      expect(actions.sort(), fn).toEqual([
        'autoscaling:DescribeAutoScalingGroups',
        'dynamodb:GetItem',
        'ec2:DescribeInstances',
        'ecs:DescribeServices',
        'ecs:ListClusters',
        'ecs:ListServices',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'rds:DescribeDBClusters',
        'rds:DescribeDBInstances',
        ...(fn === 'Ec2ScheduleChatFn' ? ['secretsmanager:GetSecretValue'] : []),
        'states:DescribeExecution',
        'states:StartExecution',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });

  it('keeps the chat secrets in one Secrets Manager secret per stack that only the chat functions read, with no value in the template', () => {
    const [[secretId, secret], ...others] = resources(json, 'AWS::SecretsManager::Secret');
    expect(secretId).toMatch(/^ChatSecret/);
    expect(others).toEqual([]);
    expect(json.Outputs.ChatSecretArn.Value).toEqual({ Ref: secretId });
    // Created empty ("If you omit both GenerateSecretString and SecretString, you create an empty secret"): the operator sets it.
    expect(Object.keys(secret.Properties)).toEqual(['Description']);
    expect(JSON.stringify(json)).not.toMatch(/resolve:secretsmanager|SecretString/);
    // The chat functions: GetSecretValue on exactly this secret, by its ARN; its ARN (never its value) in the environment.
    const reads = statements(json).filter((s) => asList(s.Action).some((a) => a.startsWith('secretsmanager:')));
    for (const read of reads) expect(read).toMatchObject({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secretId } });
    const readers = reads.flatMap((r) => json.Resources[r.policy].Properties.Roles.map((x: { Ref: string }) => x.Ref)).sort();
    expect(readers).toEqual(CHAT_SECRET_READERS.map((fn) => roleOf(json, fn)).sort());
    const chatFn = resources(json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('Ec2ScheduleChatFn'))![1];
    expect(chatFn.Properties.Environment.Variables.CHAT_SECRET_ARN).toEqual({ Ref: secretId });
    // Under the runtime's IAM evaluator: this secret allowed, any other secret (or the table's link secret) not.
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:Opsflow-Ec2ScheduleChatSecret-AbCdEf';
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: reads[0].Action, Resource: arn }] } as PolicyDocument;
    const decide = (action: string, resource: string) =>
      evaluate({ principal: { type: 'AWS', id: 'arn:aws:iam::000000000000:role/chat' }, action, resource, context: {} }, [doc]).decision;
    expect(decide('secretsmanager:GetSecretValue', arn)).toBe('Allow');
    expect(decide('secretsmanager:GetSecretValue', `${arn.slice(0, -6)}XyZxYz`)).toBe('ImplicitDeny');
    expect(decide('secretsmanager:PutSecretValue', arn)).toBe('ImplicitDeny');
  });

  it('passes cdk-nag with scoped suppressions', () => {
    const { stack } = standalone({ kmsKeyArns: ['arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'] });
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => `${f.id}: ${f.entry.data}`)).toEqual([]);
  });
});

describe('Ec2Schedule control allow-list and the Act role agree (IAM evaluated as local/iam/policy.ts does)', () => {
  const allowTags = ['Team=web', 'Team=api', 'Owner', 'Env=prod'];
  const { json } = standalone({ controlAllowTags: allowTags, controlAllowInstanceIds: ['i-0feed000000000020'] });
  // The standalone stack's account and region are concrete; only the partition is a reference.
  const resolve = (v: any): any => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object') {
      if ('Fn::Join' in v) return v['Fn::Join'][1].map(resolve).join(v['Fn::Join'][0]);
      if ('Ref' in v) return v.Ref === 'AWS::Partition' ? 'aws' : `ref-${v.Ref}`;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    }
    return v;
  };
  const actPolicies: PolicyDocument[] = (() => {
    const role = roleOf(json, 'Ec2ScheduleAdvanceFn');
    return resources(json, 'AWS::IAM::Policy')
      .filter(([, r]) => r.Properties.Roles.some((x: any) => x.Ref === role))
      .map(([, r]) => resolve(r.Properties.PolicyDocument));
  })();
  /** What IAM decides for the Act role's StartInstances/StopInstances on an instance with these tags. */
  const decide = (action: string, tags: Record<string, string>, id = 'i-0123456789abcdef0') =>
    evaluate(
      {
        principal: { type: 'AWS', id: 'arn:aws:iam::123456789012:role/act' },
        action: `ec2:${action}`,
        resource: `arn:aws:ec2:eu-central-1:123456789012:instance/${id}`,
        context: Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
      },
      actPolicies,
    ).decision;

  it.each([[{ Team: 'web' }], [{ Team: 'api' }], [{ Owner: 'dev@example.com' }], [{ Owner: '' }], [{ Env: 'prod', Team: 'data' }]])(
    'lets the Act role start and stop an instance tagged %j, which the control allow-list allows',
    (tags) => {
      expect(isAllowed({ instanceId: 'i-0123456789abcdef0', tags }, { tags: allowTags, instanceIds: [] })).toBe(true);
      expect(decide('StartInstances', tags)).toBe('Allow');
      expect(decide('StopInstances', tags)).toBe('Allow');
    },
  );

  it.each([[{}], [{ Team: 'data' }], [{ Env: 'dev' }]])('refuses an instance tagged %j, which the allow-list refuses too', (tags) => {
    expect(isAllowed({ instanceId: 'i-0123456789abcdef0', tags }, { tags: allowTags, instanceIds: [] })).toBe(false);
    expect(decide('StartInstances', tags)).toBe('ImplicitDeny');
    expect(decide('StopInstances', tags)).toBe('ImplicitDeny');
  });

  it('still lets scheduled runs start and stop Schedule-tagged instances', () => {
    expect(decide('StartInstances', { Schedule: 'office-hours' })).toBe('Allow');
    expect(decide('StopInstances', { Schedule: 'office-hours' })).toBe('Allow');
  });

  it('lets the Act role start a listed instance by id, whatever its tags', () => {
    expect(decide('StartInstances', {}, 'i-0feed000000000020')).toBe('Allow');
  });

  it('derives one condition per tag key: presence for Key, the values for Key=Value; Schedule always', () => {
    expect(startStopTagConditions(['Schedule'])).toEqual([{ Null: { 'aws:ResourceTag/Schedule': 'false' } }]);
    expect(startStopTagConditions(allowTags)).toEqual([
      { Null: { 'aws:ResourceTag/Schedule': 'false' } },
      { Null: { 'aws:ResourceTag/Owner': 'false' } },
      { StringEquals: { 'aws:ResourceTag/Team': ['web', 'api'] } },
      { StringEquals: { 'aws:ResourceTag/Env': 'prod' } },
    ]);
    // A key allowed with any value makes its values redundant.
    expect(startStopTagConditions(['Team=web', 'Team'])).toEqual([
      { Null: { 'aws:ResourceTag/Schedule': 'false' } },
      { Null: { 'aws:ResourceTag/Team': 'false' } },
    ]);
    // A value containing '=' keeps everything after the first '=', as the handlers read it.
    expect(startStopTagConditions(['k=a=b'])).toContainEqual({ StringEquals: { 'aws:ResourceTag/k': 'a=b' } });
  });
});

describe('Ec2Schedule HTTP API', () => {
  const { json } = synthOpsflow();

  it('serves control links and the slash command on routes apart from the approval pages', () => {
    const keys = resources(json, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .filter((k: string) => k.includes('/ec2/'));
    expect(keys.sort()).toEqual(['GET /ec2/control/{instanceId}/{action}', 'POST /ec2/chat', 'POST /ec2/control/{instanceId}/{action}']);
  });
});
