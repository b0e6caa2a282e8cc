import type { Server } from 'node:http';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Clock, type Target } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { EventsService } from '../../local/services/events';

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:remediate';
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:notify';
const BROKEN = 'arn:aws:lambda:us-east-1:000000000000:function:broken';

describe('EventsService', () => {
  const invoked: Target[] = [];
  const clock = new Clock({ start: Date.parse('2024-05-01T10:00:00.500Z') });
  const service = new EventsService({
    clock,
    invoke: async (t) => {
      if (t.arn === BROKEN) throw new Error('function crashed');
      invoked.push(t);
    },
  });
  service.addRule({
    name: 'on-run-instances',
    eventPattern: { source: ['aws.ec2'], 'detail-type': ['AWS API Call via CloudTrail'], detail: { eventName: ['RunInstances'] } },
    targets: [
      { id: 'broken', arn: BROKEN },
      { id: 'sm', arn: SM, inputPath: '$.detail' },
      {
        id: 'fn',
        arn: FN,
        inputTransformer: {
          InputPathsMap: { who: '$.detail.userIdentity.arn' },
          InputTemplate: '{"text": "launched by <who>", "source": <aws.events.event.json>}',
        },
      },
    ],
  });
  service.addRule({ name: 'disabled', state: 'DISABLED', eventPattern: { source: ['aws.ec2'] }, targets: [{ id: 'x', arn: FN, input: '{"never":true}' }] });
  service.addRule({ name: 'custom', eventPattern: { source: ['opsflow.approval'] }, targets: [{ id: 'c', arn: SM, input: '{"constant":1}' }] });

  let server: Server;
  let client: EventBridgeClient;
  beforeAll(async () => {
    server = createServer([service], async () => ({ status: 404, body: '' }));
    const port = await listen(server, 0);
    client = new EventBridgeClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
    });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    invoked.length = 0;
  });

  it('put() fills the envelope and delivers to every target of matching enabled rules, despite a failing one', async () => {
    // Prepare
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);

    // Act
    const before = clock.nowMs();
    await service.put({
      source: 'aws.ec2',
      'detail-type': 'AWS API Call via CloudTrail',
      detail: { eventName: 'RunInstances', userIdentity: { arn: 'arn:aws:iam::000000000000:user/alice' } },
    });

    // Assess
    expect(invoked.map((t) => t.arn)).toEqual([SM, FN]);
    expect(JSON.parse(invoked[0].input)).toEqual({ eventName: 'RunInstances', userIdentity: { arn: 'arn:aws:iam::000000000000:user/alice' } });
    const transformed = JSON.parse(invoked[1].input);
    expect(transformed.text).toBe('launched by arn:aws:iam::000000000000:user/alice');
    expect(transformed.source).toMatchObject({ version: '0', account: '000000000000', region: 'us-east-1', resources: [] });
    // The clock's time of the put, to the second (the clock runs in real time: a loaded machine may pass a second).
    expect(transformed.source.time).toMatch(/^2024-05-01T10:00:\d\dZ$/);
    expect(Date.parse(transformed.source.time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(transformed.source.time)).toBeLessThanOrEqual(clock.nowMs());
    expect(transformed.source.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0][0]).toMatch(/rule on-run-instances target broken .*function crashed/);
    error.mockRestore();
  });

  it('does not deliver events that match no rule', async () => {
    await service.put({ source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: { state: 'running' } });
    expect(invoked).toEqual([]);
  });

  it('PutEvents accepts valid entries, reports malformed ones, and delivers with the default input', async () => {
    // Act
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'opsflow.approval', DetailType: 'Decision', Detail: '{"approved":true}' },
          { Source: 'opsflow.approval', DetailType: 'Decision', Detail: '{not json' },
          { Source: 'opsflow.approval', DetailType: 'Decision' },
        ],
      }),
    );
    await vi.waitFor(() => expect(invoked).toHaveLength(1));

    // Assess
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.[0].EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'InvalidArgument', ErrorMessage: expect.stringContaining('Detail') });
    // The delivery names its source, so the target's resource policy can be checked against the rule.
    expect(invoked[0]).toEqual({
      arn: SM,
      input: '{"constant":1}',
      roleArn: undefined,
      source: { service: 'events.amazonaws.com', arn: expect.stringMatching(/^arn:aws:events:us-east-1:000000000000:rule\//) },
    });
  });

  it('PutEvents to another bus does not reach default-bus rules', async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [{ Source: 'opsflow.approval', DetailType: 'D', Detail: '{}', EventBusName: 'other' }] }));
    await new Promise((r) => setImmediate(r));
    expect(out.FailedEntryCount).toBe(0);
    expect(invoked).toEqual([]);
  });

  it('ListRules and listRules() describe the rules', async () => {
    const out = await client.send(new ListRulesCommand({ NamePrefix: 'on-' }));
    expect(out.Rules).toEqual([
      {
        Name: 'on-run-instances',
        Arn: 'arn:aws:events:us-east-1:000000000000:rule/on-run-instances',
        EventPattern: JSON.stringify({ source: ['aws.ec2'], 'detail-type': ['AWS API Call via CloudTrail'], detail: { eventName: ['RunInstances'] } }),
        State: 'ENABLED',
        EventBusName: 'default',
      },
    ]);
    expect(service.listRules().map((r) => [r.name, r.state, r.targets.length])).toEqual([
      ['on-run-instances', 'ENABLED', 3],
      ['disabled', 'DISABLED', 1],
      ['custom', 'ENABLED', 1],
    ]);
  });

  it('TestEventPattern evaluates a pattern and rejects an invalid one by name', async () => {
    const event = JSON.stringify({
      id: '1',
      source: 'aws.ec2',
      'detail-type': 'x',
      account: '000000000000',
      region: 'us-east-1',
      time: '2024-01-01T00:00:00Z',
      resources: [],
      detail: { n: 3 },
    });
    const yes = await client.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"n":[{"numeric":[">",2]}]}}', Event: event }));
    expect(yes.Result).toBe(true);
    await expect(client.send(new TestEventPatternCommand({ EventPattern: '{"source":"aws.ec2"}', Event: event }))).rejects.toMatchObject({
      name: 'InvalidEventPatternException',
    });
  });

  it('rejects an invalid rule at registration, naming the rule and the key', () => {
    expect(() => service.addRule({ name: 'bad', eventPattern: { source: 'aws.ec2' }, targets: [] })).toThrow(/^rule bad: invalid event pattern: source:/);
  });

  it('answers unknown operations with a named error', async () => {
    const { DescribeRuleCommand } = await import('@aws-sdk/client-eventbridge');
    await expect(client.send(new DescribeRuleCommand({ Name: 'x' }))).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });
});
