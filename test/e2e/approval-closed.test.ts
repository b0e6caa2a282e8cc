/**
 * Issue 9 item 18: once the execution stops waiting (aborted, or lost to a runtime restart), the approval page no
 * longer offers Approve/Reject, and a POST says the request was closed and why, never "expired … nobody decided
 * before its deadline".
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../local/kernel';
import { startRuntime, type Harness } from './harness';

const linkOf = (mail: OutboxEntry) => mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
const approve = (link: string) =>
  fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });

async function expectClosed(link: string, why: string) {
  const page = await fetch(link);
  const pageText = await page.text();
  expect(page.status).toBe(410);
  expect(pageText).toContain('This request is closed');
  expect(pageText).toContain(why);
  expect(pageText).not.toContain('<form');
  const post = await approve(link);
  const postText = await post.text();
  expect(post.status).toBe(410);
  expect(postText).toContain(why);
  expect(postText).not.toContain('expired');
}

describe('a closed approval request', () => {
  it('after an abort: the page and a POST say it was stopped (aborted)', async () => {
    const h: Harness = await startRuntime();
    try {
      const arn = await h.start('Approval', { title: 'Aborted one', approvers: ['lead@example.com'] });
      const [mail] = await h.mail((e) => e.subject === 'Approval needed: Aborted one');
      await h.sfn.send(new StopExecutionCommand({ executionArn: arn }));
      await expectClosed(linkOf(mail), 'stopped (aborted)');
    } finally {
      await h.stop();
    }
  });

  it('after a runtime restart: the page and a POST say the runtime restarted', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-closed-'));
    const first = await startRuntime({ stateDir });
    let link: string;
    try {
      await first.start('Approval', { title: 'Lost in a restart', approvers: ['lead@example.com'] });
      link = linkOf((await first.mail((e) => e.subject === 'Approval needed: Lost in a restart'))[0]);
    } finally {
      await first.stop();
    }
    const second = await startRuntime({ stateDir });
    try {
      // The link's host is the first runtime's port: ask the second one for the same path.
      await expectClosed(`${second.endpoint}${new URL(link).pathname}`, 'restarted');
    } finally {
      await second.stop();
    }
  });
});
