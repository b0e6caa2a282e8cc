/**
 * Service integrations that call an AWS API: the AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`)
 * and the optimized integrations that are one API call (sns:publish, sqs:sendMessage, dynamodb:*Item,
 * events:putEvents), executed through the real AWS SDK v3 clients against the local endpoint. Retries are the state
 * machine's job, so clients make one attempt.
 *
 * Which aws-sdk integrations exist is read from the SDK's service models, not from a list kept here: the service
 * name is the `@aws-sdk/client-<service>` package, the action is its `<Action>Command` export, and the runtime's own
 * list of the services its endpoint answers (SigV4 signing names) says which ones run locally.
 * https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html: "arn:aws:states:::aws-sdk:
 * serviceName:apiAction.[serviceIntegrationPattern]"; the service names it lists are lower case (`sfn`, `eventbridge`,
 * `sesv2`, `s3`, ...) and actions camelCase ("you could use the Step Functions API action startSyncExecution").
 *
 * Error names (same page): "the resulting Error field will be composed of the service name and error name, separated
 * by a period ... Both service name and error name are in Pascal case", with the `Exception` suffix "even if the
 * suffix is not yet part of the service provided error name" (S3 `BucketAlreadyExists` is `S3.BucketAlreadyExistsException`).
 * Recorded against AWS (localstack/localstack tests/aws/services/stepfunctions/v2/error_handling/test_aws_sdk.snapshot.json):
 * an error the service models keeps its name (`DynamoDb.ResourceNotFoundException`, `S3.NoSuchBucketException`), one it
 * does not model is the service's generic exception (`DynamoDb.DynamoDbException` for a ValidationException,
 * `SecretsManager.SecretsManagerException`), and the Cause reads "<message> (Service: DynamoDb, Status Code: 400,
 * Request ID: ...)". EC2 models no error types, so every EC2 error is `Ec2.Ec2Exception`.
 * Optimized integrations answer as the older SDK did (error_handling/test_task_service_dynamodb.snapshot.json,
 * test_task_service_sqs.snapshot.json): `DynamoDB.ResourceNotFoundException`, `DynamoDB.AmazonDynamoDBException` for
 * a ValidationException, "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Request ID:
 * ...; Proxy: null)", and their output carries `SdkHttpMetadata` and `SdkResponseMetadata`
 * (services/test_sns_task_service.snapshot.json, test_dynamodb_task_service.snapshot.json).
 */

import { NormalizedSchema } from '@smithy/core/schema';
import { offersOptimized, type Pattern } from './integrations';

export type { Pattern } from './integrations';

/**
 * For the optimized integrations that are one SDK call: the SDK service, error prefix, the older SDK's names, and
 * whether the output carries SdkHttpMetadata/SdkResponseMetadata (recorded for SNS, SQS and DynamoDB; not for
 * EventBridge PutEvents: services/test_events_task_service.snapshot.json). Which optimized integrations and patterns
 * AWS offers at all is integrations.ts's list.
 */
interface OptimizedCall {
  service: string;
  prefix: string;
  javaService: string;
  genericError: string;
  metadata: boolean;
}

/**
 * DynamoDB's errors are prefixed "DynamoDB (uppercase DB)" (https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html);
 * SNS Publish (connect-sns.html), SQS SendMessage (connect-sqs.html), EventBridge PutEvents (connect-eventbridge.html).
 */
const OPTIMIZED_CALLS: Record<string, OptimizedCall> = {
  'dynamodb:getItem': dynamodb(),
  'dynamodb:putItem': dynamodb(),
  'dynamodb:updateItem': dynamodb(),
  'dynamodb:deleteItem': dynamodb(),
  'sns:publish': { service: 'sns', prefix: 'SNS', javaService: 'AmazonSNS', genericError: 'AmazonSNSException', metadata: true },
  'sqs:sendMessage': { service: 'sqs', prefix: 'SQS', javaService: 'AmazonSQS', genericError: 'AmazonSQSException', metadata: true },
  'events:putEvents': {
    service: 'eventbridge',
    prefix: 'EventBridge',
    javaService: 'AmazonEventBridge',
    genericError: 'AmazonEventBridgeException',
    metadata: false,
  },
};

function dynamodb(): OptimizedCall {
  return { service: 'dynamodb', prefix: 'DynamoDB', javaService: 'AmazonDynamoDBv2', genericError: 'AmazonDynamoDBException', metadata: true };
}

/** A Task's `arn:aws:states:::<integration>[.<pattern>]` Resource, split. */
export function parseIntegration(resource: string): { integration: string; pattern: Pattern } | undefined {
  const m = /^arn:aws:states:::(.+?)(?:\.(waitForTaskToken|sync:2|sync))?$/.exec(resource);
  return m ? { integration: m[1], pattern: (m[2] ?? '') as Pattern } : undefined;
}

/**
 * Is this Task Resource an integration AWS offers? The one answer for create-time checks and the dispatcher:
 * - true: an optimized integration of AWS's list (integrations.ts) with one of its patterns, or `aws-sdk:<service>:<action>` whose
 *   SDK client models the action, as Request Response or .waitForTaskToken ("Over two hundred services | Standard &
 *   Express | Not supported | Standard": https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html);
 * - false: AWS does not offer it (`dynamodb:query` optimized, `aws-sdk:s3:noSuchAction`, `aws-sdk:s3:listBuckets.sync`);
 * - undefined: the runtime cannot tell (a Lambda or activity ARN, an aws-sdk
 *   service whose SDK client is not installed); do not refuse what AWS may accept.
 */
export function isOfferedIntegration(resource: string): boolean | undefined {
  const parsed = parseIntegration(resource);
  if (!parsed) return undefined;
  const { integration, pattern } = parsed;
  const sdk = /^aws-sdk:([^:]+):([^:]+)$/.exec(integration);
  if (sdk) {
    const model = sdkModel(sdk[1]);
    if (!model) return /^[a-z0-9]+$/.test(sdk[1]) ? undefined : false;
    return command(model, sdk[2]) !== undefined && (pattern === '' || pattern === 'waitForTaskToken');
  }
  return offersOptimized(integration, pattern);
}

export interface SdkTarget {
  /** SDK service id (`@aws-sdk/client-<service>`). */
  service: string;
  /** camelCase action. */
  action: string;
  /** Set for optimized integrations: how the older SDK names errors and shapes output. */
  optimized?: OptimizedCall;
}

/**
 * The SDK call behind `aws-sdk:ec2:describeInstances` or `sns:publish` (pattern removed), when the integration is
 * offered and its service is one the local endpoint answers (`served`: SigV4 signing names; unset: any installed client).
 */
export function sdkTarget(integration: string, served?: readonly string[]): SdkTarget | undefined {
  const optimized = Object.hasOwn(OPTIMIZED_CALLS, integration) ? OPTIMIZED_CALLS[integration] : undefined;
  const sdk = /^aws-sdk:([a-z0-9]+):([a-z][A-Za-z0-9]*)$/.exec(integration);
  const target: SdkTarget | undefined = optimized
    ? { service: optimized.service, action: integration.split(':')[1], optimized }
    : sdk
      ? { service: sdk[1], action: sdk[2] }
      : undefined;
  const model = target && sdkModel(target.service);
  if (!model || !command(model, target.action)) return undefined;
  return !served || served.includes(model.signingName) ? target : undefined;
}

/** A failed integration call, already named the Step Functions way. */
export class IntegrationError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
const ADMIN: Credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' };

type Constructor = new (input: unknown) => unknown;

/** What an installed `@aws-sdk/client-<id>` tells about its service. */
interface SdkModel {
  mod: Record<string, Constructor>;
  Client: Constructor;
  /** SigV4 signing name (`states` for sfn, `ses` for sesv2, `events` for eventbridge). */
  signingName: string;
  /** Error prefix of aws-sdk integrations: the service id in Pascal case (`DynamoDb`, `SesV2`, `Ec2`, `Sfn`). */
  prefix: string;
  /** The service's base exception: errors the model does not name are instances of it, not of a subclass. */
  ServiceException: Constructor;
  /** Input and output shapes by action, read once. */
  operations: Map<string, { input: NormalizedSchema; output: NormalizedSchema } | undefined>;
}

const models = new Map<string, SdkModel | undefined>();

function sdkModel(id: string): SdkModel | undefined {
  if (!/^[a-z0-9]+$/.test(id)) return undefined;
  if (!models.has(id)) models.set(id, loadModel(id));
  return models.get(id);
}

/**
 * Step Functions' service names (`aws-sdk:autoscaling:...`, the lower-case SDK service id) that the JavaScript SDK
 * spells as separate words in its package names; every other name is its package's.
 * https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html#supported-services-awssdk-list
 */
const PACKAGES: Record<string, string> = { autoscaling: 'auto-scaling', secretsmanager: 'secrets-manager' };

function loadModel(id: string): SdkModel | undefined {
  let mod: Record<string, Constructor>;
  try {
    mod = require(`@aws-sdk/client-${Object.hasOwn(PACKAGES, id) ? PACKAGES[id] : id}`);
  } catch {
    return undefined;
  }
  const clientName = Object.keys(mod).find((k) => /^[A-Z]\w*Client$/.test(k) && typeof (mod[k] as any)?.prototype?.send === 'function');
  const base = Object.keys(mod).find((k) => /^[A-Z]\w*ServiceException$/.test(k));
  if (!clientName || !base) return undefined;
  const probe = new mod[clientName]({ region: 'us-east-1', credentials: ADMIN }) as { config: Record<string, any>; destroy(): void };
  const { serviceId, defaultSigningName } = probe.config;
  probe.destroy();
  return {
    mod,
    Client: mod[clientName],
    signingName: String(defaultSigningName),
    prefix: pascal(String(serviceId)),
    ServiceException: mod[base],
    operations: new Map(),
  };
}

/** The installed `@aws-sdk/client-<service>` module of an aws-sdk service name (TestState's mock validation reads its shapes). */
export function sdkModule(service: string): Record<string, unknown> | undefined {
  return sdkModel(service)?.mod;
}

/** The `<Action>Command` of a camelCase action, if the SDK models it. */
function command(model: SdkModel, action: string): Constructor | undefined {
  if (!/^[a-z][A-Za-z0-9]*$/.test(action)) return undefined;
  return model.mod[`${action[0].toUpperCase()}${action.slice(1)}Command`];
}

/**
 * A service id in Pascal case as AWS's SDKs spell client names (DynamoDB → DynamoDb, SESv2 → SesV2, EC2 → Ec2,
 * SFN → Sfn, CloudTrail, "Secrets Manager" → SecretsManager): split into words, each capitalized and the rest lower case.
 */
function pascal(serviceId: string): string {
  return serviceId
    .replace(/([^a-z]{2,})v(\d+)/g, '$1 V$2 ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase())
    .join('');
}

interface SdkClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<Record<string, unknown>>;
}

interface MiddlewareStack {
  add(middleware: unknown, options: { step: string; name: string }): void;
}

export class SdkCaller {
  private readonly clients = new Map<string, SdkClient>();

  constructor(private readonly endpoint: () => string) {}

  /** `credentials`: the execution role's; without them the call signs as the account's administrator. */
  async call(target: SdkTarget, params: unknown, signal: AbortSignal, credentials?: Credentials): Promise<unknown> {
    const model = sdkModel(target.service)!;
    const Command = command(model, target.action)!;
    const op = operation(model, target.action);
    const input = op ? renamed(op.input, optimizedInput(target, params ?? {}), 'toModel') : optimizedInput(target, params ?? {});
    const request = new Command(input) as { middlewareStack: MiddlewareStack };
    // The HTTP response itself, for the optimized integrations' SdkHttpMetadata.
    let raw: RawResponse | undefined;
    request.middlewareStack.add(
      (next: (args: unknown) => Promise<{ response: RawResponse }>) => async (args: unknown) => {
        const result = await next(args);
        raw = result.response;
        return result;
      },
      { step: 'deserialize', name: 'opsflowRawResponse' },
    );
    let response: Record<string, unknown>;
    try {
      response = await this.client(target.service, model, credentials).send(request, { abortSignal: signal });
    } catch (err) {
      throw namedError(target, model, err as SdkFailure);
    }
    const { $metadata, ...fields } = response as { $metadata?: { requestId?: string } } & Record<string, unknown>;
    const output = (op ? renamed(op.output, await readStreams(fields), 'fromModel') : fields) as Record<string, unknown>;
    // The optimized putEvents fails the task when EventBridge rejected any entry.
    if (target.optimized?.prefix === 'EventBridge' && Number(output.FailedEntryCount) > 0) {
      throw new IntegrationError('EventBridge.FailedEntry', JSON.stringify(toJson(output)));
    }
    if (!target.optimized?.metadata) return toJson(output);
    return toJson({ ...output, ...sdkMetadata(raw, $metadata?.requestId) });
  }

  private client(service: string, model: SdkModel, credentials: Credentials = ADMIN): SdkClient {
    const endpoint = this.endpoint();
    const key = `${service} ${endpoint} ${credentials.accessKeyId}`;
    let client = this.clients.get(key);
    if (!client) {
      // Path-style S3 addressing: the local endpoint is one host for every bucket.
      client = new model.Client({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, forcePathStyle: true }) as SdkClient;
      this.clients.set(key, client);
    }
    return client;
  }
}

interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
}

/** What the optimized integrations add to the API's output: the HTTP response as the older Java SDK describes it. */
function sdkMetadata(raw: RawResponse | undefined, requestId: string | undefined): Record<string, unknown> {
  const headers = Object.fromEntries(Object.entries(raw?.headers ?? {}).map(([k, v]) => [headerName(k), v]));
  return {
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      HttpHeaders: headers,
      HttpStatusCode: raw?.statusCode ?? 200,
    },
    SdkResponseMetadata: { RequestId: requestId ?? headers['x-amzn-RequestId'] },
  };
}

/** An operation's input and output shapes, from the SDK's schema (`[9, namespace, name, traits, input, output]`). */
function operation(model: SdkModel, action: string): { input: NormalizedSchema; output: NormalizedSchema } | undefined {
  if (!model.operations.has(action)) {
    const name = `${action[0].toUpperCase()}${action.slice(1)}`;
    const op = Object.values(model.mod).find((v) => Array.isArray(v) && v[0] === 9 && v[2] === name) as unknown as unknown[] | undefined;
    model.operations.set(action, op ? { input: NormalizedSchema.of(op[4] as never), output: NormalizedSchema.of(op[5] as never) } : undefined);
  }
  return model.operations.get(action);
}

const capitalized = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/**
 * "Parameters in Step Functions are expressed in PascalCase, even if the native service API is in camelCase"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html): the Step Functions `TaskToken`
 * of sfn:sendTaskSuccess is the model's `taskToken`, and results come back capitalized (`ExecutionArn`).
 */
function renamed(schema: NormalizedSchema, value: unknown, way: 'toModel' | 'fromModel'): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (schema.isListSchema()) return Array.isArray(value) ? value.map((v) => renamed(schema.getValueSchema(), v, way)) : value;
  if (schema.isMapSchema()) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamed(schema.getValueSchema(), v, way)]));
  if (!schema.isStructSchema() && !schema.isUnionSchema()) return value;
  const members = new Map<string, [string, NormalizedSchema]>();
  for (const [name, member] of schema.structIterator()) members.set(capitalized(name), [name, member]);
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      const member = members.get(capitalized(key));
      if (!member) return [key, v];
      return [way === 'toModel' ? member[0] : capitalized(member[0]), renamed(member[1], v, way)];
    }),
  );
}

/** Streamed payloads (S3 GetObject's Body) read to text, as Step Functions returns them. */
async function readStreams(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    const stream = v as { transformToString?: () => Promise<string> } | undefined;
    out[k] = typeof stream?.transformToString === 'function' ? await stream.transformToString() : v;
  }
  return out;
}

/** Header names as AWS sends them (Node lower-cases them): `Content-Type`, `x-amzn-RequestId`, `x-amz-crc32`. */
function headerName(lower: string): string {
  if (lower === 'x-amzn-requestid') return 'x-amzn-RequestId';
  if (lower.startsWith('x-amz')) return lower;
  return lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** Optimized integrations accept JSON where the API wants text (SNS Message, SQS MessageBody, EventBridge Detail). */
function optimizedInput(target: SdkTarget, params: any): unknown {
  const text = (v: unknown) => (v === undefined || typeof v === 'string' ? v : JSON.stringify(v));
  const prefix = target.optimized?.prefix;
  if (prefix === 'SNS') return { ...params, Message: text(params.Message) };
  // A null MessageBody is left out, as the Java SDK leaves it out (recorded: MissingParameter, localstack/localstack
  // tests/aws/services/stepfunctions/v2/error_handling/test_task_service_sqs.snapshot.json).
  if (prefix === 'SQS') return { ...params, MessageBody: params.MessageBody === null ? undefined : text(params.MessageBody) };
  if (prefix === 'EventBridge' && Array.isArray(params.Entries))
    return { ...params, Entries: params.Entries.map((e: any) => ({ ...e, Detail: text(e.Detail) })) };
  return params;
}

interface SdkFailure extends Error {
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string };
  /** The query protocol's error code, which awsQueryCompatible services (SQS) send in `x-amzn-query-error`. */
  Code?: string;
}

function namedError(target: SdkTarget, model: SdkModel, err: SdkFailure): IntegrationError {
  const status = err.$metadata?.httpStatusCode;
  const requestId = err.$metadata?.requestId ?? 'local';
  const optimized = target.optimized;
  const prefix = optimized?.prefix ?? model.prefix;
  if (status === undefined) return new IntegrationError(`${prefix}.SdkClientException`, err.message);
  // An error the service's model names is a subclass of its base exception; others are the base itself.
  const modelled = err instanceof model.ServiceException && err.constructor !== model.ServiceException;
  const suffixed = err.name.endsWith('Exception') ? err.name : `${err.name}Exception`;
  if (optimized) {
    const name = modelled ? suffixed : optimized.genericError;
    const cause = `${err.message} (Service: ${optimized.javaService}; Status Code: ${status}; Error Code: ${err.Code ?? err.name}; Request ID: ${requestId}; Proxy: null)`;
    return new IntegrationError(`${prefix}.${name}`, cause);
  }
  const extended = err.$metadata?.extendedRequestId ? `, Extended Request ID: ${err.$metadata.extendedRequestId}` : '';
  const name = modelled ? suffixed : `${prefix}Exception`;
  return new IntegrationError(`${prefix}.${name}`, `${err.message} (Service: ${prefix}, Status Code: ${status}, Request ID: ${requestId}${extended})`);
}

/** SDK output as Step Functions shows it: JSON, dates as ISO strings, blobs as text. */
function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
      const raw = this[key];
      return raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : v;
    }),
  );
}
