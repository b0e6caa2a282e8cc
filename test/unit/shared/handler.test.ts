/** The handler template: every log line of an invocation carries the Lambda context, cold start first. */
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lambdaHandler, logger } from '../../../tasks/shared/handler';

// Lambda sets this variable in an on-demand environment; the logger reads it when it is created, at import.
vi.hoisted(() => {
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
});

const context = (awsRequestId: string) =>
  ({
    awsRequestId,
    functionName: 'opsflow-fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:opsflow-fn',
    memoryLimitInMB: '256',
  }) as unknown as Context;

describe('lambdaHandler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs with the request id and cold start of each invocation, and returns what the core returns', async () => {
    // Prepare
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const handler = lambdaHandler(async (event: { n: number }) => {
      logger.info('working', { n: event.n });
      return event.n * 2;
    });
    // Act
    const results = [await handler({ n: 1 }, context('req-1')), await handler({ n: 2 }, context('req-2'))];
    // Assess
    expect(results).toEqual([2, 4]);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'working');
    expect(logged).toEqual([
      expect.objectContaining({ function_request_id: 'req-1', cold_start: true, function_name: 'opsflow-fn', service: 'opsflow', n: 1 }),
      expect.objectContaining({ function_request_id: 'req-2', cold_start: false, function_name: 'opsflow-fn', service: 'opsflow', n: 2 }),
    ]);
  });
});
