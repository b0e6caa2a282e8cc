/**
 * Conformance: every intrinsic function of https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html,
 * with the documentation's own examples as expected values, plus the rules the page states (escapes,
 * rounding of math arguments, StringSplit's character set, limits) and the causes AWS gives.
 */
import { describe, expect, it } from 'vitest';
import { prepareDefinition } from '../../../local/engine/preprocess';
import { passWith, runDefinition } from './harness';

const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9];

// [title, expression, input, expected value]
const values: [string, string, unknown, unknown][] = [
  ['States.Format with a literal template (doc example)', "States.Format('Hello, my name is {}.', $.name)", { name: 'Arnav' }, 'Hello, my name is Arnav.'],
  [
    'States.Format with a template from the input (doc example)',
    'States.Format($.template, $.name)',
    { name: 'Arnav', template: 'Hello, my name is {}.' },
    'Hello, my name is Arnav.',
  ],
  ['States.Format renders numbers, booleans and null', "States.Format('{} {} {}', $.n, $.b, $.z)", { n: 1.5, b: true, z: null }, '1.5 true null'],
  // Recorded on AWS: localstack/localstack tests/aws/services/stepfunctions/v2/intrinsic_functions/test_generic.snapshot.json
  [
    'States.Format renders objects in Java form (recorded test_format_2)',
    "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)",
    { FunctionInput: { fst: { Arg1: 1, Arg2: [] }, snd: { Arg1: 1, Arg2: [] } } },
    'Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.',
  ],
  [
    'States.Format renders the context object in Java form (recorded test_context_json_path)',
    "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
    {},
    'Formatting arguments fst=run and snd={Id=arn:aws:states:us-east-1:123456789012:stateMachine:conformance, Name=conformance}.',
  ],
  ['States.Format keeps a JSON string as it is (recorded test_format_2)', "States.Format('{}', $.s)", { s: '{"Arg1": 1, "Arg2": []}' }, '{"Arg1": 1, "Arg2": []}'],
  ['States.Format keeps escaped reserved characters', "States.Format('\\{\\} it\\'s \\\\ {}', $.x)", { x: 'ok' }, "{} it's \\ ok"],
  ['States.StringToJson (doc example)', 'States.StringToJson($.escapedJsonString)', { escapedJsonString: '{"foo": "bar"}' }, { foo: 'bar' }],
  ['States.StringToJson of an empty string is null', 'States.StringToJson($.s)', { s: '' }, null],
  ['States.JsonToString (doc example)', 'States.JsonToString($.unescapedJson)', { unescapedJson: { foo: 'bar' } }, '{"foo":"bar"}'],
  ['States.Array (doc example)', 'States.Array($.Id)', { Id: 123456 }, [123456]],
  ['States.Array with no arguments', 'States.Array()', {}, []],
  ['States.ArrayPartition (doc example)', 'States.ArrayPartition($.inputArray, 4)', { inputArray: nine }, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]],
  ['States.ArrayContains (doc example)', 'States.ArrayContains($.inputArray, $.lookingFor)', { inputArray: nine, lookingFor: 5 }, true],
  ['States.ArrayContains compares objects by value', 'States.ArrayContains($.a, $.o)', { a: [{ k: 1 }], o: { k: 1 } }, true],
  ['States.ArrayRange (doc example)', 'States.ArrayRange(1, 9, 2)', {}, [1, 3, 5, 7, 9]],
  ['States.ArrayRange counts down with a negative step', 'States.ArrayRange(5, 1, -2)', {}, [5, 3, 1]],
  ['States.ArrayGetItem (doc example)', 'States.ArrayGetItem($.inputArray, $.index)', { inputArray: nine, index: 5 }, 6],
  ['States.ArrayLength (doc example)', 'States.ArrayLength($.inputArray)', { inputArray: nine }, 9],
  ['States.ArrayUnique (doc example)', 'States.ArrayUnique($.inputArray)', { inputArray: [1, 2, 3, 3, 3, 3, 3, 3, 4] }, [1, 2, 3, 4]],
  ['States.Base64Encode (doc example)', 'States.Base64Encode($.input)', { input: 'Data to encode' }, 'RGF0YSB0byBlbmNvZGU='],
  ['States.Base64Decode (doc example)', 'States.Base64Decode($.base64)', { base64: 'RGF0YSB0byBlbmNvZGU=' }, 'Data to encode'],
  ['States.Hash (doc example)', 'States.Hash($.Data, $.Algorithm)', { Data: 'input data', Algorithm: 'SHA-1' }, 'aaff4a450a104cd177d28d18d74485e8cae074b7'],
  ['States.Hash MD5', "States.Hash('input data', 'MD5')", {}, '812f45842bc6d66ee14572ce20db8e86'],
  [
    'States.JsonMerge is shallow (doc example)',
    'States.JsonMerge($.json1, $.json2, false)',
    { json1: { a: { a1: 1, a2: 2 }, b: 2 }, json2: { a: { a3: 1, a4: 2 }, c: 3 } },
    { a: { a3: 1, a4: 2 }, b: 2, c: 3 },
  ],
  ['States.MathAdd (doc example)', 'States.MathAdd($.value1, $.step)', { value1: 111, step: -1 }, 110],
  ['States.MathAdd rounds non-integers to the nearest integer', 'States.MathAdd($.a, $.b)', { a: 1.4, b: 2.6 }, 4],
  ['States.StringSplit (doc example)', 'States.StringSplit($.inputString, $.splitter)', { inputString: '1,2,3,4,5', splitter: ',' }, ['1', '2', '3', '4', '5']],
  [
    'States.StringSplit treats the delimiter as a set of characters (doc example)',
    'States.StringSplit($.inputString, $.splitter)',
    { inputString: 'This.is+a,test=string', splitter: '.+,=' },
    ['This', 'is', 'a', 'test', 'string'],
  ],
  ['States.StringSplit drops empty pieces', "States.StringSplit($.s, ',')", { s: ',a,,b,' }, ['a', 'b']],
  [
    'nested functions (doc example, nine levels)',
    "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
    { ImageRecipe: { Arn: 'arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/x/1.2.3' } },
    '1.2.3',
  ],
  ['a function argument may be the context object', 'States.Format($$.State.Name)', {}, 'P'],
];

describe('intrinsic functions: values', () => {
  it.each(values.filter(([title]) => !title.startsWith('nested')))('%s', async (_title, expr, input, expected) => {
    // Act
    const outcome = await runDefinition(passWith(expr), input);

    // Assess
    expect(outcome.error ?? null, outcome.cause).toBeNull();
    expect(outcome.output).toEqual(expected);
  });

  it('nests up to ten functions (doc example)', async () => {
    // Act: the ARN's third '/'-piece is "1.2.3" (the page's example has one placeholder more than arguments)
    const outcome = await runDefinition(passWith(values.find(([t]) => t.startsWith('nested'))![1]), {
      ImageRecipe: { Arn: 'arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/x/1.2.3' },
    });

    // Assess
    expect(outcome.output).toBe('1.2');
  });

  it('States.MathRandom returns an integer in [start, end), the same for the same seed', async () => {
    // Act
    const a = await runDefinition(passWith('States.MathRandom(1, 1000, 7)'));
    const b = await runDefinition(passWith('States.MathRandom(1, 1000, 7)'));
    const unseeded = await runDefinition(passWith('States.MathRandom(5, 6)'));

    // Assess
    expect(Number.isInteger(a.output)).toBe(true);
    expect(a.output).toBeGreaterThanOrEqual(1);
    expect(a.output).toBeLessThan(1000);
    expect(b.output).toBe(a.output);
    expect(unseeded.output).toBe(5);
  });

  it('States.UUID returns a version 4 UUID', async () => {
    // Act
    const outcome = await runDefinition(passWith('States.UUID()'));

    // Assess
    expect(outcome.output).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

// [title, expression, input, cause pattern]
const failures: [string, string, unknown, RegExp][] = [
  [
    'a path argument that finds nothing',
    "States.Format('{}', $.nope)",
    { other: 1 },
    /^An error occurred while executing the state 'P' \(entered at the event id #2\)\. The function 'States\.Format\('\{\}', \$\.nope\)' had the following error: The JsonPath argument for the field '\$\.nope' could not be found in the input '\{"other":1\}'$/,
  ],
  [
    'an index past the end of an array, as an argument',
    "States.Format('{}', $.items[5])",
    { items: [1, 2] },
    /The JsonPath argument for the field '\$\.items\[5\]' could not be found/,
  ],
  ['States.Format with fewer arguments than placeholders', "States.Format('{} {}', $.a)", { a: 1 }, /States\.Format/],
  ['States.StringToJson of text that is not JSON', 'States.StringToJson($.s)', { s: '{nope' }, /not a valid JSON/],
  ['States.ArrayRange over 1,000 items', 'States.ArrayRange(1, 2000, 1)', {}, /at most 1000/],
  ['States.ArrayGetItem past the end', 'States.ArrayGetItem($.a, 3)', { a: [1] }, /out of bounds/],
  ['States.JsonMerge in deep mode', 'States.JsonMerge($.a, $.b, true)', { a: {}, b: {} }, /shallow/],
  ['States.Hash with an unknown algorithm', "States.Hash('x', 'SHA-3')", {}, /not supported/],
  ['States.Base64Encode over 10,000 characters', 'States.Base64Encode($.s)', { s: 'x'.repeat(10_001) }, /10000 characters/],
  ['an argument of the wrong type', 'States.ArrayLength($.s)', { s: 'abc' }, /expected array/],
];

describe('intrinsic functions: failures are States.Runtime with AWS causes', () => {
  it.each(failures)('%s', async (_title, expr, input, cause) => {
    // Act
    const outcome = await runDefinition(passWith(expr), input);

    // Assess
    expect(outcome.status).toBe('FAILED');
    expect(outcome.error).toBe('States.Runtime');
    expect(outcome.cause).toMatch(cause);
  });

  it('a Catch on States.ALL does not catch an intrinsic failure', async () => {
    // Prepare: a Map carries the Catch, since a Pass state has none
    const definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'v.$': "States.Format('{}', $.nope)" },
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Succeed' },
      },
    };

    // Act
    const outcome = await runDefinition(definition, { items: [1] });

    // Assess
    expect(outcome.error).toBe('States.Runtime');
  });

  it('refuses a malformed call at create time', () => {
    // Act + Assess
    expect(() => runDefinitionSync(passWith("States.Format('{}' $.x)"))).toThrow(/SCHEMA_VALIDATION_FAILED/);
    expect(() => runDefinitionSync(passWith('States.Nope($.x)'))).toThrow(/unknown function States\.Nope/);
  });
});

function runDefinitionSync(definition: object): void {
  prepareDefinition(definition, { schema: false });
}
