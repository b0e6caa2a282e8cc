/**
 * The HTTP kit of the task functions behind the API Gateway HTTP API (the approval page, control links, the chat
 * command): one request type the cores take, one translator from the Lambda event to it, one response type with one
 * set of security headers, and one HTML escaper.
 *
 * Cores take an `HttpRequest` and return an `HttpResponse` built by `html`, `text` or `json`, so every response
 * carries the same headers and no core ever sees a Lambda event; `httpHandler` (./handler.ts) connects the two.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import escapeHtmlText from 'escape-html';

/** An HTTP request as the cores see it: decoded, names lower-cased, nothing of API Gateway left. */
export interface HttpRequest {
  /** Upper-case (`GET`, `POST`, ...). */
  method: string;
  /** The path the client asked for (`rawPath`). */
  path: string;
  /** The route's path parameters: `ref` for `/approvals/{ref}`. */
  params: Readonly<Record<string, string>>;
  /** Query string parameters, decoded; a repeated name holds its values joined by commas, as API Gateway sends it. */
  query: Readonly<Record<string, string>>;
  /** Header names lower-case; repeated headers joined by commas, as API Gateway sends them. */
  headers: Readonly<Record<string, string>>;
  /** Request cookies by name (the first of a repeated name). */
  cookies: Readonly<Record<string, string>>;
  /** The body as UTF-8 text, base64 decoded; '' when there is none. */
  body: string;
  /** API Gateway's request id: the one request detail a core may log. */
  requestId: string;
}

/**
 * The one translator from an HTTP API event, payload format 2.0, to an `HttpRequest`. The format, per
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html:
 * "Duplicate headers are combined with commas and included in the headers field. Duplicate query strings are combined
 * with commas and included in the queryStringParameters field", "All cookie headers in the request are combined with
 * commas and added to the cookies field", and a binary body arrives base64-encoded with `isBase64Encoded`. Header
 * names are lower-cased here again: AWS sends them so, test events and other front doors may not.
 */
export function fromHttpApiEvent(event: APIGatewayProxyEventV2): HttpRequest {
  const body = event.body ?? '';
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    params: defined(event.pathParameters),
    query: defined(event.queryStringParameters),
    headers: Object.fromEntries(Object.entries(defined(event.headers)).map(([name, value]) => [name.toLowerCase(), value])),
    cookies: cookiesOf(event.cookies ?? []),
    body: event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body,
    requestId: event.requestContext?.requestId ?? '',
  };
}

function defined(values: Record<string, string | undefined> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** `["a=1", "b=2"]` → `{ a: '1', b: '2' }`; an entry holding several (`a=1; b=2`) is split too. */
function cookiesOf(entries: readonly string[]): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const pair of entries.flatMap((entry) => entry.split(';'))) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const name = pair.slice(0, at).trim();
    if (name && !(name in cookies)) cookies[name] = pair.slice(at + 1).trim();
  }
  return cookies;
}

/** What a core answers; the HTTP API sends it as is (payload format 2.0's structured result). */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The one content-security policy: no script, no external asset, inline styles only, forms post to the same origin,
 * never framed, no `<base>`. The pages need nothing more; a JSON or text answer needs nothing at all.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The one set of security headers, on every response: nothing cached (a page shows one person's request, a link's
 * answer is its moment's state), no referrer (URLs carry secrets), no MIME sniffing, no indexing of personal links.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex',
};

function respond(statusCode: number, contentType: string, body: string): HttpResponse {
  return { statusCode, headers: { 'content-type': contentType, ...SECURITY_HEADERS }, body };
}

/** An HTML document; everything interpolated into it must have gone through `escapeHtml`. */
export const html = (statusCode: number, document: string): HttpResponse => respond(statusCode, 'text/html; charset=utf-8', document);
export const text = (statusCode: number, body: string): HttpResponse => respond(statusCode, 'text/plain; charset=utf-8', body);
export const json = (statusCode: number, value: unknown): HttpResponse => respond(statusCode, 'application/json', JSON.stringify(value));

/**
 * The one HTML escaper of the task functions, for pages and emails alike: the `escape-html` package, which writes
 * & < > " ' as entities, safe in element text and in quoted attribute values. Accepts only strings, so a value that
 * is not one is converted where it is interpolated, on purpose.
 */
export function escapeHtml(value: string): string {
  return escapeHtmlText(value);
}
