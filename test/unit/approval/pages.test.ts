import { describe, expect, it } from 'vitest';
import { htmlResponse, renderPage, type RequestFacts, type View } from '../../../tasks/approval/core/pages';
import type { Decision } from '../../../tasks/approval/core/types';

const REF = `${'A'.repeat(22)}.${'s'.repeat(43)}`;
const facts: RequestFacts = {
  title: 'Stop i-0123 in prod',
  details: { instance: 'i-0123', tags: { env: 'prod' } },
  requestedBy: 'ops@example.com',
  deadline: '2030-01-02T09:00:00.000Z',
  quorum: 2,
  approvedBy: ['bob@example.com'],
};
const pending: View = { kind: 'pending', facts, you: 'alice@example.com', ref: REF, intent: null };
const decision: Decision = {
  decision: 'approved',
  approver: 'alice@example.com',
  approvers: ['bob@example.com', 'alice@example.com'],
  comment: 'go ahead',
  decidedAt: '2030-01-01T11:30:00.000Z',
};
const decided: View = { kind: 'decided', facts, decision };

const allViews: View[] = [
  pending,
  { kind: 'voted', facts, vote: { approver: 'alice@example.com', decision: 'approved', comment: null, at: '2030-01-01T11:00:00.000Z' }, justNow: true },
  decided,
  { kind: 'expired', title: 'Stop i-0123 in prod' },
  { kind: 'closed', title: 'Stop i-0123 in prod' },
  { kind: 'invalid' },
  { kind: 'unavailable' },
  { kind: 'error' },
];

describe('approval pages', () => {
  it('renders the pending view with the facts, progress and a form posting to the same page', () => {
    // Act
    const html = renderPage(pending);
    // Assess
    expect(html).toContain('<h1>Stop i-0123 in prod</h1>');
    expect(html).toContain('ops@example.com');
    expect(html).toContain('2030-01-02 09:00 UTC');
    expect(html).toContain('<dt>instance</dt><dd>i-0123</dd>');
    expect(html).toMatch(/<dt>tags<\/dt><dd><pre>\{\n {2}&quot;env&quot;: &quot;prod&quot;\n\}<\/pre>/);
    expect(html).toContain('1 of 2</strong> needed: bob@example.com');
    expect(html).toContain(`<form method="post" action="${REF}">`);
    expect(html).toContain('name="comment" maxlength="1000"');
    expect(html).toContain('name="decision" value="approve"');
    expect(html).toContain('name="decision" value="reject"');
  });

  it('renders string details as text', () => {
    expect(renderPage({ ...pending, facts: { ...facts, details: 'line 1\nline 2' } })).toContain('<pre>line 1\nline 2</pre>');
  });

  it.each(['approve', 'reject'] as const)('highlights the %s button for ?intent=%s', (intent) => {
    const html = renderPage({ ...pending, intent });
    expect(html).toContain(`value="${intent}" class="chosen" autofocus`);
    expect(html.match(/class="chosen"/g)).toHaveLength(1);
    expect(html).toContain(`You are about to <strong>${intent}</strong>`);
  });

  it('shows the problems of a refused form and keeps the typed comment', () => {
    const html = renderPage({ ...pending, problems: ['Choose Approve or Reject.'], comment: 'my <note>' });
    expect(html).toContain('<li>Choose Approve or Reject.</li>');
    expect(html).toContain('>my &lt;note&gt;</textarea>');
  });

  it('renders the vote of an approver who already voted', () => {
    const html = renderPage({
      kind: 'voted',
      facts,
      vote: { approver: 'alice@example.com', decision: 'approved', comment: 'fine', at: '2030-01-01T11:00:00.000Z' },
      justNow: false,
    });
    expect(html).toContain('You have already voted');
    expect(html).toContain('You approved it on 2030-01-01 11:00 UTC');
    expect(html).toContain('fine');
    expect(html).not.toContain('<form');
  });

  it('renders the decision, who made it, when, and the comment', () => {
    const html = renderPage(decided);
    expect(html).toContain('<strong>approved</strong> by alice@example.com on 2030-01-01 11:30 UTC');
    expect(html).toContain('Approved by: bob@example.com, alice@example.com');
    expect(html).toContain('go ahead');
    expect(html).not.toContain('<form');
  });

  it.each([
    [{ kind: 'expired', title: 'T' } as View, /expired/],
    [{ kind: 'closed', title: 'T' } as View, /closed/],
    [{ kind: 'invalid' } as View, /not valid/],
    [{ kind: 'unavailable' } as View, /try again/],
    [{ kind: 'error' } as View, /went wrong/],
  ])('renders the %o page', (view, text) => {
    expect(renderPage(view)).toMatch(text);
  });

  it('escapes hostile values everywhere', () => {
    // Prepare
    const evil = '<script>alert("x")</script>';
    const hostileFacts: RequestFacts = {
      title: evil,
      details: { [evil]: evil },
      requestedBy: evil,
      deadline: facts.deadline,
      quorum: 1,
      approvedBy: [evil],
    };
    // Act
    const pages = [
      renderPage({ kind: 'pending', facts: hostileFacts, you: evil, ref: `"${evil}`, intent: null, problems: [evil], comment: evil }),
      renderPage({ kind: 'decided', facts: hostileFacts, decision: { ...decision, comment: evil, approver: evil } }),
      renderPage({ kind: 'expired', title: evil }),
    ];
    // Assess
    for (const html of pages) {
      expect(html).not.toContain('<script');
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    }
  });

  it.each(allViews.map((v) => [v.kind, v]))('has no script and no external URL in the %s page', (_kind, view) => {
    const html = renderPage(view as View);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('sends the security headers with every page', () => {
    const response = htmlResponse(404, { kind: 'invalid' });
    expect(response.statusCode).toBe(404);
    expect(response.headers).toEqual({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-robots-tag': 'noindex',
    });
  });
});
