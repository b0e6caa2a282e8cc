/**
 * Failure alerts a person can read: one SNS message per failed, timed-out or aborted execution, with a subject
 * that says which workflow, what happened and the error, and a body with the cause formatted for reading, when it
 * ended, and the execution's console link.
 *
 * The Step Functions status-change event carries no error and no cause
 * (https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html, "Execution Status Change":
 * executionArn, stateMachineArn, name, status, startDate, stopDate, input, output), so they are read from the last
 * history event (ExecutionFailed / ExecutionTimedOut / ExecutionAborted details: error, cause;
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html).
 *
 * A rejected approval (`Approval.Rejected`) is a decision an approver made, not a failure: it is not published
 * (the approver knows, the calling workflow reports it as `rejected`, and the execution shows who rejected and why).
 */
import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { ErrorNames } from '../../shared/errors';
import type { Log } from '../../shared/logger';
import { executionConsoleUrl } from '../../shared/console-link';
import type { Notice } from '../../shared/chat-notice';
import { notifyChat, type ChatDelivery, type ChatNotifier } from '../../shared/chat-notify';

/** The EventBridge event Step Functions sends when an execution's status changes (the fields used here). */
export interface ExecutionStatusChange {
  'detail-type': 'Step Functions Execution Status Change';
  source: 'aws.states';
  time: string;
  region: string;
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
    startDate: number;
    stopDate: number | null;
  };
}

/** How the execution ended, from its last history event. */
export interface Ending {
  error?: string;
  cause?: string;
}

export type Alert = { publish: true; subject: string; message: string; chat?: ChatDelivery[] } | { publish: false; reason: string };

/** Errors that are decisions, not failures: never published as a failure. */
const DECISIONS: ReadonlySet<string> = new Set([ErrorNames.ApprovalRejected]);

const OUTCOMES: Record<string, string> = { FAILED: 'failed', TIMED_OUT: 'timed out', ABORTED: 'aborted' };

/**
 * SNS subjects (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): "Subjects must be ASCII text that
 * begins with a letter, number, or punctuation mark; must not include line breaks or control characters; and must be
 * less than 100 characters long" (the page now says "UTF-8 text"; ASCII satisfies both readings).
 */
export const MAX_SUBJECT_CHARS = 99;
/** A cause is cut here: enough to read, far below SNS's 256 KB message limit (the console has the whole cause). */
export const MAX_CAUSE_CHARS = 4000;
/** Stack trace lines kept from a Lambda error. */
const TRACE_LINES = 5;

/** The alert for an execution that ended, or why none is sent. */
export function renderAlert(event: ExecutionStatusChange, ending: Ending, opts: { consoleOrigin: string }): Alert {
  const d = event.detail;
  const outcome = OUTCOMES[d.status];
  if (!outcome) return { publish: false, reason: `status ${d.status} is not a failure` };
  if (ending.error && DECISIONS.has(ending.error)) return { publish: false, reason: `${ending.error} is a decision, not a failure` };
  const workflow = d.stateMachineArn.split(':').pop()!;
  const ended = new Date(d.stopDate ?? Date.parse(event.time)).toISOString();
  const lines = [
    `Execution ${d.name} of ${workflow} ${outcome} at ${ended} (started ${new Date(d.startDate).toISOString()}, ran ${duration((d.stopDate ?? Date.parse(event.time)) - d.startDate)}).`,
    '',
    `Error: ${ending.error ?? '(none given)'}`,
    ...(ending.cause ? ['Cause:', ...indent(formatCause(ending.cause))] : ['Cause: (none given)']),
    '',
    `Console: ${executionConsoleUrl(opts.consoleOrigin, event.region, d.executionArn)}`,
    `Execution: ${d.executionArn}`,
  ];
  return { publish: true, subject: subject(workflow, outcome, ending.error), message: lines.join('\n') };
}

/** Lines of the cause a chat message shows: its first ones (a Lambda error's type and message come first). */
const CHAT_CAUSE_LINES = 2;

/**
 * The alert as a chat message (tasks/shared/chat-notice.ts): `<workflow> <outcome>`, the error, the execution's name
 * and how long it ran, the first lines of the cause, and the console link. The error, the name and the cause are
 * anyone's text (an execution input, a Lambda's message): they are shown literally.
 */
export function alertNotice(event: ExecutionStatusChange, ending: Ending, opts: { consoleOrigin: string }): Notice {
  const d = event.detail;
  const workflow = d.stateMachineArn.split(':').pop()!;
  const cause = ending.cause
    ? formatCause(ending.cause)
        .split('\n')
        .filter((l) => l.trim() !== '')
    : [];
  return {
    tone: 'failure',
    title: `${workflow} ${OUTCOMES[d.status] ?? d.status.toLowerCase()}`,
    facts: [
      { label: 'Error', value: [{ literal: ending.error ?? '(none given)' }] },
      { label: 'Execution', value: [{ literal: d.name }] },
      { label: 'Ran', value: [duration((d.stopDate ?? Date.parse(event.time)) - d.startDate)] },
    ],
    lines: cause.slice(0, CHAT_CAUSE_LINES).map((l) => [{ literal: l }]),
    ...(cause.length > CHAT_CAUSE_LINES && { more: 'the whole cause is in the console' }),
    link: { url: executionConsoleUrl(opts.consoleOrigin, event.region, d.executionArn), label: 'Open the execution' },
  };
}

/**
 * `<workflow> <outcome>: <error>`, ASCII, on one line, under 100 characters. When too long, the workflow and the error
 * are cut (`...`), the error keeping at least half the room; the outcome is never cut.
 */
export function subject(workflow: string, outcome: string, error?: string): string {
  const clean = (s: string) =>
    s
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/[^\x20-\x7e]/g, '?');
  const cut = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, Math.max(0, max - 3))}...`);
  const [wf, er] = [clean(workflow), error ? clean(error) : ''];
  const room = MAX_SUBJECT_CHARS - outcome.length - 1 - (er ? 2 : 0);
  const wfRoom = er ? Math.min(wf.length, Math.max(room - er.length, Math.floor(room / 2))) : room;
  const head = `${cut(wf, wfRoom)} ${outcome}`;
  return er ? `${head}: ${cut(er, room - Math.min(wf.length, wfRoom))}` : head;
}

/**
 * A cause as a person reads it: a Lambda error (`{"errorType","errorMessage","trace"}`) as its type, message and the
 * first lines of its trace; any other JSON pretty-printed; text as it is. Cut at MAX_CAUSE_CHARS.
 */
export function formatCause(cause: string): string {
  let text = cause;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (isLambdaError(parsed)) {
      const trace = Array.isArray(parsed.trace) ? parsed.trace.filter((l): l is string => typeof l === 'string') : [];
      text = [`${parsed.errorType}: ${parsed.errorMessage}`, ...trace.slice(1, 1 + TRACE_LINES)].join('\n');
      if (trace.length > 1 + TRACE_LINES) text += `\n... ${trace.length - 1 - TRACE_LINES} more trace lines`;
    } else if (typeof parsed === 'object' && parsed !== null) {
      text = JSON.stringify(parsed, null, 2);
    }
  } catch {
    // Not JSON: the text is the cause.
  }
  return text.length <= MAX_CAUSE_CHARS
    ? text
    : `${text.slice(0, MAX_CAUSE_CHARS)}\n... cut at ${MAX_CAUSE_CHARS} characters; the console shows the whole cause`;
}

function isLambdaError(v: unknown): v is { errorType: string; errorMessage: string; trace?: unknown } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Record<string, unknown>).errorType === 'string' &&
    typeof (v as Record<string, unknown>).errorMessage === 'string'
  );
}

const indent = (text: string) => text.split('\n').map((l) => `  ${l}`);

/** `1 h 2 min`, `3 min 4 s`, `5 s`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${sec} s` : `${sec} s`;
}

/** The error and cause of an execution that ended, from its last history event. */
export async function readEnding(sfn: SFNClient, executionArn: string): Promise<Ending> {
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1, includeExecutionData: true }));
  const last: HistoryEvent | undefined = out.events?.[0];
  const details = last?.executionFailedEventDetails ?? last?.executionTimedOutEventDetails ?? last?.executionAbortedEventDetails;
  return { error: details?.error || undefined, cause: details?.cause || undefined };
}

export interface NotifyDeps {
  sfn: SFNClient;
  sns: SNSClient;
  topicArn: string;
  consoleOrigin: string;
  /** The chat channel that also gets each alert (config `alerts.chat`). @default none */
  chat?: ChatNotifier;
  log: Log;
}

/** The function's work: read how the execution ended, and publish the alert unless it is a decision; then post it to chat. */
export async function notify(event: ExecutionStatusChange, deps: NotifyDeps): Promise<Alert> {
  const ending = await readEnding(deps.sfn, event.detail.executionArn);
  const alert = renderAlert(event, ending, { consoleOrigin: deps.consoleOrigin });
  if (!alert.publish) {
    deps.log.info('no failure alert', { executionArn: event.detail.executionArn, status: event.detail.status, reason: alert.reason });
    return alert;
  }
  await deps.sns.send(new PublishCommand({ TopicArn: deps.topicArn, Subject: alert.subject, Message: alert.message }));
  deps.log.info('failure alert published', { executionArn: event.detail.executionArn, status: event.detail.status, error: ending.error });
  // After the email: a chat that cannot be reached costs nothing but its own message (logged with the reason).
  if (!deps.chat) return alert;
  const chat = await notifyChat(alertNotice(event, ending, deps), deps.chat, deps.log, { executionArn: event.detail.executionArn });
  return { ...alert, chat };
}
