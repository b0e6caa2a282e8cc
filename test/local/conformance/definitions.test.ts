/**
 * What CreateStateMachine and ValidateStateMachineDefinition accept and refuse: `diagnose` is the create-time check
 * both call (asl-validator's schema pass, as amended in asl-schema.ts, plus the engine's own checks). Accepted
 * definitions are AWS's, run on AWS (the recordings named in each row); refusals carry AWS's wording where it was
 * recorded.
 */
import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../local/engine/preprocess';

const distributed = { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'P', States: { P: { Type: 'Pass', End: true } } };
const jsonata = (state: object) => ({ QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { End: true, ...state } } });
const map = (fields: object) => ({ StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: distributed, End: true, ...fields } } });
const reader = (config: object) => ({
  ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON', ...config }, Parameters: { Bucket: 'b', Key: 'k' } },
});
const task = (fields: object) => ({ StartAt: 'T', States: { T: { Type: 'Task', End: true, ...fields } } });

describe('definitions AWS accepts are accepted', () => {
  it.each([
    // "The output field accepts any JSON value (object, array, string, number, boolean, null)" (state-map-distributed.html, Output)
    ['a JSONata Output of null', jsonata({ Type: 'Pass', Output: null })],
    ['a JSONata Output that is a number', jsonata({ Type: 'Pass', Output: 42 })],
    ['a JSONata Output that is a plain string', jsonata({ Type: 'Pass', Output: 'text' })],
    ['a JSONata Output that is a list of scalars and expressions', jsonata({ Type: 'Pass', Output: [1, null, [2, 3], '{% $states.input %}'] })],
    // Recorded: assign/test_assign_base.snapshot.json, base_constant_literals.json5
    [
      'Assign constants inside lists, null included (JSONPath)',
      {
        StartAt: 'S',
        States: {
          S: {
            Type: 'Pass',
            Assign: {
              constant_lst: [null, 0, 0.1, true, '$.no.such.path', '$varname', '{% $varname %}', '$$', "States.Format('{}', $varname)", [], { constant: 0 }],
              constant_obj: { in_obj_constant_lst: [null, '{% $varname %}', [[null]]] },
            },
            End: true,
          },
        },
      },
    ],
    ['Assign constants inside lists (JSONata)', jsonata({ Type: 'Pass', Assign: { list: [null, [1, [null]], 'x', { y: [null] }] } })],
    // Recorded: scenarios, choice_state_condition_constant_jsonata.json5
    [
      'a Choice Condition that is a literal',
      {
        QueryLanguage: 'JSONata',
        StartAt: 'C',
        States: { C: { Type: 'Choice', Choices: [{ Condition: true, Next: 'B' }], Default: 'B' }, B: { Type: 'Succeed' } },
      },
    ],
    // "You must specify a value between zero and 100" (state-map-distributed.html)
    ['a fractional ToleratedFailurePercentage', map({ ToleratedFailurePercentage: 2.5, ItemsPath: '$.items' })],
    ['MaxItems 0 in a ReaderConfig', map(reader({ MaxItems: 0 }))],
    // Recorded: assign/test_assign_reference_variables.snapshot.json (MAP_STATE_REFERENCE_IN_*_PATH)
    [
      'MaxItemsPath, batcher paths and tolerated paths from variables',
      map({ ...reader({ MaxItemsPath: '$max' }), ItemBatcher: { MaxItemsPerBatchPath: '$n' }, ToleratedFailureCountPath: '$c' }),
    ],
    ['JSONata Items that is an object', jsonata({ Type: 'Map', Items: { a: 1 }, ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } } })],
    [
      'Credentials with a role path',
      task({ Resource: 'arn:aws:states:::lambda:invoke', Credentials: { 'RoleArn.$': '$.role' }, Parameters: { FunctionName: 'f' } }),
    ],
    ['an optimized integration AWS offers', task({ Resource: 'arn:aws:states:::dynamodb:updateItem', Parameters: { TableName: 't' } })],
    ['a .sync integration AWS offers but the runtime does not run', task({ Resource: 'arn:aws:states:::glue:startJobRun.sync', Parameters: { JobName: 'j' } })],
  ])('%s', (_what, definition) => {
    expect(diagnose(definition)).toEqual([]);
  });
});

describe('definitions AWS refuses are refused', () => {
  const problem = (message: string | RegExp, location?: string) => ({
    severity: 'ERROR',
    code: 'SCHEMA_VALIDATION_FAILED',
    message: typeof message === 'string' ? message : expect.stringMatching(message),
    ...(location ? { location } : {}),
  });
  it.each([
    // Recorded: test_sfn_api_validation.snapshot.json (EMPTY_DICT, INVALID_BASE_NO_STARTAT) and test_sfn_api.snapshot.json
    ['a definition without States or StartAt', {}, [problem('These fields are required: [States, StartAt]', '/')]],
    ['a definition without StartAt', { States: { A: { Type: 'Succeed' } } }, [problem('These fields are required: [StartAt]', '/')]],
    ['a definition without States', { StartAt: 'A' }, [problem('These fields are required: [States]', '/')]],
    ['a definition that is not an object', [], [{ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: 'Definition must be a valid JSON object' }]],
    // Recorded: credentials/test_credentials_base.snapshot.json (EMPTY_CREDENTIALS, INVALID_CREDENTIALS_FIELD)
    [
      'Credentials without a role',
      task({ Resource: 'arn:aws:states:::lambda:invoke', Credentials: {}, Parameters: { FunctionName: 'f' } }),
      [problem('These fields are required: [RoleArn]', '/States/T/Credentials')],
    ],
    [
      'Credentials with another field (JSONata)',
      jsonata({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Arguments: '{% $states.input %}', Credentials: { InvalidField: 'x' } }),
      [problem("Field 'InvalidField' is not supported", '/States/A/Credentials'), problem('These fields are required: [RoleArn]', '/States/A/Credentials')],
    ],
    // "Only GetItem, PutItem, UpdateItem, and DeleteItem API actions are available through optimized integration" (connect-ddb.html)
    [
      'an optimized dynamodb:query',
      task({ Resource: 'arn:aws:states:::dynamodb:query', Parameters: { TableName: 't' } }),
      [problem(/^The resource provided arn:aws:states:::dynamodb:query is not recognized\./, '/States/T/Resource')],
    ],
    [
      'a pattern the integration does not support',
      task({ Resource: 'arn:aws:states:::dynamodb:getItem.waitForTaskToken', Parameters: { TableName: 't' } }),
      [problem(/is not recognized/, '/States/T/Resource')],
    ],
    ['a service AWS has no integration for', task({ Resource: 'arn:aws:states:::nosuch:doIt' }), [problem(/is not recognized/, '/States/T/Resource')]],
    // Recorded: test_sfn_api_validation.snapshot.json (INVALID_DOWNGRADE_QUERY_LANGUAGE)
    [
      'a JSONPath state in a JSONata machine',
      jsonata({ Type: 'Pass', QueryLanguage: 'JSONPath' }),
      [problem("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", '/States/A')],
    ],
    // Nested payload templates are still checked after the amendments
    [
      'a malformed path inside a list in Parameters',
      { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { l: [{ 'x.$': 'not a path(' }] }, End: true } } },
      expect.arrayContaining([expect.objectContaining({ location: '/States/P/Parameters/l[0]/x.$' })]),
    ],
    [
      'a JSONata Condition that is a number',
      jsonata({ Type: 'Choice', End: undefined, Choices: [{ Condition: 1, Next: 'A' }] }),
      [expect.objectContaining({ location: '/States/A/Choices/0/Condition' })],
    ],
    [
      'a ToleratedFailurePercentage over 100',
      map({ ToleratedFailurePercentage: 100.5, ItemsPath: '$.items' }),
      expect.arrayContaining([expect.objectContaining({ location: '/States/M/ToleratedFailurePercentage' })]),
    ],
    ['a negative MaxItems', map(reader({ MaxItems: -1 })), [expect.objectContaining({ location: '/States/M/ItemReader/ReaderConfig/MaxItems' })]],
    // Argument counts from the intrinsics page (States.Hash "takes two arguments", States.JsonMerge three, States.Format a
    // template first); asl-validator checked some functions' counts, the engine now checks every one.
    ...[
      ['States.Hash($.a)', /States\.Hash takes 2 argument\(s\), not 1/],
      ['States.JsonMerge($.a, $.b)', /States\.JsonMerge takes 3 argument\(s\), not 2/],
      ['States.Format()', /States\.Format takes at least 1 argument\(s\), not 0/],
      ['States.Array(States.MathRandom(1, 2, 3, 4))', /States\.MathRandom takes 2 to 3 argument\(s\), not 4/],
    ].map(([call, message]) => [
      `an intrinsic call with the wrong number of arguments: ${call}`,
      { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'x.$': call }, End: true } } },
      expect.arrayContaining([problem(message as RegExp, '/States/P/Parameters/x.$')]),
    ]),
  ])('%s', (_what, definition, expected) => {
    expect(diagnose(definition)).toEqual(expected);
  });
});
