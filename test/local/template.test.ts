import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResolvedStack, defaultResourcePolicy, lambdaAssetDir, loadAssembly, stateMachineDefinition, type CfnTemplate } from '../../local/template';

const FIXTURE = join(__dirname, 'fixtures', 'cdk-out');
const ENDPOINT = 'http://127.0.0.1:4566';

const template: CfnTemplate = {
  Parameters: {
    Env: { Type: 'String', Default: 'dev' },
    Zones: { Type: 'CommaDelimitedList', Default: 'a,b,c' },
    Required: { Type: 'String' },
  },
  Mappings: { Sizes: { dev: { Memory: 256 }, prod: { Memory: 1024 } } },
  Conditions: {
    IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
    IsDev: { 'Fn::Not': [{ Condition: 'IsProd' }] },
    DevAndA: { 'Fn::And': [{ Condition: 'IsDev' }, { 'Fn::Equals': [{ 'Fn::Select': [0, { Ref: 'Zones' }] }, 'a'] }] },
    ProdOrA: { 'Fn::Or': [{ Condition: 'IsProd' }, { Condition: 'DevAndA' }] },
  },
  Resources: {
    Approvals: { Type: 'AWS::StepFunctions::Activity', Properties: { Name: 'approvals' } },
    Task: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'task']] },
        MemorySize: { 'Fn::FindInMap': ['Sizes', { Ref: 'Env' }, 'Memory'] },
      },
    },
    Role: { Type: 'AWS::IAM::Role', Properties: {} },
    Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'decisions' } },
    Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { Name: 'links' } },
    Queue: { Type: 'AWS::SQS::Queue' },
    ProdOnlyTopic: { Type: 'AWS::SNS::Topic', Condition: 'IsProd' },
    Machine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: {
          'Fn::Join': [
            '',
            [
              '{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"',
              { Ref: 'Approvals' },
              '","Next":"Go"},"Go":{"Type":"Task","Resource":"${TaskArn}","End":true}}}',
            ],
          ],
        },
        DefinitionSubstitutions: { TaskArn: { 'Fn::GetAtt': ['Task', 'Arn'] } },
      },
    },
  },
  Outputs: {
    ApiUrl: { Value: { 'Fn::GetAtt': ['Api', 'ApiEndpoint'] } },
    TopicArn: { Value: { Ref: 'ProdOnlyTopic' }, Condition: 'IsProd' },
  },
};

function stack(parameters?: Record<string, string>) {
  return new ResolvedStack(template, { stackName: 'Opsflow', policy: defaultResourcePolicy({ stackName: 'Opsflow', endpoint: ENDPOINT }), parameters });
}

describe('loadAssembly', () => {
  it('lists the stacks of the assembly and of nested stage assemblies', () => {
    // Act
    const { stacks } = loadAssembly(FIXTURE);

    // Assess
    expect(stacks.map((s) => [s.stackName, Object.keys(s.template.Resources ?? {})[0], s.assemblyDir])).toEqual([
      ['OpsflowStack', 'EchoFunction', FIXTURE],
      ['Prod-Opsflow', 'Topic', join(FIXTURE, 'assembly-Prod')],
    ]);
  });

  it('fails with the synth hint when cdk.out does not exist', () => {
    expect(() => loadAssembly(join(FIXTURE, 'nope'))).toThrow(/does not exist: run `npx cdk synth` first/);
  });

  it('fails with the synth hint when the manifest is missing', () => {
    // Prepare
    const empty = mkdtempSync(join(tmpdir(), 'opsflow-template-'));

    // Act + Assess
    expect(() => loadAssembly(empty)).toThrow(/manifest\.json is missing: run `npx cdk synth` first/);
  });

  it('fails naming the stack when its template file is missing', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'opsflow-template-'));
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ artifacts: { S: { type: 'aws:cloudformation:stack', properties: { templateFile: 'S.template.json' } } } }),
    );

    // Act + Assess
    expect(() => loadAssembly(dir)).toThrow(/S\.template\.json of stack 'S' is missing/);
  });
});

describe('ResolvedStack', () => {
  it('resolves Ref of parameters, pseudo parameters and resources', () => {
    const s = stack();
    expect(
      s.resolve([
        { Ref: 'Env' },
        { Ref: 'Zones' },
        { Ref: 'AWS::Region' },
        { Ref: 'AWS::AccountId' },
        { Ref: 'AWS::Partition' },
        { Ref: 'AWS::URLSuffix' },
        { Ref: 'AWS::StackName' },
        { Ref: 'Approvals' },
        { Ref: 'Task' },
        { Ref: 'Table' },
        { Ref: 'Queue' },
      ]),
    ).toEqual([
      'dev',
      ['a', 'b', 'c'],
      'us-east-1',
      '000000000000',
      'aws',
      'amazonaws.com',
      'Opsflow',
      'arn:aws:states:us-east-1:000000000000:activity:approvals',
      'Opsflow-task',
      'decisions',
      `${ENDPOINT}/000000000000/Opsflow-Queue`,
    ]);
    expect(s.resolve({ Ref: 'AWS::StackId' })).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/Opsflow\/[0-9a-f-]{36}$/);
  });

  it('takes parameter values over defaults and fails on a parameter without either', () => {
    expect(stack({ Env: 'prod', Required: 'x' }).resolve([{ Ref: 'Env' }, { Ref: 'Required' }])).toEqual(['prod', 'x']);
    expect(() => stack().resolve({ Ref: 'Required' })).toThrow("parameter 'Required' has no value and no Default");
  });

  it('resolves Fn::GetAtt in array and dotted forms', () => {
    const s = stack();
    expect(
      s.resolve([
        { 'Fn::GetAtt': ['Task', 'Arn'] },
        { 'Fn::GetAtt': 'Table.StreamArn' },
        { 'Fn::GetAtt': ['Role', 'Arn'] },
        { 'Fn::GetAtt': 'Api.ApiEndpoint' },
      ]),
    ).toEqual([
      'arn:aws:lambda:us-east-1:000000000000:function:Opsflow-task',
      'arn:aws:dynamodb:us-east-1:000000000000:table/decisions/stream/1970-01-01T00:00:00.000',
      'arn:aws:iam::000000000000:role/Opsflow-Role',
      ENDPOINT,
    ]);
  });

  it('fails naming the resource and the attribute when the attribute is unknown', () => {
    expect(() => stack().resolve({ 'Fn::GetAtt': ['Task', 'SnapStartResponse'] })).toThrow("attribute 'SnapStartResponse' of Task (AWS::Lambda::Function)");
  });

  it('resolves Fn::Sub in string and variable-map forms, with ${!Literal} escapes', () => {
    const s = stack();
    expect(s.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Task}-${Task.Arn}-${!Keep}' })).toBe(
      'arn:aws:s3:::Opsflow-task-arn:aws:lambda:us-east-1:000000000000:function:Opsflow-task-${Keep}',
    );
    expect(s.resolve({ 'Fn::Sub': ['${Greeting}, ${AWS::Region} ${Env}', { Greeting: { 'Fn::Join': ['', ['hel', 'lo']] } }] })).toBe('hello, us-east-1 dev');
  });

  it('resolves Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap and Fn::Base64', () => {
    const s = stack();
    expect(
      s.resolve({
        join: { 'Fn::Join': [':', ['a', { Ref: 'Env' }, 3]] },
        select: { 'Fn::Select': ['1', { Ref: 'Zones' }] },
        split: { 'Fn::Split': ['/', 'x/y/z'] },
        selectSplit: { 'Fn::Select': [2, { 'Fn::Split': [',', 'p,q,r'] }] },
        map: { 'Fn::FindInMap': ['Sizes', 'prod', 'Memory'] },
        base64: { 'Fn::Base64': { 'Fn::Sub': '#!/bin/sh ${Env}' } },
      }),
    ).toEqual({ join: 'a:dev:3', select: 'b', split: ['x', 'y', 'z'], selectSplit: 'r', map: 1024, base64: Buffer.from('#!/bin/sh dev').toString('base64') });
    expect(() => s.resolve({ 'Fn::Select': [5, ['a']] })).toThrow('Fn::Select index 5 is out of range');
    expect(() => s.resolve({ 'Fn::FindInMap': ['Sizes', 'test', 'Memory'] })).toThrow('Fn::FindInMap found nothing at Sizes.test.Memory');
  });

  it('evaluates conditions (Equals, Not, And, Or, Condition) and Fn::If, removing AWS::NoValue', () => {
    // Prepare
    const dev = stack();
    const prod = stack({ Env: 'prod' });
    const value = {
      Size: { 'Fn::If': ['IsProd', 'large', 'small'] },
      Optional: { 'Fn::If': ['IsProd', 'yes', { Ref: 'AWS::NoValue' }] },
      List: ['a', { 'Fn::If': ['DevAndA', { Ref: 'AWS::NoValue' }, 'b'] }],
    };

    // Act + Assess
    expect(dev.resolve(value)).toEqual({ Size: 'small', List: ['a'] });
    expect(prod.resolve(value)).toEqual({ Size: 'large', Optional: 'yes', List: ['a', 'b'] });
    expect([dev.condition('IsDev'), dev.condition('DevAndA'), dev.condition('ProdOrA'), prod.condition('ProdOrA')]).toEqual([true, true, true, true]);
    expect(stack({ Env: 'test', Zones: 'z' }).condition('ProdOrA')).toBe(false);
  });

  it('skips resources (and outputs) whose condition is false', () => {
    // Act
    const dev = stack();
    const prod = stack({ Env: 'prod' });

    // Assess
    expect(dev.resources('AWS::SNS::Topic')).toEqual([]);
    expect(() => dev.resolve({ Ref: 'ProdOnlyTopic' })).toThrow("resource 'ProdOnlyTopic' is not created (condition 'IsProd' is false)");
    expect(dev.outputs()).toEqual({ ApiUrl: ENDPOINT });
    expect(prod.resources('AWS::SNS::Topic').map((r) => r.physicalName)).toEqual(['Opsflow-ProdOnlyTopic']);
    expect(prod.outputs().TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:Opsflow-ProdOnlyTopic');
  });

  it('resolves resource properties with the policy naming the resource', () => {
    // Act
    const task = stack().resource('Task');

    // Assess
    expect(task).toEqual({
      logicalId: 'Task',
      type: 'AWS::Lambda::Function',
      properties: { FunctionName: 'Opsflow-task', MemorySize: 256 },
      metadata: {},
      physicalName: 'Opsflow-task',
    });
  });

  it('asks the caller policy for names and attributes', () => {
    // Prepare
    const s = new ResolvedStack(template, {
      stackName: 'Opsflow',
      policy: { physicalName: (id) => `local-${id}`, attribute: (id, r, attr) => `${r.type}|${id}|${r.physicalName}|${attr}` },
    });

    // Act + Assess
    expect(s.resolve({ 'Fn::Sub': '${Approvals}/${Table.Arn}' })).toBe(
      'AWS::StepFunctions::Activity|Approvals|local-Approvals|Ref/AWS::DynamoDB::Table|Table|local-Table|Arn',
    );
  });

  it('refuses Fn::ImportValue and unknown intrinsics with clear errors', () => {
    expect(() => stack().resolve({ 'Fn::ImportValue': 'SharedVpc' })).toThrow(/Fn::ImportValue "SharedVpc" is not supported by the local runtime/);
    expect(() => stack().resolve({ 'Fn::Transmogrify': [] })).toThrow('intrinsic function Fn::Transmogrify is not supported');
    expect(() => stack().resolve({ Ref: 'Nothing' })).toThrow("Ref to 'Nothing', which is neither a parameter nor a resource");
  });
});

describe('default resource policy', () => {
  it('names resources after their explicit name property, else <StackName>-<LogicalId>, with stable ids', () => {
    // Prepare
    const tpl: CfnTemplate = {
      Resources: {
        Sm: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: 'approval' } },
        Topic: { Type: 'AWS::SNS::Topic' },
        Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/opsflow/sm' } },
        Key: { Type: 'AWS::KMS::Key' },
        Secret: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'signing' } },
        Rule: { Type: 'AWS::Events::Rule' },
        Schedule: { Type: 'AWS::Scheduler::Schedule', Properties: { Name: 'office-hours', GroupName: 'opsflow' } },
        Group: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: 'opsflow' } },
        Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { StageName: '$default' } },
        Api: { Type: 'AWS::ApiGatewayV2::Api' },
        Fifo: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } },
      },
    };
    const make = () => new ResolvedStack(tpl, { stackName: 'S', policy: defaultResourcePolicy({ stackName: 'S', endpoint: ENDPOINT }) });
    const s = make();

    // Act
    const values = s.resolve({
      sm: [{ Ref: 'Sm' }, { 'Fn::GetAtt': 'Sm.Name' }],
      topic: [{ Ref: 'Topic' }, { 'Fn::GetAtt': 'Topic.TopicName' }],
      logs: { 'Fn::GetAtt': 'Logs.Arn' },
      secret: { Ref: 'Secret' },
      rule: { 'Fn::GetAtt': 'Rule.Arn' },
      schedule: { 'Fn::GetAtt': 'Schedule.Arn' },
      group: { 'Fn::GetAtt': 'Group.Arn' },
      stage: { Ref: 'Stage' },
      fifo: { 'Fn::GetAtt': 'Fifo.QueueName' },
    });

    // Assess
    expect(values).toEqual({
      sm: ['arn:aws:states:us-east-1:000000000000:stateMachine:approval', 'approval'],
      topic: ['arn:aws:sns:us-east-1:000000000000:S-Topic', 'S-Topic'],
      logs: 'arn:aws:logs:us-east-1:000000000000:log-group:/opsflow/sm:*',
      secret: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:signing-[A-Za-z]{6}$/),
      rule: 'arn:aws:events:us-east-1:000000000000:rule/S-Rule',
      schedule: 'arn:aws:scheduler:us-east-1:000000000000:schedule/opsflow/office-hours',
      group: 'arn:aws:scheduler:us-east-1:000000000000:schedule-group/opsflow',
      stage: '$default',
      fifo: 'S-Fifo.fifo',
    });
    expect(s.resolve({ Ref: 'Api' })).toMatch(/^[a-z0-9]{10}$/);
    expect(s.resolve({ 'Fn::GetAtt': 'Key.Arn' })).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]{36}$/);
    // A restarted runtime must hand out the same generated ids.
    expect(make().resolve([{ Ref: 'Api' }, { Ref: 'Key' }, { Ref: 'Secret' }])).toEqual(s.resolve([{ Ref: 'Api' }, { Ref: 'Key' }, { Ref: 'Secret' }]));
  });
});

describe('stateMachineDefinition', () => {
  it('parses a joined DefinitionString and applies DefinitionSubstitutions', () => {
    // Act
    const definition = stateMachineDefinition(stack().resource('Machine'));

    // Assess
    expect(definition).toEqual({
      StartAt: 'Ask',
      States: {
        Ask: { Type: 'Task', Resource: 'arn:aws:states:us-east-1:000000000000:activity:approvals', Next: 'Go' },
        Go: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:Opsflow-task', End: true },
      },
    });
  });

  it('applies substitutions to an object Definition and keeps unknown placeholders', () => {
    // Prepare
    const resource = {
      logicalId: 'Sm',
      properties: {
        Definition: { StartAt: 'P', States: { P: { Type: 'Pass', Result: { topic: '${Topic}', quoted: '${Quote}', other: '${Unknown}' }, End: true } } },
        DefinitionSubstitutions: { Topic: 'arn:aws:sns:us-east-1:000000000000:t', Quote: 'say "hi"' },
      },
    };

    // Act
    const definition = stateMachineDefinition(resource) as { States: { P: { Result: unknown } } };

    // Assess
    expect(definition.States.P.Result).toEqual({ topic: 'arn:aws:sns:us-east-1:000000000000:t', quoted: 'say "hi"', other: '${Unknown}' });
  });

  it('fails on a state machine without a definition', () => {
    expect(() => stateMachineDefinition({ logicalId: 'Sm', properties: {} })).toThrow('State machine Sm has neither DefinitionString nor Definition');
  });
});

describe('lambdaAssetDir', () => {
  const resources = loadAssembly(FIXTURE).stacks[0].template.Resources!;
  const asResource = (id: string) => ({ logicalId: id, metadata: resources[id].Metadata ?? {}, properties: resources[id].Properties ?? {} });

  it('finds the bundle directory from the aws:asset:path metadata', () => {
    expect(lambdaAssetDir(FIXTURE, asResource('EchoFunction'))).toBe(join(FIXTURE, 'asset.3f2a9c'));
  });

  it('falls back to the staged asset named after Code.S3Key when the metadata is absent', () => {
    expect(lambdaAssetDir(FIXTURE, { logicalId: 'Fn', metadata: {}, properties: { Code: { S3Key: '3f2a9c.zip' } } })).toBe(join(FIXTURE, 'asset.3f2a9c'));
  });

  it('fails clearly when the asset is missing, not a directory, or not recorded', () => {
    expect(() => lambdaAssetDir(FIXTURE, asResource('GoneFunction'))).toThrow(
      /Code of Lambda function GoneFunction is missing at .*asset\.deleted: run `npx cdk synth` first/,
    );
    expect(() => lambdaAssetDir(FIXTURE, asResource('ZippedFunction'))).toThrow(/is a file; the local runtime runs unpacked asset directories/);
    expect(() => lambdaAssetDir(FIXTURE, { logicalId: 'Inline', metadata: {}, properties: { Code: { ZipFile: 'exports.handler = 1' } } })).toThrow(
      "Lambda function Inline has neither 'aws:asset:path' metadata nor an asset Code.S3Key",
    );
  });
});
