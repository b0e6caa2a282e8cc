/**
 * A web page on another origin (a second server on 127.0.0.1, another port), in a real Chromium, sends the AWS
 * API requests a page can send without a CORS preflight (GET, and POST with a form or text body) to every
 * service the runtime serves or routes: presigned-looking query strings whose signature does not verify, and one
 * signed properly with the runtime's public default key. Each is refused with the service's own error and
 * changes nothing: the fleet, the outbox, the subscriptions, the executions, the table, the bucket are as before.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from '../browser/chromium';

let h: Harness;
let browser: Browser;
let attacker: Server;
let page: Page;
const BUCKET = 'security-browser';

beforeAll(async () => {
  [h, browser] = await Promise.all([startRuntime(), launchChromium()]);
  attacker = createServer((_req, res) => res.end('<!doctype html><title>a page you happen to visit</title>'));
  await new Promise<void>((done) => attacker.listen(0, '127.0.0.1', done));
  const s3 = new S3Client({ endpoint: h.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'secret.txt', Body: 'not for other pages' }));
  // No schedule fires while the page sends its requests: any change to the state would be the page's doing.
  h.rt.scheduler.stop();
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
});
afterAll(async () => {
  await browser?.close();
  attacker?.close();
  await h?.stop();
});

const config = () => ({ endpoint: h.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });

/** What a request from the page could change, read through the APIs with the runtime's credentials. */
async function state() {
  const instances = (await h.ec2.send(new DescribeInstancesCommand({})))
    .Reservations!.flatMap((r) => r.Instances!)
    .map((i) => [i.InstanceId, i.State!.Name, i.Tags]);
  const executions = await Promise.all(
    h.rt.deployed.stateMachines.map(async (m) => (await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: m.arn }))).executions!.length),
  );
  const sns = new SNSClient(config());
  const topics = (await sns.send(new ListTopicsCommand({}))).Topics!.map((t) => t.TopicArn!);
  const subscriptions = await Promise.all(topics.map(async (TopicArn) => (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }))).Subscriptions));
  const items = await Promise.all(
    h.rt.deployed.tables.map(async (TableName) => (await new DynamoDBClient(config()).send(new ScanCommand({ TableName }))).Items),
  );
  const objects = (await new S3Client(config()).send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents?.map((o) => [o.Key, o.ETag]);
  return {
    instances,
    executions,
    subscriptions,
    items,
    objects,
    outbox: (await h.outbox()).map((m) => m.id),
    schedules: h.rt.scheduler.list(),
    faults: JSON.stringify(h.rt.faults),
  };
}

const amzDate = (d = new Date()) => d.toISOString().replace(/[-:]|\.\d{3}/g, '');

/** X-Amz-* parameters of a presigned URL for `service` under the default key id, with a signature that is not one. */
function presignedLooking(service: string): string {
  const date = amzDate();
  return new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `test/${date.slice(0, 8)}/us-east-1/${service}/aws4_request`,
    'X-Amz-Date': date,
    'X-Amz-Expires': '300',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': 'ab'.repeat(32),
  }).toString();
}

interface Sent {
  method: 'GET' | 'POST';
  path: string;
  type?: string;
  body?: string;
}

/**
 * Sends the requests from the page as it can (a no-cors fetch: no preflight) and returns each answer as the
 * runtime sent it: the browser keeps an opaque answer from the page, and from the test too.
 */
async function fromPage(requests: Sent[]): Promise<Array<{ status: number; body: string; site?: string }>> {
  const answers: Array<{ status: number; body: string; site?: string }> = [];
  // The runtime's own HTTP server (private), watched for the answers it writes.
  const server = (h.rt as unknown as { server: Server }).server;
  const watch = (req: IncomingMessage, res: ServerResponse) => {
    if (!req.headers.origin && !req.headers['sec-fetch-site']) return;
    const chunks: Buffer[] = [];
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    res.end = ((chunk?: unknown) => {
      if (chunk) chunks.push(Buffer.from(chunk as string));
      answers.push({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), site: req.headers['sec-fetch-site'] });
      return end(chunk);
    }) as typeof res.end;
  };
  server.on('request', watch);
  try {
    for (const r of requests) {
      const count = answers.length;
      await page.evaluate(
        async ({ url, r }) => {
          await fetch(url, { method: r.method, mode: 'no-cors', headers: r.type ? { 'content-type': r.type } : {}, body: r.body }).catch(() => undefined);
        },
        { url: `${h.endpoint}${r.path}`, r },
      );
      await h.until(`the answer to ${r.method} ${r.path.slice(0, 40)}`, () => (answers.length > count ? true : undefined), 10_000);
    }
  } finally {
    server.off('request', watch);
  }
  return answers;
}

describe('a page on another origin, in Chromium', () => {
  it("sends presigned-looking requests to each service: each is refused in the service's own words, and nothing changes", async () => {
    const before = await state();
    const [id] = before.instances.filter(([, s]) => s === 'running').map(([i]) => i as string);
    const topic = (await new SNSClient(config()).send(new ListTopicsCommand({}))).Topics![0].TopicArn!;
    const table = h.rt.deployed.tables[0];
    const machine = h.rt.deployed.stateMachines[0].arn;
    const form = 'application/x-www-form-urlencoded';
    const text = 'text/plain';
    const cases: Array<[string, Sent, number, RegExp]> = [
      [
        'EC2 StopInstances (GET)',
        { method: 'GET', path: `/?Action=StopInstances&Version=2016-11-15&InstanceId.1=${id}&${presignedLooking('ec2')}` },
        401,
        /<Code>AuthFailure<\/Code><Message>AWS was not able to validate the provided access credentials</,
      ],
      [
        'EC2 TerminateInstances (form POST)',
        { method: 'POST', path: `/?${presignedLooking('ec2')}`, type: form, body: `Action=TerminateInstances&Version=2016-11-15&InstanceId.1=${id}` },
        401,
        /<Code>AuthFailure<\/Code>/,
      ],
      [
        'EC2 CreateTags (form POST)',
        {
          method: 'POST',
          path: `/?${presignedLooking('ec2')}`,
          type: form,
          body: `Action=CreateTags&Version=2016-11-15&ResourceId.1=${id}&Tag.1.Key=Schedule&Tag.1.Value=never`,
        },
        401,
        /<Code>AuthFailure<\/Code>/,
      ],
      [
        'SES v1 SendEmail (GET)',
        {
          method: 'GET',
          path: `/?Action=SendEmail&Source=ops%40example.com&Destination.ToAddresses.member.1=victim%40example.com&Message.Subject.Data=hi&Message.Body.Text.Data=hi&${presignedLooking('ses')}`,
        },
        403,
        /<Code>SignatureDoesNotMatch<\/Code><Message>The request signature we calculated does not match/,
      ],
      [
        'SES v2 SendEmail (text POST)',
        {
          method: 'POST',
          path: `/v2/email/outbound-emails?${presignedLooking('ses')}`,
          type: text,
          body: JSON.stringify({
            FromEmailAddress: 'ops@example.com',
            Destination: { ToAddresses: ['victim@example.com'] },
            Content: { Simple: { Subject: { Data: 'hi' }, Body: { Text: { Data: 'hi' } } } },
          }),
        },
        403,
        /"message":"The request signature we calculated does not match/,
      ],
      [
        'SNS Subscribe (GET)',
        {
          method: 'GET',
          path: `/?Action=Subscribe&TopicArn=${encodeURIComponent(topic)}&Protocol=email&Endpoint=attacker%40evil.example&${presignedLooking('sns')}`,
        },
        403,
        /<Code>SignatureDoesNotMatch<\/Code>/,
      ],
      [
        'SNS Publish (form POST)',
        { method: 'POST', path: `/?${presignedLooking('sns')}`, type: form, body: `Action=Publish&TopicArn=${encodeURIComponent(topic)}&Message=hi` },
        403,
        /<Code>SignatureDoesNotMatch<\/Code>/,
      ],
      [
        'Step Functions StartExecution (text POST)',
        { method: 'POST', path: `/?${presignedLooking('states')}`, type: text, body: JSON.stringify({ stateMachineArn: machine, input: '{}' }) },
        400,
        /"__type":"InvalidSignatureException"/,
      ],
      [
        'DynamoDB PutItem (text POST)',
        { method: 'POST', path: `/?${presignedLooking('dynamodb')}`, type: text, body: JSON.stringify({ TableName: table, Item: { pk: { S: 'evil' } } }) },
        400,
        /"__type":"InvalidSignatureException"/,
      ],
      ['S3 GetObject (GET)', { method: 'GET', path: `/${BUCKET}/secret.txt?${presignedLooking('s3')}` }, 403, /<Code>SignatureDoesNotMatch<\/Code>/],
      [
        'S3 CreateMultipartUpload (POST)',
        { method: 'POST', path: `/${BUCKET}/planted.txt?uploads&${presignedLooking('s3')}`, type: text, body: '' },
        403,
        /<Code>SignatureDoesNotMatch<\/Code>/,
      ],
      [
        'Scheduler CreateSchedule (text POST)',
        {
          method: 'POST',
          path: `/schedules/evil?${presignedLooking('scheduler')}`,
          type: text,
          body: JSON.stringify({
            ScheduleExpression: 'rate(1 minute)',
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: { Arn: machine, RoleArn: 'arn:aws:iam::000000000000:role/x' },
          }),
        },
        403,
        /"message":"The request signature we calculated does not match/,
      ],
      [
        'EventBridge PutEvents (text POST)',
        {
          method: 'POST',
          path: `/?${presignedLooking('events')}`,
          type: text,
          body: JSON.stringify({ Entries: [{ Source: 'aws.ec2', DetailType: 'AWS API Call via CloudTrail', Detail: '{}' }] }),
        },
        400,
        /"__type":"InvalidSignatureException"/,
      ],
      [
        'CloudTrail LookupEvents (text POST)',
        { method: 'POST', path: `/?${presignedLooking('cloudtrail')}`, type: text, body: '{}' },
        400,
        /"__type":"InvalidSignatureException"/,
      ],
    ];

    const answers = await fromPage(cases.map(([, sent]) => sent));

    // Sent by the browser for the page: Fetch Metadata says so.
    expect(new Set(answers.map((a) => a.site))).toEqual(new Set(['same-site']));
    expect(answers.map((a, i) => [cases[i][0], a.status, cases[i][3].test(a.body) ? 'refused as the service refuses' : a.body])).toEqual(
      cases.map(([name, , status]) => [name, status, 'refused as the service refuses']),
    );
    expect(await state()).toEqual(before);
  });

  it('sends a request signed properly with the public default key (test/test): refused because a browser sent it for another page', async () => {
    const before = await state();
    const [id] = before.instances.filter(([, s]) => s === 'running').map(([i]) => i as string);
    // What any page can compute: the default secret is in the README.
    const signer = new SignatureV4({
      service: 'ec2',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      sha256: Hash.bind(null, 'sha256'),
    });
    const url = new URL(h.endpoint);
    const presign = async (query: Record<string, string>, body?: string) => {
      const presigned = await signer.presign(
        {
          method: body ? 'POST' : 'GET',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/',
          query,
          headers: { host: url.host },
          body,
        } as HttpRequest,
        { expiresIn: 300 },
      );
      return new URLSearchParams(presigned.query as Record<string, string>).toString().replace(/\+/g, '%20');
    };
    const query = await presign({ Action: 'StopInstances', Version: '2016-11-15', 'InstanceId.1': id });
    const body = `Action=TerminateInstances&Version=2016-11-15&InstanceId.1=${id}`;

    const answers = await fromPage([
      { method: 'GET', path: `/?${query}` },
      { method: 'POST', path: `/?${await presign({}, body)}`, type: 'application/x-www-form-urlencoded', body },
    ]);

    // A GET carries Sec-Fetch-Site; a POST also the page's Origin.
    expect(answers.map((a) => a.status)).toEqual([403, 403]);
    expect(answers[0].body).toMatch(/<Code>ForeignOrigin<\/Code><Message>opsflow refuses AWS API requests a web browser sends for a same-site page/);
    expect(answers[1].body).toMatch(
      /<Code>ForeignOrigin<\/Code><Message>opsflow refuses AWS API requests a web browser sends for a page of http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(await state()).toEqual(before);
    // The same URL from a program (no Origin, no Sec-Fetch-Site) stops the instance: the signature was good.
    const direct = await fetch(`${h.endpoint}/?${query}`);
    expect(direct.status).toBe(200);
  });
});
