/**
 * Test doubles for the Ec2Schedule cores: the run table in memory behind a mocked DynamoDBDocumentClient,
 * an EC2 client mock with a small fleet, and a recording logger.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clients } from '../../../tasks/ec2-schedule/core/kinds/kind';
import { Ec2Store } from '../../../tasks/ec2-schedule/core/store';
import type { Log } from '../../../tasks/shared/logger';

export function memoryStore(now = () => new Date('2025-06-04T09:00:00Z')) {
  const items = new Map<string, Record<string, unknown>>();
  const key = (pk: unknown, sk: unknown) => `${pk}|${sk}`;
  const mock = mockClient(DynamoDBDocumentClient);
  mock.on(GetCommand).callsFake((input) => ({ Item: structuredClone(items.get(key(input.Key.pk, input.Key.sk))) }));
  mock.on(PutCommand).callsFake((input) => {
    items.set(key(input.Item.pk, input.Item.sk), structuredClone(input.Item));
    return {};
  });
  mock.on(BatchWriteCommand).callsFake((input) => {
    const requests = Object.values(input.RequestItems).flat() as Array<{ PutRequest: { Item: Record<string, unknown> } }>;
    if (requests.length > 25) throw new Error('BatchWriteItem takes at most 25 requests');
    for (const r of requests) items.set(key(r.PutRequest.Item.pk, r.PutRequest.Item.sk), structuredClone(r.PutRequest.Item));
    return {};
  });
  // Pages of two items, so callers must follow LastEvaluatedKey; `sk BETWEEN :from AND :to` when the query has it.
  mock.on(QueryCommand).callsFake((input) => {
    const pk = input.ExpressionAttributeValues[':pk'];
    const [from, to] = [input.ExpressionAttributeValues[':from'], input.ExpressionAttributeValues[':to']];
    const inRange = (sk: string) => from === undefined || (sk >= from && sk <= to);
    const all = [...items.values()].filter((i) => i.pk === pk && inRange(String(i.sk))).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
    const start = input.ExclusiveStartKey ? all.findIndex((i) => i.sk === input.ExclusiveStartKey.sk) + 1 : 0;
    const page = all.slice(start, start + 2);
    return { Items: structuredClone(page), LastEvaluatedKey: start + 2 < all.length ? { pk, sk: page.at(-1)!.sk } : undefined };
  });
  const store = new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), 'ec2', now);
  return { store, items, mock };
}

export function instance(id: string, state: string, tags: Record<string, string> = {}, extra: Partial<Instance> = {}): Instance {
  return {
    InstanceId: id,
    InstanceType: 't3.micro',
    State: { Name: state as never },
    RootDeviceType: 'ebs',
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...extra,
  };
}

/** An EC2 mock answering DescribeInstances from `fleet` in pages of `pageSize`, honouring instance-id and tag filters. */
export function ec2Fleet(fleet: () => Instance[], pageSize = 3) {
  const mock = mockClient(EC2Client);
  mock.on(DescribeInstancesCommand).callsFake((input) => {
    let rows = fleet();
    for (const f of input.Filters ?? []) {
      if (f.Name === 'instance-id') rows = rows.filter((i) => f.Values.includes(i.InstanceId));
      else if (f.Name.startsWith('tag:')) rows = rows.filter((i) => i.Tags?.some((t) => t.Key === f.Name.slice(4) && f.Values.includes(t.Value!)));
    }
    const start = Number(input.NextToken ?? 0);
    const page = rows.slice(start, start + pageSize);
    return { Reservations: page.length ? [{ Instances: page }] : [], NextToken: start + pageSize < rows.length ? String(start + pageSize) : undefined };
  });
  return { mock, ec2: new EC2Client({ region: 'us-east-1' }) };
}

export function recordingLog(): Log & { lines: Array<[string, string, Record<string, unknown>]> } {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  return {
    lines,
    info: (m, a) => void lines.push(['info', m, a]),
    warn: (m, a) => void lines.push(['warn', m, a]),
    error: (m, a) => void lines.push(['error', m, a]),
  };
}

/** An error shaped like the SDK's for an EC2 error code. */
export function ec2Error(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

/** The kinds' clients, each for a mock or none (a client no mock intercepts fails its calls: no test reaches the network). */
export function clientsOf(over: Partial<Clients> = {}): Clients {
  const region = 'us-east-1';
  return {
    ec2: new EC2Client({ region }),
    rds: new RDSClient({ region }),
    autoscaling: new AutoScalingClient({ region }),
    ecs: new ECSClient({ region }),
    ...over,
  };
}
