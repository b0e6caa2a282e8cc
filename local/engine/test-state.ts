/**
 * TestState (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html and
 * https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html): runs one state with a
 * given input and answers its output, next state and status (SUCCEEDED, FAILED, RETRIABLE when a retrier
 * would run it again, CAUGHT_ERROR when a catcher takes over); with inspectionLevel DEBUG or TRACE it also
 * answers the data after each processing step. Task work runs for real through the dispatcher;
 * activities and the .sync and .waitForTaskToken patterns are refused, as AWS does.
 */
import { AwsError, type Clock } from '../kernel';
import type { Dispatcher } from './dispatch';
import { asStatesError, errorMatches, StatesError } from './errors';
import { Interpreter, Variables } from './executor';
import { diagnose, invalidDefinitionMessage } from './preprocess';

type Obj = Record<string, any>;

const INSPECTION_KEYS = ['input', 'afterArguments', 'afterInputPath', 'afterParameters', 'result', 'afterResultSelector', 'afterResultPath', 'afterItemsPath', 'variables'];

export async function testState(b: Obj, deps: { clock: Clock; dispatcher: Dispatcher }): Promise<Obj> {
  const definitionText = b.definition;
  if (typeof definitionText !== 'string' || !definitionText) throw validation("Value null at 'definition' failed to satisfy constraint: Member must not be null");
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
  if (!['INFO', 'DEBUG', 'TRACE'].includes(level)) throw validation(`Value '${level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]`);
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
  if (state.Type === 'Task' && /^arn:aws:states:[^:]+:\d+:activity:|\.(sync(:2)?|waitForTaskToken)$/.test(String(state.Resource))) {
    throw validation('TestState does not support activities or the .sync and .waitForTaskToken integration patterns');
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
    context: {
      Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:TestState:test', Input: input, Name: 'test', RoleArn: b.roleArn ?? '', StartTime: deps.clock.now().toISOString(), RedriveCount: 0 },
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
    controller.abort();
  }
}

function validation(message: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${message}`);
}
