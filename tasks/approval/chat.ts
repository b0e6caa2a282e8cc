/**
 * Approval workflow, chat votes: API Gateway HTTP API (payload v2) handler for `POST /chat/approvals`, where Slack
 * (Interactivity Request URL), Mattermost (buttons and dialogs) and the Teams outgoing webhook send clicks and
 * mentions. See core/chat.ts.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { EnvError, requireString, type Env } from '../shared/env';
import { documentClient, httpHandler, logger } from '../shared/handler';
import { chatDeps, loadChatEnv } from './chat-deps';
import { handleChatCallback } from './core/chat';
import { ApprovalStore } from './core/store';

export function loadEnv(env: Env = process.env) {
  let map: unknown;
  try {
    map = JSON.parse(env.APPROVER_MAP || '{}');
  } catch {
    map = undefined;
  }
  if (map === null || typeof map !== 'object' || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string'))
    throw new EnvError('APPROVER_MAP', 'must be a JSON object of "<platform>:<user id>": "address"');
  return { tableName: requireString(env, 'TABLE_NAME'), approverMap: map as Record<string, string>, ...loadChatEnv(env) };
}

const env = loadEnv();
const deps = {
  store: new ApprovalStore(documentClient(), env.tableName),
  sfn: new SFNClient({}),
  log: logger,
  approverMap: env.approverMap,
  callbackUrl: env.callbackUrl,
  ...chatDeps(env),
};

export const handler = httpHandler((request) => handleChatCallback(request, { ...deps, now: () => new Date() }));
