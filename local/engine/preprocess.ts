/**
 * Create-time checks of a definition, as CreateStateMachine/ValidateStateMachineDefinition do them
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html):
 * asl-validator checks the structure; this file adds what it does not (malformed intrinsic calls and
 * escapes, literal timestamps, JSONata syntax, unique state names, variable names and scopes) and turns
 * every problem into an AWS-shaped diagnostic {severity, code, message, location}.
 */
import jsonata from 'jsonata';
import { amendAslSchemas } from './asl-schema';
import { comparisonOperator, isTimestamp } from './choice';
import { isOfferedIntegration } from './sdk';
import { IntrinsicSyntaxError, isIntrinsic, parseIntrinsic } from './intrinsics';
import { expressionText, isExpression } from './jsonata';
import { hasFunctionCall } from './jsonpath';

type Obj = Record<string, any>;

export interface Diagnostic {
  severity: 'ERROR' | 'WARNING';
  code: string;
  message: string;
  location?: string;
}

export interface PreparedDefinition {
  definition: Obj;
  /** State types by name. */
  stateTypes: Map<string, string>;
  /** The top-level TimeoutSeconds, enforced by the service on the virtual clock. */
  timeoutSeconds?: number;
}

/** Thrown for definitions the runtime refuses; `diagnostics` hold each problem. */
export class DefinitionRefusedError extends Error {
  constructor(
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
    this.name = 'DefinitionRefusedError';
  }
}

interface AslValidatorResult {
  isValid: boolean;
  errors: { 'Error code'?: string; Message?: string; schemaError?: { instancePath?: string } }[];
}
// asl-validator ships no type declarations.
const aslValidator = require('asl-validator') as (definition: unknown, options?: Record<string, boolean>) => AslValidatorResult;

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,79}$/;

/**
 * Every problem AWS would report for this definition (empty when it is valid). `schema: false` skips
 * asl-validator's JSON Schema pass (it compiles its schemas on every call, ~0.5 s), for in-process suites
 * that run hundreds of definitions already known to be well-formed.
 */
export function diagnose(original: unknown, opts: { schema?: boolean } = {}): Diagnostic[] {
  // AWS's words, recorded: ValidateStateMachineDefinition answers "Definition must be a valid JSON object" (no
  // location) for a definition that is not an object, and "These fields are required: [States, StartAt]" at "/"
  // for `{}`; CreateStateMachine: "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are
  // required: [States] at /'" (localstack/localstack tests/aws/services/stepfunctions/v2/test_sfn_api_validation.snapshot.json
  // and test_sfn_api.snapshot.json).
  if (!isObj(original)) return [{ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: 'Definition must be a valid JSON object' }];
  const missing = ['States', 'StartAt'].filter((field) => !(field in original));
  if (missing.length)
    return [{ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: `These fields are required: [${missing.join(', ')}]`, location: '/' }];
  if (!isObj(original.States))
    return [{ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: "The field 'States' must be a JSON object", location: '/States' }];
  const out: Diagnostic[] = [];
  amendAslSchemas();
  // The validator writes a default QueryLanguage into every state, so it gets its own copy.
  const validation = opts.schema === false ? { isValid: true, errors: [] } : aslValidator(structuredClone(original), { checkArn: true, checkPaths: true });
  if (!validation.isValid) {
    for (const e of validation.errors ?? []) {
      out.push({
        severity: 'ERROR',
        code: e['Error code'] ?? 'SCHEMA_VALIDATION_FAILED',
        message: e.Message ?? 'Invalid definition',
        location: e.schemaError?.instancePath || undefined,
      });
    }
  }
  const topLanguage = original.QueryLanguage === 'JSONata' ? 'JSONata' : 'JSONPath';
  checkScope(original, '', topLanguage, new Set(), new Set(), out);
  return out;
}

export function prepareDefinition(original: unknown, opts: { schema?: boolean } = {}): PreparedDefinition {
  const problems = diagnose(original, opts).filter((d) => d.severity === 'ERROR');
  if (problems.length) throw new DefinitionRefusedError(invalidDefinitionMessage(problems), problems);
  const definition = structuredClone(original) as Obj;
  const stateTypes = new Map<string, string>();
  collectTypes(definition, stateTypes);
  return { definition, stateTypes, timeoutSeconds: definition.TimeoutSeconds };
}

/** CreateStateMachine's InvalidDefinition message. */
export function invalidDefinitionMessage(problems: Diagnostic[]): string {
  return `Invalid State Machine Definition: '${problems.map((p) => `${p.code}: ${p.message}${p.location ? ` at ${p.location}` : ''}`).join(', ')}'`;
}

/**
 * EXPRESS state machines support neither activities (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html)
 * nor the Run a Job (.sync) and Wait for Callback (.waitForTaskToken) patterns ("Express Workflows only support
 * Request Response integrations": https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html);
 * the runtime refuses them at create time. The wording for '.waitForTaskToken' is AWS's, recorded (trailing space
 * included: test_sfn_api_validation.snapshot.json, ILLEGAL_WFTT); the others follow it.
 */
export function expressProblems(definition: unknown, at = ''): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!isObj(definition) || !isObj(definition.States)) return out;
  for (const [name, state] of Object.entries(definition.States)) {
    if (!isObj(state)) continue;
    const loc = `${at}/States/${name}`;
    const resource = typeof state.Resource === 'string' ? state.Resource : '';
    if (state.Type === 'Task' && /^arn:aws:states:[^:]*:\d+:activity:/.test(resource)) {
      out.push({
        severity: 'ERROR',
        code: 'SCHEMA_VALIDATION_FAILED',
        message: 'Express state machine does not support Activity ARN',
        location: `${loc}/Resource`,
      });
    }
    const pattern = /\.(sync(:2)?|waitForTaskToken)$/.exec(resource);
    if (state.Type === 'Task' && pattern) {
      out.push({
        severity: 'ERROR',
        code: 'SCHEMA_VALIDATION_FAILED',
        message: `Express state machine does not support '.${pattern[1]}' service integration `,
        location: `${loc}/Resource`,
      });
    }
    if (state.Type === 'Map') out.push(...expressProblems(state.ItemProcessor ?? state.Iterator, `${loc}/ItemProcessor`));
    if (state.Type === 'Parallel' && Array.isArray(state.Branches))
      state.Branches.forEach((b: unknown, n: number) => out.push(...expressProblems(b, `${loc}/Branches[${n}]`)));
  }
  return out;
}

function collectTypes(scope: Obj, types: Map<string, string>): void {
  for (const [name, state] of Object.entries(scope.States as Record<string, Obj>)) {
    types.set(name, state.Type);
    if (state.Type === 'Map') collectTypes(state.ItemProcessor ?? state.Iterator, types);
    if (state.Type === 'Parallel') for (const b of state.Branches) collectTypes(b, types);
  }
}

function checkScope(scope: Obj, at: string, topLanguage: string, names: Set<string>, outerVariables: Set<string>, out: Diagnostic[]): void {
  const error = (code: string, message: string, location: string) => out.push({ severity: 'ERROR', code, message, location });
  const assignedHere = new Set<string>();
  for (const [name, state] of Object.entries(scope.States ?? {})) {
    const loc = `${at}/States/${name}`;
    if (names.has(name)) error('SCHEMA_VALIDATION_FAILED', `State names must be unique across the state machine: '${name}' is used more than once`, loc);
    names.add(name);
    if (!isObj(state)) continue;
    const language = state.QueryLanguage ?? topLanguage;
    // Recorded (test_sfn_api_validation.snapshot.json, INVALID_DOWNGRADE_QUERY_LANGUAGE): at the state, in these words.
    if (topLanguage === 'JSONata' && state.QueryLanguage === 'JSONPath')
      error('SCHEMA_VALIDATION_FAILED', "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc);
    if (state.Type === 'Task') checkTask(state, loc, out);
    if (language === 'JSONata') {
      for (const field of ['InputPath', 'Parameters', 'ResultSelector', 'ResultPath', 'OutputPath', 'ItemsPath']) {
        if (field in state) error('SCHEMA_VALIDATION_FAILED', `The field '${field}' is not supported in JSONata states`, `${loc}/${field}`);
      }
      checkJsonata(state, loc, out);
    } else {
      for (const field of ['Arguments', 'Output'])
        if (field in state) error('SCHEMA_VALIDATION_FAILED', `The field '${field}' is only supported in JSONata states`, `${loc}/${field}`);
      for (const field of ['Parameters', 'ResultSelector', 'ItemSelector', 'Assign']) if (field in state) checkTemplate(state[field], `${loc}/${field}`, out);
      for (const field of ['ErrorPath', 'CausePath'])
        if (typeof state[field] === 'string' && !state[field].startsWith('$')) checkIntrinsic(state[field], `${loc}/${field}`, out);
      checkReferencePaths(state, loc, out);
    }
    if (state.Type === 'Wait' && 'Timestamp' in state && !isExpression(state.Timestamp) && !isTimestamp(state.Timestamp)) {
      error(
        'SCHEMA_VALIDATION_FAILED',
        "The value for the field 'Timestamp' must be a valid ISO-8601 extended offset date-time format string",
        `${loc}/Timestamp`,
      );
    }
    if (state.Type === 'Choice' && Array.isArray(state.Choices)) state.Choices.forEach((rule: Obj, n: number) => checkRule(rule, `${loc}/Choices[${n}]`, out));
    // "If provided, the "HeartbeatSeconds" interval MUST be smaller than the "TimeoutSeconds" value."
    // (https://states-language.net/spec.html#task-state); values from paths are checked when the state runs (states/task.ts).
    if (
      state.Type === 'Task' &&
      typeof state.HeartbeatSeconds === 'number' &&
      typeof state.TimeoutSeconds === 'number' &&
      state.HeartbeatSeconds >= state.TimeoutSeconds
    ) {
      error(
        'SCHEMA_VALIDATION_FAILED',
        `The value for the field 'HeartbeatSeconds' (${state.HeartbeatSeconds}) must be smaller than the value for the field 'TimeoutSeconds' (${state.TimeoutSeconds})`,
        `${loc}/HeartbeatSeconds`,
      );
    }
    const assigns = [state.Assign, ...(state.Catch ?? []).map((c: Obj) => c?.Assign), ...(state.Choices ?? []).map((c: Obj) => c?.Assign)].filter(isObj);
    for (const assign of assigns) {
      for (const key of Object.keys(assign)) {
        const variable = key.endsWith('.$') ? key.slice(0, -2) : key;
        if (!VARIABLE_NAME.test(variable) || variable === 'states')
          error(
            'SCHEMA_VALIDATION_FAILED',
            `The variable name '${variable}' is invalid: it must start with a letter or underscore and contain only letters, digits and underscores`,
            `${loc}/Assign`,
          );
        // https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html#variable-scope
        if (outerVariables.has(variable))
          error(
            'SCHEMA_VALIDATION_FAILED',
            `The variable '${variable}' is declared in an outer scope and cannot be assigned in a Map or Parallel state's inner scope`,
            `${loc}/Assign`,
          );
        assignedHere.add(variable);
      }
    }
  }
  for (const [name, state] of Object.entries(scope.States ?? {})) {
    if (!isObj(state)) continue;
    const visible = new Set([...outerVariables, ...assignedHere]);
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      // A distributed Map's children are separate executions: they cannot see the parent's variables.
      const inner = processor?.ProcessorConfig?.Mode === 'DISTRIBUTED' ? new Set<string>() : visible;
      if (isObj(processor)) checkScope(processor, `${at}/States/${name}/ItemProcessor`, topLanguage, names, inner, out);
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      state.Branches.forEach((b: Obj, n: number) => isObj(b) && checkScope(b, `${at}/States/${name}/Branches[${n}]`, topLanguage, names, visible, out));
    }
  }
}

/**
 * Reference paths: "Functions such as length() aren't supported"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html#amazon-states-language-reference-paths).
 * The fields AWS calls reference paths: ResultPath (input-output-resultpath.html), ItemsPath (input-output-itemspath.html),
 * ErrorPath/CausePath (state-fail.html), SecondsPath/TimestampPath (state-wait.html). Refused at create time whether
 * or not the schema pass runs (TestState and stored revisions skip it).
 */
const REFERENCE_PATH_FIELDS = ['ResultPath', 'ItemsPath', 'ErrorPath', 'CausePath', 'SecondsPath', 'TimestampPath'];

/**
 * A Task's Resource and Credentials.
 * - Resource: an `arn:aws:states:::` integration AWS does not offer (`dynamodb:query`) is refused in the words of
 *   CreateStateMachine's answer ("The resource provided arn:aws:states:::aws-sdk:apigatewaymanagementapi:postToConnection
 *   is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.",
 *   as a CloudFormation deployment reported it); `isOfferedIntegration` (sdk.ts) answers it.
 * - Credentials: "RoleArn" is its one field, a role ARN or a path/expression to one
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html, Credentials). AWS refused both `{}` and
 *   `{"InvalidField": ...}` (recording: localstack/localstack tests/aws/services/stepfunctions/v2/credentials/
 *   test_credentials_base.snapshot.json, EMPTY_CREDENTIALS and INVALID_CREDENTIALS_FIELD, InvalidDefinition).
 *   The message words are the engine's (that recording's messages are not compared), in AWS's form.
 */
function checkTask(state: Obj, loc: string, out: Diagnostic[]): void {
  const error = (message: string, location: string) => out.push({ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message, location });
  if (typeof state.Resource === 'string' && isOfferedIntegration(state.Resource) === false) {
    error(
      `The resource provided ${state.Resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.`,
      `${loc}/Resource`,
    );
  }
  if (!('Credentials' in state)) return;
  const credentials = state.Credentials;
  if (!isObj(credentials)) {
    error("The field 'Credentials' must be a JSON object", `${loc}/Credentials`);
    return;
  }
  for (const key of Object.keys(credentials)) if (key !== 'RoleArn' && key !== 'RoleArn.$') error(`Field '${key}' is not supported`, `${loc}/Credentials`);
  if (!('RoleArn' in credentials) && !('RoleArn.$' in credentials)) error('These fields are required: [RoleArn]', `${loc}/Credentials`);
}

function checkReferencePaths(state: Obj, loc: string, out: Diagnostic[]): void {
  const check = (value: unknown, at: string, field: string) => {
    if (typeof value === 'string' && value.startsWith('$') && hasFunctionCall(value)) {
      out.push({
        severity: 'ERROR',
        code: 'SCHEMA_VALIDATION_FAILED',
        message: `The value for the field '${field}' must be a valid reference path: functions such as length() aren't supported`,
        location: at,
      });
    }
  };
  for (const field of REFERENCE_PATH_FIELDS) check(state[field], `${loc}/${field}`, field);
  if (Array.isArray(state.Catch))
    state.Catch.forEach((c: unknown, n: number) => isObj(c) && check(c.ResultPath, `${loc}/Catch[${n}]/ResultPath`, 'ResultPath'));
}

function checkTemplate(value: unknown, loc: string, out: Diagnostic[]): void {
  if (Array.isArray(value)) return value.forEach((v, n) => checkTemplate(v, `${loc}[${n}]`, out));
  if (!isObj(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (key.endsWith('.$') && typeof v === 'string') {
      if (!v.startsWith('$')) checkIntrinsic(v, `${loc}/${key}`, out);
    } else checkTemplate(v, `${loc}/${key}`, out);
  }
}

function checkIntrinsic(text: string, loc: string, out: Diagnostic[]): void {
  if (!isIntrinsic(text)) {
    out.push({
      severity: 'ERROR',
      code: 'SCHEMA_VALIDATION_FAILED',
      message: `The value for the field must be a valid JSONPath or a valid intrinsic function call: '${text}'`,
      location: loc,
    });
    return;
  }
  try {
    parseIntrinsic(text);
  } catch (err) {
    if (err instanceof IntrinsicSyntaxError) out.push({ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: err.message, location: loc });
    else throw err;
  }
}

function checkRule(rule: Obj, loc: string, out: Diagnostic[]): void {
  if (!isObj(rule)) return;
  for (const [key, value] of Object.entries(rule)) {
    if (key === 'And' || key === 'Or') (value as Obj[]).forEach((r, n) => checkRule(r, `${loc}/${key}[${n}]`, out));
    else if (key === 'Not') checkRule(value as Obj, `${loc}/Not`, out);
    const op = comparisonOperator(key);
    if (op?.family === 'Timestamp' && !op.path && !isTimestamp(value)) {
      out.push({
        severity: 'ERROR',
        code: 'SCHEMA_VALIDATION_FAILED',
        message: `The value for the field '${key}' must be a valid ISO-8601 extended offset date-time format string`,
        location: `${loc}/${key}`,
      });
    }
  }
}

function checkJsonata(value: unknown, loc: string, out: Diagnostic[]): void {
  if (isExpression(value)) {
    try {
      jsonata(expressionText(value));
    } catch (err) {
      out.push({
        severity: 'ERROR',
        code: 'SCHEMA_VALIDATION_FAILED',
        message: `The JSONata expression '${expressionText(value)}' is invalid: ${(err as Error).message}`,
        location: loc,
      });
    }
    return;
  }
  if (Array.isArray(value)) return value.forEach((v, n) => checkJsonata(v, `${loc}[${n}]`, out));
  if (!isObj(value)) return;
  for (const [key, v] of Object.entries(value)) {
    // Nested state definitions are checked as scopes of their own.
    if (key === 'ItemProcessor' || key === 'Iterator' || key === 'Branches' || key === 'States') continue;
    checkJsonata(v, `${loc}/${key}`, out);
  }
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
