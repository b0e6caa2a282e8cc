/**
 * `opsflow up` refuses an app that CloudFormation or the service would refuse: one small CDK app per rule
 * (one stack each, synthesized once), deployed with `opsflow up --cdk-out`; the command exits non-zero and
 * lists every problem with AWS's error name and wording.
 */
import { CfnOutput, type CfnResource, Duration, Fn } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { echoFunction, synthApp } from './apps/synth';

const exec = promisify(execFile);

const PASS = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });

const APPS = {
  HttpApiAccessLog(stack: import('aws-cdk-lib').Stack) {
    const api = new apigwv2.CfnApi(stack, 'Api', { name: 'links', protocolType: 'HTTP' });
    new apigwv2.CfnStage(stack, 'Stage', {
      apiId: api.ref,
      stageName: '$default',
      autoDeploy: true,
      // What CDK's AccessLogFormat.clf() writes: REST API variables.
      accessLogSettings: {
        destinationArn: 'arn:aws:logs:us-east-1:000000000000:log-group:api',
        format: '$context.identity.sourceIp $context.resourcePath $context.requestId',
      },
    });
  },
  LambdaEnvironment(stack: import('aws-cdk-lib').Stack) {
    const fn = echoFunction(stack, 'Fn', { environment: { BIG: 'x'.repeat(4200) } });
    (fn.node.defaultChild as CfnResource).addPropertyOverride('Environment.Variables.AWS_REGION', 'eu-west-1');
  },
  LambdaRuntime(stack: import('aws-cdk-lib').Stack) {
    echoFunction(stack, 'Future', { runtime: new lambda.Runtime('nodejs99.x', lambda.RuntimeFamily.NODEJS) });
    echoFunction(stack, 'Retired', { runtime: new lambda.Runtime('nodejs16.x', lambda.RuntimeFamily.NODEJS) });
  },
  LambdaVpc(stack: import('aws-cdk-lib').Stack) {
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      availabilityZones: ['us-east-1a'],
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const inVpc = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } };
    const lambdaRole = (id: string) => new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    echoFunction(stack, 'NoEni', { ...inVpc, role: lambdaRole('NoEniRole') });
    // Create and delete on every resource, but no DescribeNetworkInterfaces.
    const noDescribe = lambdaRole('NoDescribeRole');
    noDescribe.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface'], resources: ['*'] }));
    echoFunction(stack, 'NoDescribe', { ...inVpc, role: noDescribe });
    // The role CDK makes for a VPC function carries AWSLambdaVPCAccessExecutionRole: accepted.
    echoFunction(stack, 'Managed', inVpc);
  },
  Names(stack: import('aws-cdk-lib').Stack) {
    // CDK's L2 checks the length itself; the L1 shows what CloudFormation does with a template that skips it.
    new sfn.CfnStateMachine(stack, 'Long', { stateMachineName: 'w'.repeat(81), roleArn: 'arn:aws:iam::000000000000:role/sm', definitionString: PASS });
    new sfn.StateMachine(stack, 'First', {
      stateMachineName: 'Twin',
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P2')),
      timeout: Duration.minutes(1),
    });
    new dynamodb.Table(stack, 'T1', { tableName: 'twin-table', partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  },
  NamesElsewhere(stack: import('aws-cdk-lib').Stack) {
    // The same names in another stack of the same account and region.
    new sfn.StateMachine(stack, 'Second', {
      stateMachineName: 'Twin',
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P3')),
      timeout: Duration.minutes(1),
    });
    new dynamodb.Table(stack, 'T2', { tableName: 'twin-table', partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  },
  InvalidAsl(stack: import('aws-cdk-lib').Stack) {
    const role = 'arn:aws:iam::000000000000:role/sm';
    new sfn.CfnStateMachine(stack, 'Broken', {
      roleArn: role,
      definitionString: JSON.stringify({ StartAt: 'Missing', States: { Only: { Type: 'Pass', End: true } } }),
    });
  },
  // CloudFormation's resource schemas (escape hatches put in what the L1 classes' own validation would not let through).
  UnknownProperty(stack: import('aws-cdk-lib').Stack) {
    new sns.CfnTopic(stack, 'Topic', {}).addPropertyOverride('DisplayNme', 'a typo of DisplayName');
  },
  WrongType(stack: import('aws-cdk-lib').Stack) {
    new sfn.CfnActivity(stack, 'Activity', { name: 'two-names' }).addPropertyOverride('Name', ['first', 'second']);
    (echoFunction(stack, 'Fn').node.defaultChild as CfnResource).addPropertyOverride('Timeout', 'thirty');
  },
  MissingRequired(stack: import('aws-cdk-lib').Stack) {
    new sfn.CfnActivity(stack, 'Activity', { name: 'nameless' }).addPropertyDeletionOverride('Name');
    new scheduler.CfnSchedule(stack, 'Schedule', {
      scheduleExpression: 'rate(1 hour)',
      flexibleTimeWindow: { mode: 'OFF' },
      target: { arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Nightly', roleArn: 'arn:aws:iam::000000000000:role/scheduler' },
    }).addPropertyDeletionOverride('Target.RoleArn');
  },
  BadEnum(stack: import('aws-cdk-lib').Stack) {
    new logs.CfnLogGroup(stack, 'Logs', { retentionInDays: 10 });
    new events.CfnRule(stack, 'Rule', { scheduleExpression: 'rate(1 hour)', state: 'ON' });
  },
  GetAtt(stack: import('aws-cdk-lib').Stack) {
    // A topic's ARN is its `TopicArn` attribute (and its Ref); it has no `Arn`.
    new CfnOutput(stack, 'AlertsArn', { value: new sns.CfnTopic(stack, 'Alerts', {}).getAtt('Arn').toString() });
    new CfnOutput(stack, 'Gone', { value: Fn.getAtt('Missing', 'Arn').toString() });
  },
};

describe('opsflow up refuses what AWS would refuse at deploy', () => {
  let cdkOut: string;
  let result: { code: number; stderr: string; stdout: string };

  beforeAll(async () => {
    cdkOut = synthApp(APPS);
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-refusal-'));
    try {
      const out = await exec('node_modules/.bin/tsx', ['local/cli.ts', 'up', '--cdk-out', cdkOut, '--port', '0'], {
        env: { ...process.env, OPSFLOW_STATE_DIR: stateDir },
        timeout: 60_000,
      });
      result = { code: 0, ...out };
    } catch (err) {
      const e = err as { code: number; stderr: string; stdout: string };
      result = { code: e.code, stderr: e.stderr, stdout: e.stdout };
    }
  });

  const line = (stack: string, logicalIdPrefix: string) => result.stderr.split('\n').filter((l) => l.includes(`${stack}/${logicalIdPrefix}`));

  it('exits non-zero and lists every problem', () => {
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the app would not deploy on AWS: 20 problems/);
  });

  it('HTTP API access logs may use HTTP API variables only', () => {
    expect(line('HttpApiAccessLog', 'Stage')).toEqual([
      expect.stringContaining(
        '(AWS::ApiGatewayV2::Stage): BadRequestException: Invalid access log format for an HTTP API: $context.resourcePath is not an HTTP API access logging variable',
      ),
    ]);
  });

  it('Lambda environments: reserved keys and the 4 KB limit', () => {
    const lines = line('LambdaEnvironment', 'Fn');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(
      'InvalidParameterValueException: Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION',
    );
    expect(lines[1]).toMatch(/InvalidParameterValueException: .*exceeded the 4KB limit \(42\d\d bytes measured as JSON\)/);
  });

  it('unknown and retired Lambda runtimes', () => {
    expect(line('LambdaRuntime', 'Future')[0]).toContain(
      "ValidationException: 1 validation error detected: Value 'nodejs99.x' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set:",
    );
    expect(line('LambdaRuntime', 'Retired')[0]).toContain(
      'InvalidParameterValueException: The runtime parameter of nodejs16.x is no longer supported for creating or updating AWS Lambda functions.',
    );
  });

  it('Lambda functions in a VPC whose role cannot manage network interfaces', () => {
    expect(line('LambdaVpc', 'NoEni')).toEqual([
      expect.stringContaining(
        '(AWS::Lambda::Function): InvalidParameterValueException: The provided execution role does not have permissions to call CreateNetworkInterface on EC2',
      ),
    ]);
    expect(line('LambdaVpc', 'NoDescribe')).toEqual([
      expect.stringContaining('InvalidParameterValueException: The provided execution role does not have permissions to call DescribeNetworkInterfaces on EC2'),
    ]);
    expect(line('LambdaVpc', 'Managed')).toEqual([]);
  });

  it('names over the length limit', () => {
    expect(line('Names', 'Long')[0]).toContain(
      `ValidationException: 1 validation error detected: Value '${'w'.repeat(81)}' at 'StateMachineName' failed to satisfy constraint: Member must have length 1..80`,
    );
  });

  it('physical names that collide in one account and region', () => {
    expect(line('NamesElsewhere', 'Second')[0]).toMatch(/StateMachineAlreadyExists: State Machine Already Exists: 'Twin' \(also the name of Names\/First/);
    expect(line('NamesElsewhere', 'T2')[0]).toMatch(/ResourceInUseException: Table already exists: twin-table \(also the name of Names\/T1/);
  });

  it('invalid ASL', () => {
    expect(line('InvalidAsl', 'Broken')[0]).toMatch(/InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: .*Missing/);
  });

  it("properties that the type's schema does not have", () => {
    expect(line('UnknownProperty', 'Topic')).toEqual([
      expect.stringContaining(
        '(AWS::SNS::Topic): ValidationError: Properties validation failed for resource Topic with message: #: extraneous key [DisplayNme] is not permitted',
      ),
    ]);
  });

  it('values of the wrong type', () => {
    expect(line('WrongType', 'Activity')).toEqual([
      expect.stringContaining(
        'ValidationError: Properties validation failed for resource Activity with message: #/Name: expected type: String, found: JSONArray',
      ),
    ]);
    expect(line('WrongType', 'Fn')).toEqual([
      expect.stringMatching(
        /ValidationError: Properties validation failed for resource Fn[0-9A-F]+ with message: #\/Timeout: expected type: Integer, found: String/,
      ),
    ]);
  });

  it('required properties that are missing, at the top and nested', () => {
    expect(line('MissingRequired', 'Activity')).toEqual([
      expect.stringContaining('Properties validation failed for resource Activity with message: #: required key [Name] not found'),
    ]);
    expect(line('MissingRequired', 'Schedule')).toEqual([
      expect.stringContaining('Properties validation failed for resource Schedule with message: #/Target: required key [RoleArn] not found'),
    ]);
  });

  it('values outside the enum, of strings and integers', () => {
    expect(line('BadEnum', 'Logs')).toEqual([
      expect.stringContaining(
        'Properties validation failed for resource Logs with message: #/RetentionInDays: failed validation constraint for keyword [enum]',
      ),
    ]);
    expect(line('BadEnum', 'Rule')).toEqual([
      expect.stringContaining('Properties validation failed for resource Rule with message: #/State: failed validation constraint for keyword [enum]'),
    ]);
  });

  it('Fn::GetAtt of an attribute or a resource that does not exist', () => {
    expect(line('GetAtt', 'AlertsArn')).toEqual([
      expect.stringContaining('ValidationError: Template error: resource Alerts does not support attribute type Arn in Fn::GetAtt'),
    ]);
    expect(line('GetAtt', 'Gone')).toEqual([
      expect.stringContaining('ValidationError: Template error: instance of Fn::GetAtt references undefined resource Missing'),
    ]);
  });

  it('OPSFLOW_DEPLOY_CHECKS=off (--deploy-checks off) relaxes the refusals', async () => {
    const oversized = synthApp({ LambdaEnvironment: APPS.LambdaEnvironment });
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-refusal-'));
    await expect(Runtime.start({ cdkOut: oversized, port: 0, stateDir })).rejects.toThrow(/would not deploy on AWS: 2 problems/);
    const rt = await Runtime.start({ cdkOut: oversized, port: 0, stateDir, rules: { deployChecks: false } });
    expect(rt.deployed.functions).toHaveLength(1);
    await rt.stop();
  });
});
