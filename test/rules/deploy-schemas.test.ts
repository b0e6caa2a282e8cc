/**
 * The app's own synthesized template passes CloudFormation's resource schemas untouched, every resource of it
 * judged against its type's schema (none skipped for want of one but CDK's metadata resource), and the same
 * template with one bad value is refused: the checks see the real template, not an empty one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CfnSchemas } from '../../local/rules/cfn-schemas';
import { checkAssembly } from '../../local/rules/deploy';
import { propertyProblems } from '../../local/rules/schema-checks';
import { defaultResourcePolicy, loadAssembly, ResolvedStack, type CfnTemplate } from '../../local/template';

const CDK_OUT = process.env.OPSFLOW_CDK_OUT ?? 'cdk.out';

function resolved(template: CfnTemplate, stackName: string): ResolvedStack {
  return new ResolvedStack(template, { stackName, policy: defaultResourcePolicy({ stackName, endpoint: 'http://127.0.0.1:4566' }) });
}

describe('the opsflow cdk.out against CloudFormation resource schemas', () => {
  const schemas = new CfnSchemas();
  let stacks: ReturnType<typeof loadAssembly>['stacks'];

  beforeAll(() => {
    stacks = loadAssembly(CDK_OUT).stacks;
  });

  it('passes, with every resource judged by its schema', () => {
    const all = stacks.map((s) => resolved(s.template, s.stackName));
    expect(checkAssembly(all, schemas)).toEqual([]);
    const resources = all.flatMap((s) => s.resources());
    const unjudged = resources.filter((r) => !schemas.get(r.type)).map((r) => r.type);
    expect(resources.length).toBeGreaterThanOrEqual(100);
    expect(unjudged).toEqual(['AWS::CDK::Metadata']);
  });

  it('is refused once one of its functions gets a property Lambda does not have', () => {
    const { template, stackName } = stacks.find((s) => Object.values(s.template.Resources ?? {}).some((r) => r.Type === 'AWS::Lambda::Function'))!;
    const copy = structuredClone(template);
    const [id, fn] = Object.entries(copy.Resources!).find(([, r]) => r.Type === 'AWS::Lambda::Function')!;
    fn.Properties = { ...fn.Properties, MemorySizeMb: 256 };
    expect(checkAssembly([resolved(copy, stackName)], schemas)).toEqual([
      expect.objectContaining({
        logicalId: id,
        error: 'ValidationError',
        message: `Properties validation failed for resource ${id} with message: #: extraneous key [MemorySizeMb] is not permitted`,
      }),
    ]);
  });
});

describe('values as CloudFormation converts them', () => {
  const schemas = new CfnSchemas();
  const stack = (resources: CfnTemplate['Resources']) => resolved({ Resources: resources }, 'Values');
  const messages = (s: ResolvedStack, id: string) => propertyProblems(s, id, schemas).map((p) => p.message.replace(/^.*with message: /, ''));

  it('a string of digits is an integer, "true" a boolean, a number a string', () => {
    const s = stack({
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: '30', LogGroupName: 404 } },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: 'x' }, SnapStart: { ApplyOn: 'None' }, MemorySize: '256' },
      },
      Key: { Type: 'AWS::KMS::Key', Properties: { EnableKeyRotation: 'true' } },
    });
    expect(['Logs', 'Fn', 'Key'].flatMap((id) => messages(s, id))).toEqual([]);
  });

  it('what does not convert is refused', () => {
    const s = stack({ Key: { Type: 'AWS::KMS::Key', Properties: { EnableKeyRotation: 'yes', PendingWindowInDays: 7.5, Tags: { Team: 'ops' } } } });
    expect(messages(s, 'Key')).toEqual([
      '#/EnableKeyRotation: expected type: Boolean, found: String',
      '#/PendingWindowInDays: expected type: Integer, found: Number',
      '#/Tags: expected type: JSONArray, found: JSONObject',
    ]);
  });

  it('a value whose intrinsic cannot be resolved before deploy is not judged; Ref AWS::NoValue removes the property', () => {
    const s = stack({
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: { 'Fn::ImportValue': 'shared-retention' }, LogGroupClass: { Ref: 'AWS::NoValue' } } },
      Activity: { Type: 'AWS::StepFunctions::Activity', Properties: { Name: { Ref: 'AWS::NoValue' } } },
    });
    expect(messages(s, 'Logs')).toEqual([]);
    expect(messages(s, 'Activity')).toEqual(['#: required key [Name] not found']);
  });
});
