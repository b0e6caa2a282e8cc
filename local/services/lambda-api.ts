/**
 * The Lambda API (REST-JSON, `/2015-03-31/functions...`) for functions an app creates at run time and for the
 * template's: CreateFunction (Node.js zip packages, `Code.ZipFile`), GetFunction, ListFunctions, DeleteFunction and
 * Invoke. Created functions run in the same execution environments as the template's (LambdaRunner, lambda-worker.ts),
 * with their execution role's credentials; their code is unpacked under the state directory and their configuration
 * journaled (state store 'lambda.functions'), so a restart keeps them.
 * API reference: https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html
 *
 * Local choices: only `nodejs20.x` and `nodejs22.x` zip packages (no container images, layers, versions, aliases or
 * S3 code); a new function is Pending for FUNCTION_PENDING_MS of virtual time, then Active.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { unzipSync } from 'fflate';
import { ACCOUNT, AwsError, REGION, arn, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir, type Store } from '../kernel';
import { renderError } from '../wire/errors';
import { LambdaInvokeError, type LambdaRunner } from './lambda';

const PREFIX = '/2015-03-31/functions';

/**
 * "Pending – After Lambda creates the function, it sets the state to pending ... Lambda doesn't invoke a function
 * during pending state" (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). AWS gives no duration
 * for a function outside a VPC: this long on the virtual clock (README "Unconfirmed").
 */
export const FUNCTION_PENDING_MS = 1_000;

/** The Node.js runtimes a created function may name (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html). */
const RUNTIMES = ['nodejs20.x', 'nodejs22.x'];

/**
 * "Deployment package (.zip file archive) size: 50 MB (zipped, when uploaded through the Lambda API or SDKs) ...
 * 250 MB (unzipped)" (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
 */
const ZIPPED_BYTES = 50 * 1024 * 1024;
const UNZIPPED_BYTES = 250 * 1024 * 1024;

interface FunctionRecord {
  name: string;
  runtime: string;
  role: string;
  handler: string;
  environment: Record<string, string>;
  timeout: number;
  memorySize: number;
  codeSha256: string;
  codeSize: number;
  createdAt: number;
}

export interface LambdaApiOptions {
  runner: LambdaRunner;
  state: StateDir;
  clock: Clock;
  /**
   * Whether Lambda may assume the role for the function: the role's trust policy must allow lambda.amazonaws.com.
   * Returns the refusal's reason, or undefined. Undefined function: IAM is not enforced.
   */
  canAssume?: (roleArn: string, functionArn: string) => string | undefined;
  /** The role's temporary credentials for the function's environment. */
  credentials?: (roleArn: string, functionName: string) => { accessKeyId: string; secretAccessKey: string; sessionToken: string } | undefined;
}

export class LambdaApi implements ServiceHandler {
  readonly services = ['lambda'] as const;
  private readonly stored: Store<FunctionRecord>;

  constructor(private readonly options: LambdaApiOptions) {
    this.stored = options.state.store<FunctionRecord>('lambda.functions');
  }

  /** Registers the functions created before a restart; called once IAM knows the template's roles. */
  restore(): void {
    for (const record of this.stored.values()) this.register(record);
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      if (!req.path.startsWith(PREFIX)) throw new AwsError('UnknownOperationException', `Unknown operation ${req.method} ${req.path}`, 404);
      const rest = req.path.slice(PREFIX.length);
      if (req.method === 'POST' && (rest === '' || rest === '/')) return json(201, this.create(body(req)));
      if (req.method === 'GET' && (rest === '' || rest === '/')) return json(200, { Functions: this.records().map((r) => this.configuration(r)) });
      const m = /^\/([^/]+)(\/invocations)?\/?$/.exec(rest);
      if (!m) throw new AwsError('UnknownOperationException', `Unknown operation ${req.method} ${req.path}`, 404);
      const name = functionName(decodeURIComponent(m[1]));
      if (m[2] && req.method === 'POST') return await this.invoke(name, req);
      if (!m[2] && req.method === 'GET') return json(200, this.get(name));
      if (!m[2] && req.method === 'DELETE') {
        this.delete(name);
        return { status: 204, headers: { 'content-type': 'application/json' }, body: '' };
      }
      throw new AwsError('UnknownOperationException', `Unknown operation ${req.method} ${req.path}`, 404);
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('ServiceException', (err as Error).message, 500);
      return renderError('rest-json', error);
    }
  }

  private create(input: Record<string, any>): Record<string, unknown> {
    // FunctionName: "1-64 characters ... [a-zA-Z0-9-_]+" for a name (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html).
    const name = String(input.FunctionName ?? '');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw invalidParameter(`FunctionName '${name}' must be 1 to 64 letters, digits, hyphens or underscores`);
    if (this.options.runner.get(name)) throw new AwsError('ResourceConflictException', `Function already exist: ${name}`, 409);
    const runtime = String(input.Runtime ?? '');
    if (input.PackageType === 'Image') throw invalidParameter('Container image functions are not emulated by the opsflow local runtime: use a .zip package');
    if (!RUNTIMES.includes(runtime))
      throw invalidParameter(`The runtime parameter of ${runtime || '(none)'} is not supported by the opsflow local runtime: use ${RUNTIMES.join(' or ')}`);
    // Handler: "[^\s]+"; for Node.js `file.export` (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html).
    const handler = String(input.Handler ?? '');
    if (!/^[^\s]+\.[^\s.]+$/.test(handler)) throw invalidParameter(`Handler '${handler}' must be file.export, e.g. index.handler`);
    const role = String(input.Role ?? '');
    if (!/^arn:aws:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/.test(role)) throw invalidParameter(`Role '${role}' is not a role ARN`);
    const functionArn = arn.lambda(name);
    // "The role defined for the function cannot be assumed by Lambda." (InvalidParameterValueException, CreateFunction)
    const refused = this.options.canAssume?.(role, functionArn);
    if (refused) throw invalidParameter(`The role defined for the function cannot be assumed by Lambda. (${refused})`);
    const timeout = intIn(input.Timeout, 'Timeout', 1, 900, 3);
    const memorySize = intIn(input.MemorySize, 'MemorySize', 128, 10_240, 128);
    const environment = (input.Environment?.Variables ?? {}) as Record<string, string>;
    const zip = input.Code?.ZipFile;
    if (typeof zip !== 'string' || !zip)
      throw invalidParameter('Code.ZipFile is required: the opsflow local runtime takes .zip packages uploaded with the request (not S3 or images)');
    const bytes = Buffer.from(zip, 'base64');
    if (bytes.length > ZIPPED_BYTES)
      throw new AwsError('RequestEntityTooLargeException', `Request must be smaller than ${ZIPPED_BYTES} bytes for the CreateFunction operation`, 413);
    this.unpack(name, bytes);
    const record: FunctionRecord = {
      name,
      runtime,
      role,
      handler,
      environment,
      timeout,
      memorySize,
      codeSha256: createHash('sha256').update(bytes).digest('base64'),
      codeSize: bytes.length,
      createdAt: this.options.clock.nowMs(),
    };
    this.stored.put(name, record);
    this.register(record);
    return this.configuration(record, record.createdAt);
  }

  /** The package's files under the state directory; entries that would land outside it are refused. */
  private unpack(name: string, zip: Buffer): void {
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(zip);
    } catch (err) {
      throw invalidParameter(`Could not unzip uploaded file. Please check your file, then try to upload again. (${(err as Error).message})`);
    }
    const total = Object.values(files).reduce((n, f) => n + f.length, 0);
    if (total > UNZIPPED_BYTES) throw invalidParameter(`Unzipped size must be smaller than ${UNZIPPED_BYTES} bytes`);
    const dir = this.codeDir(name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [path, data] of Object.entries(files)) {
      const target = normalize(join(dir, path));
      if (!target.startsWith(`${dir}/`)) throw invalidParameter(`The package holds a file outside its root: ${path}`);
      if (path.endsWith('/')) continue;
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, data, { mode: 0o600 });
    }
  }

  private register(record: FunctionRecord): void {
    this.options.runner.register({
      arn: arn.lambda(record.name),
      name: record.name,
      logicalId: record.name,
      assetDir: this.codeDir(record.name),
      handler: record.handler,
      environment: record.environment,
      timeoutSeconds: record.timeout,
      memoryMb: record.memorySize,
      runtime: record.runtime,
      credentials: this.options.credentials?.(record.role, record.name),
    });
  }

  private get(name: string): Record<string, unknown> {
    const record = this.stored.get(name);
    const fn = this.options.runner.get(name);
    if (!fn) throw notFound(name);
    return {
      Configuration: record
        ? this.configuration(record)
        : { FunctionName: fn.name, FunctionArn: fn.arn, Runtime: fn.runtime, Handler: fn.handler, State: 'Active' },
      Code: { RepositoryType: 'S3', Location: `${this.codeDir(name)}` },
    };
  }

  private delete(name: string): void {
    if (!this.options.runner.get(name)) throw notFound(name);
    if (!this.stored.has(name))
      throw invalidParameter(`${name} belongs to the deployed template: delete it by removing it from the app, not with DeleteFunction`);
    this.options.runner.remove(name);
    this.stored.delete(name);
    rmSync(this.codeDir(name), { recursive: true, force: true });
  }

  /**
   * Invoke (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): "RequestResponse (default) – Invoke the
   * function synchronously"; "Event – ... Lambda ... returns a response immediately" (202); "DryRun – Validate
   * parameter values and verify that the user or role has permission" (204). A function error is a 200 with
   * `X-Amz-Function-Error` and the error document as the payload.
   */
  private async invoke(name: string, req: AwsRequest): Promise<AwsResponse> {
    const fn = this.options.runner.get(name);
    if (!fn) throw notFound(name);
    const record = this.stored.get(name);
    if (record && this.options.clock.nowMs() < record.createdAt + FUNCTION_PENDING_MS) {
      throw new AwsError(
        'ResourceConflictException',
        'The operation cannot be performed at this time. The function is currently in the following state: Pending',
        409,
      );
    }
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    let payload: unknown;
    try {
      payload = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
    } catch (err) {
      throw new AwsError('InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`, 400);
    }
    const headers = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') return { status: 204, headers, body: '' };
    if (type === 'Event') {
      this.options.runner.invoke(name, payload).catch(() => undefined);
      return { status: 202, headers, body: '' };
    }
    if (type !== 'RequestResponse') throw invalidParameter(`InvocationType '${type}' must be RequestResponse, Event or DryRun`);
    try {
      const result = await this.options.runner.invoke(name, payload);
      return { status: 200, headers, body: JSON.stringify(result ?? null) };
    } catch (err) {
      if (err instanceof LambdaInvokeError)
        return { status: 200, headers: { ...headers, 'x-amz-function-error': 'Unhandled' }, body: JSON.stringify(err.toDocument()) };
      throw err;
    }
  }

  /** The configuration as of `at` (virtual ms): CreateFunction answers as of the creation, Pending whatever time its work took. */
  private configuration(r: FunctionRecord, at = this.options.clock.nowMs()): Record<string, unknown> {
    const pending = at < r.createdAt + FUNCTION_PENDING_MS;
    return {
      FunctionName: r.name,
      FunctionArn: arn.lambda(r.name),
      Runtime: r.runtime,
      Role: r.role,
      Handler: r.handler,
      CodeSize: r.codeSize,
      CodeSha256: r.codeSha256,
      Timeout: r.timeout,
      MemorySize: r.memorySize,
      LastModified: new Date(r.createdAt).toISOString().replace('Z', '+0000'),
      Version: '$LATEST',
      PackageType: 'Zip',
      Architectures: ['x86_64'],
      Environment: { Variables: r.environment },
      State: pending ? 'Pending' : 'Active',
      ...(pending ? { StateReason: 'The function is being created.', StateReasonCode: 'Creating' } : {}),
      LastUpdateStatus: 'Successful',
    };
  }

  private records(): FunctionRecord[] {
    return [...this.stored.values()];
  }

  private codeDir(name: string): string {
    return this.options.state.path('functions', name);
  }
}

/** A function name, partial ARN (`<account>:function:<name>`) or ARN, as Invoke takes it. */
function functionName(ref: string): string {
  const m = /^(?:arn:aws:lambda:[^:]+:)?(?:(\d{12}):)?(?:function:)?([A-Za-z0-9_-]+)(?::\$LATEST)?$/.exec(ref);
  if (!m || (m[1] && m[1] !== ACCOUNT)) throw notFound(ref);
  return m[2];
}

function notFound(name: string): AwsError {
  return new AwsError(
    'ResourceNotFoundException',
    `Function not found: ${name.startsWith('arn:') ? name : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`}`,
    404,
  );
}

function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', message);
}

function intIn(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw invalidParameter(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return n;
}

function body(req: AwsRequest): Record<string, any> {
  try {
    const value = JSON.parse(req.body.toString('utf8') || '{}');
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // answered below
  }
  throw new AwsError('SerializationException', 'The request body is not a JSON object');
}

function json(status: number, value: unknown): AwsResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}
