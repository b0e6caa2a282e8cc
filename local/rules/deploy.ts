/**
 * Deploy-time refusals: what CloudFormation or the service behind a resource would refuse, found before the
 * runtime runs anything. `opsflow up` lists every problem (resource, error name, reason in AWS's words) and
 * exits non-zero, as `cdk deploy` would fail and roll back. Each rule cites the page its fact comes from.
 */
import { ACCOUNT, REGION } from '../kernel';
import { IamModel } from '../iam/model';
import { evaluate, type PolicyDocument } from '../iam/policy';
import type { ResolvedResource, ResolvedStack } from '../template';
import { stateMachineDefinition } from '../template';
import { CfnSchemas } from './cfn-schemas';
import { getAttProblems, propertyProblems } from './schema-checks';

export interface DeployProblem {
  stack: string;
  logicalId: string;
  type: string;
  /** AWS's error name, e.g. `InvalidParameterValueException`. */
  error: string;
  message: string;
}

/** Thrown by the runtime when the assembly holds problems; its message lists all of them. */
export class DeployRefusedError extends Error {
  constructor(readonly problems: DeployProblem[]) {
    super(
      `the app would not deploy on AWS: ${problems.length} problem${problems.length === 1 ? '' : 's'} ` +
        `(CloudFormation would fail and roll back; OPSFLOW_DEPLOY_CHECKS=off relaxes this locally)\n` +
        problems.map((p) => `  - ${p.stack}/${p.logicalId} (${p.type}): ${p.error}: ${p.message}`).join('\n'),
    );
    this.name = 'DeployRefusedError';
  }
}

type Check = (r: ResolvedResource, stack: ResolvedStack) => Array<Pick<DeployProblem, 'error' | 'message'>>;

// ---- API Gateway HTTP API access logs --------------------------------------------------------------------

/**
 * The variables an HTTP API access log may use:
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 * REST-only variables such as `$context.resourcePath` are not among them.
 */
const HTTP_API_LOG_VARIABLES = new Set([
  'accountId',
  'apiId',
  'authorizer.error',
  'authorizer.principalId',
  'awsEndpointRequestId',
  'awsEndpointRequestId2',
  'customDomain.basePathMatched',
  'dataProcessed',
  'domainName',
  'domainPrefix',
  'error.message',
  'error.messageString',
  'error.responseType',
  'extendedRequestId',
  'httpMethod',
  'identity.accountId',
  'identity.caller',
  'identity.cognitoAuthenticationProvider',
  'identity.cognitoAuthenticationType',
  'identity.cognitoIdentityId',
  'identity.cognitoIdentityPoolId',
  'identity.principalOrgId',
  'identity.clientCert.clientCertPem',
  'identity.clientCert.subjectDN',
  'identity.clientCert.issuerDN',
  'identity.clientCert.serialNumber',
  'identity.clientCert.validity.notBefore',
  'identity.clientCert.validity.notAfter',
  'identity.sourceIp',
  'identity.user',
  'identity.userAgent',
  'identity.userArn',
  'integration.error',
  'integration.integrationStatus',
  'integration.latency',
  'integration.requestId',
  'integration.status',
  'integrationErrorMessage',
  'integrationLatency',
  'integrationStatus',
  'path',
  'protocol',
  'requestId',
  'requestTime',
  'requestTimeEpoch',
  'responseLatency',
  'responseLength',
  'routeKey',
  'stage',
  'status',
]);
/** `$context.authorizer.claims.<property>` and `$context.authorizer.<property>` take any property name. */
const HTTP_API_LOG_PREFIXES = ['authorizer.claims.', 'authorizer.'];

/** The `$context` variables of an access-log format, and those of them an HTTP API does not have. */
export function httpApiLogVariables(format: string): { used: string[]; unknown: string[] } {
  const used = [...format.matchAll(/\$context\.([A-Za-z0-9_.]+[A-Za-z0-9_])/g)].map((m) => m[1]);
  const unknown = [
    ...new Set(used.filter((v) => !HTTP_API_LOG_VARIABLES.has(v) && !HTTP_API_LOG_PREFIXES.some((p) => v.startsWith(p) && v.length > p.length))),
  ];
  return { used, unknown };
}

const httpApiAccessLog: Check = (r, stack) => {
  const format = (r.properties.AccessLogSettings as { Format?: unknown } | undefined)?.Format;
  if (typeof format !== 'string') return [];
  const api = stack.resources('AWS::ApiGatewayV2::Api').find((a) => stack.ref(a.logicalId) === r.properties.ApiId);
  if (api && api.properties.ProtocolType !== 'HTTP') return [];
  const problems: Array<Pick<DeployProblem, 'error' | 'message'>> = [];
  const { used, unknown } = httpApiLogVariables(format);
  if (unknown.length) {
    problems.push({
      error: 'BadRequestException',
      message: `Invalid access log format for an HTTP API: ${unknown.map((v) => `$context.${v}`).join(', ')} ${unknown.length === 1 ? 'is not an HTTP API access logging variable' : 'are not HTTP API access logging variables'} (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html)`,
    });
  }
  // "The log format must include at least $context.requestId or $context.extendedRequestId."
  // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html
  if (!used.includes('requestId') && !used.includes('extendedRequestId')) {
    problems.push({ error: 'BadRequestException', message: 'The access log format must include at least $context.requestId or $context.extendedRequestId' });
  }
  return problems;
};

// ---- Lambda ------------------------------------------------------------------------------------------------

/**
 * Keys Lambda reserves: "The keys for these environment variables are reserved and cannot be set in your
 * function configuration." https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
const RESERVED_ENV = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/** "Function environment variables: 4 KB, for all environment variables associated with the function, in aggregate."
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html — Lambda measures the variables as JSON text. */
export const LAMBDA_ENV_LIMIT_BYTES = 4 * 1024;

/**
 * Runtime identifiers Lambda knows (the `Runtime` enum of CreateFunction):
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#lambda-CreateFunction-request-Runtime
 */
const KNOWN_RUNTIMES = new Set([
  'nodejs',
  'nodejs4.3',
  'nodejs6.10',
  'nodejs8.10',
  'nodejs10.x',
  'nodejs12.x',
  'nodejs14.x',
  'nodejs16.x',
  'nodejs18.x',
  'nodejs20.x',
  'nodejs22.x',
  'nodejs24.x',
  'nodejs4.3-edge',
  'java8',
  'java8.al2',
  'java11',
  'java17',
  'java21',
  'java25',
  'python2.7',
  'python3.6',
  'python3.7',
  'python3.8',
  'python3.9',
  'python3.10',
  'python3.11',
  'python3.12',
  'python3.13',
  'python3.14',
  'dotnetcore1.0',
  'dotnetcore2.0',
  'dotnetcore2.1',
  'dotnetcore3.1',
  'dotnet6',
  'dotnet8',
  'dotnet10',
  'go1.x',
  'ruby2.5',
  'ruby2.7',
  'ruby3.2',
  'ruby3.3',
  'ruby3.4',
  'provided',
  'provided.al2',
  'provided.al2023',
]);
/**
 * Deprecated runtimes whose "Block function create" date has passed, so CreateFunction refuses them:
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated
 */
const BLOCKED_RUNTIMES = new Set([
  'nodejs',
  'nodejs4.3',
  'nodejs6.10',
  'nodejs8.10',
  'nodejs10.x',
  'nodejs12.x',
  'nodejs14.x',
  'nodejs16.x',
  'nodejs4.3-edge',
  'python2.7',
  'python3.6',
  'python3.7',
  'python3.8',
  'dotnetcore1.0',
  'dotnetcore2.0',
  'dotnetcore2.1',
  'dotnetcore3.1',
  'dotnet6',
  'go1.x',
  'ruby2.5',
  'ruby2.7',
  'java8',
  'provided',
]);

const lambdaFunction: Check = (r) => {
  const problems: Array<Pick<DeployProblem, 'error' | 'message'>> = [];
  const variables = (r.properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const reserved = Object.keys(variables).filter((k) => RESERVED_ENV.has(k));
  if (reserved.length) {
    problems.push({
      error: 'InvalidParameterValueException',
      message: `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    });
  }
  const measured = JSON.stringify(variables);
  const size = Buffer.byteLength(measured);
  if (size > LAMBDA_ENV_LIMIT_BYTES) {
    problems.push({
      error: 'InvalidParameterValueException',
      message: `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit (${size} bytes measured as JSON).`,
    });
  }
  const runtime = r.properties.Runtime;
  if (r.properties.PackageType !== 'Image' && typeof runtime === 'string') {
    if (!KNOWN_RUNTIMES.has(runtime)) {
      problems.push({
        error: 'ValidationException',
        message: `1 validation error detected: Value '${runtime}' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${[...KNOWN_RUNTIMES].filter((x) => !BLOCKED_RUNTIMES.has(x)).join(', ')}]`,
      });
    } else if (BLOCKED_RUNTIMES.has(runtime)) {
      problems.push({
        error: 'InvalidParameterValueException',
        message: `The runtime parameter of ${runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.`,
      });
    }
  }
  return problems;
};

// ---- Step Functions ------------------------------------------------------------------------------------------

interface AslValidatorResult {
  isValid: boolean;
  errorsText: (separator?: string) => string;
}
// asl-validator ships no type declarations.
const aslValidator = require('asl-validator') as (definition: unknown, options?: Record<string, boolean>) => AslValidatorResult;

/** CreateStateMachine refuses an invalid definition with `InvalidDefinition`:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html#API_CreateStateMachine_Errors */
const stateMachine: Check = (r) => {
  let definition: unknown;
  try {
    definition = stateMachineDefinition(r);
  } catch (err) {
    return [{ error: 'InvalidDefinition', message: `Invalid State Machine Definition: '${(err as Error).message}'` }];
  }
  const result = aslValidator(structuredClone(definition), { checkArn: true, checkPaths: true });
  return result.isValid
    ? []
    : [{ error: 'InvalidDefinition', message: `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ${result.errorsText('; ')}'` }];
};

// ---- Names ---------------------------------------------------------------------------------------------------

interface NameRule {
  property: string;
  max: number;
  min?: number;
  pattern?: RegExp;
  page: string;
  /** Resources whose names must be unique together in one account and region (type → scope). */
  scope?: (r: ResolvedResource) => string;
  /** The service's error for a second resource of the same name. */
  conflict?: { error: string; message: (name: string) => string };
}

/** Explicit physical names: length limits and uniqueness in one account and region. */
const NAMES: Record<string, NameRule> = {
  // https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html#StepFunctions-CreateStateMachine-request-name
  'AWS::StepFunctions::StateMachine': {
    property: 'StateMachineName',
    max: 80,
    page: 'https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html',
    conflict: { error: 'StateMachineAlreadyExists', message: (n) => `State Machine Already Exists: '${n}'` },
  },
  // https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateActivity.html
  'AWS::StepFunctions::Activity': { property: 'Name', max: 80, page: 'https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateActivity.html' },
  // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html#DDB-CreateTable-request-TableName
  'AWS::DynamoDB::Table': {
    property: 'TableName',
    min: 3,
    max: 255,
    pattern: /^[a-zA-Z0-9_.-]+$/,
    page: 'https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html',
    conflict: { error: 'ResourceInUseException', message: (n) => `Table already exists: ${n}` },
  },
  // https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#lambda-CreateFunction-request-FunctionName
  'AWS::Lambda::Function': {
    property: 'FunctionName',
    max: 64,
    pattern: /^[a-zA-Z0-9-_]+$/,
    page: 'https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html',
    conflict: { error: 'ResourceConflictException', message: (n) => `Function already exist: ${n}` },
  },
  // https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html#scheduler-CreateSchedule-request-Name
  'AWS::Scheduler::Schedule': {
    property: 'Name',
    max: 64,
    pattern: /^[0-9a-zA-Z-_.]+$/,
    page: 'https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html',
    scope: (r) => String(r.properties.GroupName ?? 'default'),
    conflict: { error: 'ConflictException', message: (n) => `Schedule ${n} already exists.` },
  },
  // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html#eventbridge-PutRule-request-Name
  'AWS::Events::Rule': {
    property: 'Name',
    max: 64,
    pattern: /^[.\-_A-Za-z0-9]+$/,
    page: 'https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html',
    scope: (r) => String(r.properties.EventBusName ?? 'default'),
  },
  // https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html ("up to 256 characters")
  'AWS::SNS::Topic': {
    property: 'TopicName',
    max: 256,
    pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/,
    page: 'https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html',
  },
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html#API_CreateRole_RequestParameters
  'AWS::IAM::Role': {
    property: 'RoleName',
    max: 64,
    pattern: /^[\w+=,.@-]+$/,
    page: 'https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html',
    conflict: { error: 'EntityAlreadyExists', message: (n) => `Role with name ${n} already exists.` },
  },
  // https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
  'AWS::Logs::LogGroup': {
    property: 'LogGroupName',
    max: 512,
    pattern: /^[.\-_/#A-Za-z0-9]+$/,
    page: 'https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html',
    conflict: { error: 'ResourceAlreadyExistsException', message: () => 'The specified log group already exists' },
  },
};

function nameProblems(r: ResolvedResource): Array<Pick<DeployProblem, 'error' | 'message'>> {
  const rule = NAMES[r.type];
  const name = rule ? r.properties[rule.property] : undefined;
  if (!rule || typeof name !== 'string') return [];
  const problems: Array<Pick<DeployProblem, 'error' | 'message'>> = [];
  if (name.length > rule.max || name.length < (rule.min ?? 1)) {
    problems.push({
      error: 'ValidationException',
      message: `1 validation error detected: Value '${name}' at '${rule.property}' failed to satisfy constraint: Member must have length ${rule.min ?? 1}..${rule.max} (it has ${name.length}; ${rule.page})`,
    });
  }
  if (rule.pattern && !rule.pattern.test(name)) {
    problems.push({
      error: 'ValidationException',
      message: `1 validation error detected: Value '${name}' at '${rule.property}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${rule.pattern.source} (${rule.page})`,
    });
  }
  return problems;
}

// ---- Lambda functions in a VPC ----------------------------------------------------------------------------

/**
 * AWS managed policies whose content the ENI check needs (the IAM model knows only the template's own policies).
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html (v3)
 */
const MANAGED_ENI_POLICIES: Record<string, PolicyDocument> = {
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        Resource: '*',
      },
    ],
  },
};

const iamModels = new WeakMap<ResolvedStack, IamModel>();

/**
 * "Lambda uses your function's permissions to create and manage network interfaces": ec2:CreateNetworkInterface,
 * ec2:DescribeNetworkInterfaces ("only works if it's allowed on all resources"), ec2:DeleteNetworkInterface ("Either
 * specify a unique resource ID, or include all resource IDs"): https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
 * CreateFunction refuses a role without them: "InvalidParameterValueException: The provided execution role does not
 * have permissions to call CreateNetworkInterface on EC2" (AWS's answer, quoted in aws/aws-sam-cli#617 and
 * serverless-es-logs#145). The same words for the other two actions are unconfirmed (README).
 * CreateNetworkInterface acts on the new interface and on the function's subnets and security groups
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html); each must be allowed.
 */
const lambdaVpcRole: Check = (r, stack) => {
  const vpc = r.properties.VpcConfig as { SubnetIds?: string[]; SecurityGroupIds?: string[] } | undefined;
  if (!vpc?.SubnetIds?.length || typeof r.properties.Role !== 'string') return [];
  let model = iamModels.get(stack);
  if (!model) iamModels.set(stack, (model = IamModel.fromStacks([stack])));
  const role = model.role(r.properties.Role);
  // A role from outside the templates: its policies are not known here.
  if (!role) return [];
  const policies = [...role.policies, ...role.managedPolicyArns.flatMap((a) => MANAGED_ENI_POLICIES[a] ?? [])];
  const ec2 = (resource: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${resource}`;
  const needs: Array<[string, string[]]> = [
    [
      'CreateNetworkInterface',
      [ec2('network-interface/*'), ...vpc.SubnetIds.map((id) => ec2(`subnet/${id}`)), ...(vpc.SecurityGroupIds ?? []).map((id) => ec2(`security-group/${id}`))],
    ],
    ['DescribeNetworkInterfaces', ['*']],
    ['DeleteNetworkInterface', [ec2('network-interface/*')]],
  ];
  const missing = needs.find(([action, resources]) =>
    resources.some(
      (resource) => evaluate({ principal: { type: 'AWS', id: role.arn }, action: `ec2:${action}`, resource, context: {} }, policies).decision !== 'Allow',
    ),
  );
  return missing
    ? [{ error: 'InvalidParameterValueException', message: `The provided execution role does not have permissions to call ${missing[0]} on EC2` }]
    : [];
};

const CHECKS: Record<string, Check[]> = {
  'AWS::ApiGatewayV2::Stage': [httpApiAccessLog],
  'AWS::Lambda::Function': [lambdaFunction, lambdaVpcRole],
  'AWS::StepFunctions::StateMachine': [stateMachine],
};

/**
 * Every problem of every stack of the assembly (one account and region), in template order. A stack whose template
 * CloudFormation rejects outright (a bad `Fn::GetAtt`) gets only those problems, as CreateStack stops there.
 */
export function checkAssembly(stacks: ResolvedStack[], schemas = new CfnSchemas()): DeployProblem[] {
  const problems: DeployProblem[] = [];
  const named = new Map<string, { stack: string; logicalId: string }>();
  for (const stack of stacks) {
    const templateErrors = getAttProblems(stack, schemas);
    if (templateErrors.length) {
      problems.push(...templateErrors.map((p) => ({ stack: stack.stackName, ...p })));
      continue;
    }
    for (const r of stack.resources()) {
      const add = (p: Pick<DeployProblem, 'error' | 'message'>) => problems.push({ stack: stack.stackName, logicalId: r.logicalId, type: r.type, ...p });
      propertyProblems(stack, r.logicalId, schemas).forEach(add);
      for (const check of CHECKS[r.type] ?? []) check(r, stack).forEach(add);
      nameProblems(r).forEach(add);
      // Two resources with one explicit name collide: the second create fails with the service's "already exists".
      const rule = NAMES[r.type];
      const name = rule ? r.properties[rule.property] : undefined;
      if (rule?.conflict && typeof name === 'string') {
        const key = `${r.type}|${rule.scope?.(r) ?? ''}|${name}`;
        const first = named.get(key);
        if (first) add({ error: rule.conflict.error, message: `${rule.conflict.message(name)} (also the name of ${first.stack}/${first.logicalId})` });
        else named.set(key, { stack: stack.stackName, logicalId: r.logicalId });
      }
    }
  }
  return problems;
}
