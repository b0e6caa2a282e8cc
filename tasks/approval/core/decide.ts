/**
 * The approval page behind each personal link (API Gateway HTTP API, `GET|POST /approvals/{ref}`).
 *
 * GET only ever reads: mail scanners and link previews open links. POST records the vote of the link's
 * owner (never a typed name) under optimistic concurrency; a rejection decides at once, approvals decide
 * when distinct approvers reach the quorum, and the decision is then delivered to Step Functions. The requester
 * (`requestedBy`, when it is an email address: what a parent workflow passes) never decides their own request.
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { isValidEmail, normalizeEmail } from '../../shared/email';
import { ErrorNames } from '../../shared/errors';
import { errorName, type Log } from '../../shared/logger';
import { isThrottling } from '../../shared/aws-errors';
import type { HttpRequest, HttpResponse } from '../../shared/http';
import { refreshPosts, type ApprovalChatDeps } from './chat-messages';
import { deliverDecision } from './deliver';
import { findApprover, parseRef } from './links';
import { COMMENT_MAX_CHARS, htmlResponse, type Intent, type RequestFacts } from './pages';
import { ConcurrentUpdateError, type ApprovalStore } from './store';
import type { ApprovalRecord, Decision, Verdict, Vote } from './types';

export interface DecideDeps {
  store: ApprovalStore;
  sfn: SFNClient;
  now: () => Date;
  log: Log;
  /** Chat: a vote updates the request's chat messages (who voted, who decided). Absent: they are left as they are. */
  chat?: ApprovalChatDeps;
}

/** `request.params.ref` is the link's reference, `request.query.intent` the button the email link preselects. */
export async function handleDecisionRequest(request: HttpRequest, deps: DecideDeps): Promise<HttpResponse> {
  try {
    return await route(request, deps);
  } catch (error) {
    if (isThrottling(error) || error instanceof ConcurrentUpdateError) {
      deps.log.warn('approval page unavailable', { requestId: request.requestId, error: errorName(error) });
      return htmlResponse(503, { kind: 'unavailable' });
    }
    deps.log.error('approval page failed', { requestId: request.requestId, error: errorName(error) });
    return htmlResponse(500, { kind: 'error' });
  }
}

async function route(request: HttpRequest, deps: DecideDeps): Promise<HttpResponse> {
  const ref = parseRef(request.params.ref);
  if (ref === 'invalid') return invalid();
  const record = await deps.store.get(ref.id);
  const approver = record && findApprover(record.approvers, ref.secret);
  // Same answer for an unknown id and a wrong secret: the page must not confirm that an id exists.
  if (!record || !approver) return invalid();
  // Nothing recorded: an escalation list or an old record may still hold the requester's address.
  if (isRequester(record, approver.email)) return htmlResponse(403, { kind: 'own-request', title: record.title });

  const opened = await openFor(deps, record, approver.email);
  const isPost = request.method === 'POST';
  // A POST to a request that cannot take this vote changes nothing: 409, except for expiry and closure (410).
  if (opened.kind !== 'open') return settled(opened.record, opened.state, isPost ? 409 : 200);
  const facts = factsOf(record);
  const form = { kind: 'pending', facts, you: approver.email, ref: request.params.ref! } as const;
  // Anything but POST only reads (HEAD from link scanners included).
  if (!isPost) return htmlResponse(200, { ...form, intent: intentOf(request.query.intent) });

  const submitted = parseForm(request);
  if ('problems' in submitted) {
    return htmlResponse(400, { ...form, intent: null, problems: submitted.problems, comment: submitted.comment });
  }
  const cast = await castVote(deps, record, { approver: approver.email, decision: submitted.verdict, comment: submitted.comment });
  switch (cast.kind) {
    case 'recorded':
      return htmlResponse(200, { kind: 'voted', facts: factsOf(cast.record), vote: cast.vote, justNow: true });
    case 'decided':
      return htmlResponse(200, { kind: 'decided', facts: factsOf(cast.record), decision: cast.record.decision! });
    case 'gone':
      return htmlResponse(410, cast.expired ? { kind: 'expired', title: record.title } : { kind: 'closed', title: record.title, reason: cast.reason });
    case 'settled':
      return settled(cast.record, cast.state, 409);
  }
}

/** Whether `email` may vote on `record` now; closes a record whose execution stopped waiting (DescribeExecution). */
export async function openFor(
  deps: DecideDeps,
  record: ApprovalRecord,
  email: string,
): Promise<{ kind: 'open' } | { kind: 'settled'; record: ApprovalRecord; state: Settled }> {
  const state = stateFor(record, email, deps.now());
  if (state.kind !== 'open') return { kind: 'settled', record, state };
  // Open as far as the record knows; the execution may have stopped waiting (aborted, failed, a restart).
  const over = await closeIfOver(deps, record);
  return over ? { kind: 'settled', ...over } : { kind: 'open' };
}

/**
 * What a vote came to: `recorded` (the quorum is not reached yet), `decided` (this vote decided, and the decision
 * was handed to Step Functions or left to the sweep), `gone` (it decided, but the task had closed: 410 on the page),
 * `settled` (the request could not take it any more: someone decided, it expired or closed, or this approver had
 * voted; 409 on the page, 410 for expiry and closure).
 */
export type CastResult =
  | { kind: 'recorded'; record: ApprovalRecord; vote: Vote }
  | { kind: 'decided'; record: ApprovalRecord }
  | { kind: 'gone'; expired: boolean; reason?: string }
  | { kind: 'settled'; record: ApprovalRecord; state: Settled };

/**
 * Records one approver's vote under optimistic concurrency, and delivers the decision it brings about. The one rule for
 * every way of voting: the email link's page and chat buttons (core/chat.ts) both call it, so quorum, replays and
 * closed requests behave the same whichever way the vote came. `vote.at` is set here.
 */
export async function castVote(deps: DecideDeps, record: ApprovalRecord, ballot: Omit<Vote, 'at'>): Promise<CastResult> {
  const now = deps.now();
  // Set by the mutation below; it may run more than once (lost races), the last run is what was stored.
  let outcome: Settled | { kind: 'recorded'; vote: Vote } | { kind: 'decided now' } | undefined;
  const stored = await deps.store.update(record.id, (current) => {
    const currentState = stateFor(current, ballot.approver, now);
    if (currentState.kind !== 'open') {
      outcome = currentState;
      return undefined;
    }
    const vote: Vote = { ...ballot, at: now.toISOString() };
    current.votes.push(vote);
    const decision = decisionAfter(current, vote);
    if (!decision) {
      outcome = { kind: 'recorded', vote };
      return current;
    }
    current.decision = decision;
    current.status = decision.decision;
    current.delivered = false;
    current.pending = 'yes';
    outcome = { kind: 'decided now' };
    return current;
  });

  if (outcome!.kind === 'recorded' || outcome!.kind === 'decided now') await showInChat(deps, stored);
  switch (outcome!.kind) {
    case 'recorded':
      deps.log.info('vote recorded', { requestId: record.id, decision: ballot.decision, via: ballot.via?.platform ?? 'email' });
      return { kind: 'recorded', record: stored, vote: outcome!.vote };
    case 'decided now': {
      deps.log.info('request decided', { requestId: record.id, decision: stored.decision!.decision, via: ballot.via?.platform ?? 'email' });
      const { outcome: delivery } = await deliverDecision(deps, stored);
      if (delivery === 'TaskTimedOut' || delivery === 'TaskDoesNotExist' || delivery === 'InvalidToken') {
        // The task is gone: say why when Step Functions knows. TaskTimedOut alone would read as the deadline, but AWS
        // answers it for any closed task too ("the task associated with the token has already been closed",
        // https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
        const why = await executionClosure(deps, record).catch(() => undefined);
        if (why && why !== 'deadline') return { kind: 'gone', expired: false, reason: why };
        return { kind: 'gone', expired: delivery === 'TaskTimedOut' };
      }
      // 'retry' included: the decision is recorded and stays pending; the sweep delivers it within minutes.
      return { kind: 'decided', record: stored };
    }
    default:
      return { kind: 'settled', record: stored, state: outcome as Settled };
  }
}

/** Updates the request's chat messages; a failure is logged, never the voter's problem (the next change retries). */
async function showInChat(deps: DecideDeps, record: ApprovalRecord): Promise<void> {
  if (!deps.chat || !record.chat) return;
  try {
    await refreshPosts({ store: deps.store, log: deps.log, chat: deps.chat }, record);
  } catch (error) {
    deps.log.warn('approval chat messages not updated', { requestId: record.id, error: errorName(error) });
  }
}

export type Settled = { kind: 'expired' } | { kind: 'closed'; reason?: string } | { kind: 'decided'; decision: Decision } | { kind: 'voted'; vote: Vote };
type State = Settled | { kind: 'open' };

/** Where the request stands for this approver. Order matters: a decision stays visible after the deadline. */
function stateFor(record: ApprovalRecord, email: string, now: Date): State {
  if (record.status === 'expired') return { kind: 'expired' };
  if (record.status === 'closed') return { kind: 'closed', reason: record.closedReason };
  if (record.decision) return { kind: 'decided', decision: record.decision };
  if (now.getTime() >= Date.parse(record.deadline)) return { kind: 'expired' };
  const vote = record.votes.find((v) => v.approver === email);
  return vote ? { kind: 'voted', vote } : { kind: 'open' };
}

/** The page for a request this approver cannot vote on (any more). */
function settled(record: ApprovalRecord, state: Settled, statusCode: 200 | 409): HttpResponse {
  switch (state.kind) {
    case 'expired':
      return htmlResponse(410, { kind: 'expired', title: record.title });
    case 'closed':
      return htmlResponse(410, { kind: 'closed', title: record.title, reason: state.reason });
    case 'decided':
      return htmlResponse(statusCode, { kind: 'decided', facts: factsOf(record), decision: state.decision });
    case 'voted':
      return htmlResponse(statusCode, { kind: 'voted', facts: factsOf(record), vote: state.vote, justNow: false });
  }
}

/**
 * Why the execution no longer waits for a decision: 'deadline' when it failed at the approval deadline, a
 * sentence for the page otherwise, undefined while it still waits. Statuses and fields of DescribeExecution:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
 */
export function closedReason(status: string | undefined, error: string | undefined): string | 'deadline' | undefined {
  switch (status) {
    case 'ABORTED':
      return 'it was stopped (aborted) before anyone decided';
    case 'TIMED_OUT':
      return 'the workflow timed out before anyone decided';
    case 'SUCCEEDED':
      return 'the workflow ended';
    case 'FAILED':
      if (error === ErrorNames.ApprovalTimedOut) return 'deadline';
      // Any other error, whoever set it, is named as it is: the page knows the app's own errors only.
      return `the workflow failed (${error ?? 'no error name'}) before anyone decided`;
    default:
      return undefined; // RUNNING, PENDING_REDRIVE (it will run again)
  }
}

async function executionClosure(deps: DecideDeps, record: ApprovalRecord): Promise<string | 'deadline' | undefined> {
  try {
    const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: record.executionArn }));
    return closedReason(execution.status, execution.error);
  } catch (error) {
    // "The specified execution does not exist": https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return 'the workflow that asked for it no longer exists';
    throw error;
  }
}

/** Closes an open-looking record whose execution stopped waiting, so the page (and every later one) says why. */
async function closeIfOver(deps: DecideDeps, record: ApprovalRecord): Promise<{ record: ApprovalRecord; state: Settled } | undefined> {
  const why = await executionClosure(deps, record);
  if (why === undefined) return undefined;
  const stored = await deps.store.update(record.id, (current) => {
    if (current.decision || current.status === 'closed' || current.status === 'expired') return undefined;
    current.status = why === 'deadline' ? 'expired' : 'closed';
    if (why !== 'deadline') current.closedReason = why;
    delete current.pending;
    return current;
  });
  deps.log.info('approval closed: its execution stopped waiting', { requestId: record.id, reason: why });
  const state = stateFor(stored, '', deps.now());
  return state.kind === 'open' ? undefined : { record: stored, state: state as Settled };
}

/** Whether `email` asked for this request. */
export function isRequester(record: Pick<ApprovalRecord, 'requestedBy'>, email: string): boolean {
  return record.requestedBy !== null && isValidEmail(record.requestedBy) && normalizeEmail(record.requestedBy) === email;
}

function intentOf(value: string | undefined): Intent | null {
  return value === 'approve' || value === 'reject' ? value : null;
}

/** The decision `vote` brings about, if any: any rejection, or distinct approvals reaching the quorum. */
function decisionAfter(record: ApprovalRecord, vote: Vote): Decision | undefined {
  const approvers = approvedBy(record);
  if (vote.decision === 'approved' && approvers.length < record.quorum) return undefined;
  return { decision: vote.decision, approver: vote.approver, approvers, comment: vote.comment, decidedAt: vote.at };
}

function approvedBy(record: ApprovalRecord): string[] {
  return [...new Set(record.votes.filter((v) => v.decision === 'approved').map((v) => v.approver))];
}

function factsOf(record: ApprovalRecord): RequestFacts {
  return {
    title: record.title,
    details: record.details,
    requestedBy: record.requestedBy,
    deadline: record.deadline,
    quorum: record.quorum,
    approvedBy: approvedBy(record),
  };
}

function invalid(): HttpResponse {
  return htmlResponse(404, { kind: 'invalid' });
}

type Form = { verdict: Verdict; comment: string | null } | { problems: string[]; comment: string };

function parseForm(request: HttpRequest): Form {
  const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return { problems: ['The form must be submitted as application/x-www-form-urlencoded.'], comment: '' };
  }
  const params = new URLSearchParams(request.body);
  // Browsers submit textarea line breaks as CRLF; count them as the one character the user typed.
  const comment = (params.get('comment') ?? '').replace(/\r\n/g, '\n').trim();
  const decisions = params.getAll('decision');
  const problems: string[] = [];
  if (decisions.length === 0) problems.push('Choose Approve or Reject.');
  else if (decisions.length > 1 || !['approve', 'reject'].includes(decisions[0])) {
    problems.push('The decision must be either approve or reject.');
  }
  if (comment.length > COMMENT_MAX_CHARS) {
    problems.push(`The comment is ${comment.length} characters long; at most ${COMMENT_MAX_CHARS} are allowed.`);
  }
  if (problems.length > 0) return { problems, comment };
  const intent = decisions[0] as Intent;
  return { verdict: intent === 'approve' ? 'approved' : 'rejected', comment: comment === '' ? null : comment };
}
