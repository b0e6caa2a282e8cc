/**
 * The single AWS-compatible HTTP endpoint (default 127.0.0.1:4566). Like the AWS front doors, it routes a
 * request by its SigV4 signing service (from the credential scope) and, for JSON protocols, by `X-Amz-Target`,
 * after authenticating it as AWS does (local/auth.ts: the signature must verify with a key the runtime knows).
 * Unsigned requests go to the app's HTTP API routes and `/_opsflow/*`.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authenticate, type AuthContext } from './auth';
import { AwsError, type AwsRequest, type AwsResponse, type ServiceHandler } from './kernel';
import { bodyLimit, type BodyLimit } from './limits';
import { parseAmzDate, parseSigV4 } from './sigv4';
import { validateRequest } from './validate';
import { jsonError } from './wire/errors';

/** Handles everything that is not a signed AWS API call (app routes, `/_opsflow/*`). */
export type PlainHandler = (req: AwsRequest) => Promise<AwsResponse>;

export interface ServerOptions {
  /** A position in the stream of state changes, taken before a request is handled. */
  mark?: () => number;
  /** Resolves once every change made since `mark` is durable; a request is answered only after it (rejects: the request fails). */
  commit?: (mark?: number) => Promise<void>;
  /** How long a request's body may take to arrive once its headers have. @default BODY_TIMEOUT_MS */
  bodyTimeoutMs?: number;
}

/** The body is larger than the API's limit: answered 413 without reading the rest. */
export class BodyTooLarge extends Error {
  constructor(
    readonly limit: BodyLimit,
    received: string,
  ) {
    super(`Request body ${received} exceeds the ${limit.bytes}-byte limit (${limit.what})`);
  }
}

/** The body did not arrive in time: answered 408 (S3: 400 RequestTimeout) without waiting for the rest. */
export class BodyTimeout extends Error {
  constructor(
    readonly service: string,
    ms: number,
  ) {
    super(
      `The request body did not arrive within ${ms / 1000} seconds of its headers: the connection is closed. Send the whole body promptly (a client that streams slowly must send the rest within that time).`,
    );
  }
}

/**
 * Slow headers are cut at `headersTimeout` (65 s, below); a slow body gets as long after them, as a whole,
 * so no client holds a request open by trickling its body.
 */
export const BODY_TIMEOUT_MS = 65_000;

export async function readAwsRequest(req: IncomingMessage, bodyTimeoutMs = BODY_TIMEOUT_MS): Promise<AwsRequest> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://local');
  } catch {
    throw new AwsError('InvalidRequest', `The request target '${(req.url ?? '').slice(0, 200)}' is not a valid URL`, 400);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  // Presigned URLs carry the credential in the query string instead of the header; a malformed one throws IncompleteSignature.
  const signature = parseSigV4({ headers, query: url.searchParams });
  // The cap is known from the head, so an oversized body is refused before it is buffered.
  const limit = bodyLimit(signature?.service ?? '', url.pathname);
  const declared = Number(headers['content-length'] ?? 0);
  if (declared > limit.bytes) throw new BodyTooLarge(limit, `of ${declared} bytes`);
  const body = await readBody(req, limit, signature?.service ?? '', bodyTimeoutMs);
  return {
    method: req.method ?? 'GET',
    // S3 object keys may hold `.` and `..` segments: S3 reads the path as sent, where URL parsing would resolve
    // `/bucket/../other` to `/other` (another bucket).
    path: signature?.service === 's3' ? rawPath(req.url ?? '/') : url.pathname,
    query: url.searchParams,
    headers,
    body,
    service: signature?.service ?? '',
    target: headers['x-amz-target'],
    accessKeyId: signature?.accessKeyId ?? '',
    region: signature?.region,
  };
}

/** The body, within its cap and its time. */
function readBody(req: IncomingMessage, limit: BodyLimit, service: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err: Error | undefined) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', finish).off('close', onClose);
      if (err) {
        // Stop reading; the caller answers and closes the connection.
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit.bytes) finish(new BodyTooLarge(limit, `of more than ${limit.bytes} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onClose = () => {
      if (!req.complete) finish(new Error('the client closed the connection before sending the whole body'));
    };
    const timer = setTimeout(() => finish(new BodyTimeout(service, timeoutMs)), timeoutMs);
    req.on('data', onData).once('end', onEnd).once('error', finish).once('close', onClose);
  });
}

/** The path of a request target as sent, in origin form (`/a/../b`) or absolute form (`http://host/a/../b`). */
function rawPath(target: string): string {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0];
  return path.startsWith('/') ? path : `/${path}`;
}

/** What requests are checked against: the runtime's own address (the Host header), its keys and its clocks. */
export type ServerGuards = AuthContext;

export function createServer(services: ServiceHandler[], plain: PlainHandler, guards?: ServerGuards, options: ServerOptions = {}): Server {
  const byService = new Map<string, ServiceHandler>();
  for (const s of services) for (const name of s.services) byService.set(name, s);
  const server = createHttpServer((req, res) => {
    void dispatch(req, res, byService, plain, guards, options);
  });
  // SDK clients keep their sockets and reuse them; a server that closes an idle one just as the next request
  // arrives resets that request (ECONNRESET). Node's 5 s default is short when a busy runtime (and often the
  // client, in tests) shares one event loop: keep idle connections for a minute, an Application Load Balancer's
  // default (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout).
  // A request's headers must still arrive within headersTimeout, which must exceed the keep-alive.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  return server;
}

/** The Host values of a runtime listening on `host:port`: loopback by number and by name, and `host` itself. */
export function ownHosts(host: string, port: number): string[] {
  const named = host === '0.0.0.0' || host === '::' ? [] : [host.includes(':') ? `[${host}]` : host];
  return [...new Set(['127.0.0.1', 'localhost', '[::1]', ...named])].map((h) => `${h}:${port}`.toLowerCase());
}

/**
 * Refuses what must never reach a service: a foreign Host (DNS rebinding), an AWS API request without a
 * signature (MissingAuthenticationToken, https://docs.aws.amazon.com/cloudsearch/latest/developerguide/CommonErrors.html),
 * and a signed one that does not authenticate (local/auth.ts: wrong signature, unknown key, another region's
 * or day's scope, outside its time window; or sent by a browser for another page), in the service's own words.
 */
export async function guard(request: AwsRequest, target: string, guards: ServerGuards): Promise<AwsResponse | undefined> {
  const host = (request.headers.host ?? '').toLowerCase();
  const allowed = guards.allowedHosts();
  if (!allowed.includes(host)) {
    return {
      status: 403,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'ForeignHost', message: `Host '${host}' is not this runtime's address (${allowed[0]}): refused` }),
    };
  }
  const signature = parseSigV4({ headers: request.headers, query: request.query });
  if (!signature) {
    const looksAws =
      request.headers['x-amz-target'] !== undefined ||
      /^application\/x-amz-json/i.test(request.headers['content-type'] ?? '') ||
      (request.query.has('Action') && request.query.has('Version')) ||
      /(^|&)Action=[^&]+&(.*&)?Version=|(^|&)Version=[^&]+&(.*&)?Action=/.test(formBody(request));
    return looksAws ? jsonError(new AwsError('MissingAuthenticationToken', 'Missing Authentication Token', 403)) : undefined;
  }
  return authenticate(request, target, signature, guards);
}

function formBody(request: AwsRequest): string {
  return /^application\/x-www-form-urlencoded/i.test(request.headers['content-type'] ?? '') ? request.body.toString('utf8', 0, 4096) : '';
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  byService: Map<string, ServiceHandler>,
  plain: PlainHandler,
  guards?: ServerGuards,
  options: ServerOptions = {},
) {
  let response: AwsResponse;
  let service: string | undefined;
  let date: string | undefined;
  const mark = options.mark?.();
  try {
    const request = await readAwsRequest(req, options.bodyTimeoutMs);
    service = request.service;
    // The signature covers the request target exactly as sent, not as URL parsing normalizes it.
    const refused = guards ? await guard(request, req.url ?? '/', guards) : undefined;
    date = guards && signerDate(request, guards);
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json', ...(date && { date }), ...refused.headers });
      res.end(refused.body);
      return;
    }
    const handler = request.service ? byService.get(request.service) : undefined;
    if (request.service && !handler) {
      response = jsonError(new AwsError('UnknownOperationException', `opsflow local runtime does not emulate the AWS service '${request.service}'`, 400));
    } else {
      // Checked against the service's AWS model first: a request of the wrong shape never reaches the service.
      const invalid = handler ? await validateRequest(request) : undefined;
      response = invalid ?? (handler ? await handler.handle(request) : await plain(request));
    }
  } catch (err) {
    if (err instanceof BodyTooLarge) return refuseBody(req, res, 413, 'RequestEntityTooLarge', err.message);
    if (err instanceof BodyTimeout) {
      // S3 answers a body that stops arriving with RequestTimeout, 400 (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
      // the other services' front door with RequestTimeoutException, 408 ("Reading the Request timed out",
      // https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html).
      return err.service === 's3'
        ? refuseBody(
            req,
            res,
            400,
            'RequestTimeout',
            'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
            true,
          )
        : refuseBody(req, res, 408, 'RequestTimeoutException', err.message);
    }
    if (err instanceof AwsError) response = jsonError(err);
    // A client that hung up mid-body gets no answer: there is no one to read it.
    else if (!req.complete && req.socket.destroyed) return;
    // A bug in a handler must still answer in a shape the SDKs understand, never hang or leak a stack trace.
    else response = jsonError(new AwsError('InternalFailure', (err as Error).message, 500));
  }
  try {
    await options.commit?.(mark);
  } catch (err) {
    // Not on disk means not done: the client must not see a success that a restart would forget.
    response = jsonError(
      new AwsError(
        'ServiceUnavailable',
        `opsflow could not save this change, so it may not survive a restart: ${(err as Error).message}. GET /_opsflow/health shows the storage state.`,
        503,
      ),
    );
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(date && { date }), ...response.headers };
  // Every AWS answer names its request (x-amzn-RequestId; S3's x-amz-request-id), which SDKs report as the request id.
  if (!Object.keys(headers).some((h) => /^x-amzn?-request-?id$/i.test(h))) headers[service === 's3' ? 'x-amz-request-id' : 'x-amzn-RequestId'] = randomUUID();
  res.writeHead(response.status, headers);
  res.end(response.body);
}

/**
 * The answer's `Date` on the clock the request was signed by. SDK v3 clients move their own clock to a response's
 * `Date` when it is 5 minutes or more off theirs (`systemClockOffset`, corrected in @aws-sdk/core's
 * AwsSdkSigV4Signer, `isClockSkewed`), as they do against AWS. Local Lambdas sign on the virtual clock and the AWS CLI
 * on the real one: a function answered in real time would shift its SDK's clock to real time, which the virtual clock
 * (running faster, and jumping while idle) then leaves behind, until its signatures fit neither clock and are refused.
 */
function signerDate(request: AwsRequest, guards: ServerGuards): string | undefined {
  const signedAt = parseAmzDate(request.headers['x-amz-date'] ?? request.query.get('X-Amz-Date') ?? undefined)?.getTime();
  if (signedAt === undefined) return undefined;
  const off = (c: { now: number; scale: number }) => Math.abs(c.now - signedAt) / Math.max(1, c.scale);
  const nearest = guards.clocks().reduce((a, b) => (off(b) < off(a) ? b : a));
  return new Date(nearest.now).toUTCString();
}

/** Answers a body it will not read (too large, too slow), then discards the rest unread and closes the connection. */
function refuseBody(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, xml = false): void {
  const body = xml
    ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
    : JSON.stringify({ __type: code, message });
  res.writeHead(status, {
    'content-type': xml ? 'application/xml' : 'application/json',
    'x-amzn-errortype': code,
    connection: 'close',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  req.resume();
  // Closing at once could reset the connection before the client reads the answer; give it a moment, then cut it.
  const timer = setTimeout(() => req.socket.destroy(), 2000);
  timer.unref();
  req.socket.once('close', () => clearTimeout(timer));
}

export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
