/**
 * Scheduled EC2 start/stop, and delegated control of single instances by link and chat command.
 *
 * Input:  {"action":"start"|"stop", "schedule"?: name, "instanceIds"?: [...], "dryRun"?: bool,
 *          "requestedBy"?: string, "groups"?: [group, ...]}  (exactly one of schedule / instanceIds)
 * Output: {"action","schedule","dryRun","requestedBy","holiday","counts":{total,moved,skipped,failed,dryRun},
 *          "instances":[{instanceId,name,from,to,outcome,reason}],"omitted","summary","fullReport"}; the same
 *          report goes to the report topic (SNS), also when the run fails.
 * Errors: Input.Invalid (cause lists every problem, nothing was done), Ec2.PartialFailure (some instances did
 *         not reach the target state; cause is the summary, the report says which and why); when planning or a
 *         wave fails, the run still reports, then fails with that error and the summary as cause.
 *
 * How it works: each period boundary of each configured schedule is an EventBridge Scheduler schedule with
 * its own time zone (no polling) that starts this workflow with `{"action","schedule"}`. `ValidateInput`
 * checks the input. `Plan` pages DescribeInstances for `Schedule=<name>`, settles instances to leave alone
 * with a reason (Auto Scaling members, already there, terminated, `opsflow:override` in the future,
 * instance-store roots, skip dates) and stores the rest as batches in the table; the state carries one summary
 * per ordering group. `Waves` runs the groups one after the other (start: the schedule's order; stop: reversed),
 * each as a child execution of `Ec2ScheduleWave`: a loop of `Advance` passes that verify the instances in
 * transition and send the Start/StopInstances calls EC2's token buckets allow (bisecting a failing call), then
 * `Wait` as long as the buckets need to refill, so a 10,000-instance start moves at EC2's 2 instances a second
 * instead of failing on throttling. `Report` builds the report, whatever ended the run, `PublishReport` sends
 * it, and the run fails with Ec2.PartialFailure if anything failed.
 *
 * With config `targets`: Plan lists every account × region (TARGETS, tasks/shared/targets.ts), a target it cannot
 * reach is reported with its reason, and `Lanes` runs one lane per target side by side, each lane's groups in order
 * (`lanes()` below).
 *
 * Delegated control: an HTTP API serves signed, revocable control links (`/ec2/control/{instanceId}/{action}`)
 * and a Mattermost/Slack slash command (`/ec2/chat`); both run this workflow for one instance.
 *
 * Locally: `npm start`, then `opsflow start Ec2Schedule workflows/ec2-schedule/examples/ec2-start-office-hours.json`, or fire
 * a schedule: `curl -X POST localhost:4566/_opsflow/schedules/opsflow-office-hours-start-0/fire`.
 * A control link: `npm run control-link -- <instanceId> start`.
 */
import { ArnFormat, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { type HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  Fail,
  IntegrationPattern,
  JsonPath,
  Map as MapState,
  Pass,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { SnsPublish, StepFunctionsStartExecution as StartExecutionTask } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { VERIFY_INTERVAL_SECONDS } from '../../tasks/ec2-schedule/core/pace';
import { scheduleTriggers, type SchedulesConfig } from '../../tasks/ec2-schedule/core/schedules';
import { kindOf } from '../../tasks/ec2-schedule/core/kinds';
import type { Kind } from '../../tasks/ec2-schedule/core/types';
import { SCHEDULE_TAG } from '../../tasks/ec2-schedule/core/tags';
import { ErrorNames } from '../../tasks/shared/errors';
import type { ChatDestination } from '../../tasks/shared/chat-target';
import { ChatSecret } from '../shared/chat';
import { allowChatNotify, chatNotifyProps } from '../shared/chat-notify';
import { LinkApi, ReportTopic, WorkflowTable } from '../shared/resources';
import { describeInstancesStatement, ec2ActStatements, grantKinds, startStopTagConditions } from './kinds-iam';
import { SchedulerRole } from '../shared/service-roles';
import { allRegions, grantAssumeMember, grantResolveOus, hubRoleName, hubScope, type TargetsConfig } from '../shared/targets';
import { failWithProblems, LambdaStep } from '../shared/steps';
import { checkEnvironmentSize, LAMBDA_ENVIRONMENT_BYTES, TaskFunction } from '../shared/task-function';
import { WorkflowStateMachine, workflowStateMachineName } from '../shared/workflow-state-machine';

/**
 * How long a run may take. At EC2's default rates it starts about 38,000 instances in that time (1,000 at once,
 * then 2 a second), stops many more; what it has not sent by `actUntil` is reported "not started".
 */
const RUN_TIMEOUT = Duration.hours(6);
/** What a run keeps for its last Advance pass, the Report and PublishReport after verification. */
const REPORT_ALLOWANCE = Duration.minutes(30);

export interface Ec2ScheduleProps {
  /** Named schedules; each period boundary becomes an EventBridge Scheduler schedule. @default {} */
  readonly schedules?: SchedulesConfig;
  /** The kinds of resource the schedules move; the roles get these kinds' permissions only. @default ['ec2'] */
  readonly kinds?: Kind[];
  /** Instances per Start/StopInstances call (fewer where a batch must stay under DynamoDB's 400 KB item size). @default 50 */
  readonly batchSize?: number;
  /** How long verification waits for the target state. @default Duration.minutes(15) */
  readonly verifyTimeout?: Duration;
  /** KMS keys of encrypted EBS volumes; the workflow may create grants on these (and only these). @default [] */
  readonly kmsKeyArns?: string[];
  /** Email addresses subscribed to the report topic. @default [] */
  readonly reportEmails?: string[];
  /** Chat channels that also get every report (config `ec2Schedule.reportChat`), posted by the Report task. @default none */
  readonly reportChat?: ChatDestination;
  /** Instances links and chat may control: `Key` / `Key=Value` tags. @default ['Schedule'] */
  readonly controlAllowTags?: string[];
  /** Instances links and chat may control, by id; also added to the Start/StopInstances policy. @default [] */
  readonly controlAllowInstanceIds?: string[];
  /** Prefix of the EventBridge schedule names (`<prefix>-<schedule>-start-<n>`). @default 'opsflow' */
  readonly scheduleNamePrefix?: string;
  /** @default `<stackName>-Ec2Schedule` */
  readonly stateMachineName?: string;
  /**
   * Act in the accounts and regions of an organisation too: the Plan, Advance, Control and Chat roles are named
   * `hubRoleName(stackName, 'Ec2Schedule', <task>)` and may assume the member role (workflows/shared/targets.ts).
   * @default none: this account and region only
   */
  readonly targets?: { readonly config: TargetsConfig; readonly stackName: string };
}

/** The tasks whose roles act in member accounts (their roles' names: `hubRoleName`). */
export const EC2_SCHEDULE_ACTING_TASKS = ['Plan', 'Advance', 'Control', 'Chat'] as const;

export class Ec2Schedule extends Construct {
  readonly stateMachine: WorkflowStateMachine;
  /** Acts on and verifies one ordering group, paced to EC2's token buckets; the main state machine runs one child execution per group. */
  readonly waveStateMachine: WorkflowStateMachine;
  /** Run batches and control settings (link secret, revoked links, chat token). */
  readonly table: Table;
  /** Receives every run's report. */
  readonly topic: Topic;
  /** Serves control links and the slash command. */
  readonly api: HttpApi;
  /** The deployment's chat secret (workflows/shared/chat.ts), which the slash command verifies requests with. */
  readonly chatSecret: ChatSecret;
  /** The EventBridge Scheduler schedules, one per period boundary. */
  readonly schedules: Schedule[] = [];

  constructor(scope: Construct, id: string, props: Ec2ScheduleProps = {}) {
    super(scope, id);
    const schedules = props.schedules ?? {};
    const kinds = props.kinds ?? ['ec2'];
    if (kinds.length === 0) throw new Error('Ec2Schedule: kinds must name at least one kind');
    const batchSize = props.batchSize ?? 50;
    const verifyTimeout = props.verifyTimeout ?? Duration.minutes(15);
    const prefix = props.scheduleNamePrefix ?? 'opsflow';
    const stateMachineName = props.stateMachineName ?? workflowStateMachineName(this, 'Ec2Schedule');
    const allow = { tags: props.controlAllowTags ?? [SCHEDULE_TAG], instanceIds: props.controlAllowInstanceIds ?? [] };
    if (batchSize < 1 || batchSize > 1000) throw new Error('Ec2Schedule: batchSize must be from 1 to 1000 (StartInstances takes at most 1000 ids)');
    if (verifyTimeout.toSeconds() < VERIFY_INTERVAL_SECONDS * 2)
      throw new Error(`Ec2Schedule: verifyTimeout must allow at least two checks (${VERIFY_INTERVAL_SECONDS * 2} seconds)`);
    if (verifyTimeout.toSeconds() > Duration.hours(1).toSeconds()) throw new Error('Ec2Schedule: verifyTimeout must be at most 1 hour');
    const triggers = Object.entries(schedules).flatMap(([name, s]) => scheduleTriggers(prefix, name, s));
    const tooLong = triggers.find((t) => t.scheduleName.length > 64);
    if (tooLong)
      throw new Error(
        `Ec2Schedule: schedule name ${tooLong.scheduleName} exceeds EventBridge Scheduler's 64 characters; shorten scheduleNamePrefix or the schedule name`,
      );

    const stack = Stack.of(this);
    this.table = new WorkflowTable(this, 'Table');
    this.topic = new ReportTopic(this, 'ReportTopic', { displayName: 'opsflow EC2 schedule reports', emails: props.reportEmails });

    // ---- task functions -------------------------------------------------------------------------------
    const schedulesEnv = JSON.stringify(
      Object.fromEntries(
        Object.entries(schedules).map(([name, s]) => [
          name,
          {
            timezone: s.timezone,
            skipDates: s.skipDates,
            groups: s.groups,
            ...(s.hibernate && { hibernate: true }),
            // The schedule's own accounts and regions over TARGETS' (ScheduleRuntime.targets).
            ...(props.targets && s.targets && { targets: s.targets }),
          },
        ]),
      ),
    );
    // The schedules travel in the Lambda environment (4 KB for all variables together, see checkEnvironmentSize):
    // name the config field that fills it, instead of failing the deployment.
    // A database takes longer to verify than an instance (kinds/rds.ts): the run keeps the longest of its kinds' times.
    const longestVerify = Duration.seconds(Math.max(verifyTimeout.toSeconds(), ...kinds.map((k) => kindOf(k).verifySeconds)));
    const actBudget = RUN_TIMEOUT.minus(longestVerify).minus(REPORT_ALLOWANCE);
    // TARGETS (config `targets`): the member role and the default accounts and regions, read by tasks/shared/targets.ts
    // `readTargets`; the account and partition are the stack's own (`hubAccount`: its resources are reached without AssumeRole).
    const targetsOf = (t: TargetsConfig, hubAccount: string, partition: string) => ({
      hubAccount,
      partition,
      roleName: t.roleName,
      externalId: t.externalId,
      accounts: t.accounts,
      regions: t.regions,
    });
    const targetsEnv = props.targets && { TARGETS: stack.toJsonString(targetsOf(props.targets.config, stack.account, stack.partition)) };
    const planEnvBytes = checkEnvironmentSize('Ec2Schedule', {
      // Counted at its longest: a 12-digit account, the longest partition name.
      ...(props.targets && { TARGETS: JSON.stringify(targetsOf(props.targets.config, '000000000000', 'aws-iso-b')) }),
      TABLE_NAME: this.table.tableName,
      BATCH_SIZE: String(batchSize),
      ACT_BUDGET_SECONDS: String(actBudget.toSeconds()),
      SCHEDULES: '',
      KINDS: JSON.stringify(kinds),
      POWERTOOLS_SERVICE_NAME: 'opsflow',
      NODE_OPTIONS: '--enable-source-maps',
    });
    if (planEnvBytes + Buffer.byteLength(schedulesEnv) > LAMBDA_ENVIRONMENT_BYTES) {
      const most = Object.entries(schedules).sort((a, b) => b[1].skipDates.length - a[1].skipDates.length)[0];
      throw new Error(
        `Ec2Schedule: the schedules take ${Buffer.byteLength(schedulesEnv)} bytes of the Lambda environment, which holds ${LAMBDA_ENVIRONMENT_BYTES} bytes for all variables; ` +
          `remove past skip dates (schedules.${most?.[0]}.skipDates has ${most?.[1].skipDates.length})`,
      );
    }
    const tableEnv = { TABLE_NAME: this.table.tableName };
    const roleName = (task: (typeof EC2_SCHEDULE_ACTING_TASKS)[number]) =>
      props.targets && { roleName: hubRoleName(props.targets.stackName, 'Ec2Schedule', task) };
    const kindsEnv = { KINDS: JSON.stringify(kinds) };
    const validate = new TaskFunction(this, 'ValidateFn', {
      entry: 'tasks/ec2-schedule/validate.ts',
      description: 'opsflow ec2 schedule: validate the execution input',
      environment: { SCHEDULES: schedulesEnv, ...kindsEnv },
    });
    const plan = new TaskFunction(this, 'PlanFn', {
      entry: 'tasks/ec2-schedule/plan.ts',
      description: 'opsflow ec2 schedule: find targets, settle skips, store batches',
      timeout: Duration.minutes(5),
      ...roleName('Plan'),
      environment: {
        ...tableEnv,
        ...kindsEnv,
        ...targetsEnv,
        SCHEDULES: schedulesEnv,
        BATCH_SIZE: String(batchSize),
        ACT_BUDGET_SECONDS: String(actBudget.toSeconds()),
      },
    });
    const advance = new TaskFunction(this, 'AdvanceFn', {
      entry: 'tasks/ec2-schedule/advance.ts',
      description: 'opsflow ec2 schedule: one pass of a group: verify instances in transition, start or stop what EC2 tokens allow',
      timeout: Duration.minutes(5),
      ...roleName('Advance'),
      environment: { ...tableEnv, ...targetsEnv, VERIFY_TIMEOUT_SECONDS: String(verifyTimeout.toSeconds()), BATCH_SIZE: String(batchSize) },
    });
    const reportChat = chatNotifyProps(this, props.reportChat, stateMachineName);
    const report = new TaskFunction(this, 'ReportFn', {
      entry: 'tasks/ec2-schedule/report.ts',
      description: 'opsflow ec2 schedule: build the run report',
      timeout: Duration.minutes(2),
      ...reportChat,
      environment: { ...tableEnv, ...reportChat.environment },
    });
    allowChatNotify(report, props.reportChat);

    // ---- IAM: explicit statements, least privilege -----------------------------------------------------
    const describeInstances = describeInstancesStatement();
    const act = { kinds, allowTags: allow.tags, allowInstanceIds: allow.instanceIds, kmsKeyArns: props.kmsKeyArns ?? [] };
    const hub = hubScope(
      stack,
      props.targets
        ? allRegions(
            props.targets.config,
            Object.values(schedules).flatMap((s) => (s.targets ? [s.targets] : [])),
          )
        : [],
    );
    for (const statement of ec2ActStatements(hub, act)) advance.addToRolePolicy(statement);
    for (const fn of [plan, advance]) fn.addToRolePolicy(describeInstances);
    // Batches are written 25 to a BatchWriteItem and a pass reads its window of batches with one Query.
    plan.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], resources: [this.table.tableArn] }));
    advance.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query'], resources: [this.table.tableArn] }),
    );
    report.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.table.tableArn] }));
    // The full report goes into the table, only under `report#<run>` keys (it never touches control settings).
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html (dynamodb:LeadingKeys)
    report.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] } },
      }),
    );
    for (const fn of [plan, advance]) {
      fn.suppress([{ id: 'AwsSolutions-IAM5', reason: 'ec2:DescribeInstances does not support resource-level permissions.', appliesTo: ['Resource::*'] }]);
    }
    advance.suppress([
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Start/StopInstances on any instance of the account and region, but only with a Schedule tag or a tag ec2Schedule.control allows (aws:ResourceTag conditions): instances opt in by tag, their ids are not known at deploy time.',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):instance\\/\\*$/g' }],
      },
    ]);

    // ---- state machine ---------------------------------------------------------------------------------
    const retryThrottling = { errors: [ErrorNames.Ec2Throttled], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(1) };

    const validateInput = new LambdaStep(this, 'ValidateInput', validate, {
      payload: { input: JsonPath.entirePayload, runId: JsonPath.stringAt('$$.Execution.Name') },
    });
    failWithProblems(validateInput, ErrorNames.InputInvalid);
    const planStep = new LambdaStep(this, 'Plan', plan, { payload: { 'request.$': '$.request', 'runId.$': '$.runId' }, resultPath: '$.plan' });
    planStep.addRetry(retryThrottling);

    // One wave (ordering group) is one child execution: a loop of Advance passes, each verifying what is in
    // transition and sending what EC2's token buckets allow, with a Wait between passes on Step Functions' clock
    // (tasks/ec2-schedule/core/advance.ts, pace.ts). Its history grows by 9 events a pass, bounded by MAX_PASSES; the parent's
    // by a fixed few events a wave, so no execution comes near Step Functions' 25,000-event quota at any fleet size.
    // https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (history: 25,000 events);
    // https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html (startExecution.sync:2).
    const advanceStep = new LambdaStep(this, 'Advance', advance, {
      payload: { 'runId.$': '$.runId', 'wave.$': '$.wave', 'actUntil.$': '$.actUntil' },
      resultPath: '$.pass',
      comment: "Verifies the instances in transition, sends the Start/StopInstances calls EC2's tokens allow, says how long to wait",
    });
    // A pass repeats nothing it did (each instance carries its status), so any other error is tried again too.
    advanceStep.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3 });
    const nextPass = new Wait(this, 'WaitForNextPass', { time: WaitTime.secondsPath('$.pass.waitSeconds') });
    advanceStep.next(
      new Choice(this, 'WaveDone?').when(Condition.booleanEquals('$.pass.done', true), new Succeed(this, 'WaveDone')).otherwise(nextPass.next(advanceStep)),
    );
    this.waveStateMachine = new WorkflowStateMachine(this, 'WaveStateMachine', {
      stateMachineName: props.stateMachineName ? `${props.stateMachineName}Wave` : workflowStateMachineName(this, 'Ec2ScheduleWave'),
      comment: "One ordering group of an Ec2Schedule run: starts or stops its instances paced to EC2's token buckets, verifying each reaches its target state.",
      definition: advanceStep,
      timeout: RUN_TIMEOUT,
    });
    const runWave = new StartExecutionTask(this, 'RunWave', {
      stateMachine: this.waveStateMachine,
      integrationPattern: IntegrationPattern.RUN_JOB,
      input: TaskInput.fromObject({ 'runId.$': '$.runId', 'wave.$': '$.wave', 'actUntil.$': '$.actUntil' }),
      associateWithParent: true,
      resultPath: JsonPath.DISCARD,
      taskTimeout: Timeout.duration(RUN_TIMEOUT),
    });
    // A child that could not start because of the account's open-execution quota or API throttling is started
    // again (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html, errors;
    // https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html).
    runWave.addRetry({
      errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.ThrottlingException'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
    });
    // One ordering group at a time, so `db` is running (verified) before `app` starts.
    const waves = props.targets
      ? this.lanes(runWave)
      : new MapState(this, 'Waves', {
          itemsPath: '$.plan.waves',
          maxConcurrency: 1,
          itemSelector: { 'runId.$': '$.runId', 'wave.$': '$$.Map.Item.Value', 'actUntil.$': '$.plan.actUntil' },
          resultPath: JsonPath.DISCARD,
        });
    if (!props.targets) waves.itemProcessor(runWave);

    // The whole state (request, plan summary, the failure caught, if any) is a few hundred bytes at any fleet size.
    const reportStep = new LambdaStep(this, 'Report', report, { resultPath: '$.result' });
    // Whatever ends the run early, planning or a wave, the report still says what happened to every instance.
    planStep.addCatch(reportStep, { errors: ['States.ALL'], resultPath: '$.failure' });
    waves.addCatch(reportStep, { errors: ['States.ALL'], resultPath: '$.failure' });
    const publish = new SnsPublish(this, 'PublishReport', {
      topic: this.topic,
      subject: JsonPath.stringAt('$.result.message.subject'),
      message: TaskInput.fromJsonPathAt('$.result.message.text'),
      resultPath: JsonPath.DISCARD,
      taskTimeout: Timeout.duration(Duration.seconds(60)),
    });
    const partialFailure = new Fail(this, 'PartialFailure', { error: ErrorNames.Ec2PartialFailure, causePath: JsonPath.stringAt('$.result.report.summary') });
    // A target the plan could not reach fails the run after its report, as a failed instance does (counts.unreachable).
    const failed = Condition.numberGreaterThan('$.result.report.counts.failed', 0);
    const outcome = new Choice(this, 'AllAccountedFor?')
      .when(
        Condition.isPresent('$.failure'),
        new Fail(this, 'RunFailed', { errorPath: JsonPath.stringAt('$.failure.Error'), causePath: JsonPath.stringAt('$.result.report.summary') }),
      )
      .when(props.targets ? Condition.or(failed, Condition.isPresent('$.result.report.counts.unreachable')) : failed, partialFailure)
      .otherwise(new Succeed(this, 'Done', { outputPath: '$.result.report' }));

    this.stateMachine = new WorkflowStateMachine(this, 'StateMachine', {
      stateMachineName,
      comment: 'Starts or stops the EC2 instances that opted in to a schedule by tag, verifies each reached its target state, and reports.',
      definition: validateInput.next(planStep).next(waves).next(reportStep).next(publish).next(outcome),
      timeout: RUN_TIMEOUT,
    });
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: '.sync needs DescribeExecution/StopExecution on the wave executions this workflow starts (execution names are generated).',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:.*$/g' }],
        },
      ],
      true,
    );

    // ---- schedules: one per period boundary, evaluated by EventBridge Scheduler in the schedule's zone ---------
    const schedulerRole = new SchedulerRole(this, 'SchedulerRole');
    for (const t of triggers) {
      this.schedules.push(
        new Schedule(this, `Schedule-${t.scheduleName}`, {
          scheduleName: t.scheduleName,
          description: `opsflow: ${t.action} schedule ${t.schedule}${t.groups ? ` (groups ${t.groups.join(', ')})` : ''}`,
          schedule: ScheduleExpression.expression(t.expression, TimeZone.of(t.timezone)),
          target: new StepFunctionsStartExecution(this.stateMachine, {
            role: schedulerRole,
            input: ScheduleTargetInput.fromObject({
              action: t.action,
              schedule: t.schedule,
              requestedBy: `EventBridge Scheduler ${t.scheduleName}`,
              ...(t.groups && { groups: t.groups }),
            }),
            retryAttempts: 3,
          }),
        }),
      );
    }

    // ---- delegated control: links and chat -------------------------------------------------------------
    const httpEnv = { ...tableEnv, ...kindsEnv, ...targetsEnv, STATE_MACHINE_ARN: this.stateMachine.stateMachineArn, ALLOW: JSON.stringify(allow) };
    const control = new TaskFunction(this, 'ControlFn', {
      entry: 'tasks/ec2-schedule/control.ts',
      description: 'opsflow ec2 control links: show an instance, start or stop it through the workflow',
      environment: httpEnv,
      ...roleName('Control'),
    });
    // The deployment's one chat secret (workflows/shared/chat.ts): the slash command verifies Slack and Mattermost with it.
    this.chatSecret = ChatSecret.of(this);
    const chat = new TaskFunction(this, 'ChatFn', {
      entry: 'tasks/ec2-schedule/chat.ts',
      description: 'opsflow ec2 slash command (Mattermost, Slack): ls, status, start, stop',
      environment: { ...httpEnv, ...this.chatSecret.environment },
      ...roleName('Chat'),
    });
    this.chatSecret.allowRead(chat);
    for (const fn of [control, chat]) {
      fn.addToRolePolicy(describeInstances);
      fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.table.tableArn] }));
      this.stateMachine.grantStartExecution(fn);
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [
            stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          ],
        }),
      );
      fn.suppress([
        { id: 'AwsSolutions-IAM5', reason: 'ec2:DescribeInstances does not support resource-level permissions.', appliesTo: ['Resource::*'] },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'DescribeExecution on executions of this one state machine; execution names are not known in advance.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:[^:]+:\\*$/g' }],
        },
      ]);
    }

    // The other kinds: read where EC2 is described, act where EC2 is started and stopped, under the same tag conditions.
    grantKinds(hub, kinds, startStopTagConditions(allow.tags), { readers: [control, chat], planner: plan, actor: advance });

    if (props.targets) {
      // The same roles act in member accounts through the member role (infra/member-stack.ts); the plan resolves OUs.
      for (const fn of [plan, advance, control, chat]) grantAssumeMember(fn, props.targets.config, stack.partition);
      // Control and Chat check a named target against the configured accounts, OUs resolved like Plan's.
      for (const fn of [plan, control, chat]) grantResolveOus(fn, props.targets.config, stack.partition);
    }

    this.api = new LinkApi(this, 'Api', {
      description: 'opsflow EC2 control links and slash command',
      // People click links and type commands: this bounds abuse of a leaked link without getting in their way.
      throttle: { rateLimit: 5, burstLimit: 10 },
      authentication:
        'Link holders and chat servers have no AWS identity: links carry an HMAC signature (revocable, secret rotatable), Slack requests a signature (HMAC-SHA256), Mattermost requests a token; all are checked by the handler.',
    });
    this.api.addRoutes({
      path: '/ec2/control/{instanceId}/{action}',
      methods: [HttpMethod.GET, HttpMethod.POST],
      integration: new HttpLambdaIntegration('Control', control),
    });
    this.api.addRoutes({ path: '/ec2/chat', methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('Chat', chat) });
  }

  /**
   * With targets: one lane per target (account × region, `Plan.lanes`). Lanes run side by side, up to 40 at once,
   * Step Functions' most for an inline Map ("up to 40 concurrent iterations",
   * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html); within a lane the waves run one at a
   * time, so a target's `db` is verified before its `app` starts, and its EC2 buckets (the member account's, per
   * region) pace one wave at a time as they do without targets. A lane whose wave fails ends alone (`LaneFailed`):
   * the report says its unfinished resources failed, and the other targets go on.
   *
   * History: a lane adds 2 events to the parent (MapIterationStarted/Succeeded), its Map 4 (entered, started,
   * succeeded, exited) and each wave 8 (its iteration's 2, RunWave's 6: entered, scheduled, started, submitted,
   * succeeded, exited), so 6 + 8w events, 22 for two waves: 200 targets of two waves are about 4,400 events, well
   * under the 25,000 of https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html. The state holds the
   * lanes' wave summaries, about 200 bytes a wave: 400 waves are about 80 KB of the 256 KiB a state may carry.
   */
  private lanes(runWave: StartExecutionTask): MapState {
    const laneWaves = new MapState(this, 'Waves', {
      itemsPath: '$.lane.waves',
      maxConcurrency: 1,
      itemSelector: { 'runId.$': '$.runId', 'wave.$': '$$.Map.Item.Value', 'actUntil.$': '$.actUntil' },
      resultPath: JsonPath.DISCARD,
    });
    laneWaves.itemProcessor(runWave);
    laneWaves.addCatch(new Pass(this, 'LaneFailed', { comment: "The report says what this target's unfinished resources were left at" }), {
      errors: ['States.ALL'],
      resultPath: JsonPath.DISCARD,
    });
    const lanes = new MapState(this, 'Lanes', {
      itemsPath: '$.plan.lanes',
      maxConcurrency: 40,
      itemSelector: { 'runId.$': '$.runId', 'lane.$': '$$.Map.Item.Value', 'actUntil.$': '$.plan.actUntil' },
      resultPath: JsonPath.DISCARD,
    });
    lanes.itemProcessor(laneWaves);
    return lanes;
  }
}
