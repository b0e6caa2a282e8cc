import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { parseConfig } from '../../infra/config';
import { evaluate, type PolicyDocument } from '../../local/iam/policy';
import { Approval } from '../../workflows/approval/construct';
import { asList, statements, synthOpsflow } from './synth';

const policyOf = (json: any, fnPrefix: string) => {
  const role = Object.entries(json.Resources as Record<string, any>).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fnPrefix))![1]
    .Properties.Role['Fn::GetAtt'][0];
  return statements(json).filter((s) => {
    const policy = json.Resources[s.policy];
    return policy.Properties.Roles.some((r: any) => r.Ref === role);
  });
};

describe('Approval state machine', () => {
  const { json } = synthOpsflow();
  const machines = stateMachines(json);
  const approval = machines.find((m) => m.workflow === 'Approval')!;

  it('validates first, then waits on the activity while the worker notifies', () => {
    const states = approval.definition.States as Record<string, any>;
    expect(approval.definition.StartAt).toBe('ValidateInput');
    expect(states.ValidateInput.Catch).toEqual([{ ErrorEquals: ['Input.Invalid'], Next: 'ReadProblems' }]);
    expect(states.InputInvalid).toMatchObject({ Type: 'Fail', Error: 'Input.Invalid', CausePath: '$.problems.errorMessage' });
    const [decision, worker] = states.AwaitDecision.Branches.map((b: any) => b.States[b.StartAt]);
    const waits = states.AwaitDecision.Branches[0].States;
    // The heartbeat (900 s) must be shorter than the deadline, which comes from the input (60 s and up):
    // https://states-language.net/spec.html#task-state. Deadlines up to 900 s wait without a heartbeat.
    expect(decision).toMatchObject({ Type: 'Choice', Default: 'WaitForDecision' });
    expect(decision.Choices).toEqual([{ Variable: '$.request.timeoutSeconds', NumericLessThanEquals: 900, Next: 'WaitForShortDecision' }]);
    const activity = {
      Type: 'Task',
      End: true,
      Resource: expect.stringMatching(/:activity:/),
      Parameters: { 'request.$': '$.request', 'execution.$': '$$.Execution.Id', 'enteredAt.$': '$$.State.EnteredTime' },
      TimeoutSecondsPath: '$.request.timeoutSeconds',
    };
    expect(waits.WaitForDecision).toMatchObject({ ...activity, HeartbeatSeconds: 900 });
    expect(waits.WaitForShortDecision).toMatchObject(activity);
    expect(Object.keys(waits.WaitForShortDecision).filter((k) => k.startsWith('Heartbeat'))).toEqual([]);
    expect(worker.Retry).toContainEqual(expect.objectContaining({ ErrorEquals: ['Approval.NoTask', 'States.TaskFailed'] }));
    // A task some other worker took must not fail the approval before its heartbeat timeout can redeliver it.
    expect(worker.Catch).toEqual([{ ErrorEquals: ['Approval.NoTask'], Next: 'TaskTakenElsewhere' }]);
    expect(states.AwaitDecision.Retry).toEqual([expect.objectContaining({ ErrorEquals: ['States.HeartbeatTimeout'], MaxAttempts: 2 })]);
    // The heartbeat catcher first: States.Timeout matches heartbeat timeouts too, and the first match wins.
    expect(states.AwaitDecision.Catch).toEqual([
      { ErrorEquals: ['States.HeartbeatTimeout'], Next: 'WorkerLost' },
      { ErrorEquals: ['States.Timeout'], Next: 'TimedOut' },
    ]);
    expect(states.WorkerLost).toMatchObject({ Type: 'Fail', Error: 'Approval.WorkerLost' });
    expect(states.TimedOut).toMatchObject({ Type: 'Fail', Error: 'Approval.TimedOut' });
    expect(states.AwaitDecision.OutputPath).toBe('$[0]');
  });
});

describe('IAM', () => {
  const { json } = synthOpsflow();

  it('lets the worker only take tasks from its activity and send from the configured identity', () => {
    const worker = policyOf(json, 'ApprovalWorkerFn');
    const states = worker.filter((s) => asList(s.Action).some((a) => a.startsWith('states:')));
    expect(states).toHaveLength(2);
    expect(states[0]).toMatchObject({ Action: 'states:GetActivityTask', Resource: { Ref: expect.stringMatching(/^ApprovalActivity/) } });
    // SendTask* support no resource-level permissions: scoped to the activity, AWS would deny them.
    expect(states[1]).toMatchObject({ Action: ['states:SendTaskHeartbeat', 'states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: '*' });
    const ses = worker.find((s) => asList(s.Action).includes('ses:SendEmail'))!;
    // Any recipient domain is allowed: in the sandbox any approver's identity may be authorized, so every identity of
    // the account is the resource and the From address is pinned by the condition.
    expect(ses).toEqual({
      policy: expect.any(String),
      Effect: 'Allow',
      Action: 'ses:SendEmail',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':identity/*']] },
      Condition: { StringEquals: { 'ses:FromAddress': 'opsflow@example.com' } },
    });
    expect(policyOf(json, 'ApprovalSweepFn').find((s) => asList(s.Action).includes('ses:SendEmail'))).toEqual({ ...ses, policy: expect.any(String) });
  });

  it('lets the worker and sweep send as SES authorizes it: from a separately verified sender address, to sandbox-verified approvers', () => {
    // What the runtime's IAM evaluator decides for the identities SES checks (https://repost.aws/knowledge-center/amazon-ses-iam-user-email-access-denied).
    for (const fn of ['ApprovalWorkerFn', 'ApprovalSweepFn']) {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000' };
      const resolve = (arn: any) => (arn['Fn::Join'][1] as Array<string | { Ref: string }>).map((x) => (typeof x === 'string' ? x : pseudo[x.Ref])).join('');
      const sendStatements = policyOf(json, fn)
        .filter((s) => asList(s.Action).includes('ses:SendEmail'))
        .map(({ policy: _p, ...st }) => ({ ...st, Resource: resolve(st.Resource) }));
      const send = (resource: string, from = 'opsflow@example.com') =>
        evaluate(
          {
            principal: { type: 'AWS', id: 'arn:aws:iam::000000000000:role/worker' },
            action: 'ses:SendEmail',
            resource,
            context: { 'ses:FromAddress': from, 'ses:Recipients': ['lead@example.com'] },
          },
          [{ Version: '2012-10-17', Statement: sendStatements } as PolicyDocument],
        ).decision;
      const identity = (name: string) => `arn:aws:ses:us-east-1:000000000000:identity/${name}`;
      expect(send(identity('example.com')), fn).toBe('Allow');
      expect(send(identity('opsflow@example.com')), fn).toBe('Allow');
      expect(send(identity('lead@partner.example.net')), fn).toBe('Allow');
      expect(send(identity('example.com'), 'ceo@example.com'), fn).toBe('ImplicitDeny');
    }
  });

  it.each(['ApprovalDecideFn', 'ApprovalChatFn'])(
    'lets %s only complete tasks, read/write approval records, describe its own executions and read the chat secret',
    (fn) => {
      const statements = policyOf(json, fn);
      const actions = statements
        .flatMap((s) => asList(s.Action))
        .filter((a) => !/^(xray|logs):/.test(a))
        .sort();
      expect(actions).toEqual([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'secretsmanager:GetSecretValue',
        'states:DescribeExecution',
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
      ]);
      const describe = statements.find((s) => asList(s.Action).includes('states:DescribeExecution'))!;
      expect(JSON.stringify(describe.Resource)).toContain(':execution:Opsflow-Approval:*');
      const secret = statements.find((s) => asList(s.Action).includes('secretsmanager:GetSecretValue'))!;
      expect(secret.Resource).toEqual({ Ref: expect.stringMatching(/^ChatSecret/) });
    },
  );
});

describe('resources', () => {
  const { template } = synthOpsflow();

  it('serves GET and POST /approvals/{ref} through a throttled, logged HTTP API stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /approvals/{ref}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /approvals/{ref}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /chat/approvals' });
    expect(JSON.stringify(template.toJSON().Outputs.ApprovalChatCallbackUrl.Value)).toContain('/chat/approvals');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it('sweeps every 5 minutes', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
  });
});

describe('Approval props', () => {
  const props = { sender: 'a@example.com', sesIdentity: 'example.com' };

  it('fails when reminderInterval is not shorter than timeout', () => {
    expect(() => new Approval(new Stack(), 'A', { ...props, timeout: Duration.hours(1), reminderInterval: Duration.hours(1) })).toThrow(
      'Approval: reminderInterval must be shorter than timeout',
    );
  });

  it('fails when timeout exceeds maxTimeout', () => {
    expect(() => new Approval(new Stack(), 'A', { ...props, timeout: Duration.days(8) })).toThrow('Approval: timeout must not exceed maxTimeout');
  });

  it('fails when allowedRecipientDomains has something that is not a domain, or an approver outside them', () => {
    expect(() => new Approval(new Stack(), 'A', { ...props, allowedRecipientDomains: ['*.example.com'] })).toThrow(
      "Approval: allowedRecipientDomains has '*.example.com', not a domain name",
    );
    expect(() => new Approval(new Stack(), 'A', { ...props, allowedRecipientDomains: ['example.com'], defaultApprovers: ['x@evil.test'] })).toThrow(
      'Approval: defaultApprovers x@evil.test not in allowedRecipientDomains (example.com)',
    );
  });

  it('with allowedRecipientDomains, IAM lets the worker and sweep email only those domains (ses:Recipients)', () => {
    const stack = new Stack();
    new Approval(stack, 'A', { ...props, allowedRecipientDomains: ['example.com', 'corp.example.org'] });
    const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as Array<{
      Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Condition?: unknown }> } };
    }>;
    const sends = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st) => st.Action === 'ses:SendEmail')
      .map((st) => st.Condition);
    expect(sends).toHaveLength(2);
    for (const condition of sends) {
      expect(condition).toEqual({
        StringEquals: { 'ses:FromAddress': 'a@example.com' },
        'ForAllValues:StringLike': { 'ses:Recipients': ['*@example.com', '*@corp.example.org'] },
      });
    }
    // What the runtime's IAM evaluator (the one that authorizes the worker's and sweep's calls) decides on them.
    const send = (recipients: string[]) =>
      evaluate(
        {
          principal: { type: 'AWS', id: 'arn:aws:iam::123456789012:role/worker' },
          action: 'ses:SendEmail',
          resource: '*',
          context: { 'ses:FromAddress': 'a@example.com', 'ses:Recipients': recipients },
        },
        [
          {
            Version: '2012-10-17',
            Statement: policies
              .flatMap((p) => p.Properties.PolicyDocument.Statement)
              .filter((st) => st.Action === 'ses:SendEmail')
              .map((st) => ({ ...st, Resource: '*' })),
          } as PolicyDocument,
        ],
      ).decision;
    expect(send(['ops@example.com', 'lead@corp.example.org'])).toBe('Allow');
    expect(send(['ops@example.com', 'x@evil.test'])).toBe('ImplicitDeny');
    expect(send(['x@example.com.evil.test'])).toBe('ImplicitDeny');
    // The resources: every identity SES may match for the sender (its own address, verified on its own, or its domain)
    // and, in the sandbox, for a recipient of an allowed domain (the address, the domain, or a parent domain).
    const resources = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st) => st.Action === 'ses:SendEmail')
      .map((st) => (st as unknown as { Resource: unknown }).Resource);
    const arn = (name: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:identity/${name}`]],
    });
    for (const r of resources) {
      expect(r).toEqual(['a@example.com', 'example.com', '*@example.com', '*@corp.example.org', 'corp.example.org', 'example.org'].map(arn));
    }
    const validate = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find((f) =>
      JSON.stringify(f).includes('ALLOWED_RECIPIENT_DOMAINS'),
    );
    expect(JSON.stringify(validate)).toContain(JSON.stringify(JSON.stringify(['example.com', 'corp.example.org'])).slice(1, -1));
  });

  it('fails when escalateAfter is not shorter than timeout', () => {
    expect(() => new Approval(new Stack(), 'A', { ...props, escalationApprovers: ['b@example.com'], escalateAfter: Duration.days(2) })).toThrow(
      'Approval: escalateAfter must be shorter than timeout',
    );
  });
});

describe('config approval.allowedRecipientDomains', () => {
  it('fails naming the field for a bad domain and for configured approvers outside the domains', () => {
    expect(() => parseConfig({ approval: { allowedRecipientDomains: ['example.com', '*@x'], approvers: ['a@other.test'] } })).toThrow(
      /approval\.allowedRecipientDomains\[1\] must be a lower-case domain name[\s\S]*approval\.approvers a@other\.test not in approval\.allowedRecipientDomains/,
    );
    expect(parseConfig({ approval: { allowedRecipientDomains: ['example.com'] } }).approval.allowedRecipientDomains).toEqual(['example.com']);
  });
});
