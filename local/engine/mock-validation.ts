/**
 * TestState's `mock.fieldValidationMode` (https://docs.aws.amazon.com/step-functions/latest/apireference/API_MockInput.html):
 * a mocked result is validated "against their respective API models":
 * - STRICT (the default): all required fields must be present, and all present fields must conform to the API's schema;
 * - PRESENT: all present fields must conform to the API's schema;
 * - NONE: no validation.
 * The API models are the output shapes the AWS SDK v3 clients ship (read through `@smithy/core/schema`, as
 * local/validate does for requests), for the SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) and
 * `lambda:invoke` of the services whose clients are installed. Other resources have no model here and are not checked.
 */
import { NormalizedSchema } from '@smithy/core/schema';
import { sdkModule } from './sdk';

type Obj = Record<string, unknown>;

/** The output schema of the Resource's API, or undefined when the runtime has no model for it. */
async function outputSchema(resource: string): Promise<NormalizedSchema | undefined> {
  const sdk = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(resource);
  const [service, action] = sdk ? [sdk[1], sdk[2]] : resource === 'arn:aws:states:::lambda:invoke' ? ['lambda', 'invoke'] : [];
  const mod = service ? sdkModule(service) : undefined;
  if (!mod || !action) return undefined;
  const name = action.charAt(0).toUpperCase() + action.slice(1);
  const op = Object.values(mod).find((v) => Array.isArray(v) && v[0] === 9 && v[2] === name) as unknown[] | undefined;
  return op ? NormalizedSchema.of(op[5] as () => never) : undefined;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** The structure members the SDK's compact schema marks required (they come first). */
function required(struct: NormalizedSchema): string[] {
  const raw = struct.getSchema() as unknown as unknown[];
  const count = typeof raw[6] === 'number' ? raw[6] : 0;
  return ((raw[4] as string[] | undefined) ?? []).slice(0, count);
}

function check(schema: NormalizedSchema, value: unknown, path: string, strict: boolean, problems: string[]): void {
  if (value === null || value === undefined || schema.isDocumentSchema()) return;
  const type = Array.isArray(value) ? 'array' : typeof value;
  const wrong = (expected: string) => problems.push(`${path || 'the result'} must be ${expected}, got ${type}`);
  if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (type !== 'object') return void wrong('an object');
    // SDK integrations answer with the model's member names capitalized (sfn's `executionArn` is `ExecutionArn`).
    const record = Object.fromEntries(Object.entries(value as Obj).map(([k, v]) => [pascal(k), v]));
    if (strict)
      for (const name of required(schema)) if (record[pascal(name)] === undefined) problems.push(`${path ? `${path}.` : ''}${pascal(name)} is required`);
    // Fields the model does not have (the SdkHttpMetadata of lambda:invoke) are not the model's to judge.
    for (const [name, member] of schema.structIterator()) {
      const v = record[pascal(name)];
      if (v !== undefined) check(member, v, path ? `${path}.${pascal(name)}` : pascal(name), strict, problems);
    }
  } else if (schema.isListSchema()) {
    if (type !== 'array') return void wrong('an array');
    (value as unknown[]).forEach((v, n) => check(schema.getValueSchema(), v, `${path}[${n}]`, strict, problems));
  } else if (schema.isMapSchema()) {
    if (type !== 'object') return void wrong('an object');
    for (const [k, v] of Object.entries(value as Obj)) check(schema.getValueSchema(), v, `${path}.${k}`, strict, problems);
  } else if (schema.isBlobSchema()) {
    // Blobs (Lambda's Payload) arrive as decoded JSON in Step Functions: any value.
  } else if (schema.isTimestampSchema()) {
    if (type !== 'string' && type !== 'number') wrong('a timestamp');
  } else if (schema.isStringSchema()) {
    if (type !== 'string') wrong('a string');
  } else if (schema.isBooleanSchema()) {
    if (type !== 'boolean') wrong('a boolean');
  } else if (schema.isNumericSchema() || schema.isBigIntegerSchema() || schema.isBigDecimalSchema()) {
    if (type !== 'number') wrong('a number');
  }
}

/** The problems with a mocked result for this Resource under the mode (empty: it is valid, or there is no model). */
export async function mockResultProblems(resource: unknown, result: unknown, mode: 'STRICT' | 'PRESENT' | 'NONE'): Promise<string[]> {
  if (mode === 'NONE' || typeof resource !== 'string') return [];
  const schema = await outputSchema(resource);
  if (!schema) return [];
  const problems: string[] = [];
  check(schema, result, '', mode === 'STRICT', problems);
  return problems;
}
