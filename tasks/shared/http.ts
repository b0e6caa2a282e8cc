/** API Gateway HTTP API (payload format 2.0) event helpers the HTTP handlers share; cores never see the event. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The request body as text: API Gateway delivers binary and form bodies base64-encoded. */
export function bodyText(event: APIGatewayProxyEventV2): string | undefined {
  if (event.body === undefined) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** Header names lower-cased (HTTP APIs already do; test events and other front doors may not). */
export function lowerCaseHeaders(event: APIGatewayProxyEventV2): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}
