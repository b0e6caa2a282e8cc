/**
 * The approval pages: pure functions from a view model to HTML. No JavaScript, no external assets (the
 * CSP forbids both), every value escaped. Link holders only ever see the request they were asked about.
 */
import { escapeHtml, html, type HttpResponse } from '../../shared/http';
import { formatUtc } from './format';
import type { Decision, Vote } from './types';

export const COMMENT_MAX_CHARS = 1000;

export interface RequestFacts {
  title: string;
  details: string | Record<string, unknown> | null;
  requestedBy: string | null;
  deadline: string;
  quorum: number;
  /** Who has approved so far. */
  approvedBy: string[];
}

export type Intent = 'approve' | 'reject';

export type View =
  /** The decision form; `problems` when a submitted form was refused (400). */
  | { kind: 'pending'; facts: RequestFacts; you: string; ref: string; intent: Intent | null; problems?: string[]; comment?: string }
  /** The viewer's vote, quorum not reached yet; `justNow` right after casting it. */
  | { kind: 'voted'; facts: RequestFacts; vote: Vote; justNow: boolean }
  | { kind: 'decided'; facts: RequestFacts; decision: Decision }
  | { kind: 'expired'; title: string }
  /** The execution stopped waiting before anyone decided; `reason` says why (aborted, restarted, failed, ...). */
  | { kind: 'closed'; title: string; reason?: string }
  /** The link's owner asked for this request: they cannot approve (or reject) it. */
  | { kind: 'own-request'; title: string }
  | { kind: 'invalid' }
  | { kind: 'unavailable' }
  | { kind: 'error' };

/** The page for `view`, with the kit's security headers. */
export function htmlResponse(statusCode: number, view: View): HttpResponse {
  return html(statusCode, renderPage(view));
}

export function renderPage(view: View): string {
  switch (view.kind) {
    case 'pending':
      return layout(view.facts.title, [
        view.problems?.length ? problemList(view.problems) : '',
        factsBlock(view.facts),
        progress(view.facts),
        decisionForm(view),
      ]);
    case 'voted':
      return layout(view.facts.title, [
        `<p class="notice">${view.justNow ? 'Your vote is recorded.' : 'You have already voted on this request.'} ` +
          `You ${view.vote.decision === 'approved' ? 'approved' : 'rejected'} it on ${e(formatUtc(view.vote.at))}.</p>`,
        view.vote.comment ? `<p>Your comment:</p><blockquote>${e(view.vote.comment)}</blockquote>` : '',
        progress(view.facts),
        factsBlock(view.facts),
      ]);
    case 'decided': {
      const d = view.decision;
      const approvers = d.decision === 'approved' && d.approvers.length > 1 ? `<p>Approved by: ${e(d.approvers.join(', '))}</p>` : '';
      return layout(view.facts.title, [
        `<p class="notice ${d.decision}">This request was <strong>${d.decision}</strong> by ${e(d.approver)} ` + `on ${e(formatUtc(d.decidedAt))}.</p>`,
        approvers,
        d.comment ? `<p>Comment:</p><blockquote>${e(d.comment)}</blockquote>` : '',
        factsBlock(view.facts),
      ]);
    }
    case 'expired':
      return layout(view.title, [
        '<p class="notice">This approval request has expired: nobody decided before its deadline. ' +
          'Nothing was approved. Ask the requester to start a new one if it is still needed.</p>',
      ]);
    case 'closed':
      return layout(view.title, [
        `<p class="notice">This request is closed: ${view.reason ? `${e(view.reason)}, so the` : 'the'} workflow that asked ` +
          'for it is no longer waiting for a decision. Nothing was approved, and a vote now would change nothing.</p>',
      ]);
    case 'own-request':
      return layout(view.title, [
        '<p class="notice">You asked for this request, so you cannot decide it: another approver has to. ' + 'Nothing was recorded.</p>',
      ]);
    case 'invalid':
      return layout('Approval link not valid', [
        '<p>This approval link is not valid. Check that you opened the complete link from the email. ' +
          'Links stay valid until the request is decided or expires.</p>',
      ]);
    case 'unavailable':
      return layout('Temporarily unavailable', ['<p>The approval service is busy right now. Nothing was changed. Please try again in a minute.</p>']);
    case 'error':
      return layout('Something went wrong', ['<p>Your request could not be processed. Nothing was changed. Please try again later.</p>']);
  }
}

const e = escapeHtml;

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Arial,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1f2328;line-height:1.5}
h1{font-size:1.4rem}dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.6rem;border-radius:4px;overflow-wrap:anywhere}
.notice{padding:.6rem .8rem;border-radius:4px;background:#ddf4ff}.approved{background:#dafbe1}.rejected{background:#ffebe9}
.problems{background:#ffebe9;padding:.6rem 1.6rem;border-radius:4px}
textarea{width:100%;min-height:5rem;font:inherit}
button{font:inherit;padding:.5rem 1.2rem;margin:.6rem .6rem 0 0;border-radius:4px;border:2px solid #8c959f;background:#fff;cursor:pointer}
button.chosen{border-color:#0969da;box-shadow:0 0 0 3px #b6e3ff}
button[value=approve]{color:#1a7f37}button[value=reject]{color:#cf222e}
blockquote{margin:0 0 1rem;padding-left:.8rem;border-left:3px solid #d0d7de}`;

function layout(heading: string, parts: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${e(heading)}</title>`,
    `<style>${STYLE}</style>`,
    '</head><body>',
    `<h1>${e(heading)}</h1>`,
    ...parts.filter((p) => p !== ''),
    '</body></html>',
  ].join('\n');
}

function factsBlock(facts: RequestFacts): string {
  return [
    '<dl>',
    `<dt>Requested by</dt><dd>${e(facts.requestedBy ?? '(not specified)')}</dd>`,
    `<dt>Deadline</dt><dd>${e(formatUtc(facts.deadline))}</dd>`,
    facts.details === null ? '' : `<dt>Details</dt><dd>${detailsBlock(facts.details)}</dd>`,
    '</dl>',
  ].join('\n');
}

/** Strings as text; objects as a definition list of their top-level keys. */
function detailsBlock(details: string | Record<string, unknown>): string {
  if (typeof details === 'string') return `<pre>${e(details)}</pre>`;
  const entries = Object.entries(details);
  if (entries.length === 0) return '<pre>{}</pre>';
  const rows = entries.map(([key, value]) => {
    const shown = typeof value === 'string' ? e(value) : `<pre>${e(JSON.stringify(value, null, 2) ?? 'null')}</pre>`;
    return `<dt>${e(key)}</dt><dd>${shown}</dd>`;
  });
  return `<dl>${rows.join('')}</dl>`;
}

function progress(facts: RequestFacts): string {
  const who = facts.approvedBy.length > 0 ? `: ${e(facts.approvedBy.join(', '))}` : '';
  return `<p>Approvals so far: <strong>${facts.approvedBy.length} of ${facts.quorum}</strong> needed${who}.</p>`;
}

function problemList(problems: string[]): string {
  return `<ul class="problems">${problems.map((p) => `<li>${e(p)}</li>`).join('')}</ul>`;
}

function decisionForm(view: Extract<View, { kind: 'pending' }>): string {
  const button = (value: Intent, label: string) => {
    const chosen = view.intent === value;
    return `<button type="submit" name="decision" value="${value}"${chosen ? ' class="chosen" autofocus' : ''}>${label}</button>`;
  };
  const lead = view.intent === null ? 'Approve or reject this request.' : `You are about to <strong>${view.intent}</strong> this request. Confirm below.`;
  // A relative action resolves to this page's own path (`/approvals/<ref>`) whatever stage prefix serves it.
  return [
    `<form method="post" action="${e(view.ref)}">`,
    `<p>${lead} This personal link identifies you as <strong>${e(view.you)}</strong>.</p>`,
    `<label for="comment">Comment (optional, up to ${COMMENT_MAX_CHARS} characters)</label>`,
    `<textarea id="comment" name="comment" maxlength="${COMMENT_MAX_CHARS}">${e(view.comment ?? '')}</textarea>`,
    `<div>${button('approve', 'Approve')}${button('reject', 'Reject')}</div>`,
    '</form>',
  ].join('\n');
}
