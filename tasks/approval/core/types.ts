import type { ChatPlatform } from '../../shared/chat-auth';
import type { ChatTarget } from '../../shared/chat-post';

/**
 * The approval request as validated from the execution input, and the record the tasks keep per request
 * in DynamoDB (one record per execution of the Approval state machine).
 */

/** The normalized request: the output of `validateRequest`, carried in the activity task's input. */
export interface ApprovalRequest {
  title: string;
  details: string | Record<string, unknown> | null;
  /** Lower-cased, de-duplicated. */
  approvers: string[];
  requestedBy: string | null;
  timeoutSeconds: number;
  /** Distinct approvals needed; one rejection decides at once. */
  quorum: number;
  /** Where the request is posted with Approve / Reject buttons (input `chat`, else `approval.chat`); absent: nowhere. */
  chat?: ChatTarget[];
}

export type Role = 'approver' | 'escalation';
export type Verdict = 'approved' | 'rejected';
export type Status = 'pending' | Verdict | 'expired' | 'closed';

export interface Approver {
  email: string;
  /** Hex sha256 of every link secret mailed to this approver; a reminder adds one, earlier links keep working. */
  secretHashes: string[];
  role: Role;
  notifiedAt: string | null;
  /** When the last reminder went out. */
  remindedAt: string | null;
  /** Reminder emails sent to this approver (absent on records written before it was counted). */
  reminders?: number;
  /**
   * An email to this approver being sent right now: the claim of whoever sends it (tasks/approval/core/notify.ts).
   * Null or absent: nobody is sending. A claim older than SEND_CLAIM_SECONDS belongs to a sender that died.
   */
  sending?: SendClaim | null;
}

export interface SendClaim {
  /** Random id of the sending call. */
  by: string;
  at: string;
}

export interface Vote {
  approver: string;
  decision: Verdict;
  comment: string | null;
  at: string;
  /** Where the vote came from: a chat click (absent: the email link's page). */
  via?: { platform: ChatPlatform; user: string };
}

/** One chat message of a request. */
export interface ChatPost extends ChatTarget {
  /** Slack's `ts`, Mattermost's post id, '' for Teams; null until posted. */
  id: string | null;
  /** What the message shows now (`messageState`): it is updated when the record no longer matches it. */
  shows: string | null;
  /** The chat server's refusal of the last post or update (a named error and its message). */
  error?: string;
}

/** The request's chat messages and the secret its Mattermost buttons carry back (only its hashes are kept). */
export interface ChatRecord {
  /** Hex sha256 of each per-request secret put in a Mattermost button's context; compared in constant time. */
  secretHashes: string[];
  posts: ChatPost[];
}

export interface Decision {
  decision: Verdict;
  /** The approver whose vote decided (reached the quorum, or rejected). */
  approver: string;
  /** Every approving address at the time of the decision. */
  approvers: string[];
  comment: string | null;
  decidedAt: string;
}

export interface ApprovalRecord {
  id: string;
  executionArn: string;
  /** The activity task token: stored only here, never returned or logged. */
  token: string;
  /** When `token` was stored: tells a worker that found no task whether another one took this execution's. */
  tokenAt: string;
  title: string;
  details: string | Record<string, unknown> | null;
  requestedBy: string | null;
  quorum: number;
  createdAt: string;
  deadline: string;
  nextReminderAt: string | null;
  escalateAt: string | null;
  escalated: boolean;
  approvers: Approver[];
  votes: Vote[];
  status: Status;
  decision: Decision | null;
  /** Present when the request was posted to chat. */
  chat?: ChatRecord;
  /** Set with status 'closed': why the execution stopped waiting before anyone decided (shown on the page). */
  closedReason?: string;
  /** The decision reached Step Functions, or the task it was meant for is gone. */
  delivered: boolean;
  /** 'yes' while the sweep must look at the record (sparse GSI `pending`); absent otherwise. */
  pending?: 'yes';
  /** DynamoDB TTL, epoch seconds: deadline + 30 days. Derived from `deadline` on every write. */
  expiresAt?: number;
  /** Optimistic concurrency: every write is conditional on the version it read. */
  version: number;
}
