/**
 * asl-validator 4.0.0's JSON Schemas, amended where they refuse definitions AWS accepts. The validator compiles
 * the schema modules it `require`s on every call, so amending those same module objects once, before the first
 * call, changes what it checks without a fork or a patch file. Each amendment names the AWS page or recording
 * that shows the definition is valid; the engine's own checks (preprocess.ts) still refuse what AWS refuses
 * (malformed JSONata, malformed intrinsic calls, Credentials without a role).
 *
 * Each entry is a difference between asl-validator and AWS (worth reporting upstream), not a local choice.
 */
type Schema = Record<string, any>;

const schema = (name: string): Schema => require(`asl-validator/dist/src/schemas/${name}.json`) as Schema;

/** Any JSON value; nested objects still have their `.$` fields checked as paths or intrinsic calls. */
const PAYLOAD_VALUE: Schema = {
  anyOf: [
    { type: ['string', 'number', 'boolean', 'null'] },
    { $ref: '#/definitions/_payload_template_object' },
    { type: 'array', items: { $ref: '#/definitions/_payload_value' } },
  ],
};

let amended = false;

export function amendAslSchemas(): void {
  if (amended) return;
  amended = true;
  const jsonata = schema('jsonata').definitions;
  const paths = schema('paths').definitions;
  const map = schema('map');
  const choice = schema('choice');

  // "The output field accepts any JSON value (object, array, string, number, boolean, null). Any string value,
  // including those inside objects or arrays, will be evaluated as JSONata if surrounded by {% %} characters."
  // (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html, Output; the same words on
  // every state's page). asl-validator allowed only a JSONata string or an object, and in templates only objects
  // inside arrays. JSONata text is checked by preprocess.ts wherever it appears.
  jsonata.output = {};
  jsonata.jsonata_template = {};
  jsonata._jsonata_template_object = { type: 'object' };

  // Assign (JSONPath) and payload templates hold constants of any JSON type at any depth: AWS ran a Pass whose
  // Assign lists hold null, numbers, "$.no.such.path", "{% $varname %}" and "States.Format('{}', $varname)" as
  // literals (recording: localstack/localstack tests/aws/services/stepfunctions/v2/assign/test_assign_base.snapshot.json,
  // template templates/assign/statemachines/base_constant_literals.json5). asl-validator refused null and
  // {% %} strings inside lists, and its key pattern skipped one- and two-character keys altogether.
  paths._payload_value = PAYLOAD_VALUE;
  paths._payload_template_object = {
    type: 'object',
    patternProperties: {
      '^.+\\.\\$$': paths._payload_template_object.patternProperties['^.+\\.\\$$'],
      '^(?!.*\\.\\$$)': { $ref: '#/definitions/_payload_value' },
    },
  };
  paths.asl_payload_template.oneOf[1] = { type: 'array', items: { $ref: '#/definitions/_payload_value' } };

  // A JSONata Choice rule's Condition may be a literal boolean: AWS ran `"Condition": true` (recording:
  // localstack/localstack tests/aws/services/stepfunctions/v2/scenarios/test_base_scenarios.snapshot.json,
  // template templates/scenarios/statemachines/choice_state_condition_constant_jsonata.json5).
  choice.oneOf[1].properties.Choices.items.properties.Condition = { oneOf: [{ type: 'boolean' }, { $ref: 'jsonata.json#/definitions/jsonata' }] };

  // ToleratedFailurePercentage is a number from 0 to 100, not only an integer: "You must specify a value between
  // zero and 100" (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html), and the Map
  // Run reports it as a Float (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html).
  map.definitions.ToleratedFailurePercentage = { type: 'number', minimum: 0, maximum: 100 };
  // ReaderConfig.MaxItems: 0 is accepted (the AWS-recorded case); run time treats it as "no limit".
  map.definitions.MaxItems = { type: 'integer', minimum: 0 };
  // JSONata Items: "A JSON array, a JSON object, or a JSONata expression that must evaluate to an array or object."
  // (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html, Items)
  map.oneOf[1].properties.Items = { oneOf: [{ type: ['array', 'object'] }, { $ref: 'jsonata.json#/definitions/jsonata' }] };
  // BatchInput (JSONata) is any JSON value (its JSONata text is checked by preprocess.ts).
  map.oneOf[1].properties.ItemBatcher.properties.BatchInput = {};
}
