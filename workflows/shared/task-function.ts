/**
 * The one way opsflow builds a Lambda task: esbuild bundling from node_modules (no Docker), Node.js 22 on
 * arm64, an explicit log group with retention, structured JSON logs, and active X-Ray tracing. The AWS SDK v3
 * stays external because the Node.js 22 runtime ships it (the local runtime resolves it from node_modules).
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
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
    const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, b]) => `${k} ${b} bytes`).join(', ');
    throw new Error(`${owner}: its Lambda environment takes ${total} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_BYTES}-byte limit (largest: ${largest})`);
  }
  return total;
}

export class TaskFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TaskFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
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
    NagSuppressions.addResourceSuppressions(
      this,
      [
        {
          id: 'AwsSolutions-L1',
          reason: 'opsflow pins Node.js 22 (the supported LTS its tasks are tested against) on purpose.',
        },
        {
          id: 'AwsSolutions-IAM4',
          reason: 'AWSLambdaBasicExecutionRole only allows writing this function\'s own logs.',
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
  }
}
