/**
 * SNS topics an app creates and deletes at run time, through the real @aws-sdk/client-sns: FIFO topics (the .fifo
 * name, MessageGroupId, MessageDeduplicationId and content-based deduplication within 5 virtual minutes), DeleteTopic,
 * and created or deleted topics kept across a restart.
 */
import { CreateTopicCommand, DeleteTopicCommand, ListSubscriptionsByTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { FileOutbox } from '../../local/outbox';
import { SnsService } from '../../local/services/sns';
import { serveOne } from './one-service';

const TEMPLATE_TOPIC = { arn: 'arn:aws:sns:us-east-1:000000000000:from-template', name: 'from-template' };
let outbox: FileOutbox;
const s = serveOne({
  prefix: 'sns-fifo',
  service: (state, clock) => {
    outbox = new FileOutbox(state, clock);
    const service = new SnsService({ clock, outbox, invoke: async () => undefined, state });
    service.addTopic(TEMPLATE_TOPIC);
    return { handler: service };
  },
  client: (config) => new SNSClient(config),
});
const clock = s.clock;

const fifoTopic = async (name: string, contentBased = false) =>
  (
    await s.client.send(
      new CreateTopicCommand({ Name: name, Attributes: { FifoTopic: 'true', ...(contentBased ? { ContentBasedDeduplication: 'true' } : {}) } }),
    )
  ).TopicArn!;
const delivered = (topicArn: string) => outbox.list().filter((e) => e.topicArn === topicArn).length;
const failure = (p: Promise<unknown>) => p.then(() => undefined).catch((e: Error) => ({ name: e.name, message: e.message }));

describe('SNS FIFO topics', () => {
  it('needs the .fifo name exactly for a FIFO topic, and refuses the same name with other attributes', async () => {
    // Act
    const arn = await fifoTopic('orders.fifo');
    const again = await fifoTopic('orders.fifo');
    const noSuffix = await failure(s.client.send(new CreateTopicCommand({ Name: 'orders', Attributes: { FifoTopic: 'true' } })));
    const suffixOnly = await failure(s.client.send(new CreateTopicCommand({ Name: 'plain.fifo' })));
    const changed = await failure(fifoTopic('orders.fifo', true));
    const cbdOnStandard = await failure(s.client.send(new CreateTopicCommand({ Name: 'plain', Attributes: { ContentBasedDeduplication: 'true' } })));

    // Assess
    expect(arn).toBe('arn:aws:sns:us-east-1:000000000000:orders.fifo');
    expect(again).toBe(arn);
    for (const refused of [noSuffix, suffixOnly, changed, cbdOnStandard]) expect(refused).toMatchObject({ name: 'InvalidParameterException' });
    expect(changed!.message).toMatch(/Topic already exists with different attributes/);
  });

  it('requires MessageGroupId and a deduplication id, and delivers a duplicate within 5 minutes only once', async () => {
    // Prepare
    const topic = await fifoTopic('payments.fifo');

    // Act
    const noGroup = await failure(s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageDeduplicationId: 'd1' })));
    const noDedup = await failure(s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageGroupId: 'g' })));
    const first = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
    await clock.advance(4 * 60_000);
    const duplicate = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'other body', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
    const afterDuplicate = delivered(topic);
    await clock.advance(60_000);
    const later = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));

    // Assess
    expect(noGroup).toEqual({ name: 'InvalidParameterException', message: 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics' });
    expect(noDedup).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/ContentBasedDeduplication enabled or MessageDeduplicationId/),
    });
    expect(first.SequenceNumber).toMatch(/^\d{20}$/);
    expect(duplicate.MessageId).toBe(first.MessageId);
    expect(afterDuplicate).toBe(1);
    expect(later.MessageId).not.toBe(first.MessageId);
    expect(BigInt(later.SequenceNumber!)).toBeGreaterThan(BigInt(first.SequenceNumber!));
    expect(delivered(topic)).toBe(2);
  });

  it('deduplicates by the body with ContentBasedDeduplication', async () => {
    // Prepare
    const topic = await fifoTopic('events.fifo', true);

    // Act
    const a = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'same', MessageGroupId: 'g' }));
    const b = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'same', MessageGroupId: 'other-group' }));
    const c = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'different', MessageGroupId: 'g' }));

    // Assess
    expect(b.MessageId).toBe(a.MessageId);
    expect(c.MessageId).not.toBe(a.MessageId);
    expect(delivered(topic)).toBe(2);
  });

  it('refuses a MessageDeduplicationId on a standard topic but takes a MessageGroupId', async () => {
    // Prepare
    const topic = (await s.client.send(new CreateTopicCommand({ Name: 'standard' }))).TopicArn!;

    // Act
    const dedup = await failure(s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageDeduplicationId: 'd' })));
    const grouped = await s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm', MessageGroupId: 'g' }));

    // Assess
    expect(dedup).toMatchObject({ name: 'InvalidParameterException', message: expect.stringMatching(/MessageDeduplicationId/) });
    expect(grouped.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(grouped.SequenceNumber).toBeUndefined();
  });
});

describe('DeleteTopic', () => {
  it('deletes a topic and its subscriptions, idempotently', async () => {
    // Prepare
    const topic = (await s.client.send(new CreateTopicCommand({ Name: 'short-lived' }))).TopicArn!;
    await s.client.send(new SubscribeCommand({ TopicArn: topic, Protocol: 'email', Endpoint: 'ops@example.com' }));

    // Act
    await s.client.send(new DeleteTopicCommand({ TopicArn: topic }));
    await s.client.send(new DeleteTopicCommand({ TopicArn: topic }));
    const publish = await failure(s.client.send(new PublishCommand({ TopicArn: topic, Message: 'm' })));
    const subscriptions = await failure(s.client.send(new ListSubscriptionsByTopicCommand({ TopicArn: topic })));
    const recreated = await s.client.send(new CreateTopicCommand({ Name: 'short-lived' }));
    const resubscribed = await s.client.send(new ListSubscriptionsByTopicCommand({ TopicArn: recreated.TopicArn }));

    // Assess
    expect(publish).toMatchObject({ name: 'NotFoundException' });
    expect(subscriptions).toMatchObject({ name: 'NotFoundException' });
    expect(resubscribed.Subscriptions).toEqual([]);
  });

  it('keeps created and deleted topics across a restart, a deleted template topic too', async () => {
    // Prepare
    const created = await fifoTopic('kept.fifo');
    await s.client.send(new DeleteTopicCommand({ TopicArn: TEMPLATE_TOPIC.arn }));

    // Act
    await s.restart();
    const published = await s.client.send(new PublishCommand({ TopicArn: created, Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'x' }));
    const template = await failure(s.client.send(new PublishCommand({ TopicArn: TEMPLATE_TOPIC.arn, Message: 'm' })));

    // Assess
    expect(published.SequenceNumber).toMatch(/^\d{20}$/);
    expect(template).toMatchObject({ name: 'NotFoundException' });
  });
});
