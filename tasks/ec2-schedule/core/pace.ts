/**
 * Pacing Start/StopInstances to EC2's token buckets. EC2 throttles per account and region with token buckets
 * ("Request throttling for the Amazon EC2 API", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
 *
 * - a resource bucket, one token per instance: "Resource token bucket sizes and refill rates": StartInstances
 *   "1000" tokens, refill "2" per second; StopInstances "1000", "20". Starting 10,000 instances therefore takes
 *   at least (10,000 - 1,000) / 2 = 4,500 s, stopping them (10,000 - 1,000) / 20 = 450 s;
 * - a request bucket, one token per call: StartInstances is an uncategorized action ("StartInstances 5 2"),
 *   StopInstances a mutating action ("Mutating actions ... 50 5").
 *
 * A pass of a wave's Advance loop never sleeps: it sends calls until EC2 throttles or it has made as many calls as
 * the request bucket holds, then says how long the state machine should Wait (on Step Functions' clock) before the
 * next pass. Until the first throttle the bucket may still hold its burst, so the next pass comes as soon as the
 * request bucket has refilled; once EC2 has throttled the wave, a pass waits for the tokens its next calls need.
 * Tokens that accrue during a wait are not lost (the bucket keeps them up to its capacity, and a wait never lets it
 * fill), so the run moves at the bucket's refill rate, the floor AWS imposes, without losing tokens to idle time.
 * The numbers are AWS's defaults; an account whose limits AWS raised is paced by the same throttling, only sooner.
 */
import type { Ec2Action } from './types';

/** A kind's buckets for one action: instances (or resources) and calls. */
export interface Buckets {
  resource: Bucket;
  request: Bucket;
}

export interface Bucket {
  capacity: number;
  /** Tokens per second. */
  refill: number;
}

export const EC2_BUCKETS: Record<Ec2Action, Buckets> = {
  start: { resource: { capacity: 1000, refill: 2 }, request: { capacity: 5, refill: 2 } },
  stop: { resource: { capacity: 1000, refill: 20 }, request: { capacity: 50, refill: 5 } },
};

/** Seconds between verification checks once nothing is left to send: EC2 transitions take 30-60 s, rarely more. */
export const VERIFY_INTERVAL_SECONDS = 10;

/** A paced pass asks for at most this share of the resource bucket, so a wait never lets the bucket fill and waste refill. */
const BUCKET_SHARE = 0.9;

/** Why a pass stopped sending calls. */
export type PassEnd = 'done' | 'throttled' | 'budget' | 'transient';

/**
 * Calls one pass may make: what the request bucket holds, so a pass alone is never throttled for its call rate, and
 * at most MAX_CALLS_PER_PASS, so a pass of one-resource calls (RDS's bucket holds 300) stays short.
 */
export function callsPerPass(b: Buckets): number {
  return Math.min(b.request.capacity, MAX_CALLS_PER_PASS);
}
const MAX_CALLS_PER_PASS = 50;

/** Batches one pass can act on: one call each at least, and no more instances than the resource bucket holds. */
export function batchesPerPass(b: Buckets, batchSize: number): number {
  return Math.min(callsPerPass(b), Math.ceil(b.resource.capacity / batchSize));
}

/**
 * Seconds to wait before the next pass sends more calls.
 * @param remaining instances not yet sent to EC2
 * @param calls calls this pass made
 * @param errors transient errors in a row (for `transient`)
 */
export function actWaitSeconds(b: Buckets, end: PassEnd, paced: boolean, remaining: number, batchSize: number, calls: number, errors = 0): number {
  const { resource, request } = b;
  if (end === 'transient') return Math.min(60, 2 ** Math.max(0, errors));
  if (paced) {
    const wanted = Math.min(remaining, callsPerPass(b) * batchSize, Math.floor(resource.capacity * BUCKET_SHARE));
    return Math.max(1, Math.ceil(wanted / resource.refill));
  }
  // Not throttled yet: come back as soon as the request bucket has the calls of another pass.
  return Math.max(1, Math.ceil(Math.max(1, calls) / request.refill));
}

/**
 * Seconds before a pass can send capacity retries: `calls` calls carrying `instances` instances (retries go in the
 * call size their batch was split to, often one instance a call, so the request bucket can be what limits them).
 * Until EC2 has throttled the wave, only the request bucket is waited for; after, the resource bucket too.
 */
export function retryWaitSeconds(b: Buckets, paced: boolean, calls: number, instances: number): number {
  const { resource, request } = b;
  const forCalls = Math.max(1, calls) / request.refill;
  const forInstances = paced ? Math.min(instances, Math.floor(resource.capacity * BUCKET_SHARE)) / resource.refill : 0;
  return Math.max(1, Math.ceil(Math.max(forCalls, forInstances)));
}
