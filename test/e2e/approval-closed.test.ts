/**
 * Issue 9 item 18: once the execution stops waiting (aborted, or lost to a runtime restart), the approval page no
 * longer offers Approve/Reject, and a POST says the request was closed and why, never "expired … nobody decided
 * before its deadline". The app knows only what AWS sends (issue 20): the execution's status and error name from
 * DescribeExecution, and SendTaskSuccess's TaskTimedOut for the token of a task that "has already been closed"
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SendTaskSuccessCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../local/kernel';
import { credentials, startRuntime, type Harness } from './harness';

const linkOf = (mail: OutboxEntry) => mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
const approve = (link: string) => fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });

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

  it('after a runtime restart: the page and a POST name the error the execution failed with; its token answers TaskTimedOut', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-closed-'));
    const first = await startRuntime({ stateDir });
    let link: string;
    let executionArn: string;
    try {
      executionArn = await first.start('Approval', { title: 'Lost in a restart', approvers: ['lead@example.com'] });
      link = linkOf((await first.mail((e) => e.subject === 'Approval needed: Lost in a restart'))[0]);
    } finally {
      await first.stop();
    }
    const second = await startRuntime({ stateDir });
    try {
      // The link's host is the first runtime's port: ask the second one for the same path. The page names the
      // execution's error as DescribeExecution gives it, like any failure it has no words of its own for.
      const { error } = await second.sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(error).toBeTruthy();
      await expectClosed(`${second.endpoint}${new URL(link).pathname}`, `the workflow failed (${error}) before anyone decided`);

      // What a late decision meets: the token of the task that closed with the execution answers TaskTimedOut.
      const table = second.rt.deployed.tables.find((t) => t.includes('Approval'))!;
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: second.endpoint, region: 'us-east-1', credentials }));
      const { Items = [] } = await doc.send(new ScanCommand({ TableName: table }));
      const token = Items.find((i) => i.executionArn === executionArn)?.token as string;
      doc.destroy();
      await expect(second.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
    } finally {
      await second.stop();
    }
  });
});
