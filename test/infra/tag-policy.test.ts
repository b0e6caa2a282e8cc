/** TagPolicy in the synthesized stack: triggers, ASL, IAM scoping, props and config validation. */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Pass, StateMachine, DefinitionBody } from 'aws-cdk-lib/aws-stepfunctions';
import aslValidator from 'asl-validator';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config';
import { stateMachines } from '../../infra/asl';
import { evaluate, type PolicyDocument } from '../../local/iam/policy';
import { parsePolicy } from '../../tasks/tag-policy/core/policy';
import { TagPolicy } from '../../workflows/tag-policy/construct';
import deployed from '../../tag-policy.json';
import { asList, statements, synthOpsflow } from './synth';

const policyOf = (json: any, fnPrefix: string) => {
  const role = Object.entries(json.Resources as Record<string, any>).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fnPrefix))![1]
    .Properties.Role['Fn::GetAtt'][0];
  return statements(json).filter((s) => json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === role));
};
const actions = (json: any, fnPrefix: string) =>
  policyOf(json, fnPrefix)
    .flatMap((s) => asList(s.Action))
    .filter((a) => !/^(xray|logs):/.test(a))
    .sort();

describe('TagPolicy state machine', () => {
  const { json } = synthOpsflow();
  const sm = stateMachines(json).find((m) => m.workflow === 'TagPolicy')!;
  const states = sm.definition.States as Record<string, any>;

  it('is valid ASL with a timeout on every task', () => {
    const { isValid, errors } = aslValidator(sm.definition as never);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
    for (const [name, s] of Object.entries(states)) if (s.Type === 'Task') expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
  });

  it('validates input and policy first, failing with named errors', () => {
    expect(sm.definition.StartAt).toBe('ValidateInput');
    expect(states.ValidateInput.Catch.map((c: any) => c.ErrorEquals[0])).toEqual(['Input.Invalid', 'Policy.Invalid']);
    expect(states.InputInvalid).toMatchObject({ Type: 'Fail', Error: 'Input.Invalid' });
    expect(states.PolicyInvalid).toMatchObject({ Type: 'Fail', Error: 'Policy.Invalid' });
    // The deployed policy is part of the definition: tag-policy.json with the schema's defaults filled in
    // (approvers [], required true, case sensitive), written out rather than computed by the code under test.
    expect(states.ValidateInput.Parameters.policy).toEqual({
      version: 1,
      description: 'Every EC2 instance says who owns it, who pays for it and which environment it belongs to.',
      dryRun: true,
      exemptionTag: 'opsflow:exempt',
      gracePeriodHours: 72,
      blastRadius: { maxInstances: 20, maxPercent: 25 },
      approvers: [],
      rules: [
        {
          key: 'Owner',
          description: 'Email address of the person or team to ask about the instance.',
          required: true,
          pattern: '[^@\\s]+@[^@\\s]+\\.[A-Za-z]{2,}',
          case: 'insensitive',
          onMissing: { action: 'lookup-creator' },
          onInvalid: { action: 'notify' },
        },
        {
          key: 'CostCenter',
          description: 'Finance cost center, CC- and four digits. Unbilled instances are stopped after the grace period.',
          required: true,
          pattern: 'CC-[0-9]{4}',
          case: 'sensitive',
          onMissing: { action: 'stop' },
          onInvalid: { action: 'stop' },
        },
        {
          key: 'Environment',
          required: true,
          allowedValues: ['dev', 'staging', 'prod'],
          case: 'normalize',
          onMissing: { action: 'notify' },
          onInvalid: { action: 'notify' },
        },
      ],
    });
  });

  it('waits the settle delay in launch mode only', () => {
    expect(states.IsLaunch.Choices).toEqual([{ Variable: '$.run.mode', StringEquals: 'launch', Next: 'SettleDelay' }]);
    expect(states.SettleDelay).toMatchObject({ Type: 'Wait', SecondsPath: '$.run.settleSeconds', Next: 'Evaluate' });
  });

  it('loops over the fleet inside tasks, not with a Map over instances', () => {
    expect(Object.values(states).some((s: any) => s.Type === 'Map')).toBe(false);
    expect(states.EvaluatedAll.Choices[0]).toEqual({ Variable: '$.scan.done', BooleanEquals: false, Next: 'Evaluate' });
    expect(states.Evaluate.Retry).toContainEqual(expect.objectContaining({ ErrorEquals: ['TagPolicy.ReadFailed'] }));
  });

  it("waits out EC2 throttling of a remediation page with back-off on Step Functions' clock, then runs the page again", () => {
    expect(states.AppliedAll.Choices[0]).toEqual({ Variable: '$.step.throttled', IsPresent: true, Next: 'ApplyBackoff' });
    expect(states.ApplyBackoff).toMatchObject({ Type: 'Wait', SecondsPath: '$.step.throttled.waitSeconds', Next: 'Apply' });
  });

  it('retries an Evaluate slice that timed out (it resumes from the progress saved in the table)', () => {
    expect(states.Evaluate.Retry).toContainEqual({ ErrorEquals: ['Lambda.Unknown', 'States.Timeout'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2 });
  });

  it('asks the Approval workflow (.sync:2) before destructive actions, and reports whatever it decides', () => {
    expect(states.AskApproval).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: { 'Input.$': '$.plan.approval', StateMachineArn: expect.stringContaining(':stateMachine:Approval') },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.approval', Next: 'Report' }],
      Next: 'Approved',
    });
    expect(states.Approved.Next).toBe('Apply');
    expect(states.Route.Choices.map((c: any) => [c.StringEquals, c.Next])).toEqual([
      ['apply', 'StartApply'],
      ['approve', 'FindRequester'],
    ]);
    expect(states.Route.Default).toBe('Report');
  });

  it('names who started the run as requester before every approval, waiting a bounded time for CloudTrail', () => {
    // Both ways to an approval (destructive actions, over the blast radius after tagging) go through FindRequester.
    const toApproval = Object.entries(states).flatMap(([name, st]) =>
      [st.Next, st.Default, ...(st.Choices ?? []).map((c: any) => c.Next)].filter((n) => n === 'AskApproval').map(() => name),
    );
    expect(toApproval).toEqual(['NameRequester']);
    expect(states.AppliedAll.Choices.find((c: any) => c.And)?.Next).toBe('FindRequester');
    expect(states.FindRequester).toMatchObject({
      Parameters: { 'executionArn.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime', requesterEmails: {}, 'lookup.$': '$.requester' },
      ResultPath: '$.requester',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.approval', Next: 'Report' }],
      Next: 'RequesterFound',
    });
    expect(states.FindRequester.Retry).toContainEqual(expect.objectContaining({ ErrorEquals: ['CloudTrail.Throttled'] }));
    expect(states.RequesterFound).toMatchObject({
      Choices: [{ Variable: '$.requester.done', BooleanEquals: false, Next: 'WaitForTrail' }],
      Default: 'NameRequester',
    });
    expect(states.WaitForTrail).toMatchObject({ SecondsPath: '$.requester.waitSeconds', Next: 'FindRequester' });
    expect(states.NameRequester).toMatchObject({
      Type: 'Pass',
      InputPath: '$.requester.requestedBy',
      ResultPath: '$.plan.approval.requestedBy',
      Next: 'AskApproval',
    });
  });
});

describe('TagPolicy triggers', () => {
  const { template } = synthOpsflow();

  it('scans the fleet on an EventBridge Scheduler schedule', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^TagPolicyStateMachine') }, Input: '{"mode":"scan"}' }),
    });
  });

  it('starts a launch run for every successful RunInstances but those of EC2 Auto Scaling, with what survives omission', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['ec2.amazonaws.com'],
          eventName: ['RunInstances'],
          errorCode: [{ exists: false }],
          $or: [{ userIdentity: { invokedBy: [{ exists: false }] } }, { userIdentity: { invokedBy: [{ 'anything-but': ['autoscaling.amazonaws.com'] }] } }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('^TagPolicyStateMachine') },
          InputTransformer: {
            InputPathsMap: {
              'detail-responseElements-instancesSet-items': '$.detail.responseElements.instancesSet.items',
              'detail-userIdentity': '$.detail.userIdentity',
              'detail-requestParameters-clientToken': '$.detail.requestParameters.clientToken',
              'detail-eventTime': '$.detail.eventTime',
            },
            InputTemplate:
              '{"mode":"launch","launch":{"items":<detail-responseElements-instancesSet-items>,"userIdentity":<detail-userIdentity>,"clientToken":<detail-requestParameters-clientToken>,"eventTime":<detail-eventTime>}}',
          },
        }),
      ],
    });
  });

  it('reports failed runs through the failure alerts', () => {
    const rule = Object.values(template.toJSON().Resources as Record<string, any>).find(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern.source?.[0] === 'aws.states',
    );
    expect(JSON.stringify(rule.Properties.EventPattern.detail.stateMachineArn)).toContain('TagPolicyStateMachine');
  });
});

describe('TagPolicy IAM', () => {
  const { json } = synthOpsflow();
  const instanceArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', expect.anything(), ':', { Ref: 'AWS::AccountId' }, ':instance/*']] };

  it('lets the evaluation only read EC2, look up CloudTrail, and use its table', () => {
    expect(actions(json, 'TagPolicyEvaluateFn')).toEqual([
      'cloudtrail:LookupEvents',
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'ec2:DescribeInstances',
      'ec2:DescribeTags',
    ]);
  });

  it('lets remediation tag only instances, and stop/terminate only instances no ASG or stack manages', () => {
    const statementsOf = policyOf(json, 'TagPolicyApplyFn');
    expect(statementsOf.find((s) => asList(s.Action).includes('ec2:CreateTags'))).toMatchObject({
      Action: 'ec2:CreateTags',
      Resource: instanceArn,
      Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['CostCenter', 'Environment', 'Owner'] } },
    });
    const destructive = statementsOf.find((s) => asList(s.Action).includes('ec2:StopInstances'))!;
    expect(asList(destructive.Action).sort()).toEqual(['ec2:StopInstances', 'ec2:TerminateInstances']);
    expect(destructive.Resource).toEqual(instanceArn);
    expect(destructive.Condition).toEqual({
      Null: { 'aws:ResourceTag/aws:autoscaling:groupName': 'true', 'aws:ResourceTag/aws:cloudformation:stack-name': 'true' },
    });
  });

  it('lets the requester lookup only read CloudTrail (LookupEvents has no resource-level permissions)', () => {
    expect(policyOf(json, 'TagPolicyRequesterFn').filter((s) => !/^(xray|logs):/.test(asList(s.Action)[0]))).toEqual([
      expect.objectContaining({ Action: 'cloudtrail:LookupEvents', Resource: '*', Effect: 'Allow' }),
    ]);
  });

  it('gives validation, planning and reporting no EC2 access at all', () => {
    expect(actions(json, 'TagPolicyValidateFn')).toEqual([]);
    expect(actions(json, 'TagPolicyPlanFn')).toEqual(['dynamodb:Query']);
    expect(actions(json, 'TagPolicyReportFn')).toEqual(['dynamodb:Query', 'sns:Publish']);
  });

  it('grants no destructive action the policy and config do not use', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const approval = new StateMachine(stack, 'A', { definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'P')) });
    const policy = parsePolicy({ version: 1, rules: [{ key: 'Owner' }] });
    new TagPolicy(stack, 'T', { policy, approvalStateMachine: approval });
    const all = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(all).toContain('ec2:CreateTags');
    expect(all).not.toContain('ec2:StopInstances');
    expect(all).not.toContain('ec2:TerminateInstances');
  });
});

describe('TagPolicy props', () => {
  const make = (props: Partial<ConstructorParameters<typeof TagPolicy>[2]>) => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const approval = new StateMachine(stack, 'A', { definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'P')) });
    return () => new TagPolicy(stack, 'T', { policy: parsePolicy(deployed), approvalStateMachine: approval, ...props });
  };

  it('fails when destructiveActions leaves out what the policy uses', () => {
    expect(make({ destructiveActions: [] })).toThrow('TagPolicy: destructiveActions must include what the policy uses (stop)');
  });

  it('fails when pageSize is outside the DescribeInstances limits', () => {
    expect(make({ pageSize: 2000 })).toThrow('TagPolicy: pageSize must be from 5 to 1000');
  });
});

describe('tagPolicy config', () => {
  const problems = (tagPolicy: unknown) => {
    try {
      parseConfig({ tagPolicy });
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
    return [];
  };

  it('fails synth naming the policy file and the path of each policy problem', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tag-policy-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ version: 1, rules: [{ key: 'aws:Owner', pattern: '(' }] }));
    expect(problems({ policyFile: file })).toEqual([
      `tagPolicy.policyFile (${file}): rules[0].key: 'aws:Owner' starts with 'aws:', which EC2 reserves for AWS`,
      expect.stringMatching(
        new RegExp(`^tagPolicy\\.policyFile \\(${file.replace(/[.]/g, '\\.')}\\): rules\\[0\\]\\.pattern: not a valid RE2 regular expression`),
      ),
    ]);
  });

  it('fails on bad schedule, time zone, settle delay and unknown settings', () => {
    expect(problems({ scanSchedule: 'daily', scanTimezone: 'Mars/Olympus', settleSeconds: -1, colour: 1 })).toEqual([
      'tagPolicy.colour is not a known setting',
      'tagPolicy.scanSchedule must be an EventBridge Scheduler expression (rate(...), cron(6 fields) or at(...)), got "daily"',
      "tagPolicy.scanTimezone: unknown time zone 'Mars/Olympus'",
      'tagPolicy.settleSeconds must be a whole number of seconds from 0 to 86400, got -1',
    ]);
  });

  it('takes requesterEmails by principal ARN, and names each bad ARN and email', () => {
    const ok = parseConfig({
      tagPolicy: {
        requesterEmails: { 'arn:aws:iam::123456789012:user/alice': 'Alice@Example.com', 'arn:aws:sts::123456789012:assumed-role/Ops/bob': 'bob@example.com' },
      },
    });
    expect(ok.tagPolicy.requesterEmails).toEqual({
      'arn:aws:iam::123456789012:user/alice': 'alice@example.com',
      'arn:aws:sts::123456789012:assumed-role/Ops/bob': 'bob@example.com',
    });
    expect(problems({ requesterEmails: { alice: 'alice@example.com', 'arn:aws:iam::123456789012:role/Ops': 'not-an-email' } })).toEqual([
      "tagPolicy.requesterEmails: 'alice' is not an IAM user, role or assumed-role session ARN",
      'tagPolicy.requesterEmails[\'arn:aws:iam::123456789012:role/Ops\'] must be an email address, got "not-an-email"',
    ]);
    expect(problems({ requesterEmails: ['alice@example.com'] })).toEqual(['tagPolicy.requesterEmails must be an object of principal ARN to email address']);
  });

  it('fails when the policy uses a destructive action the config does not enable', () => {
    expect(problems({ destructiveActions: [] })).toContain(
      "tagPolicy.policyFile (tag-policy.json): rules[1].onMissing.action: 'stop' is not enabled in this deployment (enabled: none)",
    );
  });
});

describe('TagPolicy CreateTags under IAM evaluation (local/iam/policy.ts)', () => {
  const { json } = synthOpsflow();
  const PSEUDO: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012' };
  const resolve = (v: any): any => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object') {
      if ('Fn::Join' in v) return v['Fn::Join'][1].map(resolve).join(v['Fn::Join'][0]);
      if ('Ref' in v) return PSEUDO[v.Ref] ?? `ref-${v.Ref}`;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    }
    return v;
  };
  const applyPolicies = (): PolicyDocument[] => {
    const role = Object.entries(json.Resources as Record<string, any>).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('TagPolicyApplyFn'),
    )![1].Properties.Role['Fn::GetAtt'][0];
    return Object.values(json.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === role))
      .map((r) => resolve(r.Properties.PolicyDocument));
  };
  const createTags = (keys: string[]) =>
    evaluate(
      {
        principal: { type: 'AWS', id: 'arn:aws:iam::123456789012:role/apply' },
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0',
        context: { 'aws:TagKeys': keys },
      },
      applyPolicies(),
    ).decision;

  it("allows the policy's own keys and denies any other (Schedule would enrol the instance in Ec2Schedule)", () => {
    expect(createTags(['Owner'])).toBe('Allow');
    expect(createTags(['Owner', 'CostCenter', 'Environment'])).toBe('Allow');
    expect(createTags(['Schedule'])).toBe('ImplicitDeny');
    expect(createTags(['Owner', 'Schedule'])).toBe('ImplicitDeny');
  });
});

describe('TagPolicy launch rule notice', () => {
  it('says at synth and deploy that the launch rule needs a CloudTrail trail and that the scan is the safety net', () => {
    const { stack } = synthOpsflow();
    Annotations.fromStack(stack).hasInfo(
      '*',
      Match.stringLikeRegexp('launch rule fires only if this region has a CloudTrail trail.*scheduled scan is the safety net'),
    );
  });
});
