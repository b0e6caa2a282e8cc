/**
 * AWS SDK service integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) and the optimized ones the
 * project uses (sns:publish, dynamodb:*Item, events:putEvents), executed through the real AWS SDK v3
 * clients against the local endpoint. Retries are the state machine's job, so clients make one attempt.
 *
 * Error names follow Step Functions: `<Service>.<ErrorName>` with the service in PascalCase and an
 * `Exception` suffix even when the service's own code lacks it (S3 `BucketAlreadyExists` becomes
 * `S3.BucketAlreadyExistsException`). EC2 models no exception types: Step Functions reports every EC2
 * error as `Ec2.Ec2Exception` with the EC2 error code in the Cause, so workflows match the code there.
 * Optimized integrations use the service names of their own docs (`DynamoDB.`, `SNS.`, `EventBridge.`).
 */

interface SdkService {
  pkg: string;
  client: string;
  /** Error name prefix for aws-sdk integrations. */
  prefix: string;
}

/** aws-sdk service ids (as in the Resource ARN) the runtime can call. */
const SDK_SERVICES: Record<string, SdkService> = {
  ec2: { pkg: '@aws-sdk/client-ec2', client: 'EC2Client', prefix: 'Ec2' },
  sns: { pkg: '@aws-sdk/client-sns', client: 'SNSClient', prefix: 'Sns' },
  sesv2: { pkg: '@aws-sdk/client-sesv2', client: 'SESv2Client', prefix: 'SesV2' },
  dynamodb: { pkg: '@aws-sdk/client-dynamodb', client: 'DynamoDBClient', prefix: 'DynamoDb' },
  cloudtrail: { pkg: '@aws-sdk/client-cloudtrail', client: 'CloudTrailClient', prefix: 'CloudTrail' },
  eventbridge: { pkg: '@aws-sdk/client-eventbridge', client: 'EventBridgeClient', prefix: 'EventBridge' },
  sfn: { pkg: '@aws-sdk/client-sfn', client: 'SFNClient', prefix: 'Sfn' },
  lambda: { pkg: '@aws-sdk/client-lambda', client: 'LambdaClient', prefix: 'Lambda' },
  sqs: { pkg: '@aws-sdk/client-sqs', client: 'SQSClient', prefix: 'Sqs' },
};

/** Optimized integrations: `<integration>:<action>` → SDK service id and error prefix. */
const OPTIMIZED: Record<string, { service: string; prefix: string }> = {
  'sns:publish': { service: 'sns', prefix: 'SNS' },
  'dynamodb:getItem': { service: 'dynamodb', prefix: 'DynamoDB' },
  'dynamodb:putItem': { service: 'dynamodb', prefix: 'DynamoDB' },
  'dynamodb:updateItem': { service: 'dynamodb', prefix: 'DynamoDB' },
  'dynamodb:deleteItem': { service: 'dynamodb', prefix: 'DynamoDB' },
  'events:putEvents': { service: 'eventbridge', prefix: 'EventBridge' },
  // https://docs.aws.amazon.com/step-functions/latest/dg/connect-sqs.html: "sendMessage" (and .waitForTaskToken).
  'sqs:sendMessage': { service: 'sqs', prefix: 'SQS' },
};

export interface SdkTarget {
  service: string;
  action: string;
  prefix: string;
}

/** `aws-sdk:ec2:describeInstances` or `sns:publish` (pattern suffix already removed); undefined if unsupported. */
export function sdkTarget(integration: string): SdkTarget | undefined {
  const optimized = OPTIMIZED[integration];
  if (optimized) return { service: optimized.service, action: integration.split(':')[1], prefix: optimized.prefix };
  const m = /^aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(integration);
  if (!m || !SDK_SERVICES[m[1]]) return undefined;
  return { service: m[1], action: m[2], prefix: SDK_SERVICES[m[1]].prefix };
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

interface SdkClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<Record<string, unknown>>;
}

export class SdkCaller {
  private readonly clients = new Map<string, SdkClient>();

  constructor(private readonly endpoint: () => string) {}

  /** `credentials`: the execution role's; without them the call signs as the account's administrator. */
  async call(target: SdkTarget, params: unknown, signal: AbortSignal, credentials?: Credentials): Promise<unknown> {
    const service = SDK_SERVICES[target.service];
    const mod = require(service.pkg) as Record<string, new (input: unknown) => unknown>;
    const Command = mod[`${target.action[0].toUpperCase()}${target.action.slice(1)}Command`];
    if (!Command) throw new IntegrationError('States.Runtime', `The ${target.service} SDK has no action '${target.action}'`);
    let response: Record<string, unknown>;
    try {
      response = await this.client(target.service, mod, credentials).send(new Command(optimizedInput(target, params ?? {})), { abortSignal: signal });
    } catch (err) {
      throw target.prefix === 'SQS' ? sqsError(err as SdkFailure, mod) : namedError(target, err as SdkFailure);
    }
    const output = { ...response };
    delete output.$metadata;
    delete output[RAW_HEADERS];
    if (target.prefix === 'SQS') Object.assign(output, sdkMetadata(response));
    // The optimized putEvents fails the task when EventBridge rejected any entry.
    if (target.prefix === 'EventBridge' && target.action === 'putEvents' && Number(output.FailedEntryCount) > 0) {
      throw new IntegrationError('EventBridge.FailedEntry', JSON.stringify(toJson(output)));
    }
    return toJson(output);
  }

  private client(service: string, mod: Record<string, new (input: unknown) => unknown>, credentials: Credentials = ADMIN): SdkClient {
    const endpoint = this.endpoint();
    const key = `${service} ${endpoint} ${credentials.accessKeyId}`;
    let client = this.clients.get(key);
    if (!client) {
      const Client = mod[SDK_SERVICES[service].client];
      client = new Client({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 }) as SdkClient;
      keepRawHeaders(client);
      this.clients.set(key, client);
    }
    return client;
  }
}

/** Optimized integrations accept JSON where the API wants text (SNS Message, EventBridge Detail). */
function optimizedInput(target: SdkTarget, params: any): unknown {
  const text = (v: unknown) => (v === undefined || typeof v === 'string' ? v : JSON.stringify(v));
  if (target.prefix === 'SNS') return { ...params, Message: text(params.Message) };
  // A JSON MessageBody is sent as its text (recorded: MessageBody {"Message": ..., "TaskToken": ...} in
  // localstack/localstack tests/aws/services/stepfunctions/v2/error_handling/test_task_service_sqs.snapshot.json).
  if (target.prefix === 'SQS') return { ...params, MessageBody: params.MessageBody === null ? undefined : text(params.MessageBody) };
  if (target.prefix === 'EventBridge' && Array.isArray(params.Entries))
    return { ...params, Entries: params.Entries.map((e: any) => ({ ...e, Detail: text(e.Detail) })) };
  return params;
}

interface SdkFailure extends Error {
  $metadata?: { httpStatusCode?: number; requestId?: string };
  /** The query protocol's error code (SQS's `x-amzn-query-error`). */
  Code?: string;
}

/** The HTTP response headers of a call, kept on its output for the optimized integrations that show them. */
const RAW_HEADERS = '$opsflowHeaders';

function keepRawHeaders(client: SdkClient): void {
  (client as unknown as { middlewareStack: { add(mw: unknown, opts: object): void } }).middlewareStack.add(
    (next: (args: unknown) => Promise<{ response: { headers?: Record<string, string> }; output?: Record<string, unknown> }>) => async (args: unknown) => {
      const result = await next(args);
      if (result.output) result.output[RAW_HEADERS] = result.response.headers;
      return result;
    },
    { step: 'finalizeRequest', name: 'opsflowRawHeaders' },
  );
}

/**
 * `SdkHttpMetadata` and `SdkResponseMetadata`, as AWS-recorded sqs:sendMessage outputs carry them (the Java SDK's
 * view of the response: `AllHttpHeaders` as lists, `HttpHeaders` as values, AWS's header spelling), e.g.
 * localstack/localstack tests/aws/services/stepfunctions/v2/services/test_sqs_task_service.snapshot.json.
 */
function sdkMetadata(response: Record<string, unknown>): Record<string, unknown> {
  const raw = (response[RAW_HEADERS] ?? {}) as Record<string, string>;
  const spelled: Record<string, string> = {
    'x-amzn-requestid': 'x-amzn-RequestId',
    'content-length': 'Content-Length',
    'content-type': 'Content-Type',
    date: 'Date',
  };
  const headers = Object.fromEntries(
    Object.entries(raw)
      .filter(([k]) => k in spelled || k === 'connection')
      .map(([k, v]) => [spelled[k] ?? k, v]),
  );
  const metadata = response.$metadata as { httpStatusCode?: number; requestId?: string } | undefined;
  return {
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      HttpHeaders: headers,
      HttpStatusCode: metadata?.httpStatusCode ?? 200,
    },
    SdkResponseMetadata: { RequestId: metadata?.requestId ?? headers['x-amzn-RequestId'] },
  };
}

/**
 * SQS errors as Step Functions names them for the optimized integration, after the AWS Java SDK it runs: an error
 * the SQS model declares is `SQS.<Shape>Exception`, any other `SQS.AmazonSQSException`, with the Java SDK's cause
 * (recorded: "The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error Code:
 * MissingParameter; Request ID: ...; Proxy: null)" as `SQS.AmazonSQSException`, localstack/localstack
 * tests/aws/services/stepfunctions/v2/error_handling/test_task_service_sqs.snapshot.json). The name of a declared
 * error (e.g. `SQS.QueueDoesNotExistException`) is unconfirmed (README).
 */
function sqsError(err: SdkFailure, mod: Record<string, unknown>): IntegrationError {
  const status = err.$metadata?.httpStatusCode;
  if (status === undefined) return new IntegrationError('SQS.SdkClientException', err.message);
  const declared = err.name !== 'SQSServiceException' && typeof mod[err.name] === 'function';
  const cause = `${err.message} (Service: AmazonSQS; Status Code: ${status}; Error Code: ${err.Code ?? err.name}; Request ID: ${err.$metadata?.requestId ?? 'local'}; Proxy: null)`;
  return new IntegrationError(declared ? `SQS.${err.name}Exception` : 'SQS.AmazonSQSException', cause);
}

function namedError(target: SdkTarget, err: SdkFailure): IntegrationError {
  const status = err.$metadata?.httpStatusCode;
  const requestId = err.$metadata?.requestId;
  const service = target.prefix;
  if (status === undefined) return new IntegrationError(`${service}.SdkClientException`, err.message);
  const details = (code?: string) =>
    `${err.message} (Service: ${service}, Status Code: ${status}, ${code ? `Error Code: ${code}, ` : ''}Request ID: ${requestId ?? 'local'})`;
  if (target.service === 'ec2') return new IntegrationError('Ec2.Ec2Exception', details(err.name));
  const name = err.name.endsWith('Exception') ? err.name : `${err.name}Exception`;
  return new IntegrationError(`${service}.${name}`, details(err.name));
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
