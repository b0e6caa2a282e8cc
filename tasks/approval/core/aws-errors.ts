/** Classification of AWS errors the approval tasks react to, by the error name the SDK throws. Throttling: tasks/shared/aws-errors.ts. */

/**
 * Step Functions answers these to a task token whose task is over: timed out, closed (execution stopped,
 * or a retry replaced the task), or a token it does not recognise. Retrying cannot help.
 */
export type TaskGone = 'TaskTimedOut' | 'TaskDoesNotExist' | 'InvalidToken';
const TASK_GONE: readonly string[] = ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'];

export function taskGone(error: unknown): TaskGone | undefined {
  return error instanceof Error && TASK_GONE.includes(error.name) ? (error.name as TaskGone) : undefined;
}
