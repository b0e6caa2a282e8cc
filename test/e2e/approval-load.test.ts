/**
 * 200 approvals started at once (issue 9 item 15), with every AWS rule of the runtime on. Every execution's worker
 * long-polls the one shared activity, so most workers take another execution's task, and the sweep runs while
 * workers are still sending: each approval must still send exactly one "Approval needed" email, and none may fail.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from './harness';

const COUNT = 200;
let h: Harness;
// 10x: SES (14 emails per virtual second) refills 140 per real second, and a claim to send an email (15 virtual
// minutes) lasts 90 real seconds, far longer than a loaded machine takes to send these 200. The sweep is not left to
// its schedule: the test runs it again and again while the workers send, so the two always overlap.
beforeAll(async () => {
  h = await startRuntime({ timeScale: 10, virtualStart: Date.parse('2025-03-05T09:00:00Z') });
});
afterAll(() => h?.stop());

/** Every approval record, read straight from the runtime's DynamoDB (one Scan; the table is small). */
async function records(): Promise<Array<{ approvers: Array<{ notifiedAt: string | null; sending?: unknown }> }>> {
  const table = h.rt.deployed.tables.find((t) => t.includes('Approval'))!;
  const res = await h.rt.dynamodb.handle({
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: {},
    service: 'dynamodb',
    accessKeyId: 'e2e',
    target: 'DynamoDB_20120810.Scan',
    body: Buffer.from(JSON.stringify({ TableName: table })),
  });
  return ((JSON.parse(res.body.toString()) as { Items: Record<string, never>[] }).Items ?? []).map((i) => unmarshall(i) as never);
}

describe('200 approvals started at once', () => {
  it('send exactly one "Approval needed" email each, and no execution fails', async () => {
    const titles = Array.from({ length: COUNT }, (_, i) => `Load approval ${i}`);
    const arns = await Promise.all(titles.map((title, i) => h.start('Approval', { title, approvers: [`approver${i}@example.com`] })));

    const sweepFn = h.rt.deployed.functions.find((f) => f.includes('ApprovalSweepFn'))!;
    let sweeping = true;
    const sweeps = (async () => {
      let checked = 0;
      while (sweeping) checked += ((await h.rt.lambdas.invoke(sweepFn, {})) as { checked: number }).checked;
      return checked;
    })();
    let needed: Awaited<ReturnType<typeof h.mail>>;
    try {
      needed = await h.mail((e) => e.service === 'ses' && e.subject.startsWith('Approval needed: Load approval '), COUNT, 120_000);
    } finally {
      sweeping = false;
    }
    // The sweeps looked at records while their emails were going out.
    expect(await sweeps).toBeGreaterThan(0);
    // Every record says its approver was reached and nobody is sending: from then on no task sends an "Approval
    // needed" email (reminders aside), so counting now is proof, not luck.
    await h.until(
      'every approval recorded as sent, with no send in progress',
      async () => {
        const all = await records();
        return (all.length === COUNT && all.every((r) => r.approvers.every((a) => a.notifiedAt !== null && !a.sending))) || undefined;
      },
      120_000,
    );
    const all = (await h.outbox()).filter((e) => e.service === 'ses' && e.subject.startsWith('Approval needed: Load approval '));
    const perTitle = new Map<string, number>();
    for (const m of all) perTitle.set(m.subject, (perTitle.get(m.subject) ?? 0) + 1);
    const duplicated = [...perTitle].filter(([, n]) => n > 1);
    expect(duplicated, `duplicates: ${JSON.stringify(duplicated.slice(0, 5))}`).toEqual([]);
    expect(all).toHaveLength(COUNT);
    expect(needed.map((m) => m.to[0]).sort()).toEqual(titles.map((_, i) => `approver${i}@example.com`).sort());

    const statuses = await Promise.all(arns.map(async (executionArn) => (await h.sfn.send(new DescribeExecutionCommand({ executionArn }))).status));
    expect(statuses.filter((s) => s !== 'RUNNING')).toEqual([]);
  }, 180_000);
});
