/**
 * The one handler template. Every `tasks/<workflow>/<task>.ts` is a thin adapter over a pure core:
 *
 *   export function loadEnv(env: Env = process.env) { ... }    // typed; throws naming the variable
 *   const env = loadEnv();                                     // read once, at cold start
 *   const deps = { ec2: new EC2Client({}), store: new XStore(documentClient(), env.tableName), log: logger };
 *   export const handler = lambdaHandler(async (event: In) => core(event, { ...deps, now: () => new Date() }));
 *
 * SDK clients and stores are built here, in the adapter, once per execution environment; event shapes
 * (API Gateway, SNS) are translated here too. Cores receive clients, clock and logger, never read
 * `process.env`, never construct a client and never import `aws-lambda` event types, so unit tests pass fakes.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { fromHttpApiEvent, text, type HttpRequest, type HttpResponse } from './http';
import { createLogger, errorName } from './logger';

/** The execution environment's logger (Powertools): JSON, service "opsflow", and the Lambda context once set. */
export const logger = createLogger();

/**
 * Wraps a handler so that every log line carries the invocation's Lambda context (request id, function name
 * and version, cold start), as Powertools' `addContext` sets it.
 */
export function lambdaHandler<Event, Result>(
  handle: (event: Event, context?: Context) => Promise<Result>,
): (event: Event, context?: Context) => Promise<Result> {
  return async (event, context) => {
    if (context) logger.addContext(context);
    return handle(event, context);
  };
}

/**
 * The handler of an HTTP API route (payload format 2.0) over a core of the HTTP kit (./http.ts): translates the event,
 * runs the core, and turns an error the core did not handle into a plain 500 that reveals nothing (the error's name
 * goes to the log, never its message or stack).
 */
export function httpHandler(
  core: (request: HttpRequest) => Promise<HttpResponse>,
): (event: APIGatewayProxyEventV2, context?: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  return lambdaHandler(async (event: APIGatewayProxyEventV2) => {
    const request = fromHttpApiEvent(event);
    try {
      return await core(request);
    } catch (error) {
      logger.error('request failed', { requestId: request.requestId, error: errorName(error) });
      return text(500, 'The request could not be processed. Please try again later.');
    }
  });
}

/** The one way tasks reach DynamoDB: the document client, with undefined attributes dropped rather than refused. */
export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}
