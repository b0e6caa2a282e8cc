/**
 * The values a state reads at run time from a path, a variable or an expression, checked as AWS checks them: a
 * Wait's SecondsPath/TimestampPath, a Map's MaxConcurrencyPath, and which context object fields a state sees.
 * Causes are AWS's own words where a recorded execution shows them (local/engine/DIVERGENCES.md lists each source and
 * what is still unconfirmed).
 */
import { isTimestamp } from './choice';
import { runtimeError } from './errors';
import { evaluatePath, type PathScope } from './jsonpath';

/** A value as AWS prints it after `path ==` in a cause: strings bare, anything else as JSON. */
function bare(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A Wait state's SecondsPath: "You must specify an integer value for this field"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html). A value that is not a whole number, a
 * negative one and a path that finds nothing fail the execution with States.Runtime; the wording is that of
 * LocalStack's AWS-validated test_base_wait_seconds_path (-1, -1.5, 0, 1, 1.5; localstack/localstack
 * tests/aws/services/stepfunctions/v2/base/test_wait.py), e.g. "The SecondsPath parameter references a negative
 * value: $.s == -1".
 */
export function secondsFromPath(path: string, scope: PathScope): number {
  const found = evaluatePath(path, scope);
  if (!found.found) throw runtimeError(`The SecondsPath parameter does not reference an input value: ${path}`);
  const value = found.value;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw runtimeError(`The SecondsPath parameter cannot be parsed as a long value: ${path} == ${bare(value)}`);
  }
  if (value < 0) throw runtimeError(`The SecondsPath parameter references a negative value: ${path} == ${bare(value)}`);
  return value;
}

/**
 * A Wait state's TimestampPath. "Timestamps must conform to the RFC3339 profile of ISO 8601, with the further
 * restrictions that an uppercase T must separate the date and time portions, and an uppercase Z must denote that a
 * numeric time zone offset is not present" (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html).
 * Recorded on AWS for `2023-12-06T08:00:24` (no zone): States.Runtime, "The TimestampPath parameter does not reference
 * a valid ISO-8601 extended offset date-time format string: $.start_at == 2023-12-06T08:00:24", while `Z`, `.00Z`,
 * `.000000Z` and `.0000000Z` wait (localstack/localstack tests/aws/services/stepfunctions/v2/base/test_wait.snapshot.json).
 */
export function timestampFromPath(path: string, scope: PathScope): string {
  const found = evaluatePath(path, scope);
  if (!found.found) throw runtimeError(`The TimestampPath parameter does not reference an input value: ${path}`);
  if (!isTimestamp(found.value)) {
    throw runtimeError(
      `The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: ${path} == ${bare(found.value)}`,
    );
  }
  return found.value;
}

/**
 * A Map's MaxConcurrencyPath value. A whole number, or a string holding one: a Pass state's `Assign` of
 * `"maxConcurrency": "1"` read by `"MaxConcurrencyPath": "$maxConcurrency"` ran on AWS (localstack/localstack
 * tests/aws/services/stepfunctions/v2/assign/test_assign_reference_variables.snapshot.json,
 * MAP_STATE_REFERENCE_IN_MAX_CONCURRENCY_PATH; template templates/assign/statemachines/map_state_reference_in_max_concurrency_path.json5).
 * Anything else fails with States.Runtime (the engine's wording; AWS's is not recorded).
 */
export function maxConcurrencyFromPath(path: string, scope: PathScope): number {
  const found = evaluatePath(path, scope);
  if (!found.found) throw runtimeError(`The MaxConcurrencyPath parameter does not reference an input value: ${path}`);
  const raw = found.value;
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw runtimeError(`The MaxConcurrencyPath parameter does not reference a non-negative integer: ${path} == ${bare(raw)}`);
  }
  return value;
}

/**
 * The context object's `State` entry. `RetryCount` belongs to the states that can retry (Task, Parallel, Map: the
 * ones with a Retry field); a Pass state's `$$` and `$states.context` were recorded on AWS as
 * `"State": {"Name": ..., "EnteredTime": ...}` only (localstack/localstack
 * tests/aws/services/stepfunctions/v2/context_object/test_context_object.snapshot.json, test_input_path[$$], and
 * outputdecl/test_output.snapshot.json, BASE_EXPR). "During an execution, the Context object is populated with
 * relevant data" (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
 */
export function stateEntry(type: string, name: string, enteredTime: string, retryCount: number): Record<string, unknown> {
  const retries = type === 'Task' || type === 'Parallel' || type === 'Map';
  return retries ? { EnteredTime: enteredTime, Name: name, RetryCount: retryCount } : { EnteredTime: enteredTime, Name: name };
}
