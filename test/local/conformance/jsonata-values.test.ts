/**
 * Conformance (issue 21, classes 1 and 6): what a JSONata field gives, and how it fails, as AWS records it.
 *
 * Failures: "If a JSONata expression fails ... States.QueryEvaluationError"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), with an EvaluationFailed event
 * (error, cause, location, state; https://docs.aws.amazon.com/step-functions/latest/apireference/API_EvaluationFailedEventDetails.html)
 * and AWS's wording, e.g. "... specified for the field 'Items' returned an unexpected result type. Expected 'array',
 * but was 'number' for value: 1". Values: recorded outputs from LocalStack's AWS-validated snapshots (repository
 * localstack/localstack, files named beside each case).
 */
import { describe, expect, it } from 'vitest';
import { runDefinition } from './harness';

const jsonata = (states: object) => ({ QueryLanguage: 'JSONata', StartAt: Object.keys(states)[0], States: states });
const processor = { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } };
const echo = { echo: (x: unknown) => x };
const prefix = (state: string) => `An error occurred while executing the state '${state}' (entered at the event id #2). `;

// [title, states, field (EvaluationFailed location), cause after the prefix]
const failures: [string, Record<string, any>, string, string][] = [
  [
    'Items that is a number',
    { M: { Type: 'Map', Items: '{% 1 %}', ItemProcessor: processor, End: true } },
    'Items',
    "The JSONata expression '1' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'number' for value: 1",
  ],
  [
    'Items that is a string',
    { M: { Type: 'Map', Items: '{% "a" %}', ItemProcessor: processor, End: true } },
    'Items',
    `The JSONata expression '"a"' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'string' for value: "a"`,
  ],
  [
    'Items that is an object',
    { M: { Type: 'Map', Items: '{% {"k": 1} %}', ItemProcessor: processor, End: true } },
    'Items',
    `The JSONata expression '{"k": 1}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {"k":1}`,
  ],
  [
    'Items that is null',
    { M: { Type: 'Map', Items: '{% null %}', ItemProcessor: processor, End: true } },
    'Items',
    "The JSONata expression 'null' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'null' for value: null",
  ],
  [
    'Output calling something that is not a function (T1006)',
    { P: { Type: 'Pass', Output: '{% $nofn() %}', End: true } },
    'Output',
    "The JSONata expression '$nofn()' specified for the field 'Output' threw an error during evaluation. T1006: Attempted to invoke a non-function",
  ],
  [
    'Output returning a function',
    { P: { Type: 'Pass', Output: '{% $uppercase %}', End: true } },
    'Output',
    "The JSONata expression '$uppercase' specified for the field 'Output' returned an unsupported result type.",
  ],
  [
    'Arguments that throw',
    { T: { Type: 'Task', Resource: 'fn:echo', Arguments: { a: '{% $nofn() %}' }, End: true } },
    'Arguments/a',
    "The JSONata expression '$nofn()' specified for the field 'Arguments/a' threw an error during evaluation. T1006: Attempted to invoke a non-function",
  ],
  [
    'Assign that throws',
    { P: { Type: 'Pass', Assign: { a: '{% 1 + "x" %}' }, End: true } },
    'Assign/a',
    `The JSONata expression '1 + "x"' specified for the field 'Assign/a' threw an error during evaluation. T2002: The right side of the "+" operator must evaluate to a number`,
  ],
  [
    'a Condition that is not a boolean',
    { C: { Type: 'Choice', Choices: [{ Condition: '{% 1 %}', Next: 'S' }], Default: 'S' }, S: { Type: 'Succeed' } },
    'Choices[0]/Condition',
    "The JSONata expression '1' specified for the field 'Choices[0]/Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 1",
  ],
  [
    'Wait Seconds that is a string',
    { W: { Type: 'Wait', Seconds: '{% "10" %}', End: true } },
    'Seconds',
    `The JSONata expression '"10"' specified for the field 'Seconds' returned an unexpected result type. Expected 'number', but was 'string' for value: "10"`,
  ],
  [
    'Wait Timestamp that is a number',
    { W: { Type: 'Wait', Timestamp: '{% 1 %}', End: true } },
    'Timestamp',
    "The JSONata expression '1' specified for the field 'Timestamp' returned an unexpected result type. Expected 'string', but was 'number' for value: 1",
  ],
  [
    'MaxConcurrency that is a string',
    { M: { Type: 'Map', Items: [1], MaxConcurrency: '{% "x" %}', ItemProcessor: processor, End: true } },
    'MaxConcurrency',
    `The JSONata expression '"x"' specified for the field 'MaxConcurrency' returned an unexpected result type. Expected 'number', but was 'string' for value: "x"`,
  ],
  [
    'TimeoutSeconds that is a string',
    { T: { Type: 'Task', Resource: 'fn:echo', TimeoutSeconds: '{% "5" %}', End: true } },
    'TimeoutSeconds',
    `The JSONata expression '"5"' specified for the field 'TimeoutSeconds' returned an unexpected result type. Expected 'number', but was 'string' for value: "5"`,
  ],
  [
    'HeartbeatSeconds that is a boolean',
    { T: { Type: 'Task', Resource: 'fn:echo', HeartbeatSeconds: '{% true %}', End: true } },
    'HeartbeatSeconds',
    "The JSONata expression 'true' specified for the field 'HeartbeatSeconds' returned an unexpected result type. Expected 'number', but was 'boolean' for value: true",
  ],
  [
    "a Fail state's Error that is a number",
    { F: { Type: 'Fail', Error: '{% 1 %}', Cause: 'c' } },
    'Error',
    "The JSONata expression '1' specified for the field 'Error' returned an unexpected result type. Expected 'string', but was 'number' for value: 1",
  ],
  [
    "a Fail state's Cause that is an object",
    { F: { Type: 'Fail', Error: 'E', Cause: '{% {"a": [1]} %}' } },
    'Cause',
    `The JSONata expression '{"a": [1]}' specified for the field 'Cause' returned an unexpected result type. Expected 'string', but was 'object' for value: {"a":[1]}`,
  ],
  [
    'an ItemSelector that throws',
    { M: { Type: 'Map', Items: [1], ItemSelector: '{% $nofn() %}', ItemProcessor: processor, End: true } },
    'ItemSelector',
    "The JSONata expression '$nofn()' specified for the field 'ItemSelector' threw an error during evaluation. T1006: Attempted to invoke a non-function",
  ],
];

describe('JSONata failures: States.QueryEvaluationError with AWS wording and an EvaluationFailed event', () => {
  it.each(failures)('%s', async (_title, states, location, cause) => {
    const o = await runDefinition(jsonata(states), {}, echo);
    const state = Object.keys(states)[0];
    expect([o.error, o.cause]).toEqual(['States.QueryEvaluationError', prefix(state) + cause]);
    const failed = o.events.find((e) => e.type === 'EvaluationFailed');
    expect(failed?.evaluationFailedEventDetails).toEqual({ error: 'States.QueryEvaluationError', cause: prefix(state) + cause, location, state });
  });

  it('is caught by States.ALL (it is not States.Runtime)', async () => {
    const o = await runDefinition(
      jsonata({
        M: { Type: 'Map', Items: '{% 1 %}', ItemProcessor: processor, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }], End: true },
        Caught: { Type: 'Pass', End: true },
      }),
    );
    expect(o.status).toBe('SUCCEEDED');
    expect((o.output as { Error: string }).Error).toBe('States.QueryEvaluationError');
  });
});

describe('JSONata values as AWS returns them', () => {
  it('Items given as a list evaluates the expressions inside it (recorded: test_base_evaluate_expressions test_base_map[ITEMS])', async () => {
    const o = await runDefinition(jsonata({ M: { Type: 'Map', Items: [1, '{% $number("2") %}', 3], ItemProcessor: processor, End: true } }));
    expect(o.output).toEqual([1, 2, 3]);
    expect(o.events.find((e) => e.type === 'MapStateStarted')?.mapStateStartedEventDetails).toEqual({ length: 3 });
  });

  it('an Output list evaluates expressions in it and in objects inside it (recorded: outputdecl/test_output LIST_RICH)', async () => {
    const output = [null, 0, 0.1, true, 'string', [], '$nosuchvar', '$.no.such.path', '{% $states.input %}', { key: '{% true %}' }];
    const o = await runDefinition(jsonata({ State0: { Type: 'Pass', Output: output, End: true } }), { input_value: 'stringliteral' });
    expect(JSON.stringify(o.output)).toBe('[null,0,0.1,true,"string",[],"$nosuchvar","$.no.such.path",{"input_value":"stringliteral"},{"key":true}]');
  });

  it.each([
    // intrinsic_functions/test_array_jsonata.snapshot.json, test_array_range
    ['$range(1, 9, 9) is the single number', '{% $range(1, 9, 9) %}', 1],
    ['$range(0, 9, 3)', '{% $range(0, 9, 3) %}', [0, 3, 6, 9]],
    ['$range(0, 10, 3)', '{% $range(0, 10, 3) %}', [0, 3, 6, 9]],
    // test_array_partition: one chunk stays a list of lists
    ['$partition([0], 1) stays nested', '{% $partition([0], 1) %}', [[0]]],
  ])('%s (recorded)', async (_title, output, expected) => {
    const o = await runDefinition(jsonata({ State_0: { Type: 'Pass', Output: output, End: true } }));
    expect(o.error ?? null, o.cause).toBeNull();
    expect(o.output).toEqual(expected);
  });

  it('$states.context in a Pass state has no State.RetryCount (recorded: outputdecl/test_output BASE_EXPR)', async () => {
    const o = await runDefinition(jsonata({ State0: { Type: 'Pass', Output: '{% $states.context.State %}', End: true } }));
    expect(o.output).toEqual({ Name: 'State0', EnteredTime: '2030-01-01T08:00:00.000Z' });
  });
});
