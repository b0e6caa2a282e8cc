/**
 * Scheduled EC2 start/stop, and delegated control of single instances by link and chat command.
 *
 * Input:  {"action":"start"|"stop", "schedule"?: name, "instanceIds"?: [...], "dryRun"?: bool,
 *          "requestedBy"?: string, "groups"?: [group, ...]}  (exactly one of schedule / instanceIds)
 * Output: {"action","schedule","dryRun","requestedBy","holiday","counts":{total,moved,skipped,failed,dryRun},
 *          "instances":[{instanceId,name,from,to,outcome,reason}],"omitted","summary"}; the same report goes to
 *          the report topic (SNS), also when the run fails.
 * Errors: Input.Invalid (cause lists every problem, nothing was done), Ec2.PartialFailure (some instances did
 *         not reach the target state; cause is the summary, the report says which and why).
 *
 * How it works: each period boundary of each configured schedule is an EventBridge Scheduler schedule with
 * its own time zone (no polling) that starts this workflow with `{"action","schedule"}`. `ValidateInput`
 * checks the input. `Plan` pages DescribeInstances for `Schedule=<name>`, settles instances to leave alone
 * with a reason (Auto Scaling members, already there, terminated, `opsflow:override` in the future,
 * instance-store roots, skip dates) and stores the rest as batches in the table; the state carries only
 * batch keys. `Waves` runs the ordering groups one after the other (start: the schedule's order; stop:
 * reversed), `Batches` their batches with bounded concurrency. `Act` calls Start/StopInstances, bisecting a
 * failing batch; throttling and capacity shortages are retried with back-off. `Verify` polls until each
 * instance reaches running/stopped or the deadline, explaining failures from the StateReason. `Report`
 * builds the report, `PublishReport` sends it, and the run fails with Ec2.PartialFailure if anything failed.
 *
 * Delegated control: an HTTP API serves signed, revocable control links (`/ec2/control/{instanceId}/{action}`)
 * and a Mattermost/Slack slash command (`/ec2/chat`); both run this workflow for one instance.
 *
 * Locally: `npm start`, then `opsflow start Ec2Schedule workflows/examples/ec2-start-office-hours.json`, or fire
 * a schedule: `curl -X POST localhost:4566/_opsflow/schedules/opsflow-office-hours-start-0/fire`.
 * A control link: `npm run control-link -- <instanceId> start`.
 */
import { ArnFormat, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import {
  Choice, Condition, Fail, IntegrationPattern, JsonPath, Map as MapState, Succeed,
  TaskInput, Timeout, Wait, WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { SnsPublish, StepFunctionsStartExecution as StartExecutionTask } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { parseAllowTag } from '../tasks/ec2/core/allow';
import { scheduleTriggers, type SchedulesConfig } from '../tasks/ec2/core/schedules';
import { SCHEDULE_TAG } from '../tasks/ec2/core/tags';
import { ErrorNames } from '../tasks/shared/errors';
import { LinkApi, ReportTopic, WorkflowTable } from './shared/resources';
import { SchedulerRole } from './shared/service-roles';
import { failWithProblems, LambdaStep } from './shared/steps';
import { checkEnvironmentSize, LAMBDA_ENVIRONMENT_BYTES, TaskFunction } from './shared/task-function';
import { WorkflowStateMachine, workflowStateMachineName } from './shared/workflow-state-machine';

/**
 * What a batch execution allows on top of `verifyTimeout`: Act (5 min) with its throttling retries (about 2 min)
 * and capacity retries (1 + 2 + 4 min) and the final attempt.
 */
const BATCH_ACT_ALLOWANCE = Duration.minutes(30);

/** How long the verify loop waits between checks: EC2 transitions take 30-60 s, rarely more. */
export const VERIFY_INTERVAL = Duration.seconds(15);

/**
 * The conditions under which the Act role may start or stop an instance, one statement each (IAM allows when any
 * statement does): the Schedule tag is present, or the instance matches an `allowTags` entry, read as the handlers
 * read it (`parseAllowTag`): `Key` is the tag present with any value (`Null` false), `Key=Value` that value
 * (`StringEquals`, values of one key together). EC2 authorizes Start/StopInstances per instance with
 * `aws:ResourceTag/<key>`: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html;
 * operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 */
export function startStopTagConditions(allowTags: string[]): Array<Record<string, Record<string, string | string[]>>> {
  const present = new Set<string>([SCHEDULE_TAG]);
  const values = new Map<string, string[]>();
  for (const { key, value } of allowTags.map(parseAllowTag)) {
    if (value === undefined) present.add(key);
    else values.set(key, [...new Set([...(values.get(key) ?? []), value])]);
  }
  return [
    ...[...present].map((key) => ({ Null: { [`aws:ResourceTag/${key}`]: 'false' } })),
    ...[...values].filter(([key]) => !present.has(key)).map(([key, vs]) => ({ StringEquals: { [`aws:ResourceTag/${key}`]: vs.length === 1 ? vs[0] : vs } })),
  ];
}

export interface Ec2ScheduleProps {
  /** Named schedules; each period boundary becomes an EventBridge Scheduler schedule. @default {} */
  readonly schedules?: SchedulesConfig;
  /** Instances per Start/StopInstances call. @default 50 */
  readonly batchSize?: number;
  /** Batches of one ordering group acted on at once. @default 4 */
  readonly maxConcurrency?: number;
  /** How long verification waits for the target state. @default Duration.minutes(15) */
  readonly verifyTimeout?: Duration;
  /** KMS keys of encrypted EBS volumes; the workflow may create grants on these (and only these). @default [] */
  readonly kmsKeyArns?: string[];
  /** Email addresses subscribed to the report topic. @default [] */
  readonly reportEmails?: string[];
  /** Instances links and chat may control: `Key` / `Key=Value` tags. @default ['Schedule'] */
  readonly controlAllowTags?: string[];
  /** Instances links and chat may control, by id; also added to the Start/StopInstances policy. @default [] */
  readonly controlAllowInstanceIds?: string[];
  /** Prefix of the EventBridge schedule names (`<prefix>-<schedule>-start-<n>`). @default 'opsflow' */
  readonly scheduleNamePrefix?: string;
  /** @default `<stackName>-Ec2Schedule` */
  readonly stateMachineName?: string;
}

export class Ec2Schedule extends Construct {
  readonly stateMachine: WorkflowStateMachine;
  /** Acts on and verifies one batch; the main state machine runs one child execution per batch. */
  readonly batchStateMachine: WorkflowStateMachine;
  /** Run batches and control settings (link secret, revoked links, chat token). */
  readonly table: Table;
  /** Receives every run's report. */
  readonly topic: Topic;
  /** Serves control links and the slash command. */
  readonly api: HttpApi;
  /** The EventBridge Scheduler schedules, one per period boundary. */
  readonly schedules: Schedule[] = [];

  constructor(scope: Construct, id: string, props: Ec2ScheduleProps = {}) {
    super(scope, id);
    const schedules = props.schedules ?? {};
    const batchSize = props.batchSize ?? 50;
    const maxConcurrency = props.maxConcurrency ?? 4;
    const verifyTimeout = props.verifyTimeout ?? Duration.minutes(15);
    const prefix = props.scheduleNamePrefix ?? 'opsflow';
    const stateMachineName = props.stateMachineName ?? workflowStateMachineName(this, 'Ec2Schedule');
    const allow = { tags: props.controlAllowTags ?? [SCHEDULE_TAG], instanceIds: props.controlAllowInstanceIds ?? [] };
    if (batchSize < 1 || batchSize > 1000) throw new Error('Ec2Schedule: batchSize must be from 1 to 1000 (StartInstances takes at most 1000 ids)');
    if (maxConcurrency < 1 || maxConcurrency > 40) throw new Error('Ec2Schedule: maxConcurrency must be from 1 to 40');
    if (verifyTimeout.toSeconds() < VERIFY_INTERVAL.toSeconds() * 2) throw new Error('Ec2Schedule: verifyTimeout must allow at least two checks (30 seconds)');
    const triggers = Object.entries(schedules).flatMap(([name, s]) => scheduleTriggers(prefix, name, s));
    const tooLong = triggers.find((t) => t.scheduleName.length > 64);
    if (tooLong) throw new Error(`Ec2Schedule: schedule name ${tooLong.scheduleName} exceeds EventBridge Scheduler's 64 characters; shorten scheduleNamePrefix or the schedule name`);

    const stack = Stack.of(this);
    this.table = new WorkflowTable(this, 'Table');
    this.topic = new ReportTopic(this, 'ReportTopic', { displayName: 'opsflow EC2 schedule reports', emails: props.reportEmails });

    // ---- task functions -------------------------------------------------------------------------------
    const schedulesEnv = JSON.stringify(
      Object.fromEntries(Object.entries(schedules).map(([name, s]) => [name, { timezone: s.timezone, skipDates: s.skipDates, groups: s.groups }])),
    );
    // The schedules travel in the Lambda environment (4 KB for all variables together, see checkEnvironmentSize):
    // name the config field that fills it, instead of failing the deployment.
    const planEnvBytes = checkEnvironmentSize('Ec2Schedule', { TABLE_NAME: this.table.tableName, BATCH_SIZE: String(batchSize), SCHEDULES: '', POWERTOOLS_SERVICE_NAME: 'opsflow', NODE_OPTIONS: '--enable-source-maps' });
    if (planEnvBytes + Buffer.byteLength(schedulesEnv) > LAMBDA_ENVIRONMENT_BYTES) {
      const most = Object.entries(schedules).sort((a, b) => b[1].skipDates.length - a[1].skipDates.length)[0];
      throw new Error(
        `Ec2Schedule: the schedules take ${Buffer.byteLength(schedulesEnv)} bytes of the Lambda environment, which holds ${LAMBDA_ENVIRONMENT_BYTES} bytes for all variables; ` +
          `remove past skip dates (schedules.${most?.[0]}.skipDates has ${most?.[1].skipDates.length})`,
      );
    }
    const tableEnv = { TABLE_NAME: this.table.tableName };
    const validate = new TaskFunction(this, 'ValidateFn', {
      entry: 'tasks/ec2/validate.ts',
      description: 'opsflow ec2 schedule: validate the execution input',
      environment: { SCHEDULES: schedulesEnv },
    });
    const plan = new TaskFunction(this, 'PlanFn', {
      entry: 'tasks/ec2/plan.ts',
      description: 'opsflow ec2 schedule: find targets, settle skips, store batches',
      timeout: Duration.minutes(5),
      environment: { ...tableEnv, SCHEDULES: schedulesEnv, BATCH_SIZE: String(batchSize) },
    });
    const act = new TaskFunction(this, 'ActFn', {
      entry: 'tasks/ec2/act.ts',
      description: 'opsflow ec2 schedule: start or stop one batch, bisecting failures',
      timeout: Duration.minutes(5),
      environment: { ...tableEnv, VERIFY_TIMEOUT_SECONDS: String(verifyTimeout.toSeconds()) },
    });
    const verify = new TaskFunction(this, 'VerifyFn', {
      entry: 'tasks/ec2/verify.ts',
      description: 'opsflow ec2 schedule: verify one batch reached the target state',
      timeout: Duration.minutes(1),
      environment: tableEnv,
    });
    const report = new TaskFunction(this, 'ReportFn', {
      entry: 'tasks/ec2/report.ts',
      description: 'opsflow ec2 schedule: build the run report',
      timeout: Duration.minutes(2),
      environment: tableEnv,
    });

    // ---- IAM: explicit statements, least privilege -----------------------------------------------------
    const instanceArn = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    // DescribeInstances supports no resource-level permissions.
    const describeInstances = new PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] });
    const startStop = ['ec2:StartInstances', 'ec2:StopInstances'];
    // Only instances that opted in: a Schedule tag (scheduled runs), or a tag that ec2Schedule.control allows (links
    // and chat), so that IAM allows exactly what the handlers offer; any other instance is refused by IAM.
    for (const conditions of startStopTagConditions(allow.tags)) {
      act.addToRolePolicy(new PolicyStatement({ actions: startStop, resources: [instanceArn], conditions }));
    }
    if (allow.instanceIds.length) {
      act.addToRolePolicy(new PolicyStatement({ actions: startStop, resources: allow.instanceIds.map((i) => stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: i })) }));
    }
    if (props.kmsKeyArns?.length) {
      // Starting an instance with encrypted volumes makes EC2 create a grant on the volume's key, as the caller.
      act.addToRolePolicy(new PolicyStatement({ actions: ['kms:CreateGrant'], resources: props.kmsKeyArns, conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }));
    }
    for (const fn of [plan, act, verify]) fn.addToRolePolicy(describeInstances);
    const runItems = new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [this.table.tableArn] });
    for (const fn of [plan, act, verify]) fn.addToRolePolicy(runItems);
    report.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.table.tableArn] }));
    // The full report goes into the table, only under `report#<run>` keys (it never touches control settings).
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html (dynamodb:LeadingKeys)
    report.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn], conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] } } }));
    for (const fn of [plan, act, verify]) {
      fn.suppress([{ id: 'AwsSolutions-IAM5', reason: 'ec2:DescribeInstances does not support resource-level permissions.', appliesTo: ['Resource::*'] }]);
    }
    act.suppress([{
      id: 'AwsSolutions-IAM5',
      reason: 'Start/StopInstances on any instance of the account and region, but only with a Schedule tag or a tag ec2Schedule.control allows (aws:ResourceTag conditions): instances opt in by tag, their ids are not known at deploy time.',
      appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):instance\\/\\*$/g' }],
    }]);

    // ---- state machine ---------------------------------------------------------------------------------
    const retryThrottling = { errors: [ErrorNames.Ec2Throttled], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(1) };

    const validateInput = new LambdaStep(this, 'ValidateInput', validate, { payload: { input: JsonPath.entirePayload, runId: JsonPath.stringAt('$$.Execution.Name') } });
    failWithProblems(validateInput, ErrorNames.InputInvalid);
    const planStep = new LambdaStep(this, 'Plan', plan, { payload: { 'request.$': '$.request', 'runId.$': '$.runId' }, resultPath: '$.plan' });
    planStep.addRetry(retryThrottling);

    const batchInput = { 'runId.$': '$.runId', 'key.$': '$.key' };
    const actStep = new LambdaStep(this, 'Act', act, { payload: { ...batchInput, finalAttempt: false }, resultPath: '$.act' });
    actStep.addRetry(retryThrottling);
    // Capacity usually comes back within minutes; only the short instances are sent again.
    actStep.addRetry({ errors: [ErrorNames.Ec2InsufficientCapacity], interval: Duration.minutes(1), backoffRate: 2, maxAttempts: 3 });
    const actFinal = new LambdaStep(this, 'ActFinalAttempt', act, { payload: { ...batchInput, finalAttempt: true }, resultPath: '$.act' });
    actFinal.addRetry(retryThrottling);
    actStep.addCatch(actFinal, { errors: [ErrorNames.Ec2InsufficientCapacity], resultPath: '$.capacityError' });

    const batchDone = new Succeed(this, 'BatchDone');
    const waitForTransition = new Wait(this, 'WaitForTransition', { time: WaitTime.duration(VERIFY_INTERVAL) });
    const verifyStep = new LambdaStep(this, 'Verify', verify, { payload: { ...batchInput, 'deadline.$': '$.act.deadline' }, resultPath: '$.verify' });
    verifyStep.addRetry(retryThrottling);
    const verifyLoop = waitForTransition
      .next(verifyStep)
      .next(new Choice(this, 'Verified?').when(Condition.booleanEquals('$.verify.done', true), batchDone).otherwise(waitForTransition));
    const needsVerify = new Choice(this, 'AnythingToVerify?').when(Condition.numberGreaterThan('$.act.pending', 0), verifyLoop).otherwise(batchDone);
    actStep.next(needsVerify);
    actFinal.next(needsVerify);

    // Each batch is its own child execution: its Act and verify polls (11 + 9 events per poll) go into the child's
    // history, and the parent records 8 events per batch (Map iteration + .sync task), so no execution comes near
    // Step Functions' 25,000-event history quota at 10,000 instances (200 batches), however slowly instances stop.
    // https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (history: 25,000 events);
    // https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html (startExecution.sync:2).
    const batchTimeout = verifyTimeout.plus(BATCH_ACT_ALLOWANCE);
    this.batchStateMachine = new WorkflowStateMachine(this, 'BatchStateMachine', {
      stateMachineName: props.stateMachineName ? `${props.stateMachineName}Batch` : workflowStateMachineName(this, 'Ec2ScheduleBatch'),
      comment: 'One batch of an Ec2Schedule run: starts or stops its instances, then polls until each reached its target state or the deadline.',
      definition: actStep,
      timeout: batchTimeout,
    });
    const runBatch = new StartExecutionTask(this, 'RunBatch', {
      stateMachine: this.batchStateMachine,
      integrationPattern: IntegrationPattern.RUN_JOB,
      input: TaskInput.fromObject({ 'runId.$': '$.runId', 'key.$': '$.key' }),
      associateWithParent: true,
      resultPath: JsonPath.DISCARD,
      taskTimeout: Timeout.duration(batchTimeout.plus(Duration.minutes(5))),
    });
    // A child that could not start because of the account's open-execution quota or API throttling is started
    // again (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html, errors;
    // https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html).
    runBatch.addRetry({ errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.ThrottlingException'], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(1) });
    const batches = new MapState(this, 'Batches', {
      itemsPath: '$.wave.batches',
      maxConcurrency,
      itemSelector: { 'runId.$': '$.runId', 'key.$': '$$.Map.Item.Value.key' },
      resultPath: JsonPath.DISCARD,
    });
    batches.itemProcessor(runBatch);
    // One ordering group at a time, so `db` is running (verified) before `app` starts.
    const waves = new MapState(this, 'Waves', {
      itemsPath: '$.plan.waves',
      maxConcurrency: 1,
      itemSelector: { 'runId.$': '$.runId', 'wave.$': '$$.Map.Item.Value' },
      resultPath: JsonPath.DISCARD,
    });
    waves.itemProcessor(batches);

    const reportStep = new LambdaStep(this, 'Report', report, {
      payload: { 'runId.$': '$.runId', 'request.$': '$.request', plan: { 'holiday.$': '$.plan.holiday', 'targets.$': '$.plan.targets', 'settled.$': '$.plan.settled' } },
      resultPath: '$.result',
    });
    const publish = new SnsPublish(this, 'PublishReport', {
      topic: this.topic,
      subject: JsonPath.stringAt('$.result.message.subject'),
      message: TaskInput.fromJsonPathAt('$.result.message.text'),
      resultPath: JsonPath.DISCARD,
      taskTimeout: Timeout.duration(Duration.seconds(60)),
    });
    const outcome = new Choice(this, 'AllAccountedFor?')
      .when(
        Condition.numberGreaterThan('$.result.report.counts.failed', 0),
        new Fail(this, 'PartialFailure', { error: ErrorNames.Ec2PartialFailure, causePath: JsonPath.stringAt('$.result.report.summary') }),
      )
      .otherwise(new Succeed(this, 'Done', { outputPath: '$.result.report' }));

    this.stateMachine = new WorkflowStateMachine(this, 'StateMachine', {
      stateMachineName,
      comment: 'Starts or stops the EC2 instances that opted in to a schedule by tag, verifies each reached its target state, and reports.',
      definition: validateInput.next(planStep).next(waves).next(reportStep).next(publish).next(outcome),
      timeout: Duration.hours(6),
    });
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [{ id: 'AwsSolutions-IAM5', reason: '.sync needs DescribeExecution/StopExecution on the batch executions this workflow starts (execution names are generated).', appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:.*$/g' }] }],
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
    const httpEnv = { ...tableEnv, STATE_MACHINE_ARN: this.stateMachine.stateMachineArn, ALLOW: JSON.stringify(allow) };
    const control = new TaskFunction(this, 'ControlFn', {
      entry: 'tasks/ec2/control.ts',
      description: 'opsflow ec2 control links: show an instance, start or stop it through the workflow',
      environment: httpEnv,
    });
    const chat = new TaskFunction(this, 'ChatFn', {
      entry: 'tasks/ec2/chat.ts',
      description: 'opsflow ec2 slash command (Mattermost, Slack): ls, status, start, stop',
      environment: httpEnv,
    });
    for (const fn of [control, chat]) {
      fn.addToRolePolicy(describeInstances);
      fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.table.tableArn] }));
      this.stateMachine.grantStartExecution(fn);
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
        }),
      );
      fn.suppress(
        [
          { id: 'AwsSolutions-IAM5', reason: 'ec2:DescribeInstances does not support resource-level permissions.', appliesTo: ['Resource::*'] },
          { id: 'AwsSolutions-IAM5', reason: 'DescribeExecution on executions of this one state machine; execution names are not known in advance.', appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:[^:]+:\\*$/g' }] },
        ],
      );
    }

    this.api = new LinkApi(this, 'Api', {
      description: 'opsflow EC2 control links and slash command',
      // People click links and type commands: this bounds abuse of a leaked link without getting in their way.
      throttle: { rateLimit: 5, burstLimit: 10 },
      authentication: 'Link holders and chat servers have no AWS identity: links carry an HMAC signature (revocable, secret rotatable), chat requests a verification token; both are checked by the handler.',
    });
    this.api.addRoutes({ path: '/ec2/control/{instanceId}/{action}', methods: [HttpMethod.GET, HttpMethod.POST], integration: new HttpLambdaIntegration('Control', control) });
    this.api.addRoutes({ path: '/ec2/chat', methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('Chat', chat) });
  }
}
