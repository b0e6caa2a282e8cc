/**
 * The longest event-loop stall while the runtime serves pathological patterns (issue 18: no single request may
 * stall it for more than 100 ms): node's `monitorEventLoopDelay` samples the loop while each probe of
 * test/security/redos.test.ts is sent through the whole runtime (gate, IAM, the service) with the real SDK clients.
 * With the backtracking RegExps these replaced, the first probe alone held the loop for longer than any bench runs.
 * Each probe is first sent with a small input, so the figure is the pathological input's, not the first load of
 * a service's code. The SDK clients run in the same process, so each figure includes their share (serializing and
 * hashing a 1 MB request, say): an upper bound on the runtime's own stall.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { TestStateCommand } from '@aws-sdk/client-sfn';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ACCOUNT } from '../../local/kernel';
import { credentials, startRuntime } from '../e2e/harness';

const stars = (k: number, literal = 'a', tail = 'b') => `${`*${literal}`.repeat(k)}*${tail}`;
const TARGET_MS = 100;

export async function benchRedos(print: (line: string) => void): Promise<void> {
  const h = await startRuntime({ seedFleet: false });
  const ddb = new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
  const events = new EventBridgeClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
  try {
    // 2,000 instances whose Name tags are as long as EC2 allows: every filter value is tried against each.
    const ids = h.rt.ec2.fleet.addInstances(2_000).map((i) => i.instanceId);
    for (let i = 0; i < ids.length; i += 1000)
      await h.ec2.send(new CreateTagsCommand({ Resources: ids.slice(i, i + 1000), Tags: [{ Key: 'Name', Value: 'a'.repeat(256) }] }));
    const table = h.rt.deployed.tables[0];
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/bench`;
    /** Each probe takes `n`, the size of its pathological part; 1 for the warm-up. */
    const probes: Array<[string, (n: number) => Promise<unknown>]> = [
      [
        'EC2 DescribeInstances, a 12-star tag filter over 2,000 instances',
        (n) => h.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [stars(Math.min(n, 12))] }] })),
      ],
      [
        'EC2 DescribeTags, a 12-star ? filter',
        (n) => h.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: [stars(Math.min(n, 12), '?')] }] })),
      ],
      [
        'EventBridge TestEventPattern, a 40-star wildcard against 200 KB',
        (n) =>
          events.send(
            new TestEventPatternCommand({
              EventPattern: JSON.stringify({ detail: { m: [{ wildcard: stars(Math.min(n, 40)) }] } }),
              Event: JSON.stringify({
                id: '1',
                account: ACCOUNT,
                source: 'bench',
                time: '2024-01-01T00:00:00Z',
                region: 'us-east-1',
                resources: [],
                'detail-type': 'x',
                detail: { m: 'a'.repeat(n * 5_000) },
              }),
            }),
          ),
      ],
      [
        'Step Functions TestState, a 40-star StringMatches against 50,000 characters',
        (n) =>
          h.sfn.send(
            new TestStateCommand({
              roleArn,
              input: JSON.stringify({ s: 'a'.repeat(n * 1_250) }),
              definition: JSON.stringify({ Type: 'Choice', Choices: [{ Variable: '$.s', StringMatches: stars(Math.min(n, 40)), Next: 'A' }], Default: 'B' }),
            }),
          ),
      ],
      [
        'Step Functions TestState, JSONata $match with /(a+)+$/',
        (n) =>
          h.sfn.send(
            new TestStateCommand({
              roleArn,
              input: JSON.stringify({ a: `${'a'.repeat(n)}!` }),
              definition: JSON.stringify({ Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% $count($match($states.input.a, /(a+)+$/)) %}', End: true }),
            }),
          ),
      ],
      [
        'Step Functions TestState, a JSONPath filter calling match()',
        (n) =>
          h.sfn.send(
            new TestStateCommand({
              roleArn,
              input: JSON.stringify({ items: [{ a: `${'a'.repeat(n)}!` }] }),
              definition: JSON.stringify({ Type: 'Pass', InputPath: '$.items[?(@.a.match(/(a+)+$/))]', End: true }),
            }),
          ),
      ],
      ...(table
        ? ([
            [
              `DynamoDB Scan of ${table}, a 1 MB FilterExpression`,
              (n) => ddb.send(new ScanCommand({ TableName: table, FilterExpression: `${'attribute_exists(a) AND '.repeat(n * 1_000)}attribute_exists(a)` })),
            ],
            [
              `DynamoDB Scan of ${table}, 1,000 nested parentheses`,
              (n) =>
                ddb.send(
                  new ScanCommand({
                    TableName: table,
                    FilterExpression: `${'('.repeat(n * 25)}contains(a, :b)${')'.repeat(n * 25)}`,
                    ExpressionAttributeValues: { ':b': { S: 'a'.repeat(n * 1_250) } },
                  }),
                ),
            ],
          ] as Array<[string, (n: number) => Promise<unknown>]>)
        : []),
    ];
    let worst = 0;
    for (const [what, probe] of probes) {
      // Refusals count as answers: the figure is how long the loop was held, not whether the call succeeded.
      await probe(1).catch(() => undefined);
      // The machine is shared: a stall the input causes shows in every run, one the neighbours cause does not.
      let stallMs = Infinity;
      for (let run = 0; run < 3; run++) {
        const loop = monitorEventLoopDelay({ resolution: 10 });
        loop.enable();
        await probe(40).catch(() => undefined);
        loop.disable();
        stallMs = Math.min(stallMs, loop.max / 1e6);
      }
      worst = Math.max(worst, stallMs);
      print(`  ${what}: longest event-loop stall ${stallMs.toFixed(1)} ms (least of 3 runs)`);
    }
    print(`pathological patterns: longest event-loop stall ${worst.toFixed(1)} ms (target under ${TARGET_MS} ms)${worst < TARGET_MS ? '' : '  ABOVE TARGET'}`);
  } finally {
    ddb.destroy();
    events.destroy();
    await h.stop();
  }
}
