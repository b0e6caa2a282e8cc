/**
 * TestState (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html and
 * https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html): runs one state with a
 * given input and answers its output, next state and status (SUCCEEDED, FAILED, RETRIABLE when a retrier
 * would run it again, CAUGHT_ERROR when a catcher takes over); with inspectionLevel DEBUG or TRACE it also
 * answers the data after each processing step. Task work runs for real through the dispatcher, unless a
 * `mock` stands for it; activities, .sync, .waitForTaskToken, Map and Parallel need a mock, as on AWS.
 */
import { AwsError, type Clock } from '../kernel';
import type { Dispatcher } from './dispatch';
import { ABORTED, asStatesError, errorMatches, type StatesError } from './errors';
import { Interpreter } from './interpreter';
import { Variables } from './variables';
import { mockResultProblems } from './mock-validation';
import { diagnose, invalidDefinitionMessage } from './preprocess';

type Obj = Record<string, any>;

const INSPECTION_KEYS = [
  'input',
  'afterArguments',
  'afterInputPath',
  'afterParameters',
  'result',
  'afterResultSelector',
  'afterResultPath',
  'afterItemsPath',
  'variables',
];

export async function testState(b: Obj, deps: { clock: Clock; dispatcher: Dispatcher }): Promise<Obj> {
  const definitionText = b.definition;
  if (typeof definitionText !== 'string' || !definitionText)
    throw validation("Value null at 'definition' failed to satisfy constraint: Member must not be null");
  let state: Obj;
  let input: unknown;
  let variables: Obj = {};
  try {
    state = JSON.parse(definitionText);
  } catch (err) {
    throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ${(err as Error).message}'`);
  }
  try {
    input = b.input === undefined ? {} : JSON.parse(b.input);
    if (b.variables !== undefined) variables = JSON.parse(b.variables);
  } catch {
    throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input is not valid JSON');
  }
  const level = b.inspectionLevel ?? 'INFO';
  if (!['INFO', 'DEBUG', 'TRACE'].includes(level))
    throw validation(`Value '${level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]`);
  const name = typeof b.stateName === 'string' && b.stateName ? b.stateName : 'TestState';
  // A lone state is checked as the only state of a machine: its transitions point back at itself.
  const alone: Obj = { ...state };
  if (alone.Next !== undefined) alone.Next = name;
  if (Array.isArray(alone.Catch)) alone.Catch = alone.Catch.map((c: Obj) => ({ ...c, Next: name }));
  if (Array.isArray(alone.Choices)) alone.Choices = alone.Choices.map((c: Obj) => ({ ...c, Next: name }));
  if (alone.Default !== undefined) alone.Default = name;
  const probe: Obj = { ...(state.QueryLanguage ? { QueryLanguage: state.QueryLanguage } : {}), StartAt: name, States: { [name]: alone } };
  const problems = diagnose(probe, { schema: false }).filter((d) => d.severity === 'ERROR');
  if (problems.length) throw new AwsError('InvalidDefinition', invalidDefinitionMessage(problems));
  const mock = mockOf(b.mock, state);
  // "TestState only supports the following when a mock is specified: Activity tasks, .sync or .waitForTaskToken
  // service integration patterns, Parallel, or Map states" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html).
  if (!mock && state.Type === 'Task' && /^arn:aws:states:[^:]+:\d+:activity:|\.(sync(:2)?|waitForTaskToken)$/.test(String(state.Resource))) {
    throw validation('TestState supports activities and the .sync and .waitForTaskToken integration patterns only when a mock is specified');
  }
  if (!mock && (state.Type === 'Map' || state.Type === 'Parallel')) throw validation(`TestState supports ${state.Type} states only when a mock is specified`);
  if (mock && 'result' in mock && state.Type === 'Task') {
    const problems = await mockResultProblems(state.Resource, mock.result, b.mock.fieldValidationMode ?? 'STRICT');
    if (problems.length)
      throw validation(
        `The mocked result does not conform to the API's response (fieldValidationMode ${b.mock.fieldValidationMode ?? 'STRICT'}): ${problems.join('; ')}`,
      );
  }

  const inspection: Obj = {};
  let caught = false;
  const vars = new Variables();
  vars.assign(variables);
  const controller = new AbortController();
  const interpreter = new Interpreter({
    clock: deps.clock,
    signal: controller.signal,
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:TestState:test',
    record: () => 0,
    task: (port, request) => deps.dispatcher.run(port, request),
    ...(mock ? { mock } : {}),
    context: {
      Execution: {
        Id: 'arn:aws:states:us-east-1:123456789012:execution:TestState:test',
        Input: input,
        Name: 'test',
        RoleArn: b.roleArn ?? '',
        StartTime: deps.clock.now().toISOString(),
        RedriveCount: 0,
      },
      StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:TestState', Name: 'TestState' },
    },
    inspect: (key, value) => {
      if (key === 'caught') caught = true;
      else if (INSPECTION_KEYS.includes(key)) inspection[key] = JSON.stringify(value ?? null);
    },
  });
  // The state runs once: a matching retrier makes the answer RETRIABLE instead of running it again.
  const once = { ...state, Retry: undefined };
  const language = state.QueryLanguage === 'JSONata' ? 'JSONata' : 'JSONPath';
  const withInspection = (out: Obj) => {
    if (level !== 'INFO') out.inspectionData = { ...inspection, variables: JSON.stringify(vars.all()) };
    return out;
  };
  try {
    const outcome = await interpreter.runOne(once, name, input, vars, language);
    const out: Obj = { output: JSON.stringify(outcome.output ?? null), status: caught ? 'CAUGHT_ERROR' : 'SUCCEEDED' };
    if (outcome.next !== undefined) out.nextState = outcome.next;
    if (caught) {
      const error = JSON.parse(out.output);
      if (error && typeof error === 'object' && 'Error' in error) Object.assign(out, { error: error.Error, cause: error.Cause });
    }
    return withInspection(out);
  } catch (thrown) {
    const err: StatesError = asStatesError(thrown);
    const retriable = (state.Retry ?? []).some((r: Obj) => errorMatches(r.ErrorEquals, err, state.Type) && (r.MaxAttempts ?? 3) > 0);
    return withInspection({ status: retriable ? 'RETRIABLE' : 'FAILED', error: err.name, cause: err.cause ?? '' });
  } finally {
    controller.abort(ABORTED);
  }
}

/**
 * TestState's `mock` (https://docs.aws.amazon.com/step-functions/latest/apireference/API_MockInput.html): a JSON
 * `result` or an `errorOutput` ({error, cause}) that stands for the state's work. Only Task, Map and Parallel states
 * do work to stand for. `fieldValidationMode` (STRICT by default) checks a Task's result against the integration's
 * API model (mock-validation.ts).
 */
function mockOf(raw: unknown, state: Obj): { result: unknown } | { error: string; cause?: string } | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object') throw validation("Value at 'mock' failed to satisfy constraint: Member must be a structure");
  const mock = raw as Obj;
  if (mock.fieldValidationMode !== undefined && !['STRICT', 'PRESENT', 'NONE'].includes(mock.fieldValidationMode)) {
    throw validation(
      `Value '${mock.fieldValidationMode}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]`,
    );
  }
  if ((mock.result === undefined) === (mock.errorOutput === undefined)) throw validation('A mock must specify exactly one of result and errorOutput');
  if (!['Task', 'Map', 'Parallel'].includes(state.Type))
    throw validation(`A mock is not supported for ${state.Type} states: only Task, Map and Parallel states can be mocked`);
  if (mock.errorOutput !== undefined)
    return { error: String(mock.errorOutput.error ?? ''), ...(mock.errorOutput.cause !== undefined ? { cause: String(mock.errorOutput.cause) } : {}) };
  if (typeof mock.result !== 'string' || Buffer.byteLength(mock.result) > 262144)
    throw validation("Value at 'mock.result' failed to satisfy constraint: Member must have length less than or equal to 262144");
  try {
    return { result: JSON.parse(mock.result) };
  } catch {
    throw validation("Value at 'mock.result' failed to satisfy constraint: Member must be a valid JSON string");
  }
}

function validation(message: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${message}`);
}
