/**
 * EC2's token buckets in the local runtime, on a manual clock, against "Request throttling for the Amazon EC2 API"
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): request buckets per action (their size by
 * category, uncategorized actions their own), resource buckets per instance for Run/Start/Stop/TerminateInstances.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type AwsRequest } from '../../local/kernel';
import type { DecodedRequest } from '../../local/wire/decode';
import { RateLimits } from '../../local/rules/rates';
import { resolveRules } from '../../local/rules/settings';

function ec2(operation: string, fields: Record<string, string> = {}, ids = 0): DecodedRequest {
  const form = new URLSearchParams({ Action: operation, ...fields });
  for (let i = 1; i <= ids; i++) form.append(`InstanceId.${i}`, `i-${i.toString(16).padStart(17, '0')}`);
  return { service: 'ec2', operation, protocol: 'ec2', params: Object.fromEntries(form), form };
}

function setup() {
  const clock = new ManualClock(Date.parse('2025-06-04T09:00:00Z'));
  const limits = new RateLimits(clock, resolveRules({}, {}));
  const call = (d: DecodedRequest) => limits.check({} as AwsRequest, d)?.name ?? 'ok';
  const times = (n: number, d: DecodedRequest) => Array.from({ length: n }, () => call(d));
  return { clock, call, times };
}

describe('EC2 request and resource token buckets', () => {
  it('StartInstances: 5 calls at once, then 2 a second; 1,000 instances at once, then 2 a second', async () => {
    const { clock, call, times } = setup();

    expect(times(6, ec2('StartInstances', {}, 1))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RequestLimitExceeded']);
    await clock.advance(3_000);
    expect(call(ec2('StartInstances', {}, 1000))).toBe('ok');
    expect(call(ec2('StartInstances', {}, 1))).toBe('RequestLimitExceeded'); // no instance token left
    await clock.advance(25_000);
    // 50 instance tokens: 51 instances are too many (and the refused call spent its request token).
    expect(call(ec2('StartInstances', {}, 51))).toBe('RequestLimitExceeded');
    expect(call(ec2('StartInstances', {}, 50))).toBe('ok');
    expect(call(ec2('StartInstances', {}, 1))).toBe('RequestLimitExceeded');
  });

  it('StopInstances: 1,000 instances at once, then 20 a second; a mutating action, 50 calls at once', async () => {
    const { clock, call, times } = setup();

    expect(times(20, ec2('StopInstances', {}, 50)).every((r) => r === 'ok')).toBe(true);
    expect(call(ec2('StopInstances', {}, 1))).toBe('RequestLimitExceeded');
    await clock.advance(2_500);
    expect(call(ec2('StopInstances', {}, 50))).toBe('ok');
  });

  it('mutating actions hold 50 calls and refill 5 a second, each action its own bucket', async () => {
    const { clock, call, times } = setup();

    expect(times(50, ec2('RebootInstances', {}, 1)).every((r) => r === 'ok')).toBe(true);
    expect(call(ec2('RebootInstances', {}, 1))).toBe('RequestLimitExceeded');
    expect(call(ec2('StopInstances', {}, 1))).toBe('ok');
    await clock.advance(1_000);
    expect(times(6, ec2('RebootInstances', {}, 1))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RequestLimitExceeded']);
  });

  it('uncategorized actions have their own sizes: RunInstances 5, TerminateInstances 100, CreateTags 100', () => {
    const { times } = setup();

    expect(times(6, ec2('RunInstances', { MaxCount: '1', MinCount: '1' })).at(-1)).toBe('RequestLimitExceeded');
    expect(times(100, ec2('TerminateInstances', {}, 1)).every((r) => r === 'ok')).toBe(true);
    expect(times(101, ec2('CreateTags')).at(-1)).toBe('RequestLimitExceeded');
  });

  it('DescribeInstances without a filter or pagination takes the smaller bucket of 50; with either, 100', () => {
    const { times } = setup();

    expect(times(51, ec2('DescribeInstances', {}, 3)).at(-1)).toBe('RequestLimitExceeded');
    expect(times(100, ec2('DescribeInstances', { 'Filter.1.Name': 'instance-id', 'Filter.1.Value.1': 'i-1' })).every((r) => r === 'ok')).toBe(true);
    expect(times(1, ec2('DescribeInstances', { MaxResults: '5' }))).toEqual(['RequestLimitExceeded']);
    // DescribeTags is not among the listed actions: unfiltered, it takes the non-mutating bucket of 100.
    expect(times(100, ec2('DescribeTags')).every((r) => r === 'ok')).toBe(true);
  });
});
