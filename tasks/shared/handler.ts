/**
 * The one handler template. Every `tasks/<area>/<task>.ts` is a thin adapter over a pure core:
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
import type { Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createLogger } from './logger';

/** The execution environment's logger (Powertools): JSON, service "opsflow", and the Lambda context once set. */
export const logger = createLogger();

/**
 * Wraps a handler so that every log line carries the invocation's Lambda context (request id, function name
 * and version, cold start), as Powertools' `addContext` sets it.
 */
export function lambdaHandler<Event, Result>(handle: (event: Event, context?: Context) => Promise<Result>): (event: Event, context?: Context) => Promise<Result> {
  return async (event, context) => {
    if (context) logger.addContext(context);
    return handle(event, context);
  };
}

/** The one way tasks reach DynamoDB: the document client, with undefined attributes dropped rather than refused. */
export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}
