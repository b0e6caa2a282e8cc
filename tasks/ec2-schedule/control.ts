/** `GET|POST /ec2/control/{instanceId}/{action}`: control links (HTTP API payload v2). See core/control.ts. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaHandler } from '../shared/handler';
import { bodyText } from '../shared/http';
import { handleControl } from './core/control';
import { FORM_BODY_BYTES, httpDeps, payloadTooLarge } from './http';

const deps = httpDeps();

export const handler = lambdaHandler(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  // A browser form posts the token in the query string of its action URL; a form field works too.
  const body = event.requestContext.http.method === 'POST' ? (bodyText(event) ?? '') : '';
  const bytes = Buffer.byteLength(body);
  if (bytes > FORM_BODY_BYTES) return payloadTooLarge(bytes);
  const form = new URLSearchParams(body);
  return handleControl(
    {
      method: event.requestContext.http.method,
      instanceId: event.pathParameters?.instanceId ?? '',
      action: event.pathParameters?.action ?? '',
      token: event.queryStringParameters?.token ?? form.get('token') ?? undefined,
      accept: event.headers?.accept ?? '*/*',
    },
    deps,
  );
});
