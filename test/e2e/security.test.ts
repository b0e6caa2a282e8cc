/**
 * What a web page the user visits can do to the runtime on 127.0.0.1: nothing. The three attacks of
 * issue 10 (a no-cors fetch changing the faults, a form post with a fake presigned credential stopping an
 * instance, a rebound Host reading the outbox) are refused and change nothing.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders, startRuntime, type Harness } from './harness';

let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startRuntime();
  port = Number(new URL(h.endpoint).port);
});
afterAll(() => h?.stop());

/** A raw HTTP request: fetch would not let a test choose the Host header. */
function send(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const amzDate = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
const running = () =>
  h.rt.ec2.fleet
    .list()
    .filter((i) => i.state === 'running')
    .map((i) => i.instanceId);

describe('the runtime refuses what a foreign web page can send', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(h.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a request whose Host is not its own address (DNS rebinding), and answers its own names', async () => {
    const rebound = await send('/_opsflow/outbox', { headers: { host: 'attacker.example' } });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('approvals');
    expect(JSON.parse(rebound.body)).toMatchObject({ error: 'ForeignHost' });
    expect((await send('/_opsflow/health', { headers: { host: `attacker.example:${port}` } })).status).toBe(403);
    expect((await send('/_opsflow/health', { headers: { host: `localhost:${port}` } })).status).toBe(200);
    expect((await send('/_opsflow/health')).status).toBe(200);
  });

  it('refuses a form post with a presigned-looking credential and no signature: no instance stops', async () => {
    const before = running();
    expect(before.length).toBeGreaterThan(0);
    const res = await send(`/?X-Amz-Credential=${encodeURIComponent(`AKID/${amzDate(Date.now()).slice(0, 8)}/us-east-1/ec2/aws4_request`)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: `Action=StopInstances&Version=2016-11-15&InstanceId.1=${before[0]}`,
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ __type: 'IncompleteSignature' });
    expect(running()).toEqual(before);
  });

  it('refuses an unsigned AWS API call, and signatures that lack host, a date, or are outside the 15-minute window', async () => {
    const list = (headers: Record<string, string>) =>
      send('/', {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines', ...headers },
        body: '{}',
      });
    const auth = (signed: string, date = amzDate(Date.now())) =>
      `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/states/aws4_request, SignedHeaders=${signed}, Signature=${'0'.repeat(64)}`;
    const signed = (date = new Date()) =>
      signedHeaders(h.endpoint, {
        method: 'POST',
        path: '/',
        service: 'states',
        date,
        body: '{}',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines' },
      });
    expect(JSON.parse((await list({})).body)).toMatchObject({ __type: 'MissingAuthenticationToken' });
    expect(JSON.parse((await list({ authorization: auth('x-amz-date'), 'x-amz-date': amzDate(Date.now()) })).body)).toMatchObject({
      __type: 'IncompleteSignature',
    });
    expect(JSON.parse((await list({ authorization: auth('host') })).body)).toMatchObject({ __type: 'IncompleteSignature' });
    // Step Functions' front door: "Signature expired: <date> is now earlier than <now - 15 min>".
    const stale = JSON.parse((await list(await signed(new Date(Date.now() - 16 * 60_000)))).body);
    expect(stale).toMatchObject({
      __type: 'InvalidSignatureException',
      message: expect.stringMatching(/^Signature expired: \d{8}T\d{6}Z is now earlier than/),
    });
    const ok = await list(await signed());
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).stateMachines.length).toBeGreaterThan(0);
  });

  it('refuses /_opsflow/ writes from a foreign origin or without a JSON content type: the faults stay as they were', async () => {
    const before = JSON.stringify(h.rt.faults);
    const noCors = await send('/_opsflow/faults', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://127.0.0.1:8080' },
      body: '{"crashLambdas":["ApprovalWorkerFn"]}',
    });
    expect(noCors.status).toBe(403);
    const sameOriginText = await send('/_opsflow/faults', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"crashLambdas":["ApprovalWorkerFn"]}',
    });
    expect(sameOriginText.status).toBe(415);
    const crossSite = await send('/_opsflow/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: '{"sesFailRate":1}',
    });
    expect(crossSite.status).toBe(403);
    expect(JSON.stringify(h.rt.faults)).toBe(before);
    const own = await send('/_opsflow/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` },
      body: '{"sesFailRate":0}',
    });
    expect(own.status).toBe(200);
  });

  it('serves the console with a strict Content-Security-Policy and no external asset', async () => {
    const page = await send('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe');
    expect(page.body).not.toMatch(/https?:\/\//);
    const js = await send('/console.js');
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(1000);
    expect((await send('/', { headers: { origin: 'http://evil.example' } })).status).toBe(403);
  });
});

describe('connections', () => {
  it('are kept a minute when idle (Keep-Alive: timeout=60), so a reused SDK socket is not reset under load', async () => {
    const res = await send('/_opsflow/health', { headers: { connection: 'keep-alive' } });
    expect([res.status, res.headers['keep-alive']]).toEqual([200, 'timeout=60']);
  });
});
