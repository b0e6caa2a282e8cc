/**
 * Tag policy: finds EC2 instances that break the tagging policy (tag-policy.json) and remediates them, on a
 * schedule over the whole fleet and right after launch (CloudTrail RunInstances), safe by default.
 *
 * Input:  {"mode": "scan"|"launch", "instanceIds"?: [...], "dryRun"?: bool, "rules"?: ["<deployed rule key>", ...],
 *         "account"?, "region"? (with targets: where instanceIds are)}: an
 *         input only narrows the deployed policy (the RunInstances rule sends {"mode":"launch","launch":{"items",
 *         "userIdentity","clientToken","eventTime"}}; `items` is null when CloudTrail omitted a large responseElements)
 * Output: {"runId","mode","dryRun","summary","counts","blastRadius"?,"approval"?,"requester"?,
 *          "instances":[{"instanceId","violations":[...],"actions":[{"action","outcome","reason"}]}],"omitted"}
 *         — also published to the report topic.
 * Errors: Input.Invalid, Policy.Invalid (causes list every problem; nothing was read or changed),
 *         TagPolicy.ReadFailed (EC2 could not be read after retries: nothing is judged on a failed read; with
 *         `targets`, a target that could not be read is reported with its reason, the others go on, and the run
 *         fails after the report, the summary as cause).
 * Targets: with config `targets`, Evaluate walks every account × region of the policy (`tagPolicy.targets` over the
 *         top level's), and a launch forwarded from a member account is evaluated there (`account`, `region` of the
 *         event); Apply acts on each finding in its own account and region (tasks/shared/targets.ts, `Reach`).
 *
 * How it works: `ValidateInput` checks the input and the policy (the deployed policy is embedded in this
 * definition, so a deploy is the only way to change it; an input can only select some of its rules). Launch runs
 * wait `settleDelay` first, so tags added just after RunInstances (Terraform, ASG lifecycle hooks) count, then
 * re-read the tags. `Evaluate` loops over the fleet a few DescribeInstances pages per invocation and writes the
 * findings to the table, never to the payload: state transitions grow with pages, not instances. Creators of
 * instances without an owner come from CloudTrail's RunInstances events, read per launch at CloudTrail's
 * 2 calls a second and cached in the table; an invocation that runs short of time returns early with its cursor
 * (and retried after a timeout, resumes from the table). `Plan`
 * decides: a dry run (the default) only reports; tags are applied directly unless the run is over the
 * blast-radius cap; stop/terminate (after the grace period) and over-cap runs call the Approval workflow first
 * and do nothing destructive unless it approves. Before it, `FindRequester` reads who started the execution from
 * CloudTrail (waiting a bounded time for the record), so Approval neither asks nor counts that person.
 * `Apply` re-checks every instance before acting. `Report` ends.
 *
 * Locally: `npm start`, then `opsflow start TagPolicy workflows/tag-policy/examples/tag-policy-scan-dry-run.json`.
 */
import { Annotations, ArnFormat, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution as ScheduleStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  Fail,
  IntegrationPattern,
  JsonPath,
  Pass,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
  type IStateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { destructiveActionsOf } from '../../tasks/tag-policy/core/policy';
import type { ActionName, Policy } from '../../tasks/tag-policy/core/types';
import { ErrorNames } from '../../tasks/shared/errors';
import type { ChatDestination } from '../../tasks/shared/chat-target';
import { allowChatNotify, chatNotifyProps } from '../shared/chat-notify';
import { ReportTopic, WorkflowTable } from '../shared/resources';
import { EventRuleRole, eventRuleName } from '../shared/service-roles';
import { failWithProblems, LambdaStep } from '../shared/steps';
import { allRegions, grantAssumeMember, grantResolveOus, hubRoleName, hubScope, type TargetsConfig, type TargetsOverride } from '../shared/targets';
import { TaskFunction } from '../shared/task-function';
import { describeStatement, lookupEventsStatement, remediationStatements } from './iam';
import { WorkflowStateMachine, workflowStateMachineName } from '../shared/workflow-state-machine';

/**
 * Which RunInstances records start a launch run. A failed call (errorCode set) launched nothing. Launches by EC2 Auto
 * Scaling are left out: its instances are only ever notified about (managed by their group), so each such run would be
 * a Standard execution with a 120 s wait that skips everything; the scheduled scan still reports them. CloudTrail names
 * the service in `userIdentity.invokedBy` ("The name of the AWS service that made the request, when a request is made
 * by an AWS service such as Amazon EC2 Auto Scaling",
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html). Content
 * filtering (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): `anything-but`
 * matches only a field that is present, so a launch by a person (no invokedBy) needs its own `exists: false` branch.
 */
export const LAUNCH_RULE_DETAIL = {
  eventSource: ['ec2.amazonaws.com'],
  eventName: ['RunInstances'],
  errorCode: [{ exists: false }],
  $or: [{ userIdentity: { invokedBy: [{ exists: false }] } }, { userIdentity: { invokedBy: [{ 'anything-but': ['autoscaling.amazonaws.com'] }] } }],
};

/** The launch rule's pattern: CloudTrail's RunInstances records on the default bus; member accounts forward the same (infra/member-stack.ts). */
export const LAUNCH_EVENT_PATTERN = { source: ['aws.ec2'], detailType: ['AWS API Call via CloudTrail'], detail: LAUNCH_RULE_DETAIL };

/** How Step Functions names a Lambda timeout (Lambda.Unknown) and a task timeout (States.Timeout). */
export const EVALUATE_TIMEOUT_ERRORS = ['Lambda.Unknown', 'States.Timeout'] as const;

export interface TagPolicyProps {
  /** The validated policy (see workflows/tag-policy/config.ts); embedded in the state machine definition. */
  readonly policy: Policy;
  /** The Approval state machine, called with `states:startExecution.sync:2` before anything destructive. */
  readonly approvalStateMachine: IStateMachine;
  /** How long the workflow waits for an approval. @default Duration.days(8) (the approval's own longest timeout is 7 days) */
  readonly approvalTimeout?: Duration;
  /** When the whole fleet is scanned. @default ScheduleExpression.cron({ hour: '6', minute: '0' }) (daily, 06:00 UTC) */
  readonly scanSchedule?: ScheduleExpression;
  /** @default true */
  readonly scanEnabled?: boolean;
  /** Start a launch run for every successful RunInstances. @default true */
  readonly launchEnabled?: boolean;
  /** How long a launch run waits before reading the new instances' tags. @default Duration.minutes(2) */
  readonly settleDelay?: Duration;
  /**
   * Destructive actions the workflow may take; its role gets StopInstances/TerminateInstances only for these.
   * @default the ones `policy` uses
   */
  readonly destructiveActions?: ActionName[];
  /** Addresses subscribed to the report topic. @default [] */
  readonly reportEmails?: string[];
  /** Chat channels that also get every report (config `tagPolicy.reportChat`), posted after the SNS message. @default none */
  readonly reportChat?: ChatDestination;
  /** DescribeInstances page size. @default 1000 */
  readonly pageSize?: number;
  /** Pages evaluated per Lambda invocation. @default 5 */
  readonly pagesPerInvocation?: number;
  /** @default `<stackName>-TagPolicy` */
  readonly stateMachineName?: string;
  /**
   * The approver email of a principal that may start runs, by ARN (an IAM user, a role one person uses, or an
   * assumed-role session ARN): the person who started a run never approves it (tasks/tag-policy/core/requester.ts).
   * @default {} (only IAM Identity Center sessions and source identities that are email addresses are recognised)
   */
  readonly requesterEmails?: Readonly<Record<string, string>>;
  /**
   * Act in the accounts and regions of an organisation too: the Evaluate and Apply roles are named
   * `hubRoleName(stackName, 'TagPolicy', <task>)` and may assume the member role (workflows/shared/targets.ts);
   * the default event bus admits the organisation's forwarded launches. @default none: this account and region only
   */
  readonly targets?: { readonly config: TargetsConfig; readonly stackName: string; readonly override?: TargetsOverride };
}

/**
 * `TARGETS` (tasks/shared/targets.ts, `readTargets`): the member role and the default accounts and regions. The hub's
 * account and partition are the stack's, resolved by CloudFormation.
 */
function targetsEnv(scope: Construct, config: TargetsConfig): string {
  const stack = Stack.of(scope);
  const { roleName, externalId, accounts, regions } = config;
  return stack.toJsonString({ hubAccount: stack.account, partition: stack.partition, roleName, externalId, accounts, regions });
}

/** The tasks whose roles act in member accounts (their roles' names: `hubRoleName`). */
export const TAG_POLICY_ACTING_TASKS = ['Evaluate', 'Apply'] as const;

export class TagPolicy extends Construct {
  readonly stateMachine: WorkflowStateMachine;
  /** Findings per run (30-day TTL) and grace records. */
  readonly table: Table;
  /** Run reports. */
  readonly topic: Topic;
  readonly launchRule?: Rule;
  readonly schedule?: Schedule;

  constructor(scope: Construct, id: string, props: TagPolicyProps) {
    super(scope, id);
    const settleDelay = props.settleDelay ?? Duration.minutes(2);
    const approvalTimeout = props.approvalTimeout ?? Duration.days(8);
    const pageSize = props.pageSize ?? 1000;
    const pagesPerInvocation = props.pagesPerInvocation ?? 5;
    const destructive = props.destructiveActions ?? destructiveActionsOf(props.policy);
    if (settleDelay.toSeconds() > 86_400) throw new Error('TagPolicy: settleDelay must be at most 24 hours');
    if (pageSize < 5 || pageSize > 1000) throw new Error('TagPolicy: pageSize must be from 5 to 1000 (the DescribeInstances limits)');
    if (pagesPerInvocation < 1 || pagesPerInvocation > 100) throw new Error('TagPolicy: pagesPerInvocation must be from 1 to 100');
    const missing = destructiveActionsOf(props.policy).filter((a) => !destructive.includes(a));
    if (missing.length > 0) throw new Error(`TagPolicy: destructiveActions must include what the policy uses (${missing.join(', ')})`);

    this.table = new WorkflowTable(this, 'Table');
    this.topic = new ReportTopic(this, 'ReportTopic', { displayName: 'opsflow tag policy reports', emails: props.reportEmails });

    const stack = Stack.of(this);
    const stateMachineName = props.stateMachineName ?? workflowStateMachineName(this, 'TagPolicy');
    const reportChat = chatNotifyProps(this, props.reportChat, stateMachineName);
    const table = this.table.tableArn;
    // With targets: where Evaluate reads and Apply acts (the tag policy's own accounts and regions over the defaults).
    const reach = props.targets && {
      TARGETS: targetsEnv(this, props.targets.config),
      ...(props.targets.override && { POLICY_TARGETS: JSON.stringify(props.targets.override) }),
    };
    const fns = {
      validate: new TaskFunction(this, 'ValidateFn', {
        entry: 'tasks/tag-policy/validate.ts',
        description: 'opsflow tag policy: validate the execution input and the policy',
        environment: { DESTRUCTIVE_ACTIONS: JSON.stringify(destructive), SETTLE_SECONDS: String(settleDelay.toSeconds()) },
      }),
      evaluate: new TaskFunction(this, 'EvaluateFn', {
        entry: 'tasks/tag-policy/evaluate.ts',
        description: 'opsflow tag policy: evaluate a few pages of instances and store the findings',
        timeout: Duration.minutes(5),
        ...(props.targets && { roleName: hubRoleName(props.targets.stackName, 'TagPolicy', 'Evaluate') }),
        environment: { TABLE_NAME: this.table.tableName, PAGE_SIZE: String(pageSize), PAGES_PER_INVOCATION: String(pagesPerInvocation), ...reach },
      }),
      plan: new TaskFunction(this, 'PlanFn', {
        entry: 'tasks/tag-policy/plan.ts',
        description: 'opsflow tag policy: blast radius, approval request',
        environment: { TABLE_NAME: this.table.tableName },
      }),
      apply: new TaskFunction(this, 'ApplyFn', {
        entry: 'tasks/tag-policy/apply.ts',
        description: 'opsflow tag policy: re-check and remediate a page of findings',
        timeout: Duration.minutes(2),
        ...(props.targets && { roleName: hubRoleName(props.targets.stackName, 'TagPolicy', 'Apply') }),
        environment: { TABLE_NAME: this.table.tableName, BATCH_SIZE: '100', ...(reach && { TARGETS: reach.TARGETS }) },
      }),
      requester: new TaskFunction(this, 'RequesterFn', {
        entry: 'tasks/tag-policy/requester.ts',
        description: 'opsflow tag policy: who started this run (CloudTrail StartExecution), kept from approving it',
        timeout: Duration.minutes(1),
      }),
      report: new TaskFunction(this, 'ReportFn', {
        entry: 'tasks/tag-policy/report.ts',
        description: 'opsflow tag policy: build and publish the run report',
        timeout: Duration.minutes(2),
        ...reportChat,
        environment: { TABLE_NAME: this.table.tableName, TOPIC_ARN: this.topic.topicArn, ...reportChat.environment },
      }),
    };
    const describe = describeStatement();
    fns.evaluate.addToRolePolicy(describe);
    fns.evaluate.addToRolePolicy(lookupEventsStatement());
    fns.evaluate.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], resources: [table] }));
    // The requester lookup gets nothing else.
    fns.requester.addToRolePolicy(lookupEventsStatement());
    fns.plan.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [table] }));
    fns.apply.addToRolePolicy(describe);
    fns.apply.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query', 'dynamodb:BatchWriteItem'], resources: [table] }));
    const hub = hubScope(stack, props.targets ? allRegions(props.targets.config, props.targets.override ? [props.targets.override] : []) : []);
    for (const statement of remediationStatements(hub, props.policy, destructive)) fns.apply.addToRolePolicy(statement);
    fns.report.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [table] }));
    this.topic.grantPublish(fns.report);
    allowChatNotify(fns.report, props.reportChat);
    if (props.targets) {
      // The same roles act in member accounts through the member role (infra/member-stack.ts); Evaluate resolves OUs.
      for (const fn of [fns.evaluate, fns.apply]) grantAssumeMember(fn, props.targets.config, stack.partition);
      grantResolveOus(fns.evaluate, props.targets.config, stack.partition);
    }
    fns.requester.suppress([
      { id: 'AwsSolutions-IAM5', reason: 'cloudtrail:LookupEvents does not support resource-level permissions.', appliesTo: ['Resource::*'] },
    ]);
    for (const fn of [fns.evaluate, fns.apply]) {
      fn.suppress([
        { id: 'AwsSolutions-IAM5', reason: 'ec2:Describe* and cloudtrail:LookupEvents do not support resource-level permissions.', appliesTo: ['Resource::*'] },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Remediation targets whichever instances break the policy: any instance in this account and region, never other resource types.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):<AWS::AccountId>:instance\\/\\*$/g' }],
        },
      ]);
    }

    this.stateMachine = new WorkflowStateMachine(this, 'StateMachine', {
      stateMachineName,
      comment: 'Applies a tag policy to EC2 instances: adds missing tags, and stops or terminates non-compliant ones behind an approval (dry run by default).',
      definition: this.definition(props, fns, approvalTimeout),
      timeout: approvalTimeout.plus(Duration.hours(12)),
    });
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: '.sync needs DescribeExecution/StopExecution on the Approval executions this workflow starts (execution ARNs are not known in advance).',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):<AWS::AccountId>:execution:.*$/g' }],
        },
      ],
      true,
    );

    if (props.scanEnabled ?? true) {
      this.schedule = new Schedule(this, 'ScanSchedule', {
        description: 'opsflow tag policy: scan the whole fleet',
        schedule: props.scanSchedule ?? ScheduleExpression.cron({ hour: '6', minute: '0' }),
        target: new ScheduleStartExecution(this.stateMachine, { input: ScheduleTargetInput.fromObject({ mode: 'scan' }) }),
      });
    }
    if (props.launchEnabled ?? true) {
      // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
      Annotations.of(this).addInfo(
        'TagPolicy: the launch rule fires only if this region has a CloudTrail trail logging management events; it sees RunInstances only (not CreateFleet, not later DeleteTags/CreateTags). The scheduled scan is the safety net.',
      );
      const launchRuleName = eventRuleName(this, 'TagPolicyLaunch');
      this.launchRule = new Rule(this, 'LaunchRule', {
        ruleName: launchRuleName,
        description: 'opsflow tag policy: check instances right after RunInstances (not Auto Scaling launches)',
        eventPattern: LAUNCH_EVENT_PATTERN,
        targets: [
          new SfnStateMachine(this.stateMachine, {
            role: new EventRuleRole(this, 'LaunchRuleRole', { ruleName: launchRuleName }),
            input: RuleTargetInput.fromObject({
              mode: 'launch',
              // With targets, the launch may be a member account's, forwarded by its member stack: an event keeps "the
              // account and region in which it occurred"
              // (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html), where Evaluate
              // reads the instances and CloudTrail.
              ...(props.targets && { account: EventField.account, region: EventField.region }),
              launch: {
                items: EventField.fromPath('$.detail.responseElements.instancesSet.items'),
                userIdentity: EventField.fromPath('$.detail.userIdentity'),
                // What survives when CloudTrail omits a responseElements over 100 KB (core/input.ts).
                clientToken: EventField.fromPath('$.detail.requestParameters.clientToken'),
                eventTime: EventField.fromPath('$.detail.eventTime'),
              },
            }),
          }),
        ],
      });
      if (props.targets) {
        // Member accounts forward their launches to this bus (infra/member-stack.ts); the bus admits the organisation's
        // accounts only. "specifying Principal as "*" and specifying the AWS organization ID in Condition, to grant
        // permissions to all accounts in that organization"
        // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-eventbuspolicy.html).
        // A forwarded event keeps its source account and region (`account`, `region`), so this rule runs on it too.
        // A plain CfnResource: CfnEventBusPolicy's deprecated `principal` getter prints a warning on every synth when read.
        new CfnResource(this, 'OrganizationLaunches', {
          type: 'AWS::Events::EventBusPolicy',
          properties: {
            EventBusName: 'default',
            StatementId: `${props.targets.stackName}-OrganizationLaunches`,
            Statement: {
              Effect: 'Allow',
              Principal: '*',
              Action: 'events:PutEvents',
              Resource: stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
              Condition: { StringEquals: { 'aws:PrincipalOrgID': props.targets.config.organizationId } },
            },
          },
        });
      }
    }
  }

  private definition(
    props: TagPolicyProps,
    fns: Record<'validate' | 'evaluate' | 'plan' | 'apply' | 'requester' | 'report', TaskFunction>,
    approvalTimeout: Duration,
  ) {
    const validate = new LambdaStep(this, 'ValidateInput', fns.validate, {
      payload: {
        input: JsonPath.entirePayload,
        // The deployed policy travels in the definition: what runs is what was reviewed and deployed.
        policy: props.policy,
        execution: JsonPath.stringAt('$$.Execution.Id'),
      },
    });
    failWithProblems(validate, ErrorNames.InputInvalid, { readId: 'ReadInputProblems' });
    failWithProblems(validate, ErrorNames.PolicyInvalid, { readId: 'ReadPolicyProblems' });

    const readRetry = { errors: [ErrorNames.TagPolicyReadFailed], interval: Duration.seconds(10), maxAttempts: 4, backoffRate: 2 };
    const evaluate = new LambdaStep(this, 'Evaluate', fns.evaluate, { payload: { 'run.$': '$.run', 'scan.$': '$.scan' }, resultPath: '$.scan' });
    evaluate.addRetry(readRetry);
    // Evaluate returns before its timeout with a cursor the loop below resumes from, so a timeout should not happen;
    // if one does (Lambda reports it as Lambda.Unknown, the task timeout is States.Timeout:
    // https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), the same input runs
    // again and resumes the creator lookups from the progress saved in the table; its writes are idempotent.
    evaluate.addRetry({ errors: [...EVALUATE_TIMEOUT_ERRORS], interval: Duration.seconds(5), maxAttempts: 2, backoffRate: 2 });
    const settle = new Wait(this, 'SettleDelay', { time: WaitTime.secondsPath('$.run.settleSeconds') });
    const plan = new LambdaStep(this, 'Plan', fns.plan, { payload: { 'run.$': '$.run', 'counts.$': '$.scan.counts' }, resultPath: '$.plan' });
    const apply = new LambdaStep(this, 'Apply', fns.apply, { payload: { 'run.$': '$.run', 'step.$': '$.step' }, resultPath: '$.step' });
    apply.addRetry(readRetry);
    // No payload: the report gets the whole state; its result replaces the state.
    const report = new LambdaStep(this, 'Report', fns.report);
    const done = new Succeed(this, 'Done');
    if (props.targets) {
      // A target whose instances could not be read ends the run failed, as a failed read does without targets
      // (TagPolicy.ReadFailed), but after the report: the other targets' findings are delivered; the cause names them.
      const unread = new Fail(this, 'TargetsUnread', { error: ErrorNames.TagPolicyReadFailed, causePath: JsonPath.stringAt('$.summary') });
      report.next(new Choice(this, 'AllTargetsRead').when(Condition.isPresent('$.unreachable'), unread).otherwise(done));
    } else report.next(done);

    const askApproval = new StepFunctionsStartExecution(this, 'AskApproval', {
      stateMachine: props.approvalStateMachine,
      integrationPattern: IntegrationPattern.RUN_JOB,
      input: TaskInput.fromJsonPathAt('$.plan.approval'),
      resultSelector: { 'decision.$': '$.Output.decision', 'approver.$': '$.Output.approver', 'comment.$': '$.Output.comment' },
      resultPath: '$.approval',
      taskTimeout: Timeout.duration(approvalTimeout),
    });
    // Rejected, timed out or failed: the cause is kept for the report, and nothing destructive runs.
    askApproval.addCatch(report, { errors: ['States.ALL'], resultPath: '$.approval' });

    // Who started the run (CloudTrail's StartExecution record, which can take minutes to arrive): that person is
    // named as requester, so Approval neither asks them nor accepts their vote. A bounded wait, then `unknown`.
    const findRequester = new LambdaStep(this, 'FindRequester', fns.requester, {
      payload: {
        executionArn: JsonPath.stringAt('$$.Execution.Id'),
        startTime: JsonPath.stringAt('$$.Execution.StartTime'),
        // Deployed configuration, like the policy: an execution input cannot change who is who.
        requesterEmails: props.requesterEmails ?? {},
        lookup: JsonPath.objectAt('$.requester'),
      },
      resultPath: '$.requester',
    });
    findRequester.addRetry({ errors: [ErrorNames.CloudTrailThrottled], interval: Duration.seconds(2), maxAttempts: 5, backoffRate: 2 });
    // CloudTrail unreadable (access denied, ...): nobody is asked and nothing destructive runs; the report says why.
    findRequester.addCatch(report, { errors: ['States.ALL'], resultPath: '$.approval' });
    const requesterWait = new Wait(this, 'WaitForTrail', { time: WaitTime.secondsPath('$.requester.waitSeconds') });
    requesterWait.next(findRequester);
    const named = new Pass(this, 'NameRequester', { inputPath: '$.requester.requestedBy', resultPath: '$.plan.approval.requestedBy' });
    named.next(askApproval);
    findRequester.next(new Choice(this, 'RequesterFound').when(Condition.booleanEquals('$.requester.done', false), requesterWait).otherwise(named));
    const approved = new Pass(this, 'Approved', {
      parameters: { 'phase.$': '$.plan.approvedPhase', done: false, 'tally.$': '$.step.tally', 'approvedBy.$': '$.approval.approver' },
      resultPath: '$.step',
    });
    const startApply = new Pass(this, 'StartApply', {
      parameters: { 'phase.$': '$.plan.phase', done: false, 'tally.$': '$.step.tally' },
      resultPath: '$.step',
    });

    const evaluated = new Choice(this, 'EvaluatedAll').when(Condition.booleanEquals('$.scan.done', false), evaluate).otherwise(plan);
    evaluate.next(evaluated);
    // EC2 throttled the page: wait (on Step Functions' clock) and run the same page again (core/apply.ts).
    const backoff = new Wait(this, 'ApplyBackoff', { time: WaitTime.secondsPath('$.step.throttled.waitSeconds') });
    backoff.next(apply);
    const applied = new Choice(this, 'AppliedAll')
      .when(Condition.isPresent('$.step.throttled'), backoff)
      .when(Condition.booleanEquals('$.step.done', false), apply)
      .when(Condition.and(Condition.stringEquals('$.step.phase', 'tags'), Condition.booleanEquals('$.plan.thenApprove', true)), findRequester)
      .otherwise(report);
    apply.next(applied);
    askApproval.next(approved);
    approved.next(apply);
    startApply.next(apply);
    plan.next(
      new Choice(this, 'Route')
        .when(Condition.stringEquals('$.plan.next', 'apply'), startApply)
        .when(Condition.stringEquals('$.plan.next', 'approve'), findRequester)
        .otherwise(report),
    );
    settle.next(evaluate);
    return validate.next(new Choice(this, 'IsLaunch').when(Condition.stringEquals('$.run.mode', 'launch'), settle).otherwise(evaluate));
  }
}
