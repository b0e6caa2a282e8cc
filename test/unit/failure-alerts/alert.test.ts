import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { consoleOrigin, executionConsoleUrl } from '../../../tasks/shared/console-link';
import { alertNotice, formatCause, MAX_CAUSE_CHARS, notify, renderAlert, subject, type ExecutionStatusChange } from '../../../tasks/failure-alerts/core/alert';
import type { Log } from '../../../tasks/shared/logger';
import type { RenderedNotice } from '../../../tasks/shared/chat-notice';
import { CHAT_POST_TIMEOUT_MS, type PostNotice } from '../../../tasks/shared/chat-notify';

const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:Opsflow-Approval:deploy-42';
const AWS_CONSOLE = 'https://eu-west-1.console.aws.amazon.com';

function event(status: ExecutionStatusChange['detail']['status'], overrides: Partial<ExecutionStatusChange['detail']> = {}): ExecutionStatusChange {
  return {
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    time: '2026-03-02T10:15:30Z',
    region: 'eu-west-1',
    detail: {
      executionArn: ARN,
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Opsflow-Approval',
      name: 'deploy-42',
      status,
      startDate: Date.parse('2026-03-02T09:13:00Z'),
      stopDate: Date.parse('2026-03-02T10:15:30Z'),
      ...overrides,
    },
  };
}

describe('renderAlert', () => {
  it('names the workflow, the outcome and the error in the subject; the body has the cause, when, and the console link', () => {
    const alert = renderAlert(
      event('FAILED'),
      { error: 'Input.Invalid', cause: 'approvers: must not be empty; title: is required' },
      { consoleOrigin: AWS_CONSOLE },
    );

    expect(alert).toEqual({
      publish: true,
      subject: 'Opsflow-Approval failed: Input.Invalid',
      message: [
        'Execution deploy-42 of Opsflow-Approval failed at 2026-03-02T10:15:30.000Z (started 2026-03-02T09:13:00.000Z, ran 1 h 2 min).',
        '',
        'Error: Input.Invalid',
        'Cause:',
        '  approvers: must not be empty; title: is required',
        '',
        `Console: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`,
        `Execution: ${ARN}`,
      ].join('\n'),
    });
  });

  it.each([
    ['TIMED_OUT', { error: 'States.Timeout' }, 'Opsflow-Approval timed out: States.Timeout'],
    ['ABORTED', { error: 'Operator.Stop', cause: 'changed my mind' }, 'Opsflow-Approval aborted: Operator.Stop'],
    ['ABORTED', {}, 'Opsflow-Approval aborted'],
  ] as const)('says %s in words (%j)', (status, ending, expected) => {
    const alert = renderAlert(event(status), ending, { consoleOrigin: AWS_CONSOLE });
    expect(alert).toMatchObject({ publish: true, subject: expected });
    if (!('cause' in ending)) expect(alert.publish && alert.message).toContain('Cause: (none given)');
  });

  it('does not publish a rejected approval: a rejection is a decision, not a failure', () => {
    const alert = renderAlert(
      event('FAILED'),
      { error: 'Approval.Rejected', cause: '{"approver":"lead@example.com","comment":"not now","decidedAt":"2026-03-02T10:15:29Z"}' },
      { consoleOrigin: AWS_CONSOLE },
    );
    expect(alert).toEqual({ publish: false, reason: 'Approval.Rejected is a decision, not a failure' });
  });

  it('publishes an approval nobody decided (Approval.TimedOut): that is a failure', () => {
    expect(renderAlert(event('FAILED'), { error: 'Approval.TimedOut' }, { consoleOrigin: AWS_CONSOLE })).toMatchObject({
      publish: true,
      subject: 'Opsflow-Approval failed: Approval.TimedOut',
    });
  });

  it('publishes nothing for a status that is not a failure', () => {
    expect(renderAlert(event('SUCCEEDED'), {}, { consoleOrigin: AWS_CONSOLE })).toEqual({ publish: false, reason: 'status SUCCEEDED is not a failure' });
  });
});

describe('subject', () => {
  it('is ASCII, on one line and under 100 characters, whatever the error', () => {
    const s = subject('Opsflow-TagPolicy', 'failed', `Custom.Error\n${'ü'.repeat(200)}`);
    expect(s.length).toBeLessThan(100);
    expect(s).toMatch(/^[\x20-\x7e]+$/);
    expect(s.startsWith('Opsflow-TagPolicy failed: Custom.Error ???')).toBe(true);
    expect(s.endsWith('...')).toBe(true);
  });

  it('keeps the workflow and outcome when even they are long', () => {
    const s = subject('W'.repeat(80), 'timed out', 'States.Timeout');
    expect(s.length).toBeLessThan(100);
    expect(s).toBe(`${'W'.repeat(70)}... timed out: States.Timeout`);
    expect(subject('W'.repeat(80), 'failed', 'E'.repeat(200))).toBe(`${'W'.repeat(42)}... failed: ${'E'.repeat(42)}...`);
  });
});

describe('formatCause', () => {
  it('shows a Lambda error as its type, message and the first lines of its trace', () => {
    const trace = ['Error: boom', ...Array.from({ length: 8 }, (_, i) => `    at f${i} (/var/task/index.js:${i}:1)`)];
    const text = formatCause(JSON.stringify({ errorType: 'Error', errorMessage: 'boom', trace }));
    expect(text.split('\n')).toEqual(['Error: boom', ...trace.slice(1, 6), '... 3 more trace lines']);
  });

  it('pretty-prints other JSON', () => {
    expect(formatCause('{"approver":"lead@example.com","comment":"no"}')).toBe('{\n  "approver": "lead@example.com",\n  "comment": "no"\n}');
  });

  it('leaves text as it is, and cuts what is too long to read', () => {
    expect(formatCause('The execution reached the maximum number of history events (25000).')).toBe(
      'The execution reached the maximum number of history events (25000).',
    );
    const long = formatCause('x'.repeat(MAX_CAUSE_CHARS + 10));
    expect(long).toBe(`${'x'.repeat(MAX_CAUSE_CHARS)}\n... cut at ${MAX_CAUSE_CHARS} characters; the console shows the whole cause`);
  });
});

describe('console links', () => {
  it('point at the AWS console, or at the endpoint the function is given when that is not AWS', () => {
    expect(consoleOrigin('eu-west-1')).toBe(AWS_CONSOLE);
    expect(consoleOrigin('eu-west-1', 'https://states.eu-west-1.amazonaws.com')).toBe(AWS_CONSOLE);
    expect(consoleOrigin('us-east-1', 'http://127.0.0.1:4566/')).toBe('http://127.0.0.1:4566');
    expect(executionConsoleUrl('http://127.0.0.1:4566', 'us-east-1', ARN)).toBe(
      `http://127.0.0.1:4566/states/home?region=us-east-1#/v2/executions/details/${ARN}`,
    );
  });

  describe('the handler', () => {
    // It loads its environment when imported (cold start): each test imports it afresh.
    const load = () => vi.importActual<typeof import('../../../tasks/failure-alerts/notify')>('../../../tasks/failure-alerts/notify');
    beforeEach(() => {
      vi.resetModules();
      vi.stubEnv('AWS_REGION', 'eu-west-1');
      vi.stubEnv('TOPIC_ARN', 'arn:aws:sns:eu-west-1:123456789012:failures');
      vi.stubEnv('AWS_ENDPOINT_URL', undefined);
    });
    afterEach(() => vi.unstubAllEnvs());

    it('derives the console once, from AWS_ENDPOINT_URL when the function is pointed at a local endpoint', async () => {
      expect((await load()).loadEnv()).toEqual({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:failures', consoleOrigin: AWS_CONSOLE });
      vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:4566');
      expect((await load()).loadEnv().consoleOrigin).toBe('http://127.0.0.1:4566');
    });

    it('fails at cold start naming a missing variable', async () => {
      vi.stubEnv('TOPIC_ARN', undefined);
      await expect(load()).rejects.toThrow('environment variable TOPIC_ARN is required');
    });
  });
});

describe('notify', () => {
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const logged: Array<[string, Record<string, unknown>]> = [];
  const log: Log = { info: (m, a) => void logged.push([m, a]), warn: () => {}, error: () => {} };
  const deps = {
    sfn: new SFNClient({ region: 'eu-west-1' }),
    sns: new SNSClient({ region: 'eu-west-1' }),
    topicArn: 'arn:aws:sns:eu-west-1:123456789012:failures',
    consoleOrigin: AWS_CONSOLE,
    log,
  };

  beforeEach(() => {
    sfn.reset();
    sns.reset();
    logged.length = 0;
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('reads the error and cause from the last history event and publishes with a subject', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 9,
          type: 'ExecutionTimedOut',
          timestamp: new Date(),
          executionTimedOutEventDetails: { error: 'States.Timeout', cause: 'The state machine timed out.' },
        },
      ],
    });

    await notify(event('TIMED_OUT'), deps);

    expect(sfn).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: ARN, reverseOrder: true, maxResults: 1 });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: deps.topicArn,
      Subject: 'Opsflow-Approval timed out: States.Timeout',
      Message: expect.stringContaining('  The state machine timed out.'),
    });
  });

  it('publishes nothing for a rejected approval, and logs why', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [{ id: 12, type: 'ExecutionFailed', timestamp: new Date(), executionFailedEventDetails: { error: 'Approval.Rejected', cause: '{}' } }],
    });

    const alert = await notify(event('FAILED'), deps);

    expect(alert.publish).toBe(false);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(logged).toEqual([['no failure alert', { executionArn: ARN, status: 'FAILED', reason: 'Approval.Rejected is a decision, not a failure' }]]);
  });

  it('fails (so that Lambda retries the event) when SNS refuses the message', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [{ id: 3, type: 'ExecutionAborted', timestamp: new Date(), executionAbortedEventDetails: {} }] });
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('User: ... is not authorized to perform: kms:GenerateDataKey'), { name: 'KMSAccessDeniedException' }));

    await expect(notify(event('ABORTED'), deps)).rejects.toThrow(/kms:GenerateDataKey/);
  });

  describe('to chat (alerts.chat)', () => {
    const warned: Array<[string, Record<string, unknown>]> = [];
    const failed = () =>
      sfn.on(GetExecutionHistoryCommand).resolves({
        events: [{ id: 7, type: 'ExecutionFailed', timestamp: new Date(), executionFailedEventDetails: { error: 'Lambda.Unknown', cause: 'boom' } }],
      });
    const chatDeps = (post: PostNotice) => ({
      ...deps,
      log: { ...log, warn: (m: string, a: Record<string, unknown>) => void warned.push([m, a]) },
      chat: { targets: [{ platform: 'slack' as const, channel: 'C0123ABCDE' }], post },
    });
    beforeEach(() => {
      warned.length = 0;
    });

    it('posts the alert after publishing it, rendered for the target platform', async () => {
      failed();
      const posted: RenderedNotice[] = [];
      const alert = await notify(
        event('FAILED'),
        chatDeps(async (_t, m) => {
          expect(sns).toHaveReceivedCommand(PublishCommand); // the email went first
          posted.push(m);
        }),
      );
      expect(alert).toMatchObject({ publish: true, chat: [{ delivered: true, platform: 'slack' }] });
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ platform: 'slack', body: { text: '🔴 Opsflow-Approval failed' } });
    });

    it('keeps the email when the chat refuses, and logs the reason', async () => {
      failed();
      const alert = await notify(
        event('FAILED'),
        chatDeps(async () => {
          throw Object.assign(new Error('channel_not_found'), { name: 'SlackApiError' });
        }),
      );
      expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
      expect(alert).toMatchObject({ publish: true, chat: [{ delivered: false, reason: 'SlackApiError: channel_not_found' }] });
      expect(warned).toEqual([
        [
          'chat notification not delivered (the email/SNS message was sent)',
          { executionArn: ARN, platform: 'slack', channel: 'C0123ABCDE', reason: 'SlackApiError: channel_not_found' },
        ],
      ]);
    });

    it('gives a chat that does not answer up after a bounded wait', async () => {
      failed();
      vi.useFakeTimers();
      try {
        const pending = notify(
          event('FAILED'),
          chatDeps(() => new Promise(() => {})),
        );
        await vi.advanceTimersByTimeAsync(CHAT_POST_TIMEOUT_MS);
        expect(await pending).toMatchObject({ chat: [{ delivered: false, reason: 'ChatPostTimeout: no answer within 10 s' }] });
      } finally {
        vi.useRealTimers();
      }
    });
  });
});

describe('alertNotice', () => {
  it('is the headline, the error, the execution, how long it ran, the first lines of the cause and the console link', () => {
    const cause = JSON.stringify({
      errorType: 'TypeError',
      errorMessage: '<!here> x is undefined',
      trace: ['TypeError: x', '    at a (f.js:1)', '    at b (f.js:2)'],
    });
    const n = alertNotice(event('FAILED'), { error: 'TypeError', cause }, { consoleOrigin: AWS_CONSOLE });
    expect(n).toEqual({
      tone: 'failure',
      title: 'Opsflow-Approval failed',
      facts: [
        { label: 'Error', value: [{ literal: 'TypeError' }] },
        { label: 'Execution', value: [{ literal: 'deploy-42' }] },
        { label: 'Ran', value: ['1 h 2 min'] },
      ],
      lines: [[{ literal: 'TypeError: <!here> x is undefined' }], [{ literal: '    at a (f.js:1)' }]],
      more: 'the whole cause is in the console',
      link: { url: executionConsoleUrl(AWS_CONSOLE, 'eu-west-1', ARN), label: 'Open the execution' },
    });
  });
});
