/**
 * AWS's documented API request rates, as token buckets on the runtime's VIRTUAL clock: a rate of N per
 * second is N per virtual second, so with OPSFLOW_TIME_SCALE=S the real-time rate is N×S. A workflow paced
 * as it would be on AWS (waits, retries with back-off) meets the same throttling at any time scale.
 */
import { AwsError, HUB, type AwsRequest, type Clock } from '../kernel';
import { formList, type DecodedRequest } from '../wire/decode';
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
 * EC2's token buckets, per account and region, from "Request throttling for the Amazon EC2 API"
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). Each call takes one token from its
 * action's own request bucket ("each API is evaluated individually"; "Limits are applied to individual API actions,
 * not API action categories": the category gives the bucket's size), and
 * Run/Start/Stop/TerminateInstances also one token per instance from a resource bucket ("a separate resource token
 * bucket that depletes based on the number of resources that are impacted by the request"); either bucket being
 * short refuses the call with RequestLimitExceeded.
 *
 * Request buckets ("Request token bucket sizes and refill rates"), capacity and refill per second:
 *   "Non-mutating actions" (Describe*, List*, Search*, Get*): 100, 20;
 *   "Unfiltered and unpaginated non-mutating actions" (the listed Describe* actions "when requested without
 *     specifying either pagination or a filter"): 50, 10;
 *   "Mutating actions" (every other action): 50, 5;
 *   "Resource-intensive actions" (the listed ones): 50, 5;
 *   "Uncategorized actions", each its own: RunInstances 5, 2 · StartInstances 5, 2 · TerminateInstances 100, 5 ·
 *     CreateTags 100, 10 · DeleteTags 100, 10 (the ones the local EC2 serves).
 * Resource buckets ("Resource token bucket sizes and refill rates"): RunInstances 1000, 2 · TerminateInstances
 *   1000, 20 · StartInstances 1000, 2 · StopInstances 1000, 20.
 */
type Rate = readonly [capacity: number, refillPerSecond: number];
const EC2_NON_MUTATING: Rate = [100, 20];
const EC2_UNFILTERED: Rate = [50, 10];
const EC2_MUTATING: Rate = [50, 5];
const EC2_RESOURCE_INTENSIVE: Rate = [50, 5];
const EC2_UNFILTERED_ACTIONS = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeNetworkInterfaces',
  'DescribeSecurityGroups',
  'DescribeSnapshots',
  'DescribeSpotInstanceRequests',
  'DescribeVolumes',
]);
const EC2_RESOURCE_INTENSIVE_ACTIONS = new Set([
  'AcceptVpcPeeringConnection',
  'AuthorizeSecurityGroupIngress',
  'CancelSpotInstanceRequests',
  'CreateKeyPair',
  'CreateVpcPeeringConnection',
  'DeleteVpcPeeringConnection',
  'RejectVpcPeeringConnection',
  'RevokeSecurityGroupIngress',
  'RequestSpotInstances',
]);
const EC2_UNCATEGORIZED: Record<string, Rate> = {
  RunInstances: [5, 2],
  StartInstances: [5, 2],
  TerminateInstances: [100, 5],
  CreateTags: [100, 10],
  DeleteTags: [100, 10],
};
export const EC2_RESOURCE_BUCKETS: Record<string, Rate> = {
  RunInstances: [1000, 2],
  TerminateInstances: [1000, 20],
  StartInstances: [1000, 2],
  StopInstances: [1000, 20],
};

/** The request bucket of one EC2 call: its key (one per action) and rate. */
export function ec2RequestBucket(operation: string, form: URLSearchParams | undefined): [string, Rate] {
  if (EC2_UNCATEGORIZED[operation]) return [operation, EC2_UNCATEGORIZED[operation]];
  if (EC2_RESOURCE_INTENSIVE_ACTIONS.has(operation)) return [operation, EC2_RESOURCE_INTENSIVE];
  if (/^(Describe|Get|List|Search)/.test(operation)) {
    // Pagination is MaxResults/NextToken, a filter is Filter.N. Instance ids are neither: AWS does not say which
    // bucket a call naming ids takes, so the stricter, smaller one (README, unconfirmed behaviours).
    const keys = [...(form?.keys() ?? [])];
    const narrowed = keys.some((k) => k.startsWith('Filter.') || k === 'MaxResults' || k === 'NextToken');
    if (EC2_UNFILTERED_ACTIONS.has(operation) && !narrowed) return [`${operation}:unfiltered`, EC2_UNFILTERED];
    return [operation, EC2_NON_MUTATING];
  }
  return [operation, EC2_MUTATING];
}

/**
 * "By default, you can make up to 300 requests in a burst and a sustained 12 requests per second", per account and
 * Region, for "any Amazon RDS API operations" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html):
 * one bucket for every RDS action (the page does not say that actions have buckets of their own: the stricter reading,
 * README, unconfirmed behaviours). The page names the error ThrottlingException, "Rate exceeded"; on the wire the Query
 * API's code is `Throttling` (recorded: https://github.com/aws/aws-cli/issues/8604, "An error occurred (Throttling) when
 * calling the DescribeDBInstances operation ... Rate exceeded"), which the SDKs retry as throttling.
 */
export const RDS_RATE = { burst: 300, perSecond: 12 };

/**
 * ECS's request buckets, per account and Region, shared by the actions of one category ("All API actions in a category
 * share the same token bucket"), capacity and refill per second, from "Request throttling for the Amazon ECS API"
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): Cluster read actions
 * (DescribeClusters, ListClusters) 50, 20 · Service read actions (DescribeServices, ListServices) 100, 20 · Service
 * modify actions (CreateService, DeleteService, UpdateService) 50, 5 · Tag read actions (ListTagsForResource) 50, 20 ·
 * Tag modify actions (TagResource, UntagResource) 20, 10. A throttled call is "ThrottlingException ... Rate exceeded",
 * status 400, as that page shows it. Amazon EC2 Auto Scaling publishes no numbers ("all Amazon EC2 Auto Scaling API
 * calls have a single, shared API limit", https://repost.aws/knowledge-center/autoscaling-api-calls-throttled), so its
 * calls are not throttled here (README, unconfirmed behaviours).
 */
export const ECS_BUCKETS: Record<string, readonly [category: string, capacity: number, refillPerSecond: number]> = {
  DescribeClusters: ['cluster-read', 50, 20],
  ListClusters: ['cluster-read', 50, 20],
  DescribeServices: ['service-read', 100, 20],
  ListServices: ['service-read', 100, 20],
  CreateService: ['service-modify', 50, 5],
  DeleteService: ['service-modify', 50, 5],
  UpdateService: ['service-modify', 50, 5],
  ListTagsForResource: ['tag-read', 50, 20],
  TagResource: ['tag-modify', 20, 10],
  UntagResource: ['tag-modify', 20, 10],
};

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
  check = (req: AwsRequest, d: DecodedRequest): AwsError | undefined => {
    if (!this.rules.rates) return undefined;
    // Every rate here is per account and Region: a member partition of a simulated organization has buckets of its own.
    const where =
      req.partition && (req.partition.account !== HUB.account || req.partition.region !== HUB.region)
        ? `${req.partition.account}/${req.partition.region}/`
        : '';
    if (d.service === 'ec2') {
      // A call refused by its resource bucket has still taken its request token: AWS does not say, so the
      // stricter reading (README, unconfirmed behaviours).
      const [key, [capacity, refill]] = ec2RequestBucket(d.operation, d.form);
      if (!this.bucket(`${where}ec2:${key}`, capacity, refill).take()) return new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      const resource = EC2_RESOURCE_BUCKETS[d.operation];
      if (resource) {
        const n = d.operation === 'RunInstances' ? Number(d.params.MaxCount ?? 1) : formList(d.form, 'InstanceId').length;
        if (!this.bucket(`${where}ec2:resource:${d.operation}`, resource[0], resource[1]).take(Math.max(1, n)))
          return new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      return undefined;
    }
    if (d.service === 'rds') {
      if (!this.bucket(`${where}rds`, RDS_RATE.burst, RDS_RATE.perSecond).take()) return new AwsError('Throttling', 'Rate exceeded', 400);
      return undefined;
    }
    if (d.service === 'ecs' && Object.hasOwn(ECS_BUCKETS, d.operation)) {
      const [category, capacity, refill] = ECS_BUCKETS[d.operation];
      if (!this.bucket(`${where}ecs:${category}`, capacity, refill).take()) return new AwsError('ThrottlingException', 'Rate exceeded', 400);
      return undefined;
    }
    if (d.service === 'cloudtrail' && d.operation === 'LookupEvents') {
      if (!this.bucket(`${where}cloudtrail:LookupEvents`, CLOUDTRAIL_LOOKUP_PER_SECOND, CLOUDTRAIL_LOOKUP_PER_SECOND).take())
        return new AwsError('ThrottlingException', 'Rate exceeded', 400);
      return undefined;
    }
    if (d.service === 'ses' && d.operation === 'SendEmail') {
      // "The maximum number of emails that Amazon SES can accept from your account each second"; each recipient counts.
      // https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html
      const dest = (d.params.Destination ?? {}) as Record<string, string[] | undefined>;
      const recipients = Math.max(1, (dest.ToAddresses?.length ?? 0) + (dest.CcAddresses?.length ?? 0) + (dest.BccAddresses?.length ?? 0));
      const rate = this.rules.sesPerSecond;
      if (!this.bucket(`${where}ses:send`, Math.max(rate, recipients), rate).take(recipients))
        return new AwsError('TooManyRequestsException', 'Maximum sending rate exceeded.', 429);
    }
    return undefined;
  };
}
