/**
 * The single AWS-compatible HTTP endpoint (default 127.0.0.1:4566). Like the AWS front doors, it routes a
 * request by its SigV4 signing service (from the Authorization header's credential scope) and, for JSON
 * protocols, by `X-Amz-Target`. Unsigned requests go to the app's HTTP API routes and `/_opsflow/*`.
 * Signatures are not checked: any credentials are accepted, as the brief for local use requires.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsError, type AwsRequest, type AwsResponse, type ServiceHandler } from './kernel';
import { bodyLimit, type BodyLimit } from './limits';
import { parseSigV4 } from './sigv4';
import { validateRequest } from './validate';

/** Handles everything that is not a signed AWS API call (app routes, `/_opsflow/*`). */
export type PlainHandler = (req: AwsRequest) => Promise<AwsResponse>;

export interface ServerOptions {
  /** A position in the stream of state changes, taken before a request is handled. */
  mark?: () => number;
  /** Resolves once every change made since `mark` is durable; a request is answered only after it (rejects: the request fails). */
  commit?: (mark?: number) => Promise<void>;
}

/** The body is larger than the API's limit: answered 413 without reading the rest. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: BodyLimit, received: string) {
    super(`Request body ${received} exceeds the ${limit.bytes}-byte limit (${limit.what})`);
  }
}

export async function readAwsRequest(req: IncomingMessage): Promise<AwsRequest> {
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
  const chunks: Buffer[] = [];
  let received = 0;
  // destroyOnReturn: false keeps the socket open to send the 413 when the loop stops early.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).length;
    if (received > limit.bytes) throw new BodyTooLarge(limit, `of more than ${limit.bytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return {
    method: req.method ?? 'GET',
    // S3 object keys may hold `.` and `..` segments: S3 reads the path as sent, where URL parsing would resolve
    // `/bucket/../other` to `/other` (another bucket).
    path: signature?.service === 's3' ? rawPath(req.url ?? '/') : url.pathname,
    query: url.searchParams,
    headers,
    body: Buffer.concat(chunks),
    service: signature?.service ?? '',
    target: headers['x-amz-target'],
    accessKeyId: signature?.accessKeyId ?? '',
  };
}

/** The path of a request target as sent, in origin form (`/a/../b`) or absolute form (`http://host/a/../b`). */
function rawPath(target: string): string {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0];
  return path.startsWith('/') ? path : `/${path}`;
}

export interface ServerGuards {
  /** `host:port` values the Host header may have (lower case). Empty until the server listens. */
  allowedHosts(): string[];
  /**
   * The clocks a signature date may come from: the real one (SDKs, the AWS CLI) and the runtime's virtual one,
   * which local Lambdas sign with. `scale` is how many of its milliseconds pass per real one.
   */
  clocks(): Array<{ now: number; scale: number }>;
}

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

/** AWS's window around the signature date (RequestExpired: https://docs.aws.amazon.com/emr/latest/APIReference/CommonErrors.html). */
export const SIGNATURE_WINDOW_MS = 15 * 60_000;

/**
 * Refuses what must never reach a service: a foreign Host (DNS rebinding), an AWS API request without a
 * signature (MissingAuthenticationToken, https://docs.aws.amazon.com/cloudsearch/latest/developerguide/CommonErrors.html),
 * one whose signature lacks `host` among its signed headers (required in every canonical request:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) or a date, or whose date is
 * outside the 15-minute window (a presigned URL: past its X-Amz-Expires).
 */
export function guard(request: AwsRequest, guards: ServerGuards): AwsResponse | undefined {
  const host = (request.headers.host ?? '').toLowerCase();
  const allowed = guards.allowedHosts();
  if (!allowed.includes(host)) {
    return { status: 403, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'ForeignHost', message: `Host '${host}' is not this runtime's address (${allowed[0]}): refused` }) };
  }
  const signature = parseSigV4({ headers: request.headers, query: request.query });
  if (!signature) {
    const looksAws = request.headers['x-amz-target'] !== undefined || /^application\/x-amz-json/i.test(request.headers['content-type'] ?? '')
      || (request.query.has('Action') && request.query.has('Version')) || /(^|&)Action=[^&]+&(.*&)?Version=|(^|&)Version=[^&]+&(.*&)?Action=/.test(formBody(request));
    return looksAws ? jsonError(new AwsError('MissingAuthenticationToken', 'Missing Authentication Token', 403)) : undefined;
  }
  if (!signature.signedHeaders.includes('host')) {
    return jsonError(new AwsError('IncompleteSignature', `The request signature does not conform to AWS standards. 'Host' must be a 'SignedHeader' in the AWS Authorization.`, 400));
  }
  const date = signature.requestDate ? parseAmzDate(signature.requestDate) : undefined;
  if (date === undefined) {
    return jsonError(new AwsError('IncompleteSignature', `The request signature does not conform to AWS standards. Authorization ${signature.location === 'header' ? "header requires existence of either a 'X-Amz-Date' or a 'Date' header" : "query requires 'X-Amz-Date'"}.`, 400));
  }
  const expiresMs = signature.location === 'query' ? (signature.expiresSeconds ?? 0) * 1000 : 0;
  // The window is 15 real minutes: on a clock running N times faster, 15 × N of its minutes.
  const fresh = guards.clocks().some(({ now, scale }) => {
    const window = SIGNATURE_WINDOW_MS * Math.max(1, scale);
    return date - window <= now && now <= date + Math.max(expiresMs, window);
  });
  if (!fresh) {
    return jsonError(new AwsError('RequestExpired', `Request has expired: the signature date ${signature.requestDate} is more than 15 minutes from the runtime's time.`, 400));
  }
  return undefined;
}

function formBody(request: AwsRequest): string {
  return /^application\/x-www-form-urlencoded/i.test(request.headers['content-type'] ?? '') ? request.body.toString('utf8', 0, 4096) : '';
}

/** `YYYYMMDDTHHMMSSZ` → epoch ms. */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

async function dispatch(req: IncomingMessage, res: ServerResponse, byService: Map<string, ServiceHandler>, plain: PlainHandler, guards?: ServerGuards, options: ServerOptions = {}) {
  let response: AwsResponse;
  const mark = options.mark?.();
  try {
    const request = await readAwsRequest(req);
    const refused = guards ? guard(request, guards) : undefined;
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json', ...refused.headers });
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
    if (err instanceof BodyTooLarge) return refuseBody(req, res, err);
    // A bug in a handler must still answer in a shape the SDKs understand, never hang or leak a stack trace.
    response = jsonError(err instanceof AwsError ? err : new AwsError('InternalFailure', (err as Error).message, 500));
  }
  try {
    await options.commit?.(mark);
  } catch (err) {
    // Not on disk means not done: the client must not see a success that a restart would forget.
    response = jsonError(new AwsError('ServiceUnavailable', `opsflow could not save this change, so it may not survive a restart: ${(err as Error).message}. GET /_opsflow/health shows the storage state.`, 503));
  }
  res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
  res.end(response.body);
}

/** 413, then the rest of the body is discarded unread (never buffered) and the connection closed. */
function refuseBody(req: IncomingMessage, res: ServerResponse, err: BodyTooLarge): void {
  const body = JSON.stringify({ __type: 'RequestEntityTooLarge', message: err.message });
  res.writeHead(413, { 'content-type': 'application/json', 'x-amzn-errortype': 'RequestEntityTooLarge', connection: 'close', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  req.resume();
  // Closing at once could reset the connection before the client reads the 413; give it a moment, then cut it.
  const timer = setTimeout(() => req.socket.destroy(), 2000);
  timer.unref();
  req.socket.once('close', () => clearTimeout(timer));
}

/** AWS JSON 1.0/1.1 error body; services with other protocols render their own. */
export function jsonError(err: AwsError): AwsResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': err.code },
    body: JSON.stringify({ __type: err.code, message: err.message }),
  };
}

export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
