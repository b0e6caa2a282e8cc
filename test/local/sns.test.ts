import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTopicCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Clock, StateDir, type Target } from '../../local/kernel';
import { FileOutbox } from '../../local/outbox';
import { createServer, listen } from '../../local/server';
import { SnsService } from '../../local/services/sns';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:ops-alerts';
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:on-alert';

describe('SnsService', () => {
  const clock = new Clock();
  const outbox = new FileOutbox(new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-sns-'))), clock);
  const invoked: Target[] = [];
  const sns = new SnsService({ clock, outbox, invoke: async (t) => void invoked.push(t) });
  sns.addTopic({ arn: TOPIC, name: 'ops-alerts' });
  sns.addSubscription({ topicArn: TOPIC, protocol: 'email', endpoint: 'oncall@example.com' });

  let server: Server;
  let client: SNSClient;
  beforeAll(async () => {
    server = createServer([sns], async () => ({ status: 404, body: '' }));
    const port = await listen(server, 0);
    client = new SNSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' } });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    invoked.length = 0;
  });

  it('CreateTopic is idempotent by name and ListTopics lists topics', async () => {
    // Act
    const a = await client.send(new CreateTopicCommand({ Name: 'reports' }));
    const b = await client.send(new CreateTopicCommand({ Name: 'reports' }));
    const existing = await client.send(new CreateTopicCommand({ Name: 'ops-alerts' }));
    const list = await client.send(new ListTopicsCommand({}));

    // Assess
    expect(a.TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:reports');
    expect(b.TopicArn).toBe(a.TopicArn);
    expect(existing.TopicArn).toBe(TOPIC);
    expect(list.Topics?.map((t) => t.TopicArn)).toEqual([TOPIC, a.TopicArn]);
  });

  it('Subscribe answers pending confirmation for email and an ARN for lambda; both are listed', async () => {
    // Act
    const email = await client.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'email', Endpoint: 'lead@example.com' }));
    const lambda = await client.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'lambda', Endpoint: FN }));
    const subs = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: TOPIC }));

    // Assess
    expect(email.SubscriptionArn).toBe('pending confirmation');
    expect(lambda.SubscriptionArn).toMatch(new RegExp(`^${TOPIC}:[0-9a-f-]{36}$`));
    expect(subs.Subscriptions?.map((s) => [s.Protocol, s.Endpoint, s.TopicArn])).toEqual([
      ['email', 'oncall@example.com', TOPIC],
      ['email', 'lead@example.com', TOPIC],
      ['lambda', FN, TOPIC],
    ]);
  });

  it('Publish writes one outbox entry to the email subscribers and invokes lambda subscribers with an SNS record', async () => {
    // Act
    const out = await client.send(
      new PublishCommand({
        TopicArn: TOPIC,
        Subject: 'Remediation report',
        Message: 'Stopped 2 instances. Details: https://local/report/1',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'high' } },
      }),
    );

    // Assess
    const entry = outbox.list().at(-1)!;
    expect(entry).toMatchObject({
      service: 'sns',
      to: ['oncall@example.com', 'lead@example.com'],
      subject: 'Remediation report',
      topicArn: TOPIC,
      links: ['https://local/report/1'],
    });
    expect(invoked).toHaveLength(1);
    expect(invoked[0].arn).toBe(FN);
    const record = JSON.parse(invoked[0].input).Records[0];
    expect(record).toMatchObject({
      EventSource: 'aws:sns',
      Sns: {
        Type: 'Notification',
        MessageId: out.MessageId,
        TopicArn: TOPIC,
        Subject: 'Remediation report',
        MessageAttributes: { severity: { Type: 'String', Value: 'high' } },
      },
    });
  });

  it('publish() in-process addresses the topic ARN when nobody subscribed by email', async () => {
    const id = await sns.publish('arn:aws:sns:us-east-1:000000000000:reports', 'done');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(outbox.list().at(-1)).toMatchObject({ to: ['arn:aws:sns:us-east-1:000000000000:reports'], subject: 'AWS Notification Message', text: 'done' });
  });

  it('uses the default message of a JSON message structure', async () => {
    await client.send(new PublishCommand({ TopicArn: TOPIC, MessageStructure: 'json', Message: JSON.stringify({ default: 'plain text', email: 'ignored' }) }));
    expect(outbox.list().at(-1)?.text).toBe('plain text');
  });

  // The wire codes are NotFound and InvalidParameter; SDK v3 maps them to its modeled NotFoundException and
  // InvalidParameterException, exactly as it does for AWS.
  it.each([
    ['an unknown topic', { TopicArn: 'arn:aws:sns:us-east-1:000000000000:nope', Message: 'x' }, 'NotFoundException', 404],
    ['a malformed topic ARN', { TopicArn: 'not-an-arn', Message: 'x' }, 'InvalidParameterException', 400],
    ['an empty message', { TopicArn: TOPIC, Message: '' }, 'InvalidParameterException', 400],
    // Subjects: ASCII, beginning with a letter, number or punctuation, no line breaks or control characters, under 100 characters.
    ['a subject of 100 characters', { TopicArn: TOPIC, Message: 'x', Subject: 's'.repeat(100) }, 'InvalidParameterException', 400],
    ['a subject with a line break', { TopicArn: TOPIC, Message: 'x', Subject: 'two\nlines' }, 'InvalidParameterException', 400],
    ['a subject with a control character', { TopicArn: TOPIC, Message: 'x', Subject: 'bell\u0007' }, 'InvalidParameterException', 400],
    ['a subject that is not ASCII', { TopicArn: TOPIC, Message: 'x', Subject: 'Störung' }, 'InvalidParameterException', 400],
    ['a subject beginning with a space', { TopicArn: TOPIC, Message: 'x', Subject: ' leading' }, 'InvalidParameterException', 400],
  ])('Publish rejects %s', async (_name, input, code, status) => {
    const before = outbox.list().length;
    await expect(client.send(new PublishCommand(input))).rejects.toMatchObject({ name: code, $metadata: { httpStatusCode: status } });
    expect(outbox.list()).toHaveLength(before);
  });

  it('Subscribe rejects an unsupported protocol and a mismatched endpoint', async () => {
    await expect(client.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'carrier-pigeon', Endpoint: 'x' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('carrier-pigeon'),
    });
    await expect(client.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'lambda', Endpoint: 'oncall@example.com' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('renders query-protocol XML as SNS does', async () => {
    // Prepare: a hand-made request, so the assertion is on the wire format rather than on SDK parsing
    const port = (server.address() as { port: number }).port;
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=x',
        },
        body,
      });

    // Act
    const okResponse = await post(`Action=Publish&Version=2010-03-31&TopicArn=${encodeURIComponent(TOPIC)}&Message=hi`);
    const notFound = await post('Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Anope&Message=hi');

    // Assess
    expect(await okResponse.text()).toMatch(
      /^<PublishResponse xmlns="http:\/\/sns.amazonaws.com\/doc\/2010-03-31\/"><PublishResult><MessageId>[0-9a-f-]{36}<\/MessageId><\/PublishResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/PublishResponse>$/,
    );
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toMatch(
      /<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>NotFound<\/Code><Message>Topic does not exist<\/Message><\/Error><RequestId>/,
    );
  });
});
