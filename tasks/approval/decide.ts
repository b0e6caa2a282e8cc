/**
 * Approval workflow, decision page: API Gateway HTTP API (payload v2) handler for
 * `GET /approvals/{ref}` (show, never changes anything) and `POST /approvals/{ref}` (vote).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireString, type Env } from '../shared/env';
import { createLogger } from '../shared/logger';
import { fromHttpApiEvent, handleDecisionRequest } from './core/decide';
import { ApprovalStore } from './core/store';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME') };
}

const env = loadEnv();
const logger = createLogger();
const sfn = new SFNClient({});
const store = new ApprovalStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), env.tableName);

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return handleDecisionRequest(fromHttpApiEvent(event), { store, sfn, now: () => new Date(), log: logger });
}
