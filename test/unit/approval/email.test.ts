import { describe, expect, it } from 'vitest';
import { renderEmail } from '../../../tasks/approval/core/email';
import { approvalLinks } from '../../../tasks/approval/core/links';
import { LINK_BASE, SECRETS, TOKEN, pendingRecord } from './fakes';

const record = pendingRecord();
const alice = approvalLinks(LINK_BASE, record.id, SECRETS['alice@example.com']);
const bob = approvalLinks(LINK_BASE, record.id, SECRETS['bob@example.com']);

describe('renderEmail', () => {
  it('carries the facts and both personal links in text and HTML', () => {
    // Act
    const mail = renderEmail('request', record, 'alice@example.com', alice);
    // Assess
    expect(mail.subject).toBe('Approval needed: Stop i-0123 in prod');
    for (const body of [mail.text, mail.html]) {
      expect(body).toContain('Stop i-0123 in prod');
      expect(body).toContain('ops@example.com');
      expect(body).toContain('2030-01-02 09:00 UTC');
      expect(body).toContain('i-0123');
      expect(body).toContain(`${alice.page}?intent=approve`);
      expect(body).toContain(`${alice.page}?intent=reject`);
      expect(body).toMatch(/personal/);
      expect(body).toMatch(/opens a page to confirm/);
    }
  });

  it("contains only the recipient's link, no task token and no execution ARN", () => {
    const mail = renderEmail('request', record, 'alice@example.com', alice);
    const all = `${mail.subject}${mail.text}${mail.html}`;
    expect(all).not.toContain(SECRETS['bob@example.com']);
    expect(all).not.toContain(bob.page);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(record.executionArn);
  });

  it('uses the reminder and escalation subjects', () => {
    expect(renderEmail('reminder', record, 'alice@example.com', alice).subject).toBe('Reminder: approval needed: Stop i-0123 in prod');
    expect(renderEmail('escalation', record, 'alice@example.com', alice).subject).toBe('Escalation: approval needed: Stop i-0123 in prod');
  });

  it('escapes hostile values in the HTML body and keeps the subject on one line', () => {
    // Prepare
    const hostile = pendingRecord({
      title: '<script>alert(1)</script>\r\nBcc: eve@example.com',
      details: '<img src=x onerror=alert(1)>',
      requestedBy: '"><b>boss</b>',
    });
    // Act
    const mail = renderEmail('request', hostile, 'alice@example.com', alice);
    // Assess
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('<b>boss');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it('truncates long details', () => {
    const long = pendingRecord({ details: 'x'.repeat(5000) });
    const mail = renderEmail('request', long, 'alice@example.com', alice);
    expect(mail.text).not.toContain('x'.repeat(1501));
    expect(mail.text).toContain('truncated');
  });
});
