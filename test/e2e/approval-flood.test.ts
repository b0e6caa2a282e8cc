/**
 * Issue 9 item 20: a flood of unknown approval refs must not lock out approvers. Unknown refs are answered from
 * their shape (404, no table read), and the approval routes' throttle (workflows/approval/construct.ts
 * APPROVAL_API_THROTTLE) is sized for floods: 25 garbage GETs would spend a whole burst of 20. The buckets are
 * shared by every client, as on AWS; the test counts requests, never time, so machine speed cannot change it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_API_THROTTLE } from '../../workflows/approval/construct';
import { startRuntime, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startRuntime();
});
afterAll(() => h?.stop());

const vote = (link: string) => fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });

describe('a flood of unknown approval refs', () => {
  it('does not lock out the approver: well past the 25 GETs that used to, the page and the vote still answer', async () => {
    // Prepare
    const arn = await h.start('Approval', { title: 'Flooded', approvers: ['lead@example.com'] });
    const [mail] = await h.mail((e) => e.subject === 'Approval needed: Flooded');
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    // Act: half the burst (100 GETs, four times the reported 25), all at once
    const flood = await Promise.all(Array.from({ length: APPROVAL_API_THROTTLE.burstLimit / 2 }, () => fetch(`${h.endpoint}/approvals/garbage`)));
    const page = await fetch(link);
    // Assess
    expect(new Set(flood.map((r) => r.status))).toEqual(new Set([404]));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Flooded');
    expect((await vote(link)).status).toBe(200);
    expect((await h.finished(arn)).status).toBe('SUCCEEDED');
  });

  it('a flood that spends the GET bucket still leaves the vote (POST) its own bucket', async () => {
    // Prepare
    const arn = await h.start('Approval', { title: 'Flooded harder', approvers: ['lead@example.com'] });
    const [mail] = await h.mail((e) => e.subject === 'Approval needed: Flooded harder');
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    // Act: GETs until API Gateway answers 429 (the signal that the GET bucket is empty)
    let throttled = 0;
    for (let sent = 0; throttled === 0 && sent < 10 * APPROVAL_API_THROTTLE.burstLimit; sent += 50) {
      const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await fetch(`${h.endpoint}/approvals/garbage`)).status));
      throttled = statuses.filter((s) => s === 429).length;
    }
    const voted = await vote(link);
    // Assess
    expect(throttled).toBeGreaterThan(0);
    expect(voted.status).toBe(200);
    expect((await h.finished(arn)).status).toBe('SUCCEEDED');
  });
});
