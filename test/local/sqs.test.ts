/**
 * SQS through the real @aws-sdk/client-sqs (AWS JSON 1.0) against the local service on a manual virtual clock:
 * queues, send/receive/delete, visibility timeouts, long polls, MaxNumberOfMessages, errors as the SDK maps them,
 * and queues and messages kept across a restart (the state directory's journal).
 */
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  QueueDeletedRecently,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { SqsService } from '../../local/services/sqs';

const dir = mkdtempSync(join(tmpdir(), 'opsflow-sqs-'));
const clock = new ManualClock(Date.UTC(2030, 0, 1));
let state: StateDir;
let server: Server;
let endpoint = '';
let sqs: SQSClient;

async function serve(): Promise<void> {
  state = new StateDir(dir);
  const service = new SqsService({ state, clock, endpoint: () => endpoint });
  server = createServer([service], async () => ({ status: 404, body: '' }));
  const port = await listen(server, 0);
  endpoint = `http://127.0.0.1:${port}`;
  sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' }, maxAttempts: 1 });
}

async function shutdown(): Promise<void> {
  sqs.destroy();
  await state.commit();
  state.close();
  await new Promise<void>((r) => server.close(() => r()));
}

beforeAll(serve);
afterAll(async () => {
  await shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const url = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;

describe('SqsService', () => {
  it('creates a queue idempotently, refuses other attributes under the same name, finds and lists it', async () => {
    // Act
    const a = await sqs.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '60' } }));
    const b = await sqs.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '60' } }));
    const other = await sqs.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '10' } })).catch((e: Error) => e);
    const found = await sqs.send(new GetQueueUrlCommand({ QueueName: 'jobs' }));
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'jo' }));

    // Assess
    expect(a.QueueUrl).toBe(`${endpoint}/000000000000/jobs`);
    expect(b.QueueUrl).toBe(a.QueueUrl);
    expect(other).toBeInstanceOf(QueueNameExists);
    expect(found.QueueUrl).toBe(a.QueueUrl);
    expect(listed.QueueUrls).toEqual([a.QueueUrl]);
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('sends and receives with MD5s the SDK checks, hides a received message for its visibility timeout, deletes it', async () => {
    // Prepare
    const q = await url('visibility');
    const sent = await sqs.send(
      new SendMessageCommand({ QueueUrl: q, MessageBody: 'hello', MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' } } }),
    );

    // Act
    const first = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: q,
        VisibilityTimeout: 30,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
    await clock.advance(30_000);
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MessageSystemAttributeNames: ['All'] }));
    // The first receive's handle is stale: the request succeeds, the message stays.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first.Messages![0].ReceiptHandle! }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: again.Messages![0].ReceiptHandle! }));
    await clock.advance(60_000);
    const gone = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));

    // Assess
    expect(sent.MD5OfMessageBody).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(first.Messages).toHaveLength(1);
    expect(first.Messages![0]).toMatchObject({
      MessageId: sent.MessageId,
      Body: 'hello',
      Attributes: { ApproximateReceiveCount: '1' },
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' } },
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
    });
    expect(hidden.Messages).toBeUndefined();
    expect(again.Messages![0].Attributes).toMatchObject({ ApproximateReceiveCount: '2', SenderId: '000000000000' });
    expect(gone.Messages).toBeUndefined();
    await expect(sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: 'not-a-handle' }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('returns at most MaxNumberOfMessages, oldest first', async () => {
    // Prepare
    const q = await url('batch');
    for (let i = 0; i < 12; i++) await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: `m${i}` }));

    // Act
    const one = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
    const ten = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10 }));
    const tooMany = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 11 })).catch((e: Error) => e);

    // Assess
    expect(one.Messages!.map((m) => m.Body)).toEqual(['m0']);
    expect(ten.Messages!.map((m) => m.Body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    expect(tooMany).toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
  });

  it('long-polls on the virtual clock: a send wakes the wait, an empty wait ends after WaitTimeSeconds', async () => {
    // Prepare
    const q = await url('long-poll');

    // Act
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance(5_000);
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'late' }));
    const woken = await waiting;
    const empty = sqs.send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 20 }));
    let settled = false;
    void empty.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance(19_000);
    const settledEarly = settled;
    await clock.advance(1_000);

    // Assess
    expect(woken.Messages!.map((m) => m.Body)).toEqual(['late']);
    expect(settledEarly).toBe(false);
    expect((await empty).Messages).toBeUndefined();
  });

  it('delays a message by DelaySeconds and makes it visible again at once with ChangeMessageVisibility 0', async () => {
    // Prepare
    const q = await url('delays');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'later', DelaySeconds: 10 }));

    // Act
    const before = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
    const counts = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }));
    await clock.advance(10_000);
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: after.Messages![0].ReceiptHandle!, VisibilityTimeout: 0 }));
    const released = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));

    // Assess
    expect(before.Messages).toBeUndefined();
    expect(counts.Attributes).toMatchObject({
      ApproximateNumberOfMessagesDelayed: '1',
      ApproximateNumberOfMessages: '0',
      VisibilityTimeout: '30',
      MaximumMessageSize: '1048576',
      QueueArn: 'arn:aws:sqs:us-east-1:000000000000:delays',
    });
    expect(after.Messages!.map((m) => m.Body)).toEqual(['later']);
    expect(released.Messages!.map((m) => m.Body)).toEqual(['later']);
  });

  it('refuses an empty body as MissingParameter, and a recreated name within 60 seconds of DeleteQueue', async () => {
    // Prepare
    const q = await url('short-lived');

    // Act
    const empty = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: '' })).catch((e: Error) => e);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: q }));
    const sendToDeleted = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x' })).catch((e: Error) => e);
    const recreate = await sqs.send(new CreateQueueCommand({ QueueName: 'short-lived' })).catch((e: Error) => e);
    await clock.advance(60_000);
    const recreated = await sqs.send(new CreateQueueCommand({ QueueName: 'short-lived' }));

    // Assess
    expect(empty).toMatchObject({ name: 'MissingParameter', message: 'The request must contain the parameter MessageBody.' });
    expect(sendToDeleted).toBeInstanceOf(QueueDoesNotExist);
    expect(recreate).toBeInstanceOf(QueueDeletedRecently);
    expect(recreated.QueueUrl).toBe(q);
  });

  it('keeps queues and messages across a restart', async () => {
    // Prepare
    const q = await url('durable');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'kept' }));

    // Act
    await shutdown();
    await serve();
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: `${endpoint}/000000000000/durable` }));

    // Assess
    expect(after.Messages!.map((m) => m.Body)).toEqual(['kept']);
  });
});
