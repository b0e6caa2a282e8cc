/**
 * The README's walkthrough of the three workflows ("Try it" in `npm start`'s output), driven through a runtime as a
 * person would: start Approval from its example and approve it by its emailed link; a dry-run stop of office-hours;
 * a fire of office-hours' start schedule (real starts, verified on EC2's transitions); a TagPolicy dry-run scan.
 * Used by test/e2e/time-scale.test.ts and by `npm run bench` (the highest time scale at which it still ends the same).
 *
 * It starts on a Saturday morning (UTC) so that no schedule of the demo app but the approval sweep is due for a
 * virtual day: what it counts is its own doing.
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import type { OutboxEntry } from '../../local/kernel';
import { startRuntime, type Harness } from './harness';

/** Saturday 6 December 2025, 08:00 UTC. */
export const WALKTHROUGH_START = Date.parse('2025-12-06T08:00:00Z');

export interface WalkthroughResult {
  /** Per step: status, and what the output says (decision, counts). */
  outcomes: Record<string, unknown>;
  /** Every email and notification sent, as `service to: subject`, counted. */
  emails: Record<string, number>;
}

const example = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

export async function walkthrough(timeScale: number): Promise<WalkthroughResult> {
  const h = await startRuntime({ timeScale, virtualStart: WALKTHROUGH_START });
  try {
    return await walk(h);
  } finally {
    await h.stop();
  }
}

async function walk(h: Harness): Promise<WalkthroughResult> {
  const outcomes: Record<string, unknown> = {};
  // A test answers within real seconds: at 3600 a second is an hour, so the deadlines are the real ones here.
  const finished = async (arn: string) => {
    const d = await h.finished(arn, 120_000);
    const output = d.output ? (JSON.parse(d.output) as Record<string, unknown>) : undefined;
    return { status: d.status, error: d.error, output };
  };

  // Approval: two approvers are emailed; the first one's link approves.
  const approval = example('workflows/approval/examples/approval.json');
  const approvalArn = await h.start('Approval', approval);
  const asked = await h.mail((e) => e.subject.includes(String(approval.title)), 2, 120_000);
  const link = asked
    .find((e) => e.to.includes('lead@example.com'))!
    .links.find((l) => l.includes('/approvals/'))!
    .split('?')[0];
  const vote = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: 'approve', comment: 'ship it' }).toString(),
  });
  const a = await finished(approvalArn);
  outcomes.approval = { vote: vote.status, status: a.status, error: a.error, decision: a.output?.decision, approver: a.output?.approver };

  // Ec2Schedule: a dry-run stop, then the schedule's start as EventBridge Scheduler fires it.
  const stop = await finished(await h.start('Ec2Schedule', example('workflows/ec2-schedule/examples/ec2-stop-office-hours-dry-run.json')));
  outcomes.ec2DryRunStop = { status: stop.status, error: stop.error, counts: stop.output?.counts };
  const machine = h.arnOf('Ec2Schedule');
  const before = new Set((await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions!.map((e) => e.executionArn));
  await h.rt.scheduler.fire('opsflow-office-hours-start-0');
  const fired = await h.until(
    'the fired execution',
    async () => (await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions!.find((e) => !before.has(e.executionArn))?.executionArn,
    60_000,
  );
  const start = await finished(fired);
  outcomes.ec2ScheduledStart = { status: start.status, error: start.error, counts: start.output?.counts };

  // TagPolicy: a dry-run scan of the demo fleet.
  const scan = await finished(await h.start('TagPolicy', example('workflows/tag-policy/examples/tag-policy-scan-dry-run.json')));
  outcomes.tagPolicyScan = { status: scan.status, error: scan.error, counts: scan.output?.counts };

  // Notifications reach the outbox when the execution publishes them; read it once it has stopped growing.
  let seen = -1;
  const mail = await h.until('the outbox to settle', async () => {
    const all = await h.outbox();
    const settled = all.length === seen;
    seen = all.length;
    if (!settled) await new Promise((r) => setTimeout(r, 300));
    return settled ? all : undefined;
  });
  return { outcomes, emails: countEmails(mail) };
}

function countEmails(mail: OutboxEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of mail) {
    const key = `${e.service} ${e.to.join(',')}: ${e.subject}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
