/**
 * The approval emails: one message per approver carrying only that approver's personal links. Nothing
 * else sensitive goes in: no task token, no execution ARN, no other approver's link.
 */
import { escapeHtml } from '../../shared/http';
import { detailsText, formatUtc } from './format';
import type { ApprovalLinks } from './links';
import type { ApprovalRecord } from './types';

/** request: first notification; reminder: not voted yet; escalation: added after escalateAt. */
export type MailKind = 'request' | 'reminder' | 'escalation';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

export type MailFacts = Pick<ApprovalRecord, 'title' | 'details' | 'requestedBy' | 'deadline'>;

const DETAILS_CHARS = 1500;

const SUBJECT_PREFIX: Record<MailKind, string> = {
  request: 'Approval needed: ',
  reminder: 'Reminder: approval needed: ',
  escalation: 'Escalation: approval needed: ',
};

const INTRO: Record<MailKind, string> = {
  request: 'Your approval is requested.',
  reminder: 'Reminder: your approval is still requested and you have not decided yet.',
  escalation: 'This request has not been decided in time and has been escalated to you.',
};

export function renderEmail(kind: MailKind, facts: MailFacts, recipient: string, links: ApprovalLinks): MailContent {
  // A title is one line; folding control characters keeps the subject a single header line.
  const title = facts.title.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  const requestedBy = facts.requestedBy ?? '(not specified)';
  const deadline = formatUtc(facts.deadline);
  const details = truncate(detailsText(facts.details));
  const personal = `This link is personal to ${recipient}: anyone who has it can decide in your name. Do not forward this email.`;
  const confirm = 'Each link opens a page to confirm; opening it does not decide anything.';

  const text = [
    INTRO[kind],
    '',
    `Title: ${title}`,
    `Requested by: ${requestedBy}`,
    `Deadline: ${deadline}`,
    ...(details === null ? [] : ['', 'Details:', details]),
    '',
    `Approve (opens a page to confirm): ${links.approve}`,
    `Reject (opens a page to confirm): ${links.reject}`,
    confirm,
    '',
    personal,
  ].join('\n');

  const p = (s: string) => `<p style="margin:0 0 12px">${s}</p>`;
  const button = (href: string, label: string, color: string) =>
    `<a href="${escapeHtml(href)}" style="display:inline-block;padding:10px 18px;margin-right:8px;border-radius:4px;` +
    `background:${color};color:#fff;text-decoration:none;font-weight:bold">${label}</a>`;
  const html = [
    '<!DOCTYPE html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#1f2328">',
    p(escapeHtml(INTRO[kind])),
    `<h2 style="margin:0 0 12px;font-size:18px">${escapeHtml(title)}</h2>`,
    p(`<strong>Requested by:</strong> ${escapeHtml(requestedBy)}<br><strong>Deadline:</strong> ${escapeHtml(deadline)}`),
    details === null ? '' : `<pre style="white-space:pre-wrap;background:#f6f8fa;padding:10px;border-radius:4px">${escapeHtml(details)}</pre>`,
    p(`${button(links.approve, 'Approve', '#1a7f37')}${button(links.reject, 'Reject', '#cf222e')}`),
    p(escapeHtml(confirm)),
    p(`<small>${escapeHtml(personal)}</small>`),
    '</body></html>',
  ].join('\n');

  return { subject: `${SUBJECT_PREFIX[kind]}${title}`, text, html };
}

function truncate(text: string | null): string | null {
  if (text === null || text.length <= DETAILS_CHARS) return text;
  return `${text.slice(0, DETAILS_CHARS)}\n… (truncated; the approval page shows everything)`;
}
