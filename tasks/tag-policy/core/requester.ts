/**
 * Who started this execution, so that person never approves what they asked for. Step Functions does not tell an
 * execution who started it, but CloudTrail does: "CloudTrail captures all API calls for Step Functions as events"
 * and "Every event or log entry contains information about who generated the request"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cloud-trail.html). Its StartExecution record has
 * the caller's `userIdentity` and, in `responseElements.executionArn`, the execution it started.
 *
 * The lookup reads LookupEvents with EventName=StartExecution over a two-minute window around the execution's start
 * and keeps the record whose executionArn is this execution (the ResourceName attribute is not used: AWS's pages do
 * not say that a StartExecution record lists the execution among its resources). CloudTrail's facts
 * (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html): one lookup attribute,
 * StartTime/EndTime, at most 50 events a page, two requests a second per account and Region. Events reach the event
 * history "within an average of about 5 minutes" of the call, not guaranteed
 * (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html): while no record is found the
 * workflow waits a minute and asks again, up to 15 minutes after the start (`GIVE_UP_MS`); then the requester is
 * `unknown` and the approval request and the report say so.
 *
 * Who the caller is, as an approver email (the only identity the Approval workflow knows), by the first rule that
 * applies:
 *   1. an AWS service made the call (`invokedBy`: EventBridge Scheduler, an EventBridge rule, a parent execution):
 *      no person asked (`service`); "invokedBy: The name of the AWS service that made the request"
 *      (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html);
 *   2. `tagPolicy.requesterEmails` in the config names the principal: the caller's ARN (an IAM user, an assumed-role
 *      session `arn:aws:sts::<account>:assumed-role/<role>/<session>`) or the session issuer's ARN (a role that one
 *      person uses);
 *   3. the role session carries a source identity that is an email address: set when the role was assumed, it
 *      "cannot be changed during the role session" and persists through role chaining
 *      (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html);
 *   4. an IAM Identity Center session (a role `AWSReservedSSO_*` under `/aws-reserved/sso.amazonaws.com/`) whose
 *      session name is an email address: Identity Center names the session after the signed-in user, which the user
 *      cannot choose (README, unconfirmed behaviours);
 *   otherwise a person whose email is not known (`person` without `email`): their ARN is shown to the approvers.
 * A session name of any other role is not trusted: whoever assumes a role picks its session name freely.
 */
import { LookupEventsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { isValidEmail, normalizeEmail } from '../../shared/email';
import { CloudTrailThrottledError } from '../../shared/errors';
import type { Pacer } from './creator';

/** Who started the run, as far as CloudTrail says. */
export interface Requester {
  /** person: a principal that is not an AWS service; service: a schedule, rule or parent execution; unknown: no record. */
  kind: 'person' | 'service' | 'unknown';
  /** The caller's ARN (`userIdentity.arn`). */
  arn?: string;
  /** The approver email of the person, when a rule above names it. */
  email?: string;
  /** The rule that named the email. */
  matchedBy?: 'requesterEmails' | 'sourceIdentity' | 'identityCenter';
  /** The AWS service that made the call (`service`). */
  invokedBy?: string;
}

/** The lookup's state between attempts; `done` with `requester` and `requestedBy` at the end. */
export interface RequesterLookup {
  done: boolean;
  attempts: number;
  /** Not done: how long to wait before the next attempt. */
  waitSeconds?: number;
  requester?: Requester;
  /** What the approval request names as requester (at most 200 characters): the email when known, else a description. */
  requestedBy?: string;
}

/** Keep asking until this long after the execution started (three times CloudTrail's average delivery time). */
export const GIVE_UP_MS = 15 * 60_000;
export const RETRY_SECONDS = 60;
/** The StartExecution record's eventTime (whole seconds) lies within a minute of the execution's start date. */
const WINDOW_MS = 60_000;
/** Pages read per attempt (50 events each): a busy account's StartExecution calls within the window. */
const MAX_PAGES = 20;
/** The Approval workflow's limit on requestedBy. */
const REQUESTED_BY_CHARS = 200;
const SSO_ROLE = /^arn:aws[a-z-]*:iam::\d{12}:role\/aws-reserved\/sso\.amazonaws\.com\/(?:[a-z0-9-]+\/)?AWSReservedSSO_[^/]+$/;

/** The parts of CloudTrail's `userIdentity` the rules read. */
export interface CallerIdentity {
  type?: string;
  arn?: string;
  invokedBy?: string;
  sessionContext?: { sessionIssuer?: { arn?: string }; sourceIdentity?: string };
}

/** The rules above, applied to one StartExecution record's userIdentity. */
export function requesterOf(id: CallerIdentity, requesterEmails: Readonly<Record<string, string>>): Requester {
  const arn = id.arn;
  if (id.invokedBy) return { kind: 'service', invokedBy: id.invokedBy, ...(arn && { arn }) };
  const issuer = id.sessionContext?.sessionIssuer?.arn;
  const configured = [arn, issuer].map((a) => (a ? requesterEmails[a] : undefined)).find((e) => e !== undefined);
  if (configured) return { kind: 'person', arn, email: normalizeEmail(configured), matchedBy: 'requesterEmails' };
  const source = id.sessionContext?.sourceIdentity;
  if (isValidEmail(source)) return { kind: 'person', arn, email: normalizeEmail(source), matchedBy: 'sourceIdentity' };
  const session = arn?.includes(':assumed-role/') ? arn.split('/').pop() : undefined;
  if (issuer && SSO_ROLE.test(issuer) && isValidEmail(session)) return { kind: 'person', arn, email: normalizeEmail(session), matchedBy: 'identityCenter' };
  return { kind: 'person', ...(arn && { arn }) };
}

/** The requester as the approval request names it: the email, or who it was and why no email is known. */
export function requestedByOf(r: Requester): string {
  const text =
    r.email ??
    (r.kind === 'service'
      ? `${r.invokedBy} (no person: ${r.arn ?? 'a service'})`
      : r.kind === 'unknown'
        ? 'unknown (CloudTrail had no StartExecution record for this execution)'
        : `${r.arn ?? 'unknown principal'} (no approver email known)`);
  return text.length <= REQUESTED_BY_CHARS ? text : `${text.slice(0, REQUESTED_BY_CHARS - 1)}…`;
}

export interface RequesterDeps {
  cloudtrail: CloudTrailClient;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  pacer: Pacer;
}

export interface RequesterInput {
  executionArn: string;
  /** `$$.Execution.StartTime` (ISO). */
  startTime: string;
  requesterEmails: Readonly<Record<string, string>>;
  lookup?: RequesterLookup;
}

/**
 * One attempt: the StartExecution record of `executionArn`, or a wait before the next attempt, or `unknown` once
 * `GIVE_UP_MS` have passed since the start (a record late beyond that is CloudTrail's delay: the run goes on and says
 * so). CloudTrail errors are thrown: the workflow retries throttling; anything else (access denied) is a deployment
 * fault, and the run asks nobody and does nothing destructive (its report names the error).
 */
export async function findRequester(input: RequesterInput, deps: RequesterDeps): Promise<RequesterLookup> {
  const attempts = (input.lookup?.attempts ?? 0) + 1;
  const startMs = Date.parse(input.startTime);
  const identity = await lookup(input.executionArn, startMs, deps);
  if (identity) return done(attempts, requesterOf(identity, input.requesterEmails));
  if (deps.now().getTime() - startMs < GIVE_UP_MS) return { done: false, attempts, waitSeconds: RETRY_SECONDS };
  return done(attempts, { kind: 'unknown' });
}

const done = (attempts: number, requester: Requester): RequesterLookup => ({ done: true, attempts, requester, requestedBy: requestedByOf(requester) });

async function lookup(executionArn: string, startMs: number, deps: RequesterDeps): Promise<CallerIdentity | undefined> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    await deps.pacer.turn(() => deps.now().getTime(), deps.sleep);
    const command = new LookupEventsCommand({
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StartExecution' }],
      StartTime: new Date(startMs - WINDOW_MS),
      EndTime: new Date(startMs + WINDOW_MS),
      MaxResults: 50,
      NextToken: nextToken,
    });
    const out = await deps.cloudtrail.send(command).catch((err: Error) => {
      // Another caller in the account took CloudTrail's two requests a second: the workflow waits and tries again.
      throw err.name === 'ThrottlingException' ? new CloudTrailThrottledError(err.message) : err;
    });
    for (const e of out.Events ?? []) {
      const record = parse(e.CloudTrailEvent);
      if (record?.eventSource === 'states.amazonaws.com' && !record.errorCode && record.responseElements?.executionArn === executionArn)
        return record.userIdentity ?? {};
    }
    nextToken = out.NextToken;
    if (!nextToken) return undefined;
  }
  return undefined;
}

interface StartRecord {
  eventSource?: string;
  errorCode?: string;
  userIdentity?: CallerIdentity;
  responseElements?: { executionArn?: string } | null;
}

function parse(json: string | undefined): StartRecord | undefined {
  try {
    return json ? (JSON.parse(json) as StartRecord) : undefined;
  } catch {
    return undefined;
  }
}
