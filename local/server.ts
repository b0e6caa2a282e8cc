/**
 * The single AWS-compatible HTTP endpoint (default 127.0.0.1:4566). Like the AWS front doors, it routes a
 * request by its SigV4 signing service (from the Authorization header's credential scope) and, for JSON
 * protocols, by `X-Amz-Target`. Unsigned requests go to the app's HTTP API routes and `/_opsflow/*`.
 * Signatures are not checked: any credentials are accepted, as the brief for local use requires.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsError, type AwsRequest, type AwsResponse, type ServiceHandler } from './kernel';
import { parseSigV4 } from './sigv4';

/** Handles everything that is not a signed AWS API call (app routes, `/_opsflow/*`). */
export type PlainHandler = (req: AwsRequest) => Promise<AwsResponse>;

export async function readAwsRequest(req: IncomingMessage): Promise<AwsRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  // Presigned URLs carry the credential in the query string instead of the header; a malformed one throws IncompleteSignature.
  const signature = parseSigV4({ headers, query: url.searchParams });
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers,
    body: Buffer.concat(chunks),
    service: signature?.service ?? '',
    target: headers['x-amz-target'],
    accessKeyId: signature?.accessKeyId ?? '',
  };
}

export function createServer(services: ServiceHandler[], plain: PlainHandler): Server {
  const byService = new Map<string, ServiceHandler>();
  for (const s of services) for (const name of s.services) byService.set(name, s);
  return createHttpServer((req, res) => {
    void dispatch(req, res, byService, plain);
  });
}

async function dispatch(req: IncomingMessage, res: ServerResponse, byService: Map<string, ServiceHandler>, plain: PlainHandler) {
  let response: AwsResponse;
  try {
    const request = await readAwsRequest(req);
    const handler = request.service ? byService.get(request.service) : undefined;
    if (request.service && !handler) {
      response = jsonError(new AwsError('UnknownOperationException', `opsflow local runtime does not emulate the AWS service '${request.service}'`, 400));
    } else {
      response = handler ? await handler.handle(request) : await plain(request);
    }
  } catch (err) {
    // A bug in a handler must still answer in a shape the SDKs understand, never hang or leak a stack trace.
    response = jsonError(err instanceof AwsError ? err : new AwsError('InternalFailure', (err as Error).message, 500));
  }
  res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
  res.end(response.body);
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
