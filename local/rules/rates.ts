/**
 * AWS's documented API request rates, as token buckets on the runtime's VIRTUAL clock: a rate of N per
 * second is N per virtual second, so with OPSFLOW_TIME_SCALE=S the real-time rate is N×S. A workflow paced
 * as it would be on AWS (waits, retries with back-off) meets the same throttling at any time scale.
 */
import { AwsError, type AwsRequest, type Clock } from '../kernel';
import { formList, type DecodedRequest } from './decode';
import type { Rules } from './settings';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    /** Tokens added per (virtual) second. */
    readonly refillPerSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes `n` tokens if there are enough; false (and nothing taken) otherwise. */
  take(n = 1): boolean {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.refillPerSecond);
    this.last = t;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * EC2 request token buckets per API action, and resource token buckets for instance state changes:
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
 *   non-mutating (Describe*): 100 tokens, 20/s · unfiltered and unpaginated non-mutating: 50, 10/s
 *   mutating: 200, 5/s · resource-intensive: 50, 5/s
 *   resource tokens (one per instance): RunInstances 1000, 2/s · StartInstances 1000, 2/s ·
 *   StopInstances 1000, 20/s · TerminateInstances 1000, 20/s
 */
const EC2_RESOURCE_INTENSIVE = new Set(['AcceptVpcPeeringConnection', 'AuthorizeSecurityGroupIngress', 'CancelSpotFleetRequests', 'CreateKeyPair', 'RequestSpotInstances']);
const EC2_RESOURCE_BUCKETS: Record<string, [number, number]> = {
  RunInstances: [1000, 2],
  StartInstances: [1000, 2],
  StopInstances: [1000, 20],
  TerminateInstances: [1000, 20],
};

function ec2Bucket(operation: string, form: URLSearchParams | undefined): [string, number, number] {
  if (/^(Describe|Get|List)/.test(operation)) {
    const filtered = [...(form?.keys() ?? [])].some((k) => k.startsWith('Filter.') || k.startsWith('InstanceId.') || k === 'MaxResults');
    return filtered ? [`${operation}`, 100, 20] : [`${operation}:unfiltered`, 50, 10];
  }
  if (EC2_RESOURCE_INTENSIVE.has(operation)) return [operation, 50, 5];
  return [operation, 200, 5];
}

/** "LookupEvents: 2 transactions per second (TPS) per account per Region." https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html */
export const CLOUDTRAIL_LOOKUP_PER_SECOND = 2;

export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    private readonly rules: Rules,
  ) {}

  private bucket(key: string, capacity: number, refill: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(capacity, refill, () => this.clock.nowMs())));
    return b;
  }

  /** The gate's check: the service's throttling error when the call exceeds its rate. */
  check = (_req: AwsRequest, d: DecodedRequest): AwsError | undefined => {
    if (!this.rules.rates) return undefined;
    if (d.service === 'ec2') {
      const [key, capacity, refill] = ec2Bucket(d.operation, d.form);
      if (!this.bucket(`ec2:${key}`, capacity, refill).take()) return new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      const resource = EC2_RESOURCE_BUCKETS[d.operation];
      if (resource) {
        const n = d.operation === 'RunInstances' ? Number(d.params.MaxCount ?? 1) : formList(d.form, 'InstanceId').length;
        if (!this.bucket(`ec2:resource:${d.operation}`, resource[0], resource[1]).take(Math.max(1, n))) return new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      return undefined;
    }
    if (d.service === 'cloudtrail' && d.operation === 'LookupEvents') {
      if (!this.bucket('cloudtrail:LookupEvents', CLOUDTRAIL_LOOKUP_PER_SECOND, CLOUDTRAIL_LOOKUP_PER_SECOND).take()) return new AwsError('ThrottlingException', 'Rate exceeded', 400);
      return undefined;
    }
    if (d.service === 'ses' && d.operation === 'SendEmail') {
      // "The maximum number of emails that Amazon SES can accept from your account each second"; each recipient counts.
      // https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html
      const dest = (d.params.Destination ?? {}) as Record<string, string[] | undefined>;
      const recipients = Math.max(1, (dest.ToAddresses?.length ?? 0) + (dest.CcAddresses?.length ?? 0) + (dest.BccAddresses?.length ?? 0));
      const rate = this.rules.sesPerSecond;
      if (!this.bucket('ses:send', Math.max(rate, recipients), rate).take(recipients)) return new AwsError('TooManyRequestsException', 'Maximum sending rate exceeded.', 429);
    }
    return undefined;
  };
}
