/**
 * The sweep (every 5 minutes): walks the records that still need attention (the sparse `pending` index)
 * and, per record, delivers an undelivered decision, expires it at the deadline, or keeps it alive:
 * heartbeat, retry unsent emails, remind, escalate. One record's failure never stops the others.
 */
import { SendTaskFailureCommand } from '@aws-sdk/client-sfn';
import { ErrorNames } from '../../shared/errors';
import { errorName } from '../../shared/logger';
import { taskGone } from './aws-errors';
import { postMissing, refreshPosts, type ApprovalChatDeps } from './chat-messages';
import { deliverDecision, heartbeat, type DeliverDeps } from './deliver';
import { formatUtc } from './format';
import { hashSecret, newSecret } from './links';
import { sendLinks, type MailTarget, type NotifyDeps } from './notify';
import type { ApprovalRecord } from './types';

/** Mail (notify.ts) and delivery to Step Functions (deliver.ts), as the worker has them. */
export interface SweepDeps extends NotifyDeps, DeliverDeps {
  reminderIntervalSeconds: number;
  escalationApprovers: string[];
  /** Chat: refused posts are tried again, and messages updated when a request ends. Absent: no chat. */
  chat?: ApprovalChatDeps;
}

export interface SweepCounts {
  /** Records looked at. */
  checked: number;
  /** Reminder emails sent. */
  reminded: number;
  /** Records escalated. */
  escalated: number;
  /** Records expired at their deadline. */
  expired: number;
  /** Decisions delivered to Step Functions. */
  delivered: number;
  /** Successful heartbeats. */
  heartbeats: number;
}

export async function sweep(deps: SweepDeps): Promise<SweepCounts> {
  const counts: SweepCounts = { checked: 0, reminded: 0, escalated: 0, expired: 0, delivered: 0, heartbeats: 0 };
  for await (const id of deps.store.pendingIds()) {
    counts.checked++;
    try {
      await sweepOne(deps, id, counts);
    } catch (error) {
      deps.log.error('sweep failed for one approval, continuing', { requestId: id, error: errorName(error) });
    }
  }
  deps.log.info('sweep done', { ...counts });
  return counts;
}

async function sweepOne(deps: SweepDeps, id: string, counts: SweepCounts): Promise<void> {
  // The index may lag and may not project every attribute: act on the consistent, whole record.
  let record = await deps.store.get(id);
  if (record?.pending !== 'yes') return;
  const now = deps.now();

  if (record.decision && !record.delivered) {
    const { outcome, record: delivered } = await deliverDecision(deps, record);
    if (outcome === 'delivered') counts.delivered++;
    await showInChat(deps, delivered);
    return;
  }
  if (now.getTime() >= Date.parse(record.deadline)) {
    await showInChat(deps, await expire(deps, record));
    counts.expired++;
    return;
  }
  if (deps.chat) record = await postMissing({ ...deps, chat: deps.chat }, record, 'failed');
  const beat = await heartbeat(deps, record);
  if (beat === 'gone') return;
  if (beat === 'ok') counts.heartbeats++;

  const unsent: MailTarget[] = record.approvers
    .filter((a) => a.notifiedAt === null)
    .map((a) => ({ email: a.email, kind: a.role === 'escalation' ? 'escalation' : 'request' }));
  ({ record } = await sendLinks(deps, record, unsent));

  if (record.nextReminderAt !== null && now.getTime() >= Date.parse(record.nextReminderAt)) {
    const reminded = await remind(deps, record, now, unsent);
    record = reminded.record;
    counts.reminded += reminded.sent;
  }

  if (record.escalateAt !== null && !record.escalated && now.getTime() >= Date.parse(record.escalateAt)) {
    await escalate(deps, record);
    counts.escalated++;
  }
}

/**
 * Past the deadline: the record is closed as expired, and the task is failed with Approval.TimedOut so
 * the execution ends at the request's own deadline even if the state's timeout is longer. If Step
 * Functions cannot be told now (throttled), the record stays on the list and the next sweep tries again.
 */
async function expire(deps: SweepDeps, record: ApprovalRecord): Promise<ApprovalRecord> {
  let retry = false;
  try {
    await deps.sfn.send(
      new SendTaskFailureCommand({
        taskToken: record.token,
        error: ErrorNames.ApprovalTimedOut,
        cause: JSON.stringify({ deadline: record.deadline, message: `nobody decided before ${formatUtc(record.deadline)}` }),
      }),
    );
  } catch (error) {
    retry = !taskGone(error);
    if (retry) deps.log.warn('expiry not delivered, will retry', { requestId: record.id, error: errorName(error) });
  }
  const stored = await deps.store.update(record.id, (current) => {
    if (current.decision) return undefined; // decided in the meantime: delivery wins
    current.status = 'expired';
    if (retry) current.pending = 'yes';
    else delete current.pending;
    return current;
  });
  deps.log.info('approval expired', { requestId: record.id });
  return stored;
}

/** The request's chat messages show how it ended; a chat failure never stops the sweep's other work. */
async function showInChat(deps: SweepDeps, record: ApprovalRecord): Promise<void> {
  if (!deps.chat || !record.chat) return;
  await refreshPosts({ ...deps, chat: deps.chat }, record).catch((error) =>
    deps.log.warn('approval chat messages not updated', { requestId: record.id, error: errorName(error) }),
  );
}

/** Reminds every approver who has not voted (except those emailed a moment ago) and moves the next reminder on. */
async function remind(deps: SweepDeps, record: ApprovalRecord, now: Date, justEmailed: MailTarget[]): Promise<{ record: ApprovalRecord; sent: number }> {
  const due = record.nextReminderAt;
  let mine = false;
  // Advance first: a crash after the emails must not turn into a reminder on every sweep.
  record = await deps.store.update(record.id, (current) => {
    mine = current.nextReminderAt === due;
    if (!mine) return undefined; // another sweep run is sending this reminder
    current.nextReminderAt = nextReminder(current, now, deps.reminderIntervalSeconds);
    return current;
  });
  if (!mine) return { record, sent: 0 };
  const voted = new Set(record.votes.map((v) => v.approver));
  const targets: MailTarget[] = record.approvers
    .filter((a) => !voted.has(a.email) && a.notifiedAt !== null && !justEmailed.some((t) => t.email === a.email))
    .map((a) => ({ email: a.email, kind: 'reminder' }));
  const { record: stored, sent } = await sendLinks(deps, record, targets);
  return { record: stored, sent: sent.length };
}

/** The next reminder strictly after `now` (a late sweep does not send a burst), or null past the deadline. */
function nextReminder(record: ApprovalRecord, now: Date, intervalSeconds: number): string | null {
  const step = intervalSeconds * 1000;
  let next = Date.parse(record.nextReminderAt!) + step;
  while (next <= now.getTime()) next += step;
  return next < Date.parse(record.deadline) ? new Date(next).toISOString() : null;
}

/** Adds the escalation approvers (each with a new link) and emails them. */
async function escalate(deps: SweepDeps, record: ApprovalRecord): Promise<void> {
  const secrets = new Map<string, string>();
  record = await deps.store.update(record.id, (current) => {
    if (current.escalated) return undefined;
    for (const email of deps.escalationApprovers) {
      if (current.approvers.some((a) => a.email === email)) continue;
      const secret = secrets.get(email) ?? newSecret();
      secrets.set(email, secret);
      current.approvers.push({ email, secretHashes: [hashSecret(secret)], role: 'escalation', notifiedAt: null, remindedAt: null });
    }
    current.escalated = true;
    return current;
  });
  // Only the approvers this call added (a concurrent sweep may have escalated first, with its own secrets).
  const added = record.approvers.filter((a) => secrets.has(a.email) && a.secretHashes.includes(hashSecret(secrets.get(a.email)!)));
  deps.log.info('approval escalated', { requestId: record.id, added: added.length });
  await sendLinks(
    deps,
    record,
    added.map((a) => ({ email: a.email, kind: 'escalation', secret: secrets.get(a.email) })),
  );
}
