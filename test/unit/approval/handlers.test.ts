/**
 * The handler adapters: environment loading at cold start (errors name the variable) and the wiring from
 * the Lambda event to the core.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { GetActivityTaskCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

const VALIDATE_ENV = { DEFAULT_APPROVERS: '["Ops@Example.com"]', DEFAULT_TIMEOUT_SECONDS: '3600', MAX_TIMEOUT_SECONDS: '86400' };
const MAIL_ENV = {
  TABLE_NAME: 'approvals',
  SENDER: 'approvals@example.com',
  LINK_BASE_URL: 'https://approve.example.com/',
  REMINDER_INTERVAL_SECONDS: '14400',
  ESCALATE_AFTER_SECONDS: '0',
  ESCALATION_APPROVERS: '[]',
  CHAT_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ChatSecret-AbCdEf',
  CHAT_CALLBACK_URL: 'https://api.example.com/chat/approvals',
};
const CHAT_ENV = { chatSecretArn: MAIL_ENV.CHAT_SECRET_ARN, callbackUrl: MAIL_ENV.CHAT_CALLBACK_URL, mattermostUrl: undefined };
const WORKER_ENV = { ...MAIL_ENV, ACTIVITY_ARN: 'arn:aws:states:us-east-1:000000000000:activity:approval' };

// Handlers load their environment when imported (cold start): each test imports them afresh into a
// complete environment, which a test may then break.
// (vi.importActual rather than import(): the package is CommonJS, where TypeScript types import() as ESM.)
const tasks = {
  validate: () => vi.importActual<typeof import('../../../tasks/approval/validate')>('../../../tasks/approval/validate'),
  worker: () => vi.importActual<typeof import('../../../tasks/approval/worker')>('../../../tasks/approval/worker'),
  sweep: () => vi.importActual<typeof import('../../../tasks/approval/sweep')>('../../../tasks/approval/sweep'),
  decide: () => vi.importActual<typeof import('../../../tasks/approval/decide')>('../../../tasks/approval/decide'),
};

beforeEach(() => {
  vi.resetModules();
  for (const [name, value] of Object.entries({ ...VALIDATE_ENV, ...WORKER_ENV })) vi.stubEnv(name, value);
});
afterEach(() => vi.unstubAllEnvs());

function without(env: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

describe('loadEnv', () => {
  it('reads the validate environment', async () => {
    const { loadEnv: loadValidateEnv } = await tasks.validate();
    expect(loadValidateEnv(VALIDATE_ENV)).toEqual({
      approvers: ['ops@example.com'],
      timeoutSeconds: 3600,
      maxTimeoutSeconds: 86_400,
      allowedRecipientDomains: [],
      chat: [],
      mattermostConfigured: false,
    });
    expect(loadValidateEnv({ ...VALIDATE_ENV, ALLOWED_RECIPIENT_DOMAINS: '["example.com"]' }).allowedRecipientDomains).toEqual(['example.com']);
    expect(loadValidateEnv({ ...VALIDATE_ENV, CHAT_TARGETS: '{"slack":"C0123ABCD"}' }).chat).toEqual([{ platform: 'slack', channel: 'C0123ABCD' }]);
    expect(() => loadValidateEnv({ ...VALIDATE_ENV, CHAT_TARGETS: '{"mattermost":"qmd5oqtwoibz8cuzxzg5ekshgr"}' })).toThrow(
      'CHAT_TARGETS.mattermost: this deployment has no Mattermost server',
    );
    expect(() => loadValidateEnv({ ...VALIDATE_ENV, ALLOWED_RECIPIENT_DOMAINS: '["*@x"]' })).toThrow('ALLOWED_RECIPIENT_DOMAINS');
  });

  it('reads the worker environment', async () => {
    const { loadEnv: loadWorkerEnv } = await tasks.worker();
    expect(loadWorkerEnv({ ...WORKER_ENV, AWS_LAMBDA_FUNCTION_NAME: 'fn' })).toEqual({
      activityArn: WORKER_ENV.ACTIVITY_ARN,
      tableName: 'approvals',
      sender: 'approvals@example.com',
      linkBaseUrl: 'https://approve.example.com',
      reminderIntervalSeconds: 14_400,
      escalateAfterSeconds: 0,
      escalationApprovers: [],
      workerName: 'fn',
      ...CHAT_ENV,
    });
    expect(loadWorkerEnv(WORKER_ENV).workerName).toBe('opsflow-worker');
  });

  it.each(Object.keys(VALIDATE_ENV))('validate fails naming %s when it is missing', async (name) => {
    const { loadEnv: loadValidateEnv } = await tasks.validate();
    expect(() => loadValidateEnv(without(VALIDATE_ENV, name))).toThrow(`environment variable ${name} is required`);
  });

  it.each(Object.keys(WORKER_ENV))('worker fails naming %s when it is missing', async (name) => {
    const { loadEnv: loadWorkerEnv } = await tasks.worker();
    expect(() => loadWorkerEnv(without(WORKER_ENV, name))).toThrow(`environment variable ${name} is required`);
  });

  it.each(['TABLE_NAME', 'SENDER', 'LINK_BASE_URL', 'REMINDER_INTERVAL_SECONDS', 'ESCALATION_APPROVERS', 'CHAT_SECRET_ARN', 'CHAT_CALLBACK_URL'])(
    'sweep fails naming %s when it is missing',
    async (name) => {
      const { loadEnv: loadSweepEnv } = await tasks.sweep();
      expect(() => loadSweepEnv(without(MAIL_ENV, name))).toThrow(`environment variable ${name} is required`);
    },
  );

  it('decide fails naming TABLE_NAME when it is missing', async () => {
    const { loadEnv: loadDecideEnv } = await tasks.decide();
    expect(() => loadDecideEnv({})).toThrow('environment variable TABLE_NAME is required');
    expect(() => loadDecideEnv({ TABLE_NAME: 't', CHAT_CALLBACK_URL: 'https://x.example/chat' })).toThrow('environment variable CHAT_SECRET_ARN is required');
  });

  it('reads the chat environment, and fails naming a bad approver map', async () => {
    const chat = () => vi.importActual<typeof import('../../../tasks/approval/chat')>('../../../tasks/approval/chat');
    const { loadEnv: loadChatEnv } = await chat();
    expect(loadChatEnv({ ...MAIL_ENV, APPROVER_MAP: '{"slack:U0123ABCD":"lead@example.com"}', MATTERMOST_URL: 'https://mm.example.com/' })).toEqual({
      tableName: 'approvals',
      approverMap: { 'slack:U0123ABCD': 'lead@example.com' },
      ...CHAT_ENV,
      mattermostUrl: 'https://mm.example.com',
    });
    expect(() => loadChatEnv({ ...MAIL_ENV, APPROVER_MAP: '["lead@example.com"]' })).toThrow('environment variable APPROVER_MAP must be a JSON object');
  });

  it.each([
    [{ ...VALIDATE_ENV, DEFAULT_TIMEOUT_SECONDS: '90000' }, /DEFAULT_TIMEOUT_SECONDS must be at most 86400/],
    [{ ...VALIDATE_ENV, MAX_TIMEOUT_SECONDS: 'week' }, /MAX_TIMEOUT_SECONDS must be an integer/],
    [{ ...VALIDATE_ENV, DEFAULT_APPROVERS: '["x"]' }, /DEFAULT_APPROVERS entry 0 is not a valid email address/],
  ])('validate fails naming an invalid variable (%o)', async (env, message) => {
    const { loadEnv: loadValidateEnv } = await tasks.validate();
    expect(() => loadValidateEnv(env)).toThrow(message);
  });

  it.each([
    [{ ...WORKER_ENV, LINK_BASE_URL: 'approve.example.com' }, /LINK_BASE_URL must be an absolute URL/],
    [{ ...WORKER_ENV, REMINDER_INTERVAL_SECONDS: '0' }, /REMINDER_INTERVAL_SECONDS must be at least 1/],
    [{ ...WORKER_ENV, ESCALATE_AFTER_SECONDS: '-5' }, /ESCALATE_AFTER_SECONDS must be at least 0/],
    [{ ...WORKER_ENV, ESCALATION_APPROVERS: 'boss@example.com' }, /ESCALATION_APPROVERS must be a JSON array/],
  ])('worker fails naming an invalid variable (%o)', async (env, message) => {
    const { loadEnv: loadWorkerEnv } = await tasks.worker();
    expect(() => loadWorkerEnv(env)).toThrow(message);
  });
});

describe('cold start', () => {
  it.each<[keyof typeof tasks, string]>([
    ['validate', 'MAX_TIMEOUT_SECONDS'],
    ['worker', 'ACTIVITY_ARN'],
    ['sweep', 'SENDER'],
    ['decide', 'TABLE_NAME'],
  ])('the %s handler fails to load without %s, naming it', async (task, name) => {
    vi.stubEnv(name, '');
    await expect(tasks[task]()).rejects.toThrow(`environment variable ${name} is required`);
  });
});

describe('handlers', () => {
  it('validate returns the normalized request', async () => {
    const { handler } = await tasks.validate();
    await expect(handler({ input: { title: 'Deploy', approvers: ['A@example.com'] } })).resolves.toEqual({
      request: { title: 'Deploy', details: null, approvers: ['a@example.com'], requestedBy: null, timeoutSeconds: 3600, quorum: 1 },
    });
  });

  it('validate throws Input.Invalid for a bad input', async () => {
    const { handler } = await tasks.validate();
    await expect(handler({ input: { title: '' } })).rejects.toMatchObject({ name: 'Input.Invalid' });
  });

  it('worker long-polls the configured activity and reports Approval.NoTask', async () => {
    // Prepare
    const sfn = mockClient(SFNClient);
    sfn.on(GetActivityTaskCommand).resolves({});
    const { handler } = await tasks.worker();
    // Act / Assess
    await expect(handler({})).rejects.toMatchObject({ name: 'Approval.NoTask' });
    expect(sfn).toHaveReceivedCommandWith(GetActivityTaskCommand, { activityArn: WORKER_ENV.ACTIVITY_ARN });
    sfn.restore();
  });

  it('decide answers an HTTP API event with an HTML response', async () => {
    const { handler } = await tasks.decide();
    const event = {
      requestContext: { http: { method: 'GET' }, requestId: 'r' },
      pathParameters: { ref: 'not-a-ref' },
      headers: {},
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    const response = await handler(event);
    expect(response).toMatchObject({ statusCode: 404, headers: { 'content-type': 'text/html; charset=utf-8' } });
  });
});
