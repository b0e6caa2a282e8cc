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
  ['Parameters see $$.State.RetryCount', { Parameters: { 'r.$': '$$.State.RetryCount' } }, {}, { r: 0 }],
];

describe('paths and input/output processing', () => {
  it.each(rows)('%s', async (_title, fields, input, expected) => {
    // Act
    const outcome = await runDefinition(pass(fields), input);

    // Assess
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toEqual(expected);
  });

  it('InputPath "$$" is the whole context object, with no key of the runtime', async () => {
    // Act
    const outcome = await runDefinition(pass({ InputPath: '$$' }), { k: 1 });

    // Assess
    const context = outcome.output as Record<string, any>;
    expect(Object.keys(context).sort()).toEqual(['Execution', 'State', 'StateMachine']);
    expect(context.Execution).toEqual(expect.objectContaining({ Input: { k: 1 }, Name: 'run', StartTime: new Date(START).toISOString(), RedriveCount: 0 }));
    expect(context.State).toEqual({ Name: 'P', EnteredTime: new Date(START).toISOString(), RetryCount: 0 });
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

  it('a path that finds nothing in Parameters fails with States.ParameterPathFailure', async () => {
    // Act
    const outcome = await runDefinition(pass({ Parameters: { 'm.$': '$.nope' } }), { x: 'a' });

    // Assess (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation:
    // "An attempt to replace a field, within a state's Parameters field, whose name ends in .$ using a path fails")
    expect(outcome.error).toBe('States.ParameterPathFailure');
    expect(outcome.cause).toBe(
      `An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.nope' specified for the field 'm.$' could not be found in the input '{"x":"a"}'`,
    );
  });

  it('States.ParameterPathFailure is caught by States.ALL (it is not States.Runtime), in a Task and in a Map ItemSelector', async () => {
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
          Catch: [{ ErrorEquals: ['States.ParameterPathFailure'], Next: 'H' }],
          End: true,
        },
        H: { Type: 'Pass', End: true },
      },
    };

    // Act
    const caughtInTask = await runDefinition(task, {}, { echo: (x) => x });
    const caughtInMap = await runDefinition(map, { items: [1] });

    // Assess
    expect(caughtInTask.status).toBe('SUCCEEDED');
    expect((caughtInTask.output as { Error: string }).Error).toBe('States.ParameterPathFailure');
    expect(caughtInMap.status).toBe('SUCCEEDED');
    expect((caughtInMap.output as { Error: string }).Error).toBe('States.ParameterPathFailure');
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

  it('a Wait whose TimestampPath is not a timestamp fails with States.Runtime', async () => {
    // Act
    const outcome = await runDefinition({ StartAt: 'W', States: { W: { Type: 'Wait', TimestampPath: '$.at', End: true } } }, { at: 'tomorrow' });

    // Assess
    expect(outcome.error).toBe('States.Runtime');
    expect(outcome.cause).toMatch(/TimestampPath/);
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
