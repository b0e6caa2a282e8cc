/**
 * Request validation against the AWS service models, at the protocol layer: before a service sees a request,
 * its parameters are checked against the operation's input shape as the AWS SDK v3 clients ship it
 * (`@aws-sdk/client-*` export one schema per shape, read through `@smithy/core/schema`). Those schemas carry
 * member types, required members and HTTP bindings; they do not carry length, pattern, range or enum
 * constraints, which the services check themselves where the runtime relies on them.
 *
 * What AWS answers, by protocol (AWS front ends deserialize first, then validate):
 * - AWS JSON 1.0/1.1 (Step Functions, DynamoDB, EventBridge, CloudTrail) and REST-JSON (SES v2): a value of the
 *   wrong JSON type is a `SerializationException` with the deserializer's message ("Start of structure or map
 *   found where not expected.", "class java.lang.Short can not be converted to an String"); a missing required
 *   member is a `ValidationException` "1 validation error detected: Value null at 'name' failed to satisfy
 *   constraint: Member must not be null" (common errors: https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html). SES v2 declares
 *   `BadRequestException` for input it refuses (https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html).
 * - AWS query (SNS, RDS): `ValidationError` with the same message (https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html,
 *   https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
 * - EC2 query: `MissingParameter`, `InvalidParameterValue` and `UnknownParameter`
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
 * - REST-XML (S3, path-style): the operation is found as S3 finds it, by method, path, query literals
 *   (`?list-type=2`, `?tagging`) and the required query parameters and headers that set operations apart
 *   (`x-amz-copy-source` makes a PUT a CopyObject); an integer query parameter that is not one is
 *   `InvalidArgument` (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), worded as S3
 *   answers it ("Provided max-keys not an integer or within integer range", from recorded S3 responses).
 *
 * An operation the model does not know is left to the service (which answers UnknownOperation/InvalidAction).
 */
import { NormalizedSchema } from '@smithy/core/schema';
import { AwsError, type AwsRequest, type AwsResponse } from '../kernel';
import type { Protocol as WireProtocol } from '../wire/decode';
import { renderError } from '../wire/errors';

type Protocol = 'awsJson' | 'restJson' | 'restXml' | 'awsQuery' | 'ec2Query';
const WIRE: Record<Protocol, WireProtocol> = { awsJson: 'json', restJson: 'rest-json', restXml: 'rest-xml', awsQuery: 'query', ec2Query: 'ec2' };

interface ServiceModel {
  protocol: Protocol;
  /** The SDK client package whose exported schemas describe the service. */
  load: () => Promise<Record<string, unknown>>;
  /** The error a missing required member is reported as. */
  validationError: string;
}

/** By SigV4 signing service, as `local/server.ts` routes. */
const MODELS: Record<string, ServiceModel> = {
  states: { protocol: 'awsJson', load: () => import('@aws-sdk/client-sfn'), validationError: 'ValidationException' },
  dynamodb: { protocol: 'awsJson', load: () => import('@aws-sdk/client-dynamodb'), validationError: 'ValidationException' },
  events: { protocol: 'awsJson', load: () => import('@aws-sdk/client-eventbridge'), validationError: 'ValidationException' },
  cloudtrail: { protocol: 'awsJson', load: () => import('@aws-sdk/client-cloudtrail'), validationError: 'ValidationException' },
  ses: { protocol: 'restJson', load: () => import('@aws-sdk/client-sesv2'), validationError: 'BadRequestException' },
  sns: { protocol: 'awsQuery', load: () => import('@aws-sdk/client-sns'), validationError: 'ValidationError' },
  ec2: { protocol: 'ec2Query', load: () => import('@aws-sdk/client-ec2'), validationError: 'MissingParameter' },
  s3: { protocol: 'restXml', load: () => import('@aws-sdk/client-s3'), validationError: 'InvalidArgument' },
  // Secrets Manager's own word for a bad parameter is InvalidParameterException (its API reference's Errors sections).
  secretsmanager: { protocol: 'awsJson', load: () => import('@aws-sdk/client-secrets-manager'), validationError: 'InvalidParameterException' },
  // RDS's common errors list ValidationError, "The input fails to satisfy the constraints specified by an AWS service"
  // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html); the message is SNS's form (unconfirmed).
  rds: { protocol: 'awsQuery', load: () => import('@aws-sdk/client-rds'), validationError: 'ValidationError' },
  // Auto Scaling's common errors name ValidationError (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html).
  autoscaling: { protocol: 'awsQuery', load: () => import('@aws-sdk/client-auto-scaling'), validationError: 'ValidationError' },
  // ECS's word for a bad parameter is InvalidParameterException ("The specified parameter isn't valid", every
  // operation's Errors); which one it answers for a missing member is unconfirmed (README).
  ecs: { protocol: 'awsJson', load: () => import('@aws-sdk/client-ecs'), validationError: 'InvalidParameterException' },
};

/** The operation's name and input schema, or undefined when the model has no such operation. */
type Resolver = (req: AwsRequest) => { name: string; input: NormalizedSchema } | undefined;
const resolvers = new Map<string, Promise<Resolver>>();

/**
 * Checks a signed AWS API request against its service's model. Returns the error to answer, in the protocol's
 * wire format, or undefined when the request may go on. A JSON body of `null` is an absent input, as AWS reads
 * it: the request's body becomes `{}`.
 */
export async function validateRequest(req: AwsRequest): Promise<AwsResponse | undefined> {
  const model = MODELS[req.service];
  const error = model && (await check(req, model));
  return error && renderError(WIRE[model.protocol], error);
}

async function check(req: AwsRequest, model: ServiceModel): Promise<AwsError | undefined> {
  let resolver = resolvers.get(req.service);
  if (!resolver) resolvers.set(req.service, (resolver = model.load().then((mod) => resolverFor(model.protocol, mod))));
  const operation = (await resolver)(req);
  if (!operation) return undefined;
  req.operation = operation.name;
  const { input } = operation;
  try {
    switch (model.protocol) {
      case 'awsJson':
        return notNull(jsonMissing(req, input), model.validationError);
      case 'restJson':
        return checkRestJsonRequest(req, input, model);
      case 'restXml':
        return checkRestXmlQuery(req, input);
      case 'awsQuery':
      case 'ec2Query':
        return checkQueryRequest(req, input, model);
    }
  } catch (err) {
    if (err instanceof AwsError) return err;
    throw err;
  }
}

// ---- operation lookup -----------------------------------------------------------------------------------

/** `[9, namespace, name, traits, input, output]`: the SDK's operation schema. */
type OperationSchema = [9, string, string, Record<string, unknown> | number, () => unknown, () => unknown];

function operations(mod: Record<string, unknown>): Map<string, OperationSchema> {
  const ops = new Map<string, OperationSchema>();
  for (const [key, value] of Object.entries(mod)) {
    if (key.endsWith('$') && Array.isArray(value) && value[0] === 9) ops.set(value[2] as string, value as OperationSchema);
  }
  return ops;
}

function inputOf(op: OperationSchema | undefined): { name: string; input: NormalizedSchema } | undefined {
  return op ? { name: op[2], input: NormalizedSchema.of(op[4] as never) } : undefined;
}

/** An operation's `http` trait: method, path pattern (labels as capture groups), and the query string after `?`. */
function httpRoute(op: OperationSchema): { method: string; regex: RegExp; literals: string } | undefined {
  const http = typeof op[3] === 'object' ? (op[3].http as [string, string, number] | undefined) : undefined;
  if (!http) return undefined;
  const [path, literals = ''] = http[1].split('?');
  const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, label: string) => (label.endsWith('+') ? '(.+)' : '([^/]+)'));
  return { method: http[0], regex: new RegExp(`^${pattern}$`), literals };
}

function resolverFor(protocol: Protocol, mod: Record<string, unknown>): Resolver {
  const ops = operations(mod);
  if (protocol === 'awsJson') {
    // `AWSStepFunctions.StartExecution`, `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`.
    return (req) => inputOf(ops.get(req.target?.slice(req.target.lastIndexOf('.') + 1) ?? ''));
  }
  if (protocol === 'restJson') {
    const routes = [...ops.values()].flatMap((op) => {
      const route = httpRoute(op);
      return route ? [{ ...route, op }] : [];
    });
    return (req) => inputOf(routes.find((r) => r.method === req.method && r.regex.test(req.path))?.op);
  }
  if (protocol === 'restXml') return s3Resolver(ops);
  return (req) => inputOf(ops.get(queryParams(req).get('Action') ?? ''));
}

// ---- JSON protocols -------------------------------------------------------------------------------------

/** How many leading members of a structure are required: the SDK's compact schema keeps them first. */
function requiredMembers(struct: NormalizedSchema): Set<string> {
  const raw = struct.getSchema() as unknown as unknown[];
  const count = typeof raw[6] === 'number' ? raw[6] : 0;
  return new Set((raw[4] as string[] | undefined)?.slice(0, count) ?? []);
}

/** Coral's path segment: the member name with a lower-case first letter (`TableName` → `tableName`). */
function segment(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function notNull(missing: string[], code: string): AwsError | undefined {
  if (missing.length === 0) return undefined;
  const each = missing.map((path) => `Value null at '${path}' failed to satisfy constraint: Member must not be null`);
  return new AwsError(code, `${missing.length} validation error${missing.length > 1 ? 's' : ''} detected: ${each.join('; ')}`);
}

function parseJsonBody(req: AwsRequest): unknown {
  if (req.body.length === 0) return {};
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 'Request body is not valid JSON');
  }
}

/** Throws SerializationException for a type error in the JSON body; returns the paths of missing required members. */
function jsonMissing(req: AwsRequest, input: NormalizedSchema, bound: Set<string> = new Set()): string[] {
  let body = parseJsonBody(req);
  if (body === null) {
    // `null` is no input at all: the required members are then what is missing.
    body = {};
    req.body = Buffer.from('{}');
  }
  const missing: string[] = [];
  checkJson(input, body, '', missing, bound);
  return missing;
}

const LIST_FOUND = 'Start of list found where not expected';
const MAP_FOUND = 'Start of structure or map found where not expected.';

/** The Java class Coral's deserializer reads a JSON scalar as, for its "can not be converted" message. */
function javaClass(value: unknown): string {
  if (typeof value === 'boolean') return 'Boolean';
  if (typeof value === 'string') return 'String';
  const n = value as number;
  if (!Number.isInteger(n)) return 'Double';
  if (n >= -32768 && n <= 32767) return 'Short';
  if (n >= -2147483648 && n <= 2147483647) return 'Integer';
  return 'Long';
}

function serialization(message: string): AwsError {
  return new AwsError('SerializationException', message);
}

/**
 * How deep the shape check follows a request. Only recursive shapes (DynamoDB's AttributeValue) nest further, and
 * their service bounds nesting with its own error (DynamoDB: 32 levels): past this the value is left to it, so a
 * document nested thousands deep gets the service's answer rather than overflowing the stack here.
 */
const MAX_CHECK_DEPTH = 64;

/** Throws SerializationException for a value of the wrong JSON type; collects the paths of missing required members. */
function checkJson(schema: NormalizedSchema, value: unknown, path: string, missing: string[], skip: Set<string> = new Set(), depth = 0): void {
  if (value === null || value === undefined || schema.isDocumentSchema() || depth > MAX_CHECK_DEPTH) return;
  const isArray = Array.isArray(value);
  const isObject = typeof value === 'object' && !isArray;
  if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (isArray) throw serialization(LIST_FOUND);
    if (!isObject) throw serialization('Expected null');
    const record = value as Record<string, unknown>;
    const required = requiredMembers(schema);
    for (const [name, member] of schema.structIterator()) {
      if (skip.has(name)) continue;
      const at = path ? `${path}.${segment(name)}` : segment(name);
      const v = Object.hasOwn(record, name) ? record[name] : undefined;
      if (v === null || v === undefined) {
        if (required.has(name)) missing.push(at);
        continue;
      }
      checkJson(member, v, at, missing, undefined, depth + 1);
    }
    return;
  }
  if (schema.isListSchema()) {
    if (isObject) throw serialization(MAP_FOUND);
    if (!isArray) throw serialization('Expected list or null');
    const element = schema.getValueSchema();
    (value as unknown[]).forEach((v, i) => checkJson(element, v, `${path}.${i + 1}.member`, missing, undefined, depth + 1));
    return;
  }
  if (schema.isMapSchema()) {
    if (isArray) throw serialization(LIST_FOUND);
    if (!isObject) throw serialization('Expected map or null');
    const element = schema.getValueSchema();
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) checkJson(element, v, `${path}.${k}.member`, missing, undefined, depth + 1);
    return;
  }
  if (isArray) throw serialization(LIST_FOUND);
  if (isObject) throw serialization(MAP_FOUND);
  if (schema.isStringSchema()) {
    if (typeof value !== 'string') throw serialization(`class java.lang.${javaClass(value)} can not be converted to an String`);
  } else if (schema.isBooleanSchema()) {
    if (typeof value !== 'boolean') throw serialization(`class java.lang.${javaClass(value)} can not be converted to an Boolean`);
  } else if (schema.isNumericSchema() || schema.isBigIntegerSchema() || schema.isBigDecimalSchema()) {
    // Floats may be sent as the strings NaN/Infinity/-Infinity (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html).
    if (typeof value !== 'number' && !(typeof value === 'string' && /^(NaN|-?Infinity)$/.test(value))) {
      throw serialization(`class java.lang.${javaClass(value)} can not be converted to an Integer`);
    }
  } else if (schema.isBlobSchema()) {
    if (typeof value !== 'string') throw serialization(`class java.lang.${javaClass(value)} can not be converted to a Blob`);
  } else if (schema.isTimestampSchema()) {
    // Epoch seconds on the wire; a date-time string is read too.
    if (typeof value !== 'number' && typeof value !== 'string') throw serialization(`class java.lang.${javaClass(value)} can not be converted to a Date`);
  }
}

function checkRestJsonRequest(req: AwsRequest, input: NormalizedSchema, model: ServiceModel): AwsError | undefined {
  const bound = new Set<string>();
  const missing: string[] = [];
  const required = requiredMembers(input);
  for (const [name, member] of input.structIterator()) {
    const traits = member.getMergedTraits();
    if (traits.httpLabel) bound.add(name);
    else if (traits.httpQuery !== undefined) {
      bound.add(name);
      if (required.has(name) && !req.query.has(String(traits.httpQuery))) missing.push(segment(name));
    } else if (traits.httpHeader !== undefined) {
      bound.add(name);
      if (required.has(name) && req.headers[String(traits.httpHeader).toLowerCase()] === undefined) missing.push(segment(name));
    } else if (traits.httpPayload || traits.httpQueryParams || traits.httpPrefixHeaders !== undefined) {
      // Payloads and header/query maps are the service's to read; none of the emulated operations has one.
      bound.add(name);
    }
  }
  return notNull([...missing, ...jsonMissing(req, input, bound)], model.validationError);
}

// ---- REST-XML (S3) ---------------------------------------------------------------------------------------

interface S3Route {
  method: string;
  /** The operation's path: after the bucket (path-style) when it has one, else the whole path (ListBuckets). */
  regex: RegExp;
  bucket: boolean;
  /** `x-id=GetObject`: SDKs send it and it then names the operation, but S3 does not require it. */
  xId?: string;
  /** Query literals that must be there (`list-type=2`, `tagging`): key, and the value when one is given. */
  literals: Array<[string, string | undefined]>;
  /** Required members bound to the query string or to headers: the presence of these tells operations apart. */
  requiredQuery: string[];
  requiredHeaders: string[];
  op: OperationSchema;
}

/**
 * Finds an S3 operation as S3 does. A route fits by method, path, x-id and its query literals; among those that
 * fit, the one with the most literals wins (`DELETE /bucket?analytics` is never DeleteBucket, even without its
 * id), then the one with the most of its required query parameters and headers present (a PUT with
 * `x-amz-copy-source` is CopyObject), then one with all of them present (a plain PUT is PutObject, not an
 * UploadPart short of its part number). Ties keep the model's order: `GET /` is ListBuckets, as on a
 * general-purpose endpoint, not ListDirectoryBuckets.
 */
function s3Resolver(ops: Map<string, OperationSchema>): Resolver {
  const routes: S3Route[] = [];
  for (const op of ops.values()) {
    const http = httpRoute(op);
    if (!http) continue;
    const input = NormalizedSchema.of(op[4] as never);
    const required = requiredMembers(input);
    const route: S3Route = { method: http.method, regex: http.regex, bucket: false, literals: [], requiredQuery: [], requiredHeaders: [], op };
    for (const [name, member] of input.structIterator()) {
      if (name === 'Bucket') route.bucket = true;
      if (!required.has(name)) continue;
      const traits = member.getMergedTraits();
      if (traits.httpQuery !== undefined) route.requiredQuery.push(String(traits.httpQuery));
      if (traits.httpHeader !== undefined) route.requiredHeaders.push(String(traits.httpHeader).toLowerCase());
    }
    for (const literal of http.literals.split('&').filter(Boolean)) {
      const [key, value] = literal.split('=');
      if (key === 'x-id') route.xId = value;
      else route.literals.push([key, value]);
    }
    routes.push(route);
  }
  return (req) => {
    // Path-style addressing: `/<bucket><the operation's path>`; `/` alone is the account's.
    const m = /^\/([^/]+)(\/.*)?$/.exec(req.path);
    const rest = m ? (m[2] ?? '/') : req.path;
    const xId = req.query.get('x-id');
    let best: { route: S3Route; score: number[] } | undefined;
    for (const route of routes) {
      if (route.method !== req.method || route.bucket !== !!m || !route.regex.test(rest)) continue;
      if (xId !== null && xId !== route.xId) continue;
      if (!route.literals.every(([k, v]) => req.query.has(k) && (v === undefined || req.query.get(k) === v))) continue;
      const present = route.requiredQuery.filter((k) => req.query.has(k)).length + route.requiredHeaders.filter((h) => req.headers[h] !== undefined).length;
      const score = [route.literals.length, present, present === route.requiredQuery.length + route.requiredHeaders.length ? 1 : 0];
      if (!best || ranksAbove(score, best.score)) best = { route, score };
    }
    return inputOf(best?.route.op);
  };
}

/** Compares scores of equal length element by element: the first difference decides. */
function ranksAbove(a: number[], b: number[]): boolean {
  const i = a.findIndex((v, k) => v !== b[k]);
  return i >= 0 && a[i] > b[i];
}

/** S3 reads its integer query parameters strictly (`max-keys=ten` is refused, never read as the default). */
function checkRestXmlQuery(req: AwsRequest, input: NormalizedSchema): AwsError | undefined {
  for (const [, member] of input.structIterator()) {
    const name = member.getMergedTraits().httpQuery;
    if (name === undefined || !member.isNumericSchema()) continue;
    const value = req.query.get(String(name));
    if (value !== null && (!/^-?\d+$/.test(value) || Math.abs(Number(value)) > 2 ** 31 - 1)) {
      return new AwsError('InvalidArgument', `Provided ${String(name)} not an integer or within integer range`);
    }
  }
  return undefined;
}

// ---- query protocols ------------------------------------------------------------------------------------

/** Form body and query string together, the body first (as the services read them). */
function queryParams(req: AwsRequest): URLSearchParams {
  const params = new URLSearchParams(/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '') ? req.body.toString('utf8') : '');
  for (const [k, v] of req.query) if (!params.has(k)) params.set(k, v);
  return params;
}

/** Parameters every query request may carry besides the operation's members (SigV4 in the query string included). */
const ENVELOPE = /^(Action|Version|X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires|SecurityToken)$/;

interface QueryCheck {
  params: URLSearchParams;
  keys: string[];
  consumed: Set<string>;
  ec2: boolean;
  missing: Array<{ path: string; wire: string }>;
  invalid?: { wire: string; value: string; expected: string };
}

/** EC2 query names: `ec2QueryName`, else the capitalized `xmlName` or member name (https://smithy.io/2.0/aws/protocols/aws-ec2-query-protocol.html). */
function wireName(name: string, member: NormalizedSchema, ec2: boolean): string {
  const traits = member.getMergedTraits();
  if (ec2) {
    if (typeof traits.ec2QueryName === 'string') return traits.ec2QueryName;
    const base = typeof traits.xmlName === 'string' ? traits.xmlName : name;
    return base.charAt(0).toUpperCase() + base.slice(1);
  }
  return typeof traits.xmlName === 'string' ? traits.xmlName : name;
}

function checkQueryRequest(req: AwsRequest, input: NormalizedSchema, model: ServiceModel): AwsError | undefined {
  const params = queryParams(req);
  const ec2 = model.protocol === 'ec2Query';
  const check: QueryCheck = { params, keys: [...params.keys()], consumed: new Set(), ec2, missing: [] };
  readStruct(input, '', '', check);
  if (ec2) {
    if (check.missing.length) return new AwsError('MissingParameter', `The request must contain the parameter ${check.missing[0].wire}`);
    if (check.invalid) {
      const { wire, value, expected } = check.invalid;
      return new AwsError('InvalidParameterValue', `Value (${value}) for parameter ${wire} is invalid. Expected: '${expected}'.`);
    }
    const unknown = check.keys.find((k) => !check.consumed.has(k) && !ENVELOPE.test(k));
    if (unknown) return new AwsError('UnknownParameter', `The parameter ${unknown.replace(/\.\d+[\s\S]*$/, '')} is not recognized`);
    return undefined;
  }
  if (check.invalid) {
    const { wire, value, expected } = check.invalid;
    return new AwsError(
      model.validationError,
      `1 validation error detected: Value '${value}' at '${segment(wire)}' failed to satisfy constraint: Member must be ${expected}`,
    );
  }
  return notNull(
    check.missing.map((m) => m.path),
    model.validationError,
  );
}

function present(prefix: string, check: QueryCheck): boolean {
  return check.params.has(prefix) || check.keys.some((k) => k.startsWith(`${prefix}.`));
}

function readStruct(schema: NormalizedSchema, prefix: string, path: string, check: QueryCheck): void {
  const required = requiredMembers(schema);
  for (const [name, member] of schema.structIterator()) {
    const wire = wireName(name, member, check.ec2);
    const key = prefix ? `${prefix}.${wire}` : wire;
    const at = path ? `${path}.${segment(name)}` : segment(name);
    if (!present(key, check)) {
      if (required.has(name)) check.missing.push({ path: at, wire: key });
      continue;
    }
    readValue(member, key, at, check);
  }
}

/** The indexes N of `prefix.N` / `prefix.N.…` keys, in order. */
function indexes(prefix: string, check: QueryCheck): number[] {
  const found = new Set<number>();
  for (const k of check.keys) {
    if (!k.startsWith(`${prefix}.`)) continue;
    const m = /^(\d+)(\.|$)/.exec(k.slice(prefix.length + 1));
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

function readValue(schema: NormalizedSchema, key: string, path: string, check: QueryCheck): void {
  if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (check.params.has(key)) check.consumed.add(key);
    readStruct(schema, key, path, check);
    return;
  }
  if (schema.isListSchema()) {
    // An empty list is sent as the bare name with an empty value.
    if (check.params.has(key)) check.consumed.add(key);
    const flattened = check.ec2 || schema.getMergedTraits().xmlFlattened;
    const base = flattened
      ? key
      : `${key}.${typeof schema.getValueSchema().getMergedTraits().xmlName === 'string' ? schema.getValueSchema().getMergedTraits().xmlName : 'member'}`;
    for (const i of indexes(base, check)) readValue(schema.getValueSchema(), `${base}.${i}`, `${path}.${i}.member`, check);
    return;
  }
  if (schema.isMapSchema()) {
    if (check.params.has(key)) check.consumed.add(key);
    const flattened = schema.getMergedTraits().xmlFlattened;
    const base = flattened ? key : `${key}.entry`;
    const keyName = (schema.getKeySchema().getMergedTraits().xmlName as string | undefined) ?? 'key';
    const valueName = (schema.getValueSchema().getMergedTraits().xmlName as string | undefined) ?? 'value';
    for (const i of indexes(base, check)) {
      const k = `${base}.${i}.${keyName}`;
      if (check.params.has(k)) check.consumed.add(k);
      if (present(`${base}.${i}.${valueName}`, check)) readValue(schema.getValueSchema(), `${base}.${i}.${valueName}`, `${path}.${i}.member`, check);
    }
    return;
  }
  const value = check.params.get(key);
  if (value === null) return;
  check.consumed.add(key);
  if (check.invalid) return;
  let expected: string | undefined;
  if (schema.isBooleanSchema()) expected = /^(true|false)$/i.test(value) ? undefined : 'Boolean';
  else if (schema.isNumericSchema() || schema.isBigIntegerSchema() || schema.isBigDecimalSchema())
    expected = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(NaN|-?Infinity)$/.test(value) ? undefined : 'Number';
  else if (schema.isTimestampSchema()) expected = Number.isNaN(Date.parse(value)) && !/^\d+(\.\d+)?$/.test(value) ? 'Timestamp' : undefined;
  if (expected) check.invalid = { wire: key, value, expected };
}
