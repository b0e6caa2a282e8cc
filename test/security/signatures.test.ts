/**
 * Requests whose signature does not hold, from outside the runtime: the AWS CLI v2 with a wrong secret or an
 * unknown key, and raw HTTP with a wrong signature, a credential scope for another region or another day, an
 * X-Amz-Expires over a week, and a presigned URL past its expiry. Each gets the refusal the service itself
 * gives (its code, status and wording) and changes nothing; the same requests signed right are answered.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAwsCliV2, toolAvailable } from '../tools';
import { credentials, signedHeaders, startRuntime, type Harness } from '../e2e/harness';

const run = promisify(execFile);
const cli = findAwsCliV2();
const cliEnabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');
const BUCKET = 'security-signatures';
let h: Harness;
let running: string;

beforeAll(async () => {
  h = await startRuntime();
  // Nothing fires on its own while the tests look for changes.
  h.rt.scheduler.stop();
  const s3 = new S3Client({ endpoint: h.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data.txt', Body: 'us-east-1 data' }));
  running = Object.entries(await h.instanceStates(await instanceIds())).find(([, s]) => s === 'running')![0];
});
afterAll(() => h?.stop());

async function instanceIds(): Promise<string[]> {
  return (await h.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId!);
}

/** The fleet's states and tags and the outbox: what the refused requests below would have changed. */
async function snapshot() {
  const instances = (await h.ec2.send(new DescribeInstancesCommand({})))
    .Reservations!.flatMap((r) => r.Instances!)
    .map((i) => [i.InstanceId, i.State!.Name, i.Tags]);
  return { instances, outbox: (await h.outbox()).length, objects: h.rt.s3.listObjects(BUCKET).map((o) => o.key) };
}

describe.skipIf(!cliEnabled)('the AWS CLI v2', () => {
  const aws = (env: Record<string, string>, ...args: string[]) =>
    run(cli!, ['--endpoint-url', h.endpoint, '--output', 'json', ...args], {
      env: { PATH: process.env.PATH, HOME: h.stateDir, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '', ...env },
    }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr.trim() }),
    );
  const wrongSecret = { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: `${credentials.secretAccessKey}-not` };

  it('with a wrong secret is refused by each service in its own words, and stops nothing', async () => {
    const before = await snapshot();

    const answers = [
      await aws(wrongSecret, 'ec2', 'stop-instances', '--instance-ids', running),
      await aws(wrongSecret, 'stepfunctions', 'list-state-machines'),
      await aws(wrongSecret, 'sns', 'publish', '--topic-arn', `arn:aws:sns:us-east-1:000000000000:${h.rt.deployed.topics[0]}`, '--message', 'hi'),
      await aws(wrongSecret, 's3', 'cp', `s3://${BUCKET}/data.txt`, '-'),
    ];

    expect(answers.map((a) => a.code)).toEqual([254, 254, 254, 1]);
    expect(answers[0].out).toBe(
      'An error occurred (AuthFailure) when calling the StopInstances operation: AWS was not able to validate the provided access credentials',
    );
    expect(answers[1].out).toBe(
      'An error occurred (InvalidSignatureException) when calling the ListStateMachines operation: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
    expect(answers[2].out).toBe(
      'An error occurred (SignatureDoesNotMatch) when calling the Publish operation: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
    expect(answers[3].out).toMatch(/An error occurred \(403\) when calling the HeadObject operation: Forbidden/);
    expect(await snapshot()).toEqual(before);
  });

  it('with an access key the runtime does not know is refused as an unknown key; with the right secret it works', async () => {
    const unknown = await aws({ AWS_ACCESS_KEY_ID: 'AKIDNOBODY', AWS_SECRET_ACCESS_KEY: 'x' }, 'stepfunctions', 'list-state-machines');
    expect(unknown).toEqual({
      code: 254,
      out: 'An error occurred (UnrecognizedClientException) when calling the ListStateMachines operation: The security token included in the request is invalid.',
    });
    const right = await aws(
      { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
      'stepfunctions',
      'list-state-machines',
    );
    expect(right.code).toBe(0);
    expect(JSON.parse(right.out).stateMachines.length).toBeGreaterThan(0);
  });
});

/** Presigns a request as the SDK does; `mutate` alters the query after signing, as an attacker or a broken client would. */
async function presigned(
  service: string,
  path: string,
  query: Record<string, string>,
  options: { region?: string; date?: Date; expiresIn?: number; mutate?: (q: URLSearchParams) => void } = {},
): Promise<string> {
  const url = new URL(h.endpoint);
  const signer = new SignatureV4({
    service,
    region: options.region ?? 'us-east-1',
    credentials,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: service !== 's3',
  });
  // As @aws-sdk/s3-request-presigner does: an S3 URL signs UNSIGNED-PAYLOAD (and says so in X-Amz-Content-Sha256).
  const headers = { host: url.host, ...(service === 's3' ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : {}) };
  const request = await signer.presign(
    { method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query, headers } as HttpRequest,
    {
      signingDate: options.date ?? new Date(),
      expiresIn: options.expiresIn ?? 300,
    },
  );
  const q = new URLSearchParams(request.query as Record<string, string>);
  options.mutate?.(q);
  return `${h.endpoint}${path}?${q.toString().replace(/\+/g, '%20')}`;
}

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
};

describe('raw HTTP', () => {
  const stop = (id: string) => ({ Action: 'StopInstances', Version: '2016-11-15', 'InstanceId.1': id });

  it("a wrong signature in the Authorization header: each protocol's refusal (S3 with the canonical request it computed)", async () => {
    const before = await snapshot();
    const tamper = (headers: Record<string, string>) => ({
      ...headers,
      authorization: headers.authorization.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`),
    });
    const body = `Action=StopInstances&Version=2016-11-15&InstanceId.1=${running}`;
    const formType = { 'content-type': 'application/x-www-form-urlencoded' };
    const ec2 = await fetch(h.endpoint, {
      method: 'POST',
      body,
      headers: tamper(await signedHeaders(h.endpoint, { method: 'POST', path: '/', service: 'ec2', body, headers: formType })),
    });
    const jsonHeaders = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines' };
    const states = await fetch(h.endpoint, {
      method: 'POST',
      body: '{}',
      headers: tamper(await signedHeaders(h.endpoint, { method: 'POST', path: '/', service: 'states', body: '{}', headers: jsonHeaders })),
    });
    const s3 = await fetch(`${h.endpoint}/${BUCKET}/data.txt`, {
      headers: tamper(await signedHeaders(h.endpoint, { method: 'GET', path: `/${BUCKET}/data.txt`, service: 's3' })),
    });

    expect([ec2.status, await ec2.text()]).toEqual([
      401,
      expect.stringContaining('<Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message>'),
    ]);
    expect([states.status, await states.json()]).toEqual([
      400,
      {
        __type: 'InvalidSignatureException',
        message:
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      },
    ]);
    const s3Body = await s3.text();
    expect(s3.status).toBe(403);
    expect(s3Body).toMatch(
      /<Code>SignatureDoesNotMatch<\/Code><Message>The request signature we calculated does not match the signature you provided\. Check your key and signing method\.<\/Message><AWSAccessKeyId>test<\/AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}<\/StringToSign><SignatureProvided>0{64}<\/SignatureProvided>/,
    );
    expect(s3Body).toContain(`<CanonicalRequest>GET\n/${BUCKET}/data.txt\n\nhost:`);
    expect(s3Body).not.toContain('us-east-1 data');
    expect(await snapshot()).toEqual(before);
  });

  it("a signature scoped to another region does not get us-east-1's data", async () => {
    const before = await snapshot();
    const jsonHeaders = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines' };
    const states = await fetch(h.endpoint, {
      method: 'POST',
      body: '{}',
      headers: await signedHeaders(h.endpoint, { method: 'POST', path: '/', service: 'states', region: 'eu-west-9', body: '{}', headers: jsonHeaders }),
    });
    const s3 = await fetch(`${h.endpoint}/${BUCKET}/data.txt`, {
      headers: await signedHeaders(h.endpoint, { method: 'GET', path: `/${BUCKET}/data.txt`, service: 's3', region: 'eu-west-9' }),
    });
    const ec2 = await get(await presigned('ec2', '/', stop(running), { region: 'eu-west-9' }));
    const sns = await get(await presigned('sns', '/', { Action: 'ListTopics' }, { region: 'eu-west-9' }));
    const s3Query = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { region: 'eu-west-9' }));

    expect([states.status, await states.json()]).toEqual([
      400,
      { __type: 'InvalidSignatureException', message: "Credential should be scoped to a valid region, not 'eu-west-9'. " },
    ]);
    expect([s3.status, await s3.text()]).toEqual([
      400,
      expect.stringMatching(
        /<Code>AuthorizationHeaderMalformed<\/Code><Message>The authorization header is malformed; the region &#39;eu-west-9&#39; is wrong; expecting &#39;us-east-1&#39;<\/Message><Region>us-east-1<\/Region>/,
      ),
    ]);
    expect(s3Query).toEqual({
      status: 400,
      body: expect.stringMatching(
        /<Code>AuthorizationQueryParametersError<\/Code><Message>Error parsing the X-Amz-Credential parameter; the region &#39;eu-west-9&#39; is wrong; expecting &#39;us-east-1&#39;/,
      ),
    });
    expect(ec2).toEqual({ status: 401, body: expect.stringContaining('<Code>AuthFailure</Code>') });
    expect(sns).toEqual({
      status: 403,
      body: expect.stringContaining(
        '<Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to a valid region, not &#39;eu-west-9&#39;. </Message>',
      ),
    });
    expect(await snapshot()).toEqual(before);
  });

  it('a credential scope dated another day than X-Amz-Date', async () => {
    const yesterday = (q: URLSearchParams) => {
      const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
      q.set('X-Amz-Credential', q.get('X-Amz-Credential')!.replace(/\/\d{8}\//, `/${day}/`));
    };
    const sns = await get(await presigned('sns', '/', { Action: 'ListTopics' }, { mutate: yesterday }));
    const s3 = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { mutate: yesterday }));
    const states = await get(await presigned('states', '/', {}, { mutate: yesterday }));

    expect(sns).toEqual({
      status: 403,
      body: expect.stringMatching(
        /<Code>SignatureDoesNotMatch<\/Code><Message>Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: &#39;\d{8}&#39; != &#39;\d{8}&#39;, from &#39;\d{8}T\d{6}Z&#39;\.<\/Message>/,
      ),
    });
    expect(s3).toEqual({
      status: 400,
      body: expect.stringContaining(
        '<Code>AuthorizationQueryParametersError</Code><Message>Invalid credential date. Date is not the same as X-Amz-Date.</Message>',
      ),
    });
    expect(JSON.parse(states.body)).toEqual({
      __type: 'InvalidSignatureException',
      message: expect.stringMatching(
        /^Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\d{8}' != '\d{8}', from '\d{8}T\d{6}Z'\.$/,
      ),
    });
  });

  it('an X-Amz-Expires over a week (604,800 s)', async () => {
    const week = (q: URLSearchParams) => q.set('X-Amz-Expires', '604801');
    const s3 = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { mutate: week }));
    const ec2 = await get(await presigned('ec2', '/', stop(running), { mutate: week }));
    // Exactly a week is allowed: the URL below is answered.
    const s3Week = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { expiresIn: 604_800 }));

    expect(s3).toEqual({
      status: 400,
      body: expect.stringContaining(
        '<Code>AuthorizationQueryParametersError</Code><Message>X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds</Message>',
      ),
    });
    expect(ec2).toEqual({ status: 401, body: expect.stringContaining('<Code>AuthFailure</Code>') });
    expect(s3Week).toEqual({ status: 200, body: 'us-east-1 data' });
    expect((await h.instanceStates([running]))[running]).toBe('running');
  });

  it('a presigned URL past its expiry: S3 AccessDenied "Request has expired", EC2 RequestExpired, SNS "Signature expired"', async () => {
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    const s3 = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { date: twoHoursAgo, expiresIn: 3600 }));
    const ec2 = await get(await presigned('ec2', '/', stop(running), { date: twoHoursAgo, expiresIn: 3600 }));
    const sns = await get(await presigned('sns', '/', { Action: 'ListTopics' }, { date: twoHoursAgo, expiresIn: 3600 }));
    // Signed the same way and still within its hour: answered.
    const fresh = await get(await presigned('s3', `/${BUCKET}/data.txt`, {}, { date: new Date(Date.now() - 30 * 60_000), expiresIn: 3600 }));

    expect(s3).toEqual({
      status: 403,
      body: expect.stringMatching(
        /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>3600<\/X-Amz-Expires><Expires>[\dT:-]+Z<\/Expires><ServerTime>[\dT:-]+Z<\/ServerTime>/,
      ),
    });
    expect(ec2).toEqual({ status: 400, body: expect.stringContaining('<Code>RequestExpired</Code><Message>Request has expired.</Message>') });
    expect(sns).toEqual({
      status: 403,
      body: expect.stringMatching(/<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired: \d{8}T\d{6}Z is now earlier than/),
    });
    expect(fresh).toEqual({ status: 200, body: 'us-east-1 data' });
    expect((await h.instanceStates([running]))[running]).toBe('running');
  });

  it("a role session's key verifies with its own secret and token only (what the runtime hands a Lambda function)", async () => {
    const fn = h.rt.lambdas.list().find((f) => f.credentials)!;
    const session = fn.credentials!;
    const jsonHeaders = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListActivities' };
    const call = async (creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => {
      const res = await fetch(h.endpoint, {
        method: 'POST',
        body: '{}',
        headers: await signedHeaders(h.endpoint, { method: 'POST', path: '/', service: 'states', body: '{}', headers: jsonHeaders, credentials: creds }),
      });
      return [res.status, ((await res.json()) as { __type?: string }).__type ?? 'answered'];
    };

    expect(session.accessKeyId).toMatch(/^ASIA/);
    // Authenticated: whatever the role's policies then say about the call, it is not a signature refusal.
    expect((await call(session))[1]).not.toMatch(/InvalidSignature|UnrecognizedClient/);
    expect(await call({ ...session, secretAccessKey: credentials.secretAccessKey })).toEqual([400, 'InvalidSignatureException']);
    expect(await call({ accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey })).toEqual([400, 'UnrecognizedClientException']);
    expect(await call({ ...session, sessionToken: 'someone-elses' })).toEqual([400, 'UnrecognizedClientException']);
  });
});
