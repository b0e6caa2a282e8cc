/**
 * Approval workflow, decision page: API Gateway HTTP API (payload v2) handler for
 * `GET /approvals/{ref}` (show, never changes anything) and `POST /approvals/{ref}` (vote).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { requireString, type Env } from '../shared/env';
import { documentClient, httpHandler, logger } from '../shared/handler';
import { handleDecisionRequest } from './core/decide';
import { chatDeps, loadChatEnv } from './chat-deps';
import { ApprovalStore } from './core/store';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), ...loadChatEnv(env) };
}

const env = loadEnv();
const deps = { store: new ApprovalStore(documentClient(), env.tableName), sfn: new SFNClient({}), log: logger, chat: chatDeps(env).chat };

export const handler = httpHandler((request) => handleDecisionRequest(request, { ...deps, now: () => new Date() }));
