/**
 * What AWS's rules (IAM, quotas, API rates) cost: the same work with every rule on and with every rule off.
 *  - signed DynamoDB GetItem calls made with a Lambda role session's credentials (each one authorized);
 *  - the Approval workflow's validation path (a Lambda invoke authorized against the state machine's role).
 * Target: with the rules on, at least 80% of the throughput with them off.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { startRuntime, type Harness } from '../e2e/harness';

async function calls(h: Harness, count: number, concurrency: number): Promise<number> {
  const fn = h.rt.lambdas.list().find((f) => f.logicalId.startsWith('Ec2SchedulePlanFn'));
  if (!fn?.credentials) throw new Error('bench: the Ec2Schedule plan function has no role credentials');
  const table = h.rt.deployed.tables.find((t) => t.includes('Ec2ScheduleTable'))!;
  const ddb = new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: fn.credentials, maxAttempts: 1 });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'bench' }, sk: { S: 'bench' } } }));
    }),
  );
  ddb.destroy();
  return count / ((performance.now() - started) / 1000);
}

async function executions(h: Harness, count: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await h.rt.sfn.waitForExecution(await h.start('Approval', { title: 'bench', approvers: ['not-an-email'] }));
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

export async function benchRules(print: (line: string) => void): Promise<void> {
  const results: Record<'on' | 'off', { calls: number; executions: number }> = { on: { calls: 0, executions: 0 }, off: { calls: 0, executions: 0 } };
  for (const mode of ['off', 'on', 'off', 'on'] as const) {
    const on = mode === 'on';
    const h = await startRuntime({ seedFleet: false, rules: { iam: on, quotas: on, rates: on, deployChecks: on } });
    try {
      await calls(h, 50, 5); // warm-up: clients, iam-data, JIT
      const c = await calls(h, 1000, 10);
      const e = await executions(h, 40, 4);
      // Two rounds each, alternating, so machine load drifts evenly over both; keep the better round.
      results[mode] = { calls: Math.max(results[mode].calls, c), executions: Math.max(results[mode].executions, e) };
    } finally {
      await h.stop();
    }
  }
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  print(
    `AWS's rules on vs off: DynamoDB GetItem by a Lambda role session: ${results.on.calls.toFixed(0)} vs ${results.off.calls.toFixed(0)} calls/s (${pct(results.on.calls, results.off.calls)}; target ≥ 80%)`,
  );
  print(
    `AWS's rules on vs off: Approval validation path: ${results.on.executions.toFixed(1)} vs ${results.off.executions.toFixed(1)} executions/s (${pct(results.on.executions, results.off.executions)}; target ≥ 80%)`,
  );
}
