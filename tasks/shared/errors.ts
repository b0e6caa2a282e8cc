/**
 * Named errors: the contract between the Lambda tasks and the state machines. The Node.js Lambda runtime
 * reports `error.name` as the Step Functions error name, so the workflows' `addRetry`/`addCatch` import
 * these constants instead of repeating the strings.
 */
export const ErrorNames = {
  /** The execution input (or a task input built from it) is malformed; the cause lists every problem. */
  InputInvalid: 'Input.Invalid',
  /** An approver rejected the request (sent with SendTaskFailure). */
  ApprovalRejected: 'Approval.Rejected',
  /** Nobody decided before the deadline. */
  ApprovalTimedOut: 'Approval.TimedOut',
  /**
   * Every delivery of the approval's activity task went to a worker that died (no heartbeat within the heartbeat
   * timeout, three times in a row): nobody could be asked. Not Approval.TimedOut: the deadline had not passed.
   */
  ApprovalWorkerLost: 'Approval.WorkerLost',
  /** The approval worker found no activity task yet; the state machine retries the worker. */
  ApprovalNoTask: 'Approval.NoTask',
  /** EC2 answered RequestLimitExceeded (after the SDK's own retries); the workflow retries with back-off. */
  Ec2Throttled: 'Ec2.Throttled',
  /** Ec2Schedule: some instances did not reach the target state (the report lists them and why). */
  Ec2PartialFailure: 'Ec2.PartialFailure',
  /** TagPolicy: the tag policy (file or execution input) breaks the schema or asks for something EC2 would refuse. */
  PolicyInvalid: 'Policy.Invalid',
  /** TagPolicy: instances or their tags could not be read; never treated as "untagged". Retried, then fails the run. */
  TagPolicyReadFailed: 'TagPolicy.ReadFailed',
  /** CloudTrail answered ThrottlingException (after the SDK's own retries); the workflow retries with back-off. */
  CloudTrailThrottled: 'CloudTrail.Throttled',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Lists every problem at once, so the cause tells the caller all there is to fix, not just the first thing. */
abstract class ProblemsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export class InputInvalidError extends ProblemsError {
  name = ErrorNames.InputInvalid;
}

export class ApprovalNoTaskError extends Error {
  name = ErrorNames.ApprovalNoTask;
  constructor(activityArn: string) {
    super(`no task is waiting on activity ${activityArn}`);
  }
}

export class Ec2ThrottledError extends Error {
  name = ErrorNames.Ec2Throttled;
}

export class PolicyInvalidError extends ProblemsError {
  name = ErrorNames.PolicyInvalid;
}

export class TagPolicyReadFailedError extends Error {
  name = ErrorNames.TagPolicyReadFailed;
}

export class CloudTrailThrottledError extends Error {
  name = ErrorNames.CloudTrailThrottled;
}
