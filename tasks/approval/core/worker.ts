/**
 * The approval worker: takes the approval's activity task, records it, and emails the approvers.
 *
 * The state machine invokes it while the activity task is pending and retries it on Approval.NoTask, so it
 * must be idempotent: the record id is derived from the execution ARN, so a retried delivery of the same
 * approval (a new task token) finds the record, swaps the token, keeps the votes, delivers an existing
 * decision and only emails approvers who were never reached.
 */
import { GetActivityTaskCommand, SendTaskFailureCommand } from '@aws-sdk/client-sfn';
import { ApprovalNoTaskError, InputInvalidError } from '../../shared/errors';
import { newChatRecord, postMissing, postRequest, type ApprovalChatDeps } from './chat-messages';
import { deliverDecision, heartbeat, type DeliverDeps } from './deliver';
import { hashSecret, newSecret, requestId } from './links';
import { newClaim, releaseClaim, sendLinks, type MailTarget, type NotifyDeps, type Undelivered } from './notify';
import type { ApprovalRecord, ApprovalRequest, SendClaim } from './types';

/** Mail (notify.ts) and delivery to Step Functions (deliver.ts), as the sweep has them. */
export interface WorkerDeps extends NotifyDeps, DeliverDeps {
  activityArn: string;
  workerName: string;
  reminderIntervalSeconds: number;
  /** 0: no escalation. */
  escalateAfterSeconds: number;
  escalationApprovers: string[];
  /** Chat: requests with `chat` targets are posted there too. Absent: requests are emailed only. */
  chat?: ApprovalChatDeps;
}

export interface WorkerResult {
  requestId: string;
  /** Approvers emailed by this invocation. */
  notified: number;
  /**
   * Approvers SES refused to email, with its error and message (e.g. `MessageRejected` for an address the SES sandbox
   * has not verified). Present only when some were; the sweep keeps trying them until the deadline.
   */
  undelivered?: Undelivered[];
}

export interface TaskInput {
  request: ApprovalRequest;
  execution: string;
  /** When the activity state started (`$$.State.EnteredTime`): the deadline counts from here, as the task timeout does. */
  enteredAt: string;
}

/** What the state machine passes: whose approval this invocation was started for, and when. */
export interface WorkerEvent {
  execution?: string;
  /** `$$.State.EnteredTime` of the invoking state. */
  since?: string;
}

/**
 * Takes the next task of the activity, whichever execution it belongs to: every pending approval invokes one
 * worker, so each task finds one. A worker that finds none succeeds if another worker has stored its
 * execution's task since it was invoked (e.g. a worker orphaned by a retried AwaitDecision); otherwise it
 * fails with Approval.NoTask and the state machine retries it.
 */
export async function deliverNext(deps: WorkerDeps, event: WorkerEvent = {}): Promise<WorkerResult> {
  const elsewhere = await takenElsewhere(deps, event);
  if (elsewhere) return elsewhere;
  const task = await deps.sfn.send(new GetActivityTaskCommand({ activityArn: deps.activityArn, workerName: deps.workerName }));
  // No token is how GetActivityTask says "nothing arrived within the long poll".
  if (!task.taskToken) {
    const later = await takenElsewhere(deps, event);
    if (later) return later;
    throw new ApprovalNoTaskError(deps.activityArn);
  }
  const token = task.taskToken;

  let input: TaskInput;
  try {
    input = parseTaskInput(task.input);
  } catch (error) {
    // A wiring bug, not a transient state: fail the approval visibly rather than leave it waiting.
    if (error instanceof InputInvalidError) {
      await deps.sfn.send(new SendTaskFailureCommand({ taskToken: token, error: error.name, cause: error.message }));
    }
    throw error;
  }

  const id = requestId(input.execution);
  const now = deps.now();
  const fresh = newRecord(deps, id, token, input, now);
  if (!(await deps.store.create(fresh.record))) return redeliver(deps, id, token, now);

  deps.log.info('approval recorded', { requestId: id, approvers: fresh.record.approvers.length });
  // The heartbeat proves the task was taken; if the task is already over, nobody needs an email (and a retried
  // task's worker must not wait for this one's claim to go stale).
  if ((await heartbeat(deps, fresh.record)) === 'gone') {
    await releaseClaim(deps.store, id, fresh.claim);
    return { requestId: id, notified: 0 };
  }
  const sent = await sendLinks(deps, fresh.record, fresh.targets, fresh.claim);
  if (deps.chat) await postRequest({ ...deps, chat: deps.chat }, sent.record, fresh.chatSecret);
  return result(id, sent);
}

async function takenElsewhere(deps: WorkerDeps, event: WorkerEvent): Promise<WorkerResult | undefined> {
  if (!event.execution || !event.since) return undefined;
  const id = requestId(event.execution);
  const record = await deps.store.get(id);
  if (!record || !(Date.parse(record.tokenAt) >= Date.parse(event.since))) return undefined;
  deps.log.info('approval task already taken by another worker', { requestId: id });
  return { requestId: id, notified: 0 };
}

/**
 * A retried delivery (the state machine re-ran the approval, e.g. after a heartbeat timeout): the record
 * exists with its votes and maybe a decision; the task token is new, and so is the task to watch.
 */
async function redeliver(deps: WorkerDeps, id: string, token: string, now: Date): Promise<WorkerResult> {
  const record = await deps.store.update(id, (current) => {
    current.token = token;
    current.tokenAt = now.toISOString();
    current.pending = 'yes';
    if (current.decision) {
      // The new task has not had the decision, whatever became of the old one.
      current.status = current.decision.decision;
      current.delivered = false;
    } else if (now < new Date(current.deadline)) {
      // An earlier task's timeout may have marked it expired; the deadline is what counts.
      current.status = 'pending';
    }
    return current;
  });
  deps.log.info('approval task redelivered', { requestId: id, decided: record.decision !== null });

  if (record.decision) {
    await deliverDecision(deps, record);
    return { requestId: id, notified: 0 };
  }
  // Past the deadline the sweep fails the new task with Approval.TimedOut.
  if (record.status !== 'pending' || (await heartbeat(deps, record)) === 'gone') return { requestId: id, notified: 0 };
  const targets: MailTarget[] = record.approvers
    .filter((a) => a.notifiedAt === null)
    .map((a) => ({ email: a.email, kind: a.role === 'escalation' ? 'escalation' : 'request' }));
  const sent = await sendLinks(deps, record, targets);
  if (deps.chat) await postMissing({ ...deps, chat: deps.chat }, sent.record, 'all');
  return result(id, sent);
}

function result(requestId: string, { sent, undelivered }: { sent: MailTarget[]; undelivered: Undelivered[] }): WorkerResult {
  return { requestId, notified: sent.length, ...(undelivered.length ? { undelivered } : {}) };
}

function newRecord(
  deps: WorkerDeps,
  id: string,
  token: string,
  input: TaskInput,
  now: Date,
): { record: ApprovalRecord; targets: MailTarget[]; claim: SendClaim; chatSecret: string } {
  const { request } = input;
  // The first emails are claimed with the record itself: nobody else sends them while this worker does.
  const claim = newClaim(now);
  const start = new Date(input.enteredAt).getTime();
  const at = (seconds: number) => new Date(start + seconds * 1000);
  const deadline = at(request.timeoutSeconds);
  const reminder = at(deps.reminderIntervalSeconds);
  const escalation = at(deps.escalateAfterSeconds);
  const escalates = deps.escalateAfterSeconds > 0 && deps.escalationApprovers.length > 0 && escalation < deadline;

  const targets: MailTarget[] = request.approvers.map((email) => ({ email, kind: 'request', secret: newSecret() }));
  const chat = newChatRecord(request.chat);
  const record: ApprovalRecord = {
    id,
    executionArn: input.execution,
    token,
    tokenAt: now.toISOString(),
    title: request.title,
    details: request.details,
    requestedBy: request.requestedBy,
    quorum: request.quorum,
    createdAt: now.toISOString(),
    deadline: deadline.toISOString(),
    nextReminderAt: reminder < deadline ? reminder.toISOString() : null,
    escalateAt: escalates ? escalation.toISOString() : null,
    escalated: false,
    approvers: targets.map((t) => ({
      email: t.email,
      secretHashes: [hashSecret(t.secret!)],
      role: 'approver',
      notifiedAt: null,
      remindedAt: null,
      sending: claim,
    })),
    votes: [],
    status: 'pending',
    decision: null,
    delivered: false,
    pending: 'yes',
    ...(chat.chat ? { chat: chat.chat } : {}),
    version: 1,
  };
  return { record, targets, claim, chatSecret: chat.secret };
}

/**
 * The task input is built by the state machine from a validated request; this only guards against the
 * wiring drifting (a missing path, a renamed field), not against user input.
 */
export function parseTaskInput(raw: string | undefined): TaskInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? '');
  } catch {
    throw new InputInvalidError(['task input: not valid JSON']);
  }
  const problems: string[] = [];
  const value = (parsed ?? {}) as Partial<TaskInput>;
  const request = (value.request ?? {}) as Partial<ApprovalRequest>;
  if (typeof value.execution !== 'string' || value.execution === '') problems.push('execution: must be the execution ARN');
  if (typeof request.title !== 'string') problems.push('request.title: must be a string');
  if (!Array.isArray(request.approvers) || request.approvers.length === 0) problems.push('request.approvers: must be a non-empty array');
  if (!Number.isInteger(request.timeoutSeconds)) problems.push('request.timeoutSeconds: must be an integer');
  if (!Number.isInteger(request.quorum)) problems.push('request.quorum: must be an integer');
  if (typeof value.enteredAt !== 'string' || Number.isNaN(Date.parse(value.enteredAt))) problems.push('enteredAt: must be the time the activity state started');
  if (problems.length > 0) throw new InputInvalidError(problems);
  return {
    execution: value.execution!,
    enteredAt: value.enteredAt!,
    request: {
      title: request.title!,
      details: request.details ?? null,
      approvers: request.approvers!,
      requestedBy: request.requestedBy ?? null,
      timeoutSeconds: request.timeoutSeconds!,
      quorum: request.quorum!,
      ...(Array.isArray(request.chat) && request.chat.length ? { chat: request.chat } : {}),
    },
  };
}
