/**
 * Fault injection for the local runtime: the failures real AWS produces now and then (throttling, capacity
 * shortages, mail bounces, crashing functions), switched on deliberately so workflows' retries and error
 * paths can be exercised. One shared `Faults` object is mutated in place by `applyFaultPatch`, and every
 * service reads it on each call, so a patch takes effect on the next request without a restart.
 */

export interface Faults {
  /** 0..1 share of EC2 API calls answered RequestLimitExceeded. */
  ec2ThrottleRate: number;
  /** Instance types whose StartInstances/RunInstances fail with InsufficientInstanceCapacity. */
  capacityErrorTypes: string[];
  /** 0..1 share of SES sends that fail. */
  sesFailRate: number;
  /** Lambda function names (or logical-id substrings) that crash when invoked. */
  crashLambdas: string[];
  /**
   * The next N activity tasks are taken by a worker ('crashed-worker') that dies at once: ActivityStarted is
   * recorded and the heartbeat clock runs, but nobody holds the token. Each task taken counts one down.
   */
  crashActivityWorkers: number;
  /** Every state write fails with ENOSPC, as on a full disk: requests that change state fail (503) until it is off. */
  diskFull: boolean;
}

/** A probability source; tests inject a fixed one so a rate of 0.5 is deterministic. */
export type Random = () => number;

export function defaultFaults(): Faults {
  return { ec2ThrottleRate: 0, capacityErrorTypes: [], sesFailRate: 0, crashLambdas: [], crashActivityWorkers: 0, diskFull: false };
}

type Check = (value: unknown) => string | undefined;

const rate: Check = (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? undefined : 'must be a number between 0 and 1');
const count: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'must be a non-negative integer');
const names: Check = (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0) ? undefined : 'must be an array of non-empty strings');

const CHECKS: Record<keyof Faults, Check> = {
  ec2ThrottleRate: rate,
  capacityErrorTypes: names,
  sesFailRate: rate,
  crashLambdas: names,
  crashActivityWorkers: count,
  diskFull: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
};

/**
 * Validates a partial patch (e.g. the body of `POST /_opsflow/faults`) and applies it to `current` in place,
 * all or nothing. Throws an Error listing every bad field, so a caller fixes them in one go.
 */
export function applyFaultPatch(current: Faults, patch: unknown): Faults {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new Error('fault patch must be a JSON object');
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const check = CHECKS[key as keyof Faults];
    const problem = check ? check(value) : `is not a known fault (known: ${Object.keys(CHECKS).join(', ')})`;
    if (problem) problems.push(`${key} ${problem}`);
  }
  if (problems.length > 0) throw new Error(`invalid fault patch: ${problems.join('; ')}`);
  const valid = patch as Partial<Faults>;
  // Copy arrays so later edits to the caller's patch object cannot change the shared faults behind our back.
  Object.assign(current, valid, {
    ...(valid.capacityErrorTypes && { capacityErrorTypes: [...valid.capacityErrorTypes] }),
    ...(valid.crashLambdas && { crashLambdas: [...valid.crashLambdas] }),
  });
  return current;
}
