/** Classification of AWS errors the approval tasks react to, by the error name the SDK throws. Throttling: tasks/shared/aws-errors.ts. */

/**
 * Step Functions answers these to a task token whose task is over: timed out, closed (execution stopped,
 * or a retry replaced the task), or a token it does not recognise. Retrying cannot help. The errors of
 * SendTaskSuccess (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html),
 * SendTaskFailure (.../API_SendTaskFailure.html) and SendTaskHeartbeat (.../API_SendTaskHeartbeat.html):
 * InvalidToken "The provided token is not valid", TaskDoesNotExist, and TaskTimedOut "The task token has either
 * expired or the task associated with the token has already been closed". Any other error is retried.
 */
export type TaskGone = 'TaskTimedOut' | 'TaskDoesNotExist' | 'InvalidToken';
const TASK_GONE: readonly string[] = ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'];

export function taskGone(error: unknown): TaskGone | undefined {
  return error instanceof Error && TASK_GONE.includes(error.name) ? (error.name as TaskGone) : undefined;
}
