/**
 * Sending approval emails, shared by the worker and the sweep.
 *
 * Exactly one email per approver and kind, whoever runs: a worker that took another execution's task, a second
 * worker after a retried AwaitDecision, the sweep retrying unsent emails. Before sending, a caller CLAIMS each
 * email in the record (a write conditional on the version it read, store.ts), and sends only what it claimed: an
 * approver already reached, or with a live claim of someone else's, is skipped. After sending, the claim is
 * released and `notifiedAt` (or `remindedAt`) set in one write. A claim older than SEND_CLAIM_SECONDS belongs to
 * a sender that died between claiming and recording; the sweep then sends again. SES's SendEmail has no
 * idempotency token (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html), so a sender that
 * dies after SES accepted its email and before recording it is the one case that can still send twice.
 *
 * The record keeps only hashes of link secrets, so an email to an approver whose secret is not in memory
 * (a retry after an SES failure, a reminder) needs a new secret. Its hash is added with the claim, BEFORE the
 * email goes out, so a link is never mailed that the record would not accept; earlier links stay valid. When
 * sending fails, the unused hash is removed again.
 *
 * SES's sending rate is per second and each recipient counts (1 per second in the sandbox): emailing several approvers
 * at once is throttled, and "A "Throttling – Maximum sending rate exceeded" error is retriable ... can be retried at a
 * later time and is likely to succeed" (https://aws.amazon.com/blogs/messaging-and-targeting/how-to-handle-a-throttling-maximum-sending-rate-exceeded-error/).
 * So a throttled email waits a second (then 2, 4, 8) and is sent again, while the function has time left; only what
 * still fails is left to the sweep. Any other refusal (an unverified identity in the sandbox: `MessageRejected`) is
 * not retried and is returned as `undelivered`, with SES's message, for the execution's history and the log.
 */
import { randomUUID } from 'node:crypto';
import { SendEmailCommand, type SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { isThrottling } from '../../shared/aws-errors';
import { errorName, type Log } from '../../shared/logger';
import { renderEmail, type MailKind } from './email';
import { approvalLinks, hashSecret, newSecret } from './links';
import type { ApprovalStore } from './store';
import type { ApprovalRecord, SendClaim } from './types';

/**
 * How long a claim to send an email holds. Longer than any approval Lambda can run (worker 90 s, sweep 2 min:
 * workflows/approval/construct.ts checks it at synth), so a claim this old belongs to a sender that is gone.
 */
export const SEND_CLAIM_SECONDS = 15 * 60;
/** The write that records what was sent must not be lost to contention: a lost one means a second email later. */
const RECORD_ATTEMPTS = 10;
/** Waits before sending a throttled email again: SES's rate is counted per second. */
const THROTTLE_WAITS_MS = [1000, 2000, 4000, 8000];
/** Kept back from the function's remaining time when deciding to wait: sending and recording what was sent. */
const SEND_RESERVE_MS = 10_000;
/** SES's message on an undelivered email is kept to this length in the output and the log. */
const REASON_CHARS = 500;

export interface NotifyDeps {
  ses: SESv2Client;
  store: ApprovalStore;
  sender: string;
  linkBaseUrl: string;
  now: () => Date;
  /** Waits `ms` on the clock `now` reads (a throttled send waits before it is sent again). */
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds the function has left; without it, waits are bounded by THROTTLE_WAITS_MS alone. */
  remainingMs?: () => number;
  log: Log;
}

/** An approver SES did not take the email for (other than throttling), with SES's error. */
export interface Undelivered {
  email: string;
  error: string;
  message: string;
}

export interface MailTarget {
  email: string;
  kind: MailKind;
  /** Known when the approver's secret was just created (new record, escalation); otherwise a new one is issued. */
  secret?: string;
}

/** A new claim for `sendLinks`, to store with a record before it is created (the worker's first email). */
export function newClaim(now: Date): SendClaim {
  return { by: randomUUID(), at: now.toISOString() };
}

/**
 * Emails each target its personal links, if this call can claim the email; returns the record as stored
 * afterwards and who was reached. `claim`: a claim already stored with the record (a new record's approvers).
 */
export async function sendLinks(
  deps: NotifyDeps,
  record: ApprovalRecord,
  targets: MailTarget[],
  claim: SendClaim = newClaim(deps.now()),
): Promise<{ record: ApprovalRecord; sent: MailTarget[]; undelivered: Undelivered[] }> {
  if (targets.length === 0) return { record, sent: [], undelivered: [] };

  const secrets = new Map(targets.map((t) => [t.email, t.secret ?? newSecret()]));
  const now = Date.parse(claim.at);
  // Set by the mutation, which may run more than once (lost races): the last run is what was stored.
  let claimed: MailTarget[] = [];
  record = await deps.store.update(record.id, (current) => {
    claimed = [];
    let changed = false;
    for (const target of targets) {
      const approver = current.approvers.find((a) => a.email === target.email);
      if (!approver) continue;
      if (approver.sending?.by === claim.by) {
        claimed.push(target);
        continue;
      }
      if (target.kind !== 'reminder' && approver.notifiedAt !== null) continue; // reached meanwhile
      if (approver.sending && now - Date.parse(approver.sending.at) < SEND_CLAIM_SECONDS * 1000) continue; // being sent
      approver.sending = claim;
      if (target.secret === undefined) approver.secretHashes.push(hashSecret(secrets.get(target.email)!));
      claimed.push(target);
      changed = true;
    }
    return changed ? current : undefined;
  });
  if (claimed.length < targets.length) {
    deps.log.info('approval emails already sent or being sent by another task', { requestId: record.id, skipped: targets.length - claimed.length });
  }
  if (claimed.length === 0) return { record, sent: [], undelivered: [] };

  const sent: MailTarget[] = [];
  const failed: MailTarget[] = [];
  const undelivered: Undelivered[] = [];
  for (const target of claimed) {
    const links = approvalLinks(deps.linkBaseUrl, record.id, secrets.get(target.email)!);
    const mail = renderEmail(target.kind, record, target.email, links);
    try {
      await sendPaced(deps, {
        FromEmailAddress: deps.sender,
        Destination: { ToAddresses: [target.email] },
        Content: {
          Simple: {
            Subject: { Data: mail.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: mail.text, Charset: 'UTF-8' }, Html: { Data: mail.html, Charset: 'UTF-8' } },
          },
        },
      });
      sent.push(target);
    } catch (error) {
      // Left for the sweep: notifiedAt stays null (or remindedAt unchanged), the claim is released, it tries again.
      const reason = (error instanceof Error ? error.message : String(error)).slice(0, REASON_CHARS);
      deps.log.warn('approval email not sent', { requestId: record.id, kind: target.kind, error: errorName(error), reason });
      failed.push(target);
      if (!isThrottling(error)) undelivered.push({ email: target.email, error: errorName(error), message: reason });
    }
  }
  deps.log.info('approval emails sent', { requestId: record.id, sent: sent.length, failed: failed.length });

  record = await deps.store.update(
    record.id,
    (current) => {
      for (const approver of current.approvers) {
        const target = claimed.find((t) => t.email === approver.email);
        if (!target) continue;
        if (sent.includes(target)) {
          if (target.kind === 'reminder') {
            approver.remindedAt = claim.at;
            approver.reminders = (approver.reminders ?? 0) + 1;
          } else approver.notifiedAt ??= claim.at;
        } else if (target.secret === undefined) {
          const unused = hashSecret(secrets.get(approver.email)!);
          approver.secretHashes = approver.secretHashes.filter((h) => h !== unused);
        }
        // A stale claim may have been taken over meanwhile: only our own is released.
        if (approver.sending?.by === claim.by) approver.sending = null;
      }
      return current;
    },
    { attempts: RECORD_ATTEMPTS },
  );
  return { record, sent, undelivered };
}

/** Sends one email, waiting out throttling while the function has time for it. */
async function sendPaced(deps: NotifyDeps, input: SendEmailCommandInput): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.ses.send(new SendEmailCommand(input));
      return;
    } catch (error) {
      const wait = THROTTLE_WAITS_MS[attempt];
      if (!isThrottling(error) || wait === undefined || (deps.remainingMs?.() ?? Infinity) < wait + SEND_RESERVE_MS) throw error;
      await deps.sleep(wait);
    }
  }
}

/** Drops this caller's claims without sending (the task was gone before the emails went out). */
export async function releaseClaim(store: ApprovalStore, id: string, claim: SendClaim): Promise<void> {
  await store.update(
    id,
    (current) => {
      const mine = current.approvers.filter((a) => a.sending?.by === claim.by);
      for (const approver of mine) approver.sending = null;
      return mine.length ? current : undefined;
    },
    { attempts: RECORD_ATTEMPTS },
  );
}
