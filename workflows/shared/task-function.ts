/**
 * The one way opsflow builds a Lambda task: esbuild bundling from node_modules (no Docker), Node.js 22 on
 * arm64, its own log group with retention, structured JSON logs, and active X-Ray tracing. The AWS SDK v3
 * stays external because the Node.js 22 runtime ships it (the local runtime resolves it from node_modules).
 *
 * Each function has its own execution role that may write only to its own log group: not
 * AWSLambdaBasicExecutionRole, which allows logs:CreateLogGroup/CreateLogStream/PutLogEvents on `*`
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html), so
 * every function could write into any log group of the account, another function's included.
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions, type NagPackSuppression } from 'cdk-nag';
import type { Construct } from 'constructs';
import { join } from 'node:path';

export interface TaskFunctionProps {
  /** Handler file, relative to the repository root, e.g. `tasks/approval/worker.ts`. */
  readonly entry: string;
  /** What the task does, shown in the console. */
  readonly description: string;
  /** Environment the handler's `loadEnv()` reads. @default {} */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** The function calls endpoints outside AWS (chat servers, webhooks): placed where it has a static egress when configured. @default false */
  readonly callsOutsideAws?: boolean;
}

const ROOT = join(__dirname, '..', '..');

/**
 * Lambda allows 4 KB of environment variables per function, all keys and values together; a bigger set fails
 * the deployment. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html ("Environment
 * variables: 4 KB, for all environment variables associated with the function, in aggregate").
 */
export const LAMBDA_ENVIRONMENT_BYTES = 4096;
/** What an unresolved reference (a table name, an ARN) is counted as: CloudFormation names and ARNs this stack makes stay below it. */
const TOKEN_BYTES = 256;

/** The environment's size as Lambda counts it; throws at synth, naming the largest variables, when it is over 4 KB. */
export function checkEnvironmentSize(owner: string, environment: Record<string, string>): number {
  const size = (v: string) => (Token.isUnresolved(v) ? TOKEN_BYTES : Buffer.byteLength(v, 'utf8'));
  const sizes = Object.entries(environment).map(([k, v]) => [k, Buffer.byteLength(k, 'utf8') + size(v)] as const);
  const total = sizes.reduce((n, [, b]) => n + b, 0);
  if (total > LAMBDA_ENVIRONMENT_BYTES) {
    const largest = [...sizes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, b]) => `${k} ${b} bytes`)
      .join(', ');
    throw new Error(`${owner}: its Lambda environment takes ${total} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_BYTES}-byte limit (largest: ${largest})`);
  }
  return total;
}

export class TaskFunction extends NodejsFunction {
  /** The execution role: a sibling of the function in the construct tree (it exists before the function, which names it). */
  private readonly executionRole: Role;

  constructor(scope: Construct, id: string, props: TaskFunctionProps) {
    // DESTROY: the group goes with the stack (it is the function's, nothing else writes to it); retention bounds
    // what it keeps meanwhile. Lambda names its streams `YYYY/MM/DD/<function>[<version>]...` in it
    // (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html).
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Lambda sends logs with the execution role's permissions: CreateLogGroup, CreateLogStream and PutLogEvents
    // (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html, "Required IAM permissions").
    // The group exists before the function (the template creates it first: LoggingConfig.LogGroup refers to it),
    // so CreateLogGroup is not needed; CreateLogStream and PutLogEvents on this group's ARN
    // (`...:log-group:<name>:*`, its streams included) are all it gets
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `opsflow ${props.entry}` });
    logGroup.grantWrite(role);
    const environment = { POWERTOOLS_SERVICE_NAME: 'opsflow', NODE_OPTIONS: '--enable-source-maps', ...props.environment };
    checkEnvironmentSize(`${scope.node.path}/${id}`, environment);
    super(scope, id, {
      entry: join(ROOT, props.entry),
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      role,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment,
      bundling: {
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        externalModules: ['@aws-sdk/*'],
      },
    });
    this.executionRole = role;
    NagSuppressions.addResourceSuppressions(
      this,
      [{ id: 'AwsSolutions-L1', reason: 'opsflow pins Node.js 22 (the supported LTS its tasks are tested against) on purpose.' }],
      true,
    );
    this.suppress([
      { id: 'AwsSolutions-IAM5', reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.', appliesTo: ['Resource::*'] },
    ]);
  }

  /**
   * cdk-nag suppressions for this function's permissions: on its role and the role's policies, which are not
   * children of the function (so `NagSuppressions.addResourceSuppressions(fn, ...)` does not reach them).
   * Call it after the statements it justifies were added.
   */
  suppress(suppressions: NagPackSuppression[]): void {
    NagSuppressions.addResourceSuppressions(this.executionRole, suppressions, true);
  }
}
