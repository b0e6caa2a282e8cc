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
import { describe, expect, it } from 'vitest';
import { SqsService } from '../../local/services/sqs';
import { serveOne } from './one-service';

const s = serveOne({
  prefix: 'sqs',
  service: (state, clock, endpoint) => ({ handler: new SqsService({ state, clock, endpoint }) }),
  client: (config) => new SQSClient(config),
});
const clock = s.clock;

const url = async (name: string) => (await s.client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;

describe('SqsService', () => {
  it('creates a queue idempotently, refuses other attributes under the same name, finds and lists it', async () => {
    // Act
    const a = await s.client.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '60' } }));
    const b = await s.client.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '60' } }));
    const other = await s.client.send(new CreateQueueCommand({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '10' } })).catch((e: Error) => e);
    const found = await s.client.send(new GetQueueUrlCommand({ QueueName: 'jobs' }));
    const listed = await s.client.send(new ListQueuesCommand({ QueueNamePrefix: 'jo' }));

    // Assess
    expect(a.QueueUrl).toBe(`${s.endpoint}/000000000000/jobs`);
    expect(b.QueueUrl).toBe(a.QueueUrl);
    expect(other).toBeInstanceOf(QueueNameExists);
    expect(found.QueueUrl).toBe(a.QueueUrl);
    expect(listed.QueueUrls).toEqual([a.QueueUrl]);
    await expect(s.client.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('sends and receives with MD5s the SDK checks, hides a received message for its visibility timeout, deletes it', async () => {
    // Prepare
    const q = await url('visibility');
    const sent = await s.client.send(
      new SendMessageCommand({ QueueUrl: q, MessageBody: 'hello', MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' } } }),
    );

    // Act
    const first = await s.client.send(
      new ReceiveMessageCommand({
        QueueUrl: q,
        VisibilityTimeout: 30,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const hidden = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));
    await clock.advance(30_000);
    const again = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q, MessageSystemAttributeNames: ['All'] }));
    // The first receive's handle is stale: the request succeeds, the message stays.
    await s.client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first.Messages![0].ReceiptHandle! }));
    await s.client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: again.Messages![0].ReceiptHandle! }));
    await clock.advance(60_000);
    const gone = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));

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
    await expect(s.client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: 'not-a-handle' }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('returns at most MaxNumberOfMessages, oldest first', async () => {
    // Prepare
    const q = await url('batch');
    for (let i = 0; i < 12; i++) await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: `m${i}` }));

    // Act
    const one = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));
    const ten = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10 }));
    const tooMany = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 11 })).catch((e: Error) => e);

    // Assess
    expect(one.Messages!.map((m) => m.Body)).toEqual(['m0']);
    expect(ten.Messages!.map((m) => m.Body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    expect(tooMany).toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
  });

  it('long-polls on the virtual clock: a send wakes the wait, an empty wait ends after WaitTimeSeconds', async () => {
    // Prepare
    const q = await url('long-poll');

    // Act
    const waiting = s.client.send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance(5_000);
    await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'late' }));
    const woken = await waiting;
    const empty = s.client.send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 20 }));
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
    await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'later', DelaySeconds: 10 }));

    // Act
    const before = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));
    const counts = await s.client.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }));
    await clock.advance(10_000);
    const after = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));
    await s.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: after.Messages![0].ReceiptHandle!, VisibilityTimeout: 0 }));
    const released = await s.client.send(new ReceiveMessageCommand({ QueueUrl: q }));

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
    const empty = await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: '' })).catch((e: Error) => e);
    await s.client.send(new DeleteQueueCommand({ QueueUrl: q }));
    const sendToDeleted = await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x' })).catch((e: Error) => e);
    const recreate = await s.client.send(new CreateQueueCommand({ QueueName: 'short-lived' })).catch((e: Error) => e);
    await clock.advance(60_000);
    const recreated = await s.client.send(new CreateQueueCommand({ QueueName: 'short-lived' }));

    // Assess
    expect(empty).toMatchObject({ name: 'MissingParameter', message: 'The request must contain the parameter MessageBody.' });
    expect(sendToDeleted).toBeInstanceOf(QueueDoesNotExist);
    expect(recreate).toBeInstanceOf(QueueDeletedRecently);
    expect(recreated.QueueUrl).toBe(q);
  });

  it('keeps queues and messages across a restart', async () => {
    // Prepare
    const q = await url('durable');
    await s.client.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'kept' }));

    // Act
    await s.restart();
    const after = await s.client.send(new ReceiveMessageCommand({ QueueUrl: `${s.endpoint}/000000000000/durable` }));

    // Assess
    expect(after.Messages!.map((m) => m.Body)).toEqual(['kept']);
  });
});
