/**
 * Sending approval emails, shared by the worker and the sweep.
 *
 * The record keeps only hashes of link secrets, so an email to an approver whose secret is not in memory
 * (a retry after an SES failure, a reminder) needs a new secret. Its hash is added BEFORE the email goes out,
 * so a link is never mailed that the record would not accept; earlier links stay valid. When sending fails,
 * the unused hash is removed again.
 */
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { errorName, type Log } from '../../shared/logger';
import { renderEmail, type MailKind } from './email';
import { approvalLinks, hashSecret, newSecret } from './links';
import type { ApprovalStore } from './store';
import type { ApprovalRecord } from './types';

export interface NotifyDeps {
  ses: SESv2Client;
  store: ApprovalStore;
  sender: string;
  linkBaseUrl: string;
  now: () => Date;
  log: Log;
}

export interface MailTarget {
  email: string;
  kind: MailKind;
  /** Known when the approver's secret was just created (new record, escalation); otherwise a new one is issued. */
  secret?: string;
}

/** Emails each target its personal links; returns the record as stored afterwards and who was reached. */
export async function sendLinks(
  deps: NotifyDeps,
  record: ApprovalRecord,
  targets: MailTarget[],
): Promise<{ record: ApprovalRecord; sent: MailTarget[] }> {
  if (targets.length === 0) return { record, sent: [] };

  const secrets = new Map(targets.map((t) => [t.email, t.secret ?? newSecret()]));
  const rotated = targets.filter((t) => t.secret === undefined).map((t) => t.email);
  if (rotated.length > 0) {
    record = await deps.store.update(record.id, (current) => {
      for (const approver of current.approvers) {
        if (rotated.includes(approver.email)) approver.secretHashes.push(hashSecret(secrets.get(approver.email)!));
      }
      return current;
    });
  }

  const sent: MailTarget[] = [];
  const failed: MailTarget[] = [];
  for (const target of targets) {
    const links = approvalLinks(deps.linkBaseUrl, record.id, secrets.get(target.email)!);
    const mail = renderEmail(target.kind, record, target.email, links);
    try {
      await deps.ses.send(
        new SendEmailCommand({
          FromEmailAddress: deps.sender,
          Destination: { ToAddresses: [target.email] },
          Content: {
            Simple: {
              Subject: { Data: mail.subject, Charset: 'UTF-8' },
              Body: { Text: { Data: mail.text, Charset: 'UTF-8' }, Html: { Data: mail.html, Charset: 'UTF-8' } },
            },
          },
        }),
      );
      sent.push(target);
    } catch (error) {
      // Left for the sweep: notifiedAt stays null (or remindedAt unchanged) and it tries again.
      deps.log.warn('approval email not sent', { requestId: record.id, kind: target.kind, error: errorName(error) });
      failed.push(target);
    }
  }
  deps.log.info('approval emails sent', { requestId: record.id, sent: sent.length, failed: failed.length });

  const at = deps.now().toISOString();
  record = await deps.store.update(record.id, (current) => {
    let changed = false;
    for (const approver of current.approvers) {
      const target = sent.find((t) => t.email === approver.email);
      if (target) {
        if (target.kind === 'reminder') approver.remindedAt = at;
        else approver.notifiedAt ??= at;
        changed = true;
        continue;
      }
      const unused = hashSecret(secrets.get(approver.email) ?? '');
      if (failed.some((t) => t.email === approver.email) && rotated.includes(approver.email) && approver.secretHashes.includes(unused)) {
        approver.secretHashes = approver.secretHashes.filter((h) => h !== unused);
        changed = true;
      }
    }
    return changed ? current : undefined;
  });
  return { record, sent };
}
