/**
 * Conformance: paths and input/output processing, from
 * https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html ,
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html and
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html .
 */
import { describe, expect, it } from 'vitest';
import { runDefinition, START } from './harness';

const pass = (fields: object) => ({ StartAt: 'P', States: { P: { Type: 'Pass', ...fields, End: true } } });

// [title, state fields, input, expected output]
const rows: [string, object, unknown, unknown][] = [
  ['a definite path selects one value', { Parameters: { 'v.$': '$.a.b' } }, { a: { b: 1 } }, { v: 1 }],
  ['bracket notation', { Parameters: { 'v.$': "$['a b']" } }, { 'a b': 2 }, { v: 2 }],
  ['an array index', { Parameters: { 'v.$': '$.arr[1]' } }, { arr: [1, 2] }, { v: 2 }],
  ['an index past the end of an array is null', { Parameters: { 'v.$': '$.arr[5]' } }, { arr: [1, 2] }, { v: null }],
  ['a wildcard yields an array', { Parameters: { 'v.$': '$.items[*].id' } }, { items: [{ id: 1 }, { id: 2 }] }, { v: [1, 2] }],
  ['a wildcard that finds nothing yields []', { Parameters: { 'v.$': '$.items[*]' } }, {}, { v: [] }],
  ['a deep scan', { Parameters: { 'v.$': '$..id' } }, { a: { id: 1 }, b: [{ id: 2 }] }, { v: [1, 2] }],
  ['a filter', { Parameters: { 'v.$': '$.items[?(@.n > 1)].n' } }, { items: [{ n: 1 }, { n: 2 }, { n: 3 }] }, { v: [2, 3] }],
  ['a slice', { Parameters: { 'v.$': '$.items[0:2]' } }, { items: ['a', 'b', 'c'] }, { v: ['a', 'b'] }],
  ['a union of indexes', { Parameters: { 'v.$': '$.items[0,2]' } }, { items: ['a', 'b', 'c'] }, { v: ['a', 'c'] }],
  ['a null value is kept', { Parameters: { 'v.$': '$.n' } }, { n: null }, { v: null }],
  [
    'static and nested template values',
    { Parameters: { s: 'x', o: { 'n.$': '$.n', a: [1, { 'm.$': '$.n' }] } } },
    { n: 3 },
    { s: 'x', o: { n: 3, a: [1, { m: 3 }] } },
  ],
  ['InputPath selects the effective input', { InputPath: '$.a' }, { a: { b: 1 } }, { b: 1 }],
  ['InputPath null gives {}', { InputPath: null }, { a: 1 }, {}],
  ['OutputPath selects the output', { OutputPath: '$.a' }, { a: 1, b: 2 }, 1],
  ['OutputPath null gives {}', { OutputPath: null }, { a: 1 }, {}],
  ['ResultPath inserts the result into the input', { Result: 'r', ResultPath: '$.x.y' }, { a: 1 }, { a: 1, x: { y: 'r' } }],
  ['ResultPath "$" replaces the input', { Result: 'r', ResultPath: '$' }, { a: 1 }, 'r'],
  ['ResultPath null keeps the input', { Result: 'r', ResultPath: null }, { a: 1 }, { a: 1 }],
  ['ResultPath overwrites an existing field', { Result: 2, ResultPath: '$.a' }, { a: 1 }, { a: 2 }],
  ['Parameters see $$.State.Name', { Parameters: { 'n.$': '$$.State.Name' } }, {}, { n: 'P' }],
  ['Parameters see $$.Execution.Input', { Parameters: { 'i.$': '$$.Execution.Input.k' } }, { k: 'v' }, { i: 'v' }],
  ['Parameters see $$.StateMachine.Name', { Parameters: { 'm.$': '$$.StateMachine.Name' } }, {}, { m: 'conformance' }],
  ['Parameters see $$.State.EnteredTime', { Parameters: { 't.$': '$$.State.EnteredTime' } }, {}, { t: new Date(START).toISOString() }],
];

describe('paths and input/output processing', () => {
  it.each(rows)('%s', async (_title, fields, input, expected) => {
    // Act
    const outcome = await runDefinition(pass(fields), input);

    // Assess
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toEqual(expected);
  });

  it('InputPath "$$" is the whole context object, with no key of the runtime and no RetryCount in a Pass state', async () => {
    // Act
    const outcome = await runDefinition(pass({ InputPath: '$$' }), { k: 1 });

    // Assess (recorded: localstack/localstack tests/aws/services/stepfunctions/v2/context_object/test_context_object.snapshot.json,
    // test_input_path[$$]: "State": {"Name": "TestState", "EnteredTime": ...})
    const context = outcome.output as Record<string, any>;
    expect(Object.keys(context).sort()).toEqual(['Execution', 'State', 'StateMachine']);
    expect(context.Execution).toEqual(expect.objectContaining({ Input: { k: 1 }, Name: 'run', StartTime: new Date(START).toISOString(), RedriveCount: 0 }));
    expect(context.State).toEqual({ Name: 'P', EnteredTime: new Date(START).toISOString() });
  });

  it('OutputPath "$$" and "$$.Execution.Input" read the context object (recorded test_output_path)', async () => {
    const whole = await runDefinition(pass({ OutputPath: '$$' }), { 'input-value': 0 });
    const input = await runDefinition(pass({ OutputPath: '$$.Execution.Input' }), { 'input-value': 0 });
    expect((whole.output as any).State).toEqual({ Name: 'P', EnteredTime: new Date(START).toISOString() });
    expect(input.output).toEqual({ 'input-value': 0 });
  });

  it.each([
    ['Task', { Type: 'Task', Resource: 'fn:echo', Parameters: { 'r.$': '$$.State.RetryCount' } }, { r: 0 }],
    [
      'Map',
      {
        Type: 'Map',
        ItemsPath: '$.xs',
        ItemSelector: { 'r.$': '$$.State.RetryCount' },
        ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
      },
      [{ r: 0 }],
    ],
    [
      'Parallel',
      { Type: 'Parallel', Parameters: { 'r.$': '$$.State.RetryCount' }, Branches: [{ StartAt: 'B', States: { B: { Type: 'Pass', End: true } } }] },
      [{ r: 0 }],
    ],
  ])('a %s state, which can retry, sees $$.State.RetryCount', async (_type, state, expected) => {
    const outcome = await runDefinition({ StartAt: 'S', States: { S: { ...state, End: true } } }, { xs: [1] }, { echo: (x) => x });
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toEqual(expected);
  });

  it.each([
    ['Pass', { Type: 'Pass', Parameters: { 'r.$': '$$.State.RetryCount' }, End: true }],
    ['Choice', { Type: 'Choice', Choices: [{ Variable: '$$.State.RetryCount', IsPresent: true, Next: 'Yes' }], Default: 'No' }],
  ])('a %s state has no $$.State.RetryCount', async (_type, state) => {
    const outcome = await runDefinition({ StartAt: 'S', States: { S: state, Yes: { Type: 'Fail', Error: 'Present' }, No: { Type: 'Succeed' } } }, {});
    if (_type === 'Pass') expect(outcome.error).toBe('States.Runtime');
    else expect(outcome.status).toBe('SUCCEEDED');
  });

  it('a Task sees $$.Task.Token in its Parameters only', async () => {
    // Act
    const outcome = await runDefinition(
      { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'fn:echo', Parameters: { 'token.$': '$$.Task.Token', 'ctx.$': '$$' }, End: true } } },
      {},
      { echo: (x) => x },
    );

    // Assess
    const out = outcome.output as any;
    expect(typeof out.token).toBe('string');
    expect(out.ctx.Task.Token).toBe(out.token);
  });

  it('a path that finds nothing in Parameters fails with States.Runtime, as AWS records it today', async () => {
    // Act
    const outcome = await runDefinition(pass({ Parameters: { 'missing.$': '$.nope.deep' } }), { other: 1 });

    // Assess: the error-handling page names States.ParameterPathFailure for this, but executions on AWS fail with
    // States.Runtime and this cause (https://github.com/floci-io/floci/issues/2521, 2026-08, against AWS and Step
    // Functions Local; LocalStack's AWS-validated engine raises the same). See DIVERGENCES.md.
    expect(outcome.error).toBe('States.Runtime');
    expect(outcome.cause).toBe(
      `An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found in the input '{"other":1}'`,
    );
  });

  it('a missing Parameters or ItemSelector path is not caught by States.ALL (States.Runtime), in a Task and in a Map', async () => {
    // Prepare
    const task = {
      StartAt: 'T',
      States: {
        T: { Type: 'Task', Resource: 'fn:echo', Parameters: { 'm.$': '$.nope' }, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'H' }], End: true },
        H: { Type: 'Pass', End: true },
      },
    };
    const map = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'v.$': '$.nope' },
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'H' }],
          End: true,
        },
        H: { Type: 'Pass', End: true },
      },
    };

    // Act
    const inTask = await runDefinition(task, {}, { echo: (x) => x });
    const inMap = await runDefinition(map, { items: [1] });

    // Assess
    expect([inTask.status, inTask.error]).toEqual(['FAILED', 'States.Runtime']);
    expect([inMap.status, inMap.error]).toEqual(['FAILED', 'States.Runtime']);
  });

  it('length() is refused in a reference path at create time, and at run time in any path', async () => {
    // Prepare (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html#amazon-states-language-reference-paths:
    // "Functions such as length() aren't supported")
    const refused = [
      pass({ Result: 1, ResultPath: '$.a.length()' }),
      { StartAt: 'W', States: { W: { Type: 'Wait', SecondsPath: '$.a.length()', End: true } } },
      {
        StartAt: 'M',
        States: { M: { Type: 'Map', ItemsPath: '$.a.length()', ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } },
      },
    ];

    // Act + Assess
    for (const definition of refused) await expect(runDefinition(definition, { a: [1, 2] })).rejects.toThrow(/functions such as length\(\) aren't supported/);
    const atRunTime = await runDefinition(pass({ Parameters: { 'n.$': '$.a.length()' } }), { a: [1, 2] });
    expect(atRunTime.error).toBe('States.Runtime');
    expect(atRunTime.cause).toMatch(/Invalid path '\$\.a\.length\(\)': functions such as length\(\) aren't supported$/);
  });

  it('an InputPath that finds nothing fails with the cause AWS gives', async () => {
    // Act
    const outcome = await runDefinition(pass({ InputPath: '$.x' }), {});

    // Assess
    expect(outcome.error).toBe('States.Runtime');
    expect(outcome.cause).toBe(
      "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.x' : No results for path: $['x']",
    );
  });

  it('a ResultPath into a non-object input fails with States.ResultPathMatchFailure', async () => {
    // Act
    const outcome = await runDefinition(pass({ Result: 1, ResultPath: '$.a' }), 'text');

    // Assess
    expect(outcome.error).toBe('States.ResultPathMatchFailure');
  });

  it("a Fail state's ErrorPath and CausePath read paths, the context and intrinsics", async () => {
    // Act
    const outcome = await runDefinition(
      { StartAt: 'F', States: { F: { Type: 'Fail', ErrorPath: '$$.State.Name', CausePath: "States.Format('bad {}', $.id)" } } },
      { id: 7 },
    );

    // Assess
    expect(outcome.error).toBe('F');
    expect(outcome.cause).toBe('bad 7');
  });

  it('a Fail state without Error or Cause leaves both out', async () => {
    // Act
    const outcome = await runDefinition({ StartAt: 'F', States: { F: { Type: 'Fail' } } });

    // Assess
    expect(outcome.error).toBe('');
    expect(outcome.cause).toBeUndefined();
  });

  // Wait: SecondsPath must reference a non-negative whole number, TimestampPath an RFC 3339 timestamp with a zone
  // (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html). Causes: TimestampPath as recorded on AWS
  // (localstack/localstack tests/aws/services/stepfunctions/v2/base/test_wait.snapshot.json, test_wait_timestamppath);
  // SecondsPath as in LocalStack's AWS-validated test_base_wait_seconds_path (-1, -1.5, 0, 1, 1.5).
  const at = (cause: string) => `An error occurred while executing the state 'W' (entered at the event id #2). ${cause}`;
  it.each([
    [
      'a negative SecondsPath',
      { SecondsPath: '$.input.waitSeconds' },
      { input: { waitSeconds: -1 } },
      'The SecondsPath parameter references a negative value: $.input.waitSeconds == -1',
    ],
    [
      'a fractional SecondsPath',
      { SecondsPath: '$.input.waitSeconds' },
      { input: { waitSeconds: 1.5 } },
      'The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5',
    ],
    [
      'a negative fractional SecondsPath',
      { SecondsPath: '$.input.waitSeconds' },
      { input: { waitSeconds: -1.5 } },
      'The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == -1.5',
    ],
    ['a SecondsPath that finds nothing', { SecondsPath: '$.nope' }, {}, 'The SecondsPath parameter does not reference an input value: $.nope'],
    [
      'a TimestampPath without a zone (recorded)',
      { TimestampPath: '$.start_at' },
      { start_at: '2023-12-06T08:00:24' },
      'The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.start_at == 2023-12-06T08:00:24',
    ],
    [
      'a TimestampPath with fractions and no zone (recorded)',
      { TimestampPath: '$.start_at' },
      { start_at: '2023-12-06T08:00:39.000000' },
      'The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.start_at == 2023-12-06T08:00:39.000000',
    ],
    ['a TimestampPath that finds nothing', { TimestampPath: '$.nope' }, {}, 'The TimestampPath parameter does not reference an input value: $.nope'],
  ])('%s fails with States.Runtime and the cause AWS gives', async (_title, fields, input, cause) => {
    const outcome = await runDefinition({ StartAt: 'W', States: { W: { Type: 'Wait', ...fields, End: true } } }, input);
    expect([outcome.error, outcome.cause]).toEqual(['States.Runtime', at(cause)]);
  });

  it.each([
    ['0 seconds', { SecondsPath: '$.s' }, { s: 0 }],
    ['a timestamp with Z', { TimestampPath: '$.t' }, { t: '2023-12-06T07:58:05Z' }],
    ['a timestamp with two fraction digits', { TimestampPath: '$.t' }, { t: '2023-12-06T07:58:05.00Z' }],
    ['a timestamp with seven fraction digits', { TimestampPath: '$.t' }, { t: '2023-12-06T07:58:05.0000000Z' }],
  ])('a Wait accepts %s (recorded)', async (_title, fields, input) => {
    const outcome = await runDefinition({ StartAt: 'W', States: { W: { Type: 'Wait', ...fields, End: true } } }, input);
    expect(outcome.error ?? null, outcome.cause).toBeNull();
  });

  it('MaxConcurrencyPath accepts a whole number in a string, from a variable (recorded MAP_STATE_REFERENCE_IN_MAX_CONCURRENCY_PATH)', async () => {
    // localstack/localstack tests/aws/services/stepfunctions/templates/assign/statemachines/map_state_reference_in_max_concurrency_path.json5
    const outcome = await runDefinition({
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Assign: { maxConcurrency: '1' }, Result: { Values: [1, 2, 3] }, Next: 'MapState' },
        MapState: {
          Type: 'Map',
          ItemsPath: '$.Values',
          MaxConcurrencyPath: '$maxConcurrency',
          ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'HandleItem', States: { HandleItem: { Type: 'Pass', End: true } } },
          End: true,
        },
      },
    });
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toEqual([1, 2, 3]);
  });

  it('a Wait follows SecondsPath and TimestampPath on the virtual clock', async () => {
    // Act
    const seconds = await runDefinition({ StartAt: 'W', States: { W: { Type: 'Wait', SecondsPath: '$.s', End: true } } }, { s: 3600 });
    const until = await runDefinition({ StartAt: 'W', States: { W: { Type: 'Wait', TimestampPath: '$.at', End: true } } }, { at: '2030-01-01T09:00:00Z' });

    // Assess
    const waited = (o: typeof seconds) => o.events.at(-1)!.timestamp - o.events[0].timestamp;
    expect(waited(seconds)).toBeGreaterThanOrEqual(3_600_000);
    expect(waited(until)).toBeGreaterThanOrEqual(3_600_000);
    expect(seconds.output).toEqual({ s: 3600 });
  });
});
