/**
 * Manual approval: an execution pauses on a Step Functions Activity until people decide through a link
 * in an email.
 *
 * Input:  {"title": string, "details"?: string|object, "approvers"?: [email, ...], "requestedBy"?: string,
 *          "timeoutSeconds"?: number, "quorum"?: number}
 * Output: {"decision":"approved","approver","approvers":[...],"comment","decidedAt"}
 * Errors: Input.Invalid (cause lists every problem, nothing was sent), Approval.Rejected (cause has approver
 *         and comment), Approval.TimedOut (no decision before the deadline), Approval.WorkerLost (every delivery of
 *         the task went to a worker that died; nobody was asked).
 *
 * How it works: `ValidateInput` normalises the input. `AwaitDecision` runs two branches: the activity task
 * that holds the decision, and the worker Lambda, started by the workflow itself (no idle polling), which
 * takes that task (GetActivityTask), stores the token with one secret link per approver in DynamoDB, and
 * emails the approvers through SES. A link opens a page (GET never decides); the form POST records the vote
 * and, once the quorum is reached or anyone rejects, completes the task. A sweep every 5 minutes heartbeats
 * pending tasks, resends failed emails, reminds and escalates; a worker that crashed before storing the token
 * stops the heartbeats, so the task fails with States.HeartbeatTimeout and delivery is retried, never stranded
 * (approvals of 15 minutes or less have no heartbeat, which must be shorter than the deadline: they time out).
 *
 * Locally: `npm start`, then `opsflow start Approval workflows/approval/examples/approval.json` and open the link in `opsflow outbox`.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, ProjectionType } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke as ScheduleLambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Activity, Choice, Condition, Errors, Fail, JsonPath, Parallel, Pass, Timeout } from 'aws-cdk-lib/aws-stepfunctions';
import { StepFunctionsInvokeActivity } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { SEND_CLAIM_SECONDS } from '../../tasks/approval/core/notify';
import { inAllowedDomain } from '../../tasks/approval/core/validate';
import { ErrorNames } from '../../tasks/shared/errors';
import type { ChatTarget } from '../../tasks/shared/chat-post';
import { ChatSecret } from '../shared/chat';
import { addRecordPanel, type RecordPanel } from '../shared/record-panel';
import { LinkApi, WorkflowTable } from '../shared/resources';
import { SchedulerRole } from '../shared/service-roles';
import { failWithProblems, LambdaStep } from '../shared/steps';
import { TaskFunction } from '../shared/task-function';
import { WorkflowStateMachine, workflowStateMachineName } from '../shared/workflow-state-machine';

/** How often the sweep runs; the activity's heartbeat timeout allows three missed sweeps. */
export const SWEEP_INTERVAL = Duration.minutes(5);
/**
 * Only on approvals whose deadline is longer: "If provided, the "HeartbeatSeconds" interval MUST be smaller than the
 * "TimeoutSeconds" value" (https://states-language.net/spec.html#task-state), and the deadline is the execution's
 * `timeoutSeconds` (TimeoutSecondsPath), which may be as short as 60 seconds.
 */
export const HEARTBEAT_TIMEOUT = Duration.minutes(15);
/**
 * Throttling of each approval route (GET and POST /approvals/{ref} have a bucket each). The buckets are shared by
 * every client: HTTP APIs have no per-client throttling and no AWS WAF
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vs-rest.html), so a flood of unknown refs
 * spends the same tokens as approvers. Unknown refs cost one short Lambda run and no table read (decide.ts checks
 * the ref's shape first), so the limit is sized for floods, not for approvers, who click a handful of links: a
 * burst of 200 and 100 per second in the long run, far below the account's default of 10,000 per second
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). A rate of 10 and burst of 20 would
 * lock approvers out after 25 requests. README "Approval page limits" says what a flood above this does.
 */
export const APPROVAL_API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
/** Deliveries retried after a heartbeat timeout (a worker died holding the task) before Approval.WorkerLost. */
const HEARTBEAT_RETRIES = 2;
/** GetActivityTask long-polls for up to 60 s. */
const WORKER_TIMEOUT = Duration.seconds(90);
const SWEEP_TIMEOUT = Duration.minutes(2);
// A claim to send an email (tasks/approval/core/notify.ts) is taken over once it is older than any sender can run.
if (Math.max(WORKER_TIMEOUT.toSeconds(), SWEEP_TIMEOUT.toSeconds()) >= SEND_CLAIM_SECONDS) {
  throw new Error('Approval: the worker and sweep timeouts must be shorter than SEND_CLAIM_SECONDS');
}

/**
 * The approval record (tasks/approval/core/types.ts `ApprovalRecord`) as a console shows it: who was asked, who
 * voted, reminders, the deadline; and whom a pending request waits on. JSONata over the record.
 */
export const APPROVAL_RECORD_PANEL: RecordPanel = {
  name: 'Approval',
  waitingTitle: 'Pending approvals',
  executionAttribute: 'executionArn',
  statusAttribute: 'status',
  openStatuses: ['pending'],
  title: 'title',
  deadline: 'deadline',
  closedReason: 'closedReason',
  facts: [
    { label: 'Requested by', value: 'requestedBy' },
    { label: 'Quorum', value: '$string($count($distinct(votes[decision = "approved"].approver))) & " of " & $string(quorum) & " approvals"' },
    { label: 'Decision', value: 'decision.decision', type: 'status' },
    { label: 'Reminders sent', value: '$string($sum(approvers.(reminders ? reminders : (remindedAt ? 1 : 0))))' },
    { label: 'Next reminder', value: 'nextReminderAt', type: 'time', whileOpen: true },
    { label: 'Escalates', value: 'escalated ? undefined : escalateAt', type: 'time', whileOpen: true },
  ],
  list: {
    label: 'Approvers',
    rows: 'approvers',
    columns: [
      { label: 'Approver', value: 'email' },
      { label: 'Role', value: 'role' },
      { label: 'Asked', value: 'notifiedAt', type: 'time' },
      // `reminders` counts every reminder email; records written before it existed know only the last one.
      { label: 'Reminders', value: '$string(reminders ? reminders : (remindedAt ? 1 : 0))' },
      { label: 'Last reminded', value: 'remindedAt', type: 'time' },
      { label: 'Vote', value: '($e := email; $record.votes[approver = $e].decision)', type: 'status' },
      { label: 'Comment', value: '($e := email; $record.votes[approver = $e].comment)' },
      { label: 'Voted', value: '($e := email; $record.votes[approver = $e].at)', type: 'time' },
    ],
  },
  waitingOn: 'decision ? [] : ($voted := votes.approver; [approvers[$not(email in $voted)].{ "who": email, "since": notifiedAt }])',
};

export interface ApprovalProps {
  /** From address of the approval emails. */
  readonly sender: string;
  /**
   * SES identity (domain or email address) that `sender` belongs to; it must be verified. The tasks may send only from
   * `sender`, authorized on whichever identity SES matches it with (this one, or the address verified on its own).
   */
  readonly sesIdentity: string;
  /** Approvers used when an execution names none. @default [] (executions must name approvers) */
  readonly defaultApprovers?: string[];
  /** Base URL of the links in the emails. @default the URL of the HTTP API this construct creates */
  readonly linkBaseUrl?: string;
  /** Deadline of an approval when the execution gives no `timeoutSeconds`. @default Duration.hours(24) */
  readonly timeout?: Duration;
  /** Longest `timeoutSeconds` an execution may ask for. @default Duration.days(7) */
  readonly maxTimeout?: Duration;
  /** How often undecided approvers are reminded. @default Duration.hours(4) */
  readonly reminderInterval?: Duration;
  /** Approvers added when no decision has come in `escalateAfter`. @default [] */
  readonly escalationApprovers?: string[];
  /** @default Duration.hours(12) */
  readonly escalateAfter?: Duration;
  /** @default `<stackName>-Approval` */
  readonly stateMachineName?: string;
  /**
   * Domains approval emails may go to (e.g. `example.com`), enforced twice: the input validation refuses other
   * approvers (Input.Invalid, before any side effect) and the tasks' IAM allows ses:SendEmail only to them.
   * @default [] (any domain)
   */
  readonly allowedRecipientDomains?: string[];
  /** Where requests are posted with Approve / Reject buttons when the execution gives no `chat`. @default [] (no chat) */
  readonly chatTargets?: ChatTarget[];
  /** The Mattermost server's base URL; needed to post to Mattermost. @default none */
  readonly mattermostUrl?: string;
  /** Chat users to approver addresses, `"<platform>:<user id>": "address"`. @default {} */
  readonly approverMap?: Record<string, string>;
}

/** The path chat servers send clicks to, on the approval API. */
export const CHAT_CALLBACK_PATH = '/chat/approvals';

export class Approval extends Construct {
  /** The standalone `Approval` state machine; other workflows call it with `states:startExecution.sync`. */
  readonly stateMachine: WorkflowStateMachine;
  /** The activity that holds each pending decision. */
  readonly activity: Activity;
  /** The HTTP API serving the approval pages. */
  readonly api: LinkApi;
  /** Approval records: token, hashed link secrets, votes. */
  readonly table: WorkflowTable;
  /** The longest an approval may wait (`maxTimeout`): a workflow that waits on one waits at least this long. */
  readonly maxTimeout: Duration;
  /** Where Slack (Interactivity Request URL), Mattermost buttons and the Teams outgoing webhook send votes. */
  readonly chatCallbackUrl: string;

  constructor(scope: Construct, id: string, props: ApprovalProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.hours(24);
    const maxTimeout = (this.maxTimeout = props.maxTimeout ?? Duration.days(7));
    const reminderInterval = props.reminderInterval ?? Duration.hours(4);
    const escalateAfter = props.escalateAfter ?? Duration.hours(12);
    const escalationApprovers = props.escalationApprovers ?? [];
    if (timeout.toSeconds() > maxTimeout.toSeconds()) throw new Error('Approval: timeout must not exceed maxTimeout');
    if (reminderInterval.toSeconds() >= timeout.toSeconds()) throw new Error('Approval: reminderInterval must be shorter than timeout');
    if (escalationApprovers.length && escalateAfter.toSeconds() >= timeout.toSeconds()) {
      throw new Error('Approval: escalateAfter must be shorter than timeout');
    }

    const allowedDomains = (props.allowedRecipientDomains ?? []).map((d) => d.toLowerCase());
    for (const domain of allowedDomains) {
      if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/.test(domain)) throw new Error(`Approval: allowedRecipientDomains has '${domain}', not a domain name`);
    }
    for (const [prop, list] of [
      ['defaultApprovers', props.defaultApprovers ?? []],
      ['escalationApprovers', escalationApprovers],
    ] as const) {
      const outside = list.filter((email) => !inAllowedDomain(email, allowedDomains));
      if (outside.length) throw new Error(`Approval: ${prop} ${outside.join(', ')} not in allowedRecipientDomains (${allowedDomains.join(', ')})`);
    }

    this.activity = new Activity(this, 'Activity');
    this.table = new WorkflowTable(this, 'Table', { partitionKey: 'id', sortKey: null });
    addRecordPanel(this.table, APPROVAL_RECORD_PANEL);
    // Sparse index: only records that still need the sweep carry the `pending` attribute.
    this.table.addGlobalSecondaryIndex({
      indexName: 'pending',
      partitionKey: { name: 'pending', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    this.api = new LinkApi(this, 'Api', {
      description: 'opsflow approval pages',
      throttle: APPROVAL_API_THROTTLE,
      authentication: 'Approvers have no AWS identity: each link carries its own unguessable, expiring, per-approver secret, checked by the handler.',
    });
    const linkBaseUrl = props.linkBaseUrl ?? this.api.apiEndpoint;
    this.chatCallbackUrl = `${this.api.apiEndpoint}${CHAT_CALLBACK_PATH}`;
    const chatSecret = ChatSecret.of(this);
    // Every function that posts, updates or reads chat (worker: posts; sweep: retries, final state; decide and chat:
    // the vote's update) reads the deployment's chat secret and calls the chat servers.
    const chatEnv = {
      ...chatSecret.environment,
      CHAT_CALLBACK_URL: this.chatCallbackUrl,
      ...(props.mattermostUrl ? { MATTERMOST_URL: props.mattermostUrl } : {}),
    };

    const stack = Stack.of(this);
    const identityArn = (name: string) => stack.formatArn({ service: 'ses', resource: 'identity', resourceName: name });
    // SendEmail is authorized on the identity SES matches, which need not be `sesIdentity`: a sender address verified
    // on its own is its own identity ("an email address identity ... explicitly verified", as opposed to one "using
    // the inherited verification from its domain": https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html;
    // "The Resource element in the IAM policy is set to the email address identity's ARN":
    // https://repost.aws/knowledge-center/amazon-ses-iam-user-email-access-denied). In the sandbox, where the approvers
    // must be verified too (https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html), each recipient's
    // identity is authorized as well (README "Unconfirmed"). So the resources are every identity SES may match for the
    // sender and the allowed recipients, or every identity of the account when any recipient domain is allowed; the
    // conditions pin the From address and the recipients.
    const resources = allowedDomains.length
      ? [...new Set([...senderIdentities(props.sender, props.sesIdentity), ...allowedDomains.flatMap((d) => [`*@${d}`, ...domainAndParents(d)])])]
      : ['*'];
    // ses:Recipients holds every To, CC and BCC address; ForAllValues: each of them must match one of the patterns.
    // https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
    const sendEmail = new PolicyStatement({
      actions: ['ses:SendEmail'],
      resources: resources.map(identityArn),
      conditions: {
        StringEquals: { 'ses:FromAddress': props.sender },
        ...(allowedDomains.length ? { 'ForAllValues:StringLike': { 'ses:Recipients': allowedDomains.map((d) => `*@${d}`) } } : {}),
      },
    });
    const mailEnv = {
      TABLE_NAME: this.table.tableName,
      SENDER: props.sender,
      LINK_BASE_URL: linkBaseUrl,
      REMINDER_INTERVAL_SECONDS: String(reminderInterval.toSeconds()),
      ESCALATE_AFTER_SECONDS: String(escalationApprovers.length ? escalateAfter.toSeconds() : 0),
      ESCALATION_APPROVERS: JSON.stringify(escalationApprovers),
    };

    const validate = new TaskFunction(this, 'ValidateFn', {
      entry: 'tasks/approval/validate.ts',
      description: 'opsflow approval: validate and normalise the execution input',
      environment: {
        DEFAULT_APPROVERS: JSON.stringify(props.defaultApprovers ?? []),
        DEFAULT_TIMEOUT_SECONDS: String(timeout.toSeconds()),
        MAX_TIMEOUT_SECONDS: String(maxTimeout.toSeconds()),
        ALLOWED_RECIPIENT_DOMAINS: JSON.stringify(allowedDomains),
        CHAT_TARGETS: JSON.stringify(Object.fromEntries((props.chatTargets ?? []).map((t) => [t.platform, t.channel]))),
        ...(props.mattermostUrl ? { MATTERMOST_URL: props.mattermostUrl } : {}),
      },
    });
    const worker = new TaskFunction(this, 'WorkerFn', {
      entry: 'tasks/approval/worker.ts',
      description: 'opsflow approval: take the activity task, store it, email the approvers',
      timeout: WORKER_TIMEOUT,
      environment: { ...mailEnv, ...chatEnv, ACTIVITY_ARN: this.activity.activityArn },
      callsOutsideAws: true,
    });
    const sweep = new TaskFunction(this, 'SweepFn', {
      entry: 'tasks/approval/sweep.ts',
      description: 'opsflow approval: heartbeat pending tasks, remind, escalate, retry deliveries',
      timeout: SWEEP_TIMEOUT,
      environment: { ...mailEnv, ...chatEnv },
      callsOutsideAws: true,
    });
    const decide = new TaskFunction(this, 'DecideFn', {
      entry: 'tasks/approval/decide.ts',
      description: 'opsflow approval: serve the approval page and record decisions',
      environment: { TABLE_NAME: this.table.tableName, ...chatEnv },
      callsOutsideAws: true,
    });
    const chat = new TaskFunction(this, 'ChatFn', {
      entry: 'tasks/approval/chat.ts',
      description: 'opsflow approval: votes from Slack, Mattermost and Teams',
      environment: { TABLE_NAME: this.table.tableName, APPROVER_MAP: JSON.stringify(props.approverMap ?? {}), ...chatEnv },
      callsOutsideAws: true,
    });
    for (const fn of [worker, sweep, decide, chat]) chatSecret.allowRead(fn);

    this.activity.grant(worker, 'states:GetActivityTask');
    // SendTask* name a task token, not a resource: they support no resource-level permissions, so a grant
    // scoped to the activity is denied on AWS ("you must specify all resources ("*")"):
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
    const respond = (...actions: string[]) => new PolicyStatement({ actions: actions.map((a) => `states:${a}`), resources: ['*'] });
    worker.addToRolePolicy(respond('SendTaskHeartbeat', 'SendTaskSuccess', 'SendTaskFailure'));
    sweep.addToRolePolicy(respond('SendTaskHeartbeat', 'SendTaskSuccess', 'SendTaskFailure'));
    decide.addToRolePolicy(respond('SendTaskSuccess', 'SendTaskFailure'));
    chat.addToRolePolicy(respond('SendTaskSuccess', 'SendTaskFailure'));
    // Explicit statements rather than table.grant(): that would also open every index to Get/Put.
    const readWrite = new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [this.table.tableArn] });
    for (const fn of [worker, sweep, decide, chat]) fn.addToRolePolicy(readWrite);
    sweep.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${this.table.tableArn}/index/pending`] }));
    worker.addToRolePolicy(sendEmail);
    sweep.addToRolePolicy(sendEmail);
    for (const fn of [worker, sweep]) {
      fn.suppress([
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'ses:SendEmail on the SES identities that may match a recipient (every identity, or the addresses of the allowed domains); the From address and recipients are pinned by ses:FromAddress and ses:Recipients.',
          appliesTo: [
            { regex: '/^Resource::arn:<AWS::Partition>:ses:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):identity\\/(\\*|\\*@[a-z0-9.-]+)$/g' },
          ],
        },
      ]);
    }

    const integration = new HttpLambdaIntegration('Decide', decide);
    this.api.addRoutes({ path: '/approvals/{ref}', methods: [HttpMethod.GET, HttpMethod.POST], integration });
    this.api.addRoutes({ path: CHAT_CALLBACK_PATH, methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('Chat', chat) });

    const schedulerRole = new SchedulerRole(this, 'SweepScheduleRole');
    new Schedule(this, 'Sweep', {
      description: 'opsflow approval sweep: heartbeats, reminders, escalation, retries',
      schedule: ScheduleExpression.rate(SWEEP_INTERVAL),
      target: new ScheduleLambdaInvoke(sweep, { role: schedulerRole }),
    });
    NagSuppressions.addResourceSuppressions(
      schedulerRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'CDK grants lambda:InvokeFunction on the sweep function and its versions (<arn>:*).',
          appliesTo: [{ regex: '/^Resource::<.*SweepFn[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );

    const validateInput = new LambdaStep(this, 'ValidateInput', validate, { payload: { input: JsonPath.entirePayload } });
    failWithProblems(validateInput, ErrorNames.InputInvalid);

    const activityTask = (id: string, heartbeat?: Duration) =>
      new StepFunctionsInvokeActivity(this, id, {
        activity: this.activity,
        parameters: { 'request.$': '$.request', 'execution.$': '$$.Execution.Id', 'enteredAt.$': '$$.State.EnteredTime' },
        taskTimeout: Timeout.at('$.request.timeoutSeconds'),
        heartbeatTimeout: heartbeat && Timeout.duration(heartbeat),
      });
    // The heartbeat must be shorter than the deadline: approvals up to 15 minutes wait without one (a worker that dies
    // before storing the task leaves them to time out), longer ones with it (the task is delivered again).
    const waitForDecision = new Choice(this, 'ShortDeadline')
      .when(Condition.numberLessThanEquals('$.request.timeoutSeconds', HEARTBEAT_TIMEOUT.toSeconds()), activityTask('WaitForShortDecision'))
      .otherwise(activityTask('WaitForDecision', HEARTBEAT_TIMEOUT));
    const notifyApprovers = new LambdaStep(this, 'NotifyApprovers', worker, {
      payload: { execution: JsonPath.stringAt('$$.Execution.Id'), since: JsonPath.stringAt('$$.State.EnteredTime') },
    });
    // No task yet (the activity task is scheduled a moment after the branch starts) or a crashed worker:
    // try again; every attempt that finds nothing long-polled for up to 60 s.
    notifyApprovers.addRetry({ errors: [ErrorNames.ApprovalNoTask, 'States.TaskFailed'], interval: Duration.seconds(2), maxAttempts: 5, backoffRate: 2 });
    // Still no task after every attempt (about 7 minutes of 60-second long polls): a worker took it. If that
    // worker died, its heartbeats stop and the 15-minute heartbeat timeout re-runs AwaitDecision, which delivers
    // again; failing here instead would end the whole approval before that could happen.
    notifyApprovers.addCatch(new Pass(this, 'TaskTakenElsewhere'), { errors: [ErrorNames.ApprovalNoTask] });

    const awaitDecision = new Parallel(this, 'AwaitDecision', { outputPath: '$[0]' }).branch(waitForDecision).branch(notifyApprovers);
    // A worker that crashed after taking the task never stored it, so nothing heartbeats it: deliver again.
    awaitDecision.addRetry({ errors: [Errors.HEARTBEAT_TIMEOUT], interval: Duration.seconds(5), maxAttempts: HEARTBEAT_RETRIES });
    // States.Timeout also matches heartbeat timeouts ("A Task state either ran longer than the TimeoutSeconds value,
    // or failed to send a heartbeat for a period longer than the HeartbeatSeconds value";
    // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html) and the first matching
    // catcher wins: the worker-lost catcher comes first, so only the deadline reads as Approval.TimedOut.
    awaitDecision.addCatch(
      new Fail(this, 'WorkerLost', {
        error: ErrorNames.ApprovalWorkerLost,
        cause: `Every delivery of the approval task (${HEARTBEAT_RETRIES + 1}) went to a worker that stopped heartbeating within ${HEARTBEAT_TIMEOUT.toMinutes()} minutes; nobody was asked. The deadline had not passed.`,
      }),
      { errors: [Errors.HEARTBEAT_TIMEOUT] },
    );
    awaitDecision.addCatch(new Fail(this, 'TimedOut', { error: ErrorNames.ApprovalTimedOut, cause: 'No decision was made before the approval deadline.' }), {
      errors: [Errors.TIMEOUT],
    });

    const stateMachineName = props.stateMachineName ?? workflowStateMachineName(this, 'Approval');
    // The page asks whether the execution still waits (aborted, failed, timed out: it says why the request closed).
    // DescribeExecution's resource is the execution:
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
    const describeExecution = new PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [
        stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
    });
    for (const fn of [decide, chat]) {
      fn.addToRolePolicy(describeExecution);
      fn.suppress([
        {
          id: 'AwsSolutions-IAM5',
          reason: 'DescribeExecution on executions of this one state machine; execution names are not known in advance.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):execution:[^:]+:\\*$/g' }],
        },
      ]);
    }

    this.stateMachine = new WorkflowStateMachine(this, 'StateMachine', {
      stateMachineName,
      comment: 'Asks people to approve a request by email and waits for their decision (quorum, reminders, escalation, deadline).',
      definition: validateInput.next(awaitDecision),
      timeout: maxTimeout.plus(Duration.hours(1)),
    });
  }
}

/** The identities SES may match the sender with: the address itself, or a domain from its own up to `sesIdentity`. */
function senderIdentities(sender: string, sesIdentity: string): string[] {
  const domain = sender.split('@')[1] ?? '';
  return [sender, ...domainAndParents(domain).filter((d) => d === sesIdentity || d.endsWith(`.${sesIdentity}`))];
}

/** `a.b.example.com` → `a.b.example.com`, `b.example.com`, `example.com`: the domains whose verification covers it. */
function domainAndParents(domain: string): string[] {
  const labels = domain.split('.');
  return labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
}
