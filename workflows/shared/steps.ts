/**
 * The one way a workflow calls its Lambda tasks, and the one way it fails on a task's problem list.
 *
 * `LambdaStep`: the task timeout is the function's own timeout plus `LAMBDA_STEP_MARGIN` (a cold start and the
 * invocation round trip), so the two can never drift apart; every step retries Lambda's transient errors and
 * its throttling with the same back-off (`LAMBDA_SERVICE_ERRORS`). Workflow-specific retries (`addRetry`) come
 * after the standard one; ASL tries retriers in order, and their error names do not overlap.
 *
 * `failWithProblems`: a task that throws a problems-listing error (`Input.Invalid`, `Policy.Invalid`) ends the
 * execution with that error and, as cause, just the problem list (the Lambda error's `errorMessage`), not the
 * `{errorType, errorMessage, trace}` JSON Lambda reports.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Fail, JsonPath, Pass, TaskInput, Timeout, type TaskStateBase } from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ErrorName } from '../../tasks/shared/errors';

/** Added to the function's timeout: a cold start and the invocation round trip must fit in the task timeout. */
export const LAMBDA_STEP_MARGIN = Duration.seconds(60);

/**
 * Lambda's transient service errors, as AWS recommends retrying them in every state machine
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), plus
 * `Lambda.TooManyRequestsException`, which that page names as the error of a throttled invocation (concurrency or
 * invocation-rate limit reached): a fleet-sized run must wait and try again, not fail.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** The standard retry of every Lambda step: the interval, attempts and back-off of AWS's recommendation (page above). */
export const LAMBDA_RETRY = {
  errors: [...LAMBDA_SERVICE_ERRORS],
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
};

export interface LambdaStepProps {
  /** The task's input. @default the whole state */
  readonly payload?: Record<string, unknown>;
  /** Where the result goes. @default the result replaces the state */
  readonly resultPath?: string;
  /** A step description shown in the console. @default none */
  readonly comment?: string;
}

/** Invokes a task function and returns its result (payload only), with the timeout and retries above. */
export class LambdaStep extends LambdaInvoke {
  constructor(scope: Construct, id: string, fn: IFunction & { readonly timeout?: Duration }, props: LambdaStepProps = {}) {
    if (!fn.timeout) throw new Error(`LambdaStep ${id}: the function must set its timeout (the step's timeout is derived from it)`);
    super(scope, id, {
      lambdaFunction: fn,
      payload: props.payload && TaskInput.fromObject(props.payload),
      payloadResponseOnly: true,
      resultPath: props.resultPath,
      comment: props.comment,
      taskTimeout: Timeout.duration(fn.timeout.plus(LAMBDA_STEP_MARGIN)),
      retryOnServiceExceptions: false,
    });
    this.addRetry(LAMBDA_RETRY);
  }
}

export interface FailWithProblemsOptions {
  /** Id of the state that reads the problem list out of the Lambda error's cause. @default 'ReadProblems' */
  readonly readId?: string;
  /** Id of the Fail state. @default the error name without dots ('Input.Invalid' → 'InputInvalid') */
  readonly failId?: string;
}

/** Catches `error` on `step` and fails the execution with that error and the problem list as its cause. */
export function failWithProblems(step: TaskStateBase, error: ErrorName, options: FailWithProblemsOptions = {}): void {
  const scope = step.node.scope as Construct;
  const read = new Pass(scope, options.readId ?? 'ReadProblems', { parameters: { 'problems.$': 'States.StringToJson($.Cause)' } });
  const fail = new Fail(scope, options.failId ?? error.replace(/\./g, ''), { error, causePath: JsonPath.stringAt('$.problems.errorMessage') });
  step.addCatch(read.next(fail), { errors: [error] });
}
