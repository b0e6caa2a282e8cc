import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpApiRouter } from '../../local/services/http-api';
import { AwsError, Clock } from '../../local/kernel';
import { LambdaInvokeError } from '../../local/services/lambda';
import { createServer, listen } from '../../local/server';

const fnArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

interface ApiEvent {
  version: string;
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  requestContext: Record<string, unknown> & { http: Record<string, string> };
  body?: string;
  isBase64Encoded: boolean;
}

describe('HttpApiRouter', () => {
  const calls: Array<{ arn: string; event: ApiEvent }> = [];
  let reply: (arn: string, event: ApiEvent) => unknown = () => ({ ok: true });
  const clock = new Clock({ start: Date.UTC(2030, 2, 5, 7, 8, 9) });
  const router = new HttpApiRouter({
    clock,
    invoke: async (arn, event) => {
      calls.push({ arn, event: event as ApiEvent });
      return reply(arn, event as ApiEvent);
    },
  });
  let server: Server;
  let base = '';

  beforeAll(async () => {
    const route = (apiId: string, routeKey: string, fn: string) => router.addRoute({ apiId, routeKey, integrationArn: fnArn(fn), payloadFormatVersion: '2.0' });
    route('links', 'GET /approvals/{ref}', 'show');
    route('links', 'GET /approvals/list', 'list');
    route('links', 'ANY /files/{path+}', 'files');
    route('links', 'POST /approvals/{ref}/decision', 'decide');
    route('links', '$default', 'fallback');
    router.addRoute({
      apiId: 'admin',
      routeKey: 'GET /health',
      integrationArn: `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${fnArn('health')}/invocations`,
      payloadFormatVersion: '2.0',
    });
    route('staged', 'GET /ping', 'ping');
    route('limited', 'GET /limited', 'limited');
    route('limited', 'POST /limited', 'limited');
    router.addStage({ apiId: 'links', name: '$default' });
    router.addStage({ apiId: 'admin', name: '$default' });
    router.addStage({ apiId: 'staged', name: 'prod' });
    router.addStage({ apiId: 'limited', name: '$default', throttle: { burstLimit: 2, rateLimit: 0.001 } });
    server = createServer([], async (req) => (await router.handle(req)) ?? { status: 404, body: 'no route' });
    base = `http://127.0.0.1:${await listen(server, 0)}`;
  });

  beforeEach(() => {
    calls.length = 0;
    reply = () => ({ ok: true });
  });

  afterAll(() => {
    server?.close();
  });

  describe('routing', () => {
    it.each([
      ['GET', '/approvals/abc%20def', 'show', { ref: 'abc def' }],
      ['GET', '/approvals/list', 'list', undefined],
      ['DELETE', '/files/a/b/c.txt', 'files', { path: 'a/b/c.txt' }],
      ['POST', '/approvals/r-1/decision', 'decide', { ref: 'r-1' }],
      ['PUT', '/approvals/abc', 'fallback', undefined],
      ['GET', '/files', 'fallback', undefined],
      ['GET', '/health', 'health', undefined],
      ['GET', '/prod/ping', 'ping', undefined],
    ])('%s %s goes to %s', async (method, path, fn, pathParameters) => {
      // Act
      const res = await fetch(base + path, { method });

      // Assess
      expect(res.status).toBe(200);
      expect(calls.map((c) => [c.arn, c.event.pathParameters])).toEqual([[fnArn(fn), pathParameters]]);
    });

    it('returns undefined when no deployed route matches, so the caller can try something else', async () => {
      // Prepare: API x has no stage, so it is not deployed; API y is.
      const bare = new HttpApiRouter({ clock, invoke: async () => 'done' });
      bare.addRoute({ apiId: 'x', routeKey: 'GET /ping', integrationArn: fnArn('ping'), payloadFormatVersion: '2.0' });
      bare.addRoute({ apiId: 'y', routeKey: 'GET /pong', integrationArn: fnArn('pong'), payloadFormatVersion: '2.0' });
      bare.addStage({ apiId: 'y', name: '$default' });
      const request = (method: string, path: string) =>
        bare.handle({ method, path, query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0), service: '', accessKeyId: '' });

      // Act
      const responses = [await request('GET', '/ping'), await request('POST', '/pong'), await request('GET', '/pong/extra'), await request('GET', '/pong')];

      // Assess
      expect(responses.map((r) => r?.status)).toEqual([undefined, undefined, undefined, 200]);
    });

    it('rejects a route another API already serves, naming both', () => {
      expect(() => router.addRoute({ apiId: 'other', routeKey: 'GET /approvals/{id}', integrationArn: fnArn('x'), payloadFormatVersion: '2.0' })).toThrow(
        "Route 'GET /approvals/{id}' of API other conflicts with route 'GET /approvals/{ref}' of API links",
      );
      expect(() => router.addRoute({ apiId: 'other', routeKey: '$default', integrationArn: fnArn('x'), payloadFormatVersion: '2.0' })).toThrow(
        "Route '$default' of API other conflicts with route '$default' of API links",
      );
    });

    it('rejects malformed route keys', () => {
      expect(() => router.addRoute({ apiId: 'other', routeKey: 'GET /{all+}/tail', integrationArn: fnArn('x'), payloadFormatVersion: '2.0' })).toThrow(
        'a greedy {all+} must be the last segment',
      );
      expect(() => router.addRoute({ apiId: 'other', routeKey: 'approvals', integrationArn: fnArn('x'), payloadFormatVersion: '2.0' })).toThrow(
        "is not 'METHOD /path' or '$default'",
      );
    });
  });

  describe('event', () => {
    it('is built like API Gateway payload format 2.0', async () => {
      // Act
      await fetch(`${base}/approvals/ref-1?a=1&a=2&b=x`, {
        headers: { 'X-Custom': 'Yes', Cookie: 'session=s1; theme=dark', 'User-Agent': 'approver-browser' },
      });

      // Assess
      const event = calls[0].event;
      expect(event).toMatchObject({
        version: '2.0',
        routeKey: 'GET /approvals/{ref}',
        rawPath: '/approvals/ref-1',
        rawQueryString: 'a=1&a=2&b=x',
        cookies: ['session=s1', 'theme=dark'],
        queryStringParameters: { a: '1,2', b: 'x' },
        pathParameters: { ref: 'ref-1' },
        isBase64Encoded: false,
        requestContext: {
          accountId: '000000000000',
          apiId: 'links',
          domainName: base.slice('http://'.length),
          http: { method: 'GET', path: '/approvals/ref-1', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'approver-browser' },
          routeKey: 'GET /approvals/{ref}',
          stage: '$default',
        },
      });
      expect(event.headers).toMatchObject({ 'x-custom': 'Yes', 'user-agent': 'approver-browser', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
      expect(event.headers.cookie).toBeUndefined();
      expect(event).not.toHaveProperty('body');
      expect(event.requestContext.requestId).toEqual(expect.any(String));
      expect(event.requestContext.time).toMatch(/^05\/Mar\/2030:07:08:\d\d \+0000$/);
      expect(event.requestContext.timeEpoch).toBeGreaterThanOrEqual(Date.UTC(2030, 2, 5, 7, 8, 9));
    });

    it('base64-encodes a form post, as HTTP APIs do', async () => {
      // Act
      await fetch(`${base}/approvals/ref-1/decision`, { method: 'POST', body: new URLSearchParams({ decision: 'approve', comment: 'ok & go' }) });

      // Assess
      const event = calls[0].event;
      expect(event.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      expect(event.isBase64Encoded).toBe(true);
      expect(Object.fromEntries(new URLSearchParams(Buffer.from(event.body!, 'base64').toString('utf8')))).toEqual({ decision: 'approve', comment: 'ok & go' });
    });

    it('passes a JSON body as text', async () => {
      // Act
      await fetch(`${base}/approvals/ref-1/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: '{"decision":"reject"}',
      });

      // Assess
      expect([calls[0].event.body, calls[0].event.isBase64Encoded]).toEqual(['{"decision":"reject"}', false]);
    });

    it('names the stage and keeps it in the raw path for a named stage', async () => {
      // Act
      await fetch(`${base}/prod/ping`);

      // Assess
      expect(calls[0].event).toMatchObject({ rawPath: '/prod/ping', routeKey: 'GET /ping', requestContext: { apiId: 'staged', stage: 'prod' } });
    });
  });

  describe('response', () => {
    it('maps a structured response: status, headers, cookies, base64 body', async () => {
      // Prepare
      reply = () => ({
        statusCode: 201,
        headers: { 'Content-Type': 'image/png', 'X-Count': 3 },
        cookies: ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2030 07:28:00 GMT'],
        body: Buffer.from([0, 1, 2, 255]).toString('base64'),
        isBase64Encoded: true,
      });

      // Act
      const res = await fetch(`${base}/approvals/x`);

      // Assess
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('x-count')).toBe('3');
      expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2030 07:28:00 GMT']);
      expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0, 1, 2, 255]);
    });

    it('turns any other result into a 200 JSON body', async () => {
      // Prepare
      reply = () => ({ approved: true });

      // Act
      const object = await fetch(`${base}/approvals/x`);
      reply = () => 'plain words';
      const text = await fetch(`${base}/approvals/x`);

      // Assess
      expect([object.status, object.headers.get('content-type'), await object.text()]).toEqual([200, 'application/json', '{"approved":true}']);
      expect([text.status, await text.text()]).toEqual([200, 'plain words']);
    });

    it('answers a Lambda error with API Gateway’s 500, without the error details', async () => {
      // Prepare
      reply = () => {
        throw new LambdaInvokeError({ errorType: 'Approval.NotFound', errorMessage: 'no such approval', trace: ['at secret.js:1'] });
      };

      // Act
      const res = await fetch(`${base}/approvals/x`);

      // Assess
      expect([res.status, await res.text()]).toEqual([500, '{"message":"Internal Server Error"}']);
    });

    it('answers 413 when Lambda refuses the event as over its invocation payload quota', async () => {
      // Prepare: what LambdaRunner.invoke rejects with past 6 MB (local/services/lambda.ts)
      reply = () => {
        throw new AwsError('RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation', 413);
      };

      // Act
      const res = await fetch(`${base}/approvals/x`);

      // Assess
      expect([res.status, await res.text()]).toEqual([413, '{"message":"Request Entity Too Large"}']);
    });

    it('answers a malformed structured response with 500', async () => {
      // Prepare
      reply = () => ({ statusCode: 200, body: { not: 'a string' } });

      // Act
      const res = await fetch(`${base}/approvals/x`);

      // Assess
      expect([res.status, await res.text()]).toEqual([500, '{"message":"Internal Server Error"}']);
    });
  });

  describe('throttling', () => {
    it('answers 429 once the stage burst is spent, without invoking the function', async () => {
      // Act
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${base}/limited`)).status);
      const throttled = await fetch(`${base}/limited`);

      // Assess
      expect(statuses).toEqual([200, 200, 429]);
      expect([throttled.status, await throttled.text()]).toEqual([429, '{"message":"Too Many Requests"}']);
      expect(calls).toHaveLength(2);
      // Other stages are not affected, nor other routes of the stage: each route has its own bucket.
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/limited`, { method: 'POST' })).status).toBe(200);
    });
  });
});
