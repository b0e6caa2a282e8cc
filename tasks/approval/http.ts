/** Turns the approval page's HTTP API event into the core's request (tasks/approval/core/decide.ts). */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { bodyText, lowerCaseHeaders } from '../shared/http';
import type { DecideRequest } from './core/decide';

export function fromHttpApiEvent(event: APIGatewayProxyEventV2): DecideRequest {
  return {
    method: event.requestContext.http.method.toUpperCase(),
    ref: event.pathParameters?.ref,
    intent: event.queryStringParameters?.intent,
    contentType: lowerCaseHeaders(event)['content-type'],
    body: bodyText(event),
    requestId: event.requestContext.requestId,
  };
}
