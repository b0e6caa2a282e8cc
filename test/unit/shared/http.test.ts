/** The HTTP kit of the task functions (tasks/shared/http.ts, httpHandler in handler.ts): translator, responses, escaper, error mapping, and that it is the only one. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpHandler } from '../../../tasks/shared/handler';
import { escapeHtml, fromHttpApiEvent, html, json, SECURITY_HEADERS, text } from '../../../tasks/shared/http';

const ROOT = join(__dirname, '../../..');

/** An HTTP API payload 2.0 event, as API Gateway sends it; `omit` removes top-level fields it may leave out. */
function event(overrides: Partial<APIGatewayProxyEventV2> = {}, omit: (keyof APIGatewayProxyEventV2)[] = []): APIGatewayProxyEventV2 {
  const e: Record<string, unknown> = {
    version: '2.0',
    routeKey: 'POST /approvals/{ref}',
    rawPath: '/approvals/abc',
    rawQueryString: 'intent=approve',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    queryStringParameters: { intent: 'approve' },
    pathParameters: { ref: 'abc' },
    requestContext: { http: { method: 'POST', path: '/approvals/abc' }, requestId: 'req-7' },
    body: 'decision=approve',
    isBase64Encoded: false,
    ...overrides,
  };
  for (const key of omit) delete e[key];
  return e as unknown as APIGatewayProxyEventV2;
}

describe('fromHttpApiEvent', () => {
  it('reads method, path, route parameters, query, headers, body and request id', () => {
    expect(fromHttpApiEvent(event())).toEqual({
      method: 'POST',
      path: '/approvals/abc',
      params: { ref: 'abc' },
      query: { intent: 'approve' },
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      cookies: {},
      body: 'decision=approve',
      requestId: 'req-7',
    });
  });

  it('decodes a base64 body (binary and some form bodies arrive so) as UTF-8', () => {
    const body = 'comment=%C3%A9t%C3%A9&decision=approve — été';
    const request = fromHttpApiEvent(event({ body: Buffer.from(body).toString('base64'), isBase64Encoded: true }));
    expect(request.body).toBe(body);
  });

  it('keeps the query as API Gateway decoded it: a repeated name holds its values joined by commas', () => {
    const request = fromHttpApiEvent(event({ rawQueryString: 'token=a%2Bb&x=1&x=2', queryStringParameters: { token: 'a+b', x: '1,2' } }));
    expect(request.query).toEqual({ token: 'a+b', x: '1,2' });
  });

  it('reads cookies by name, the first of a repeated name, whether sent as one entry or several', () => {
    const request = fromHttpApiEvent(event({ cookies: ['session=s1', 'theme=dark; lang=en', 'session=s2', 'broken', '=nameless'] }));
    expect(request.cookies).toEqual({ session: 's1', theme: 'dark', lang: 'en' });
  });

  it('lower-cases header names (a test event or another front door may not)', () => {
    const request = fromHttpApiEvent(event({ headers: { 'Content-Type': 'text/plain', Accept: 'application/json' } }));
    expect(request.headers).toEqual({ 'content-type': 'text/plain', accept: 'application/json' });
  });

  it('gives empty objects and an empty body when the event has no headers, query, cookies, route parameters or body', () => {
    const request = fromHttpApiEvent(
      event({ requestContext: { http: { method: 'get' }, requestId: 'r' } as never }, [
        'headers',
        'queryStringParameters',
        'rawQueryString',
        'cookies',
        'pathParameters',
        'body',
        'isBase64Encoded',
      ]),
    );
    expect(request).toEqual({ method: 'GET', path: '/approvals/abc', params: {}, query: {}, headers: {}, cookies: {}, body: '', requestId: 'r' });
  });

  it('drops parameters and headers whose value is undefined', () => {
    const request = fromHttpApiEvent(
      event({ headers: { accept: undefined }, queryStringParameters: { token: undefined }, pathParameters: { ref: undefined } }),
    );
    expect(request).toMatchObject({ headers: {}, query: {}, params: {} });
  });
});

describe('responses', () => {
  it.each([
    ['html', html(200, '<p>hi</p>'), 'text/html; charset=utf-8', '<p>hi</p>'],
    ['text', text(404, 'No such link.'), 'text/plain; charset=utf-8', 'No such link.'],
    ['json', json(413, { message: 'too large' }), 'application/json', '{"message":"too large"}'],
  ])('%s carries the content type and every security header, CSP included', (_kind, response, contentType, body) => {
    expect(response.headers).toEqual({ 'content-type': contentType, ...SECURITY_HEADERS });
    expect(response.body).toBe(body);
    expect(SECURITY_HEADERS).toEqual({
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-robots-tag': 'noindex',
    });
  });

  it('never shares a headers object between responses (a handler may add to its own)', () => {
    const a = text(200, 'a');
    a.headers['x-extra'] = '1';
    expect(text(200, 'b').headers['x-extra']).toBeUndefined();
  });
});

describe('escapeHtml', () => {
  it('writes & < > " \' as entities and leaves everything else', () => {
    expect(escapeHtml(`<a href="x" title='y'>Tom & Jerry — é</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry — é&lt;/a&gt;');
  });
});

describe('httpHandler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('hands the core the translated request and returns its response', async () => {
    const core = vi.fn(async () => text(200, 'ok'));
    const response = await httpHandler(core)(event());
    expect(core).toHaveBeenCalledWith(fromHttpApiEvent(event()));
    expect(response).toEqual(text(200, 'ok'));
  });

  it('answers an error the core did not handle with a plain 500 and the security headers, logging only its name', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    const failure = Object.assign(new Error('token AQsecret is invalid'), { name: 'InvalidToken' });
    const response = await httpHandler(async () => Promise.reject(failure))(event());
    expect(response.statusCode).toBe(500);
    expect(response.headers).toEqual({ 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    expect(response.body).not.toMatch(/AQsecret|InvalidToken|at /);
    expect(lines.join('')).toContain('"error":"InvalidToken"');
    expect(lines.join('')).not.toContain('AQsecret');
  });
});

/** Every TypeScript source file under `dir`, relative to the repository root. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(ROOT, dir, name);
    if (statSync(path).isDirectory()) return sources(relative(ROOT, path));
    return name.endsWith('.ts') ? [relative(ROOT, path)] : [];
  });
}

describe('the kit is the only one in tasks/', () => {
  const files = sources('tasks').map((path) => ({ path, code: readFileSync(join(ROOT, path), 'utf8') }));

  it('is the only file that imports escape-html', () => {
    expect(files.filter((f) => /from ['"]escape-html['"]|require\(['"]escape-html['"]\)/.test(f.code)).map((f) => f.path)).toEqual(['tasks/shared/http.ts']);
  });

  it('is the only file that writes a content-security policy or a security header', () => {
    for (const pattern of [/content-security-policy/i, /default-src/, /x-content-type-options/i, /referrer-policy/i]) {
      expect(
        files.filter((f) => pattern.test(f.code)).map((f) => f.path),
        String(pattern),
      ).toEqual(['tasks/shared/http.ts']);
    }
  });

  it('is the only file that reads API Gateway events or builds a response by hand', () => {
    expect(files.filter((f) => /APIGatewayProxy/.test(f.code)).map((f) => f.path)).toEqual(['tasks/shared/handler.ts', 'tasks/shared/http.ts']);
    expect(files.filter((f) => /\{\s*statusCode\b/.test(f.code)).map((f) => f.path)).toEqual(['tasks/shared/http.ts']);
  });
});
