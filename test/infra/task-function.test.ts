/**
 * Every Lambda task writes its logs to its own log group and may write nowhere else: no role carries
 * AWSLambdaBasicExecutionRole (logs:CreateLogGroup/CreateLogStream/PutLogEvents on "*",
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html).
 */
import { describe, expect, it } from 'vitest';
import { asList, statements, synthOpsflow } from './synth';

const { json } = synthOpsflow();
const resources = Object.entries(json.Resources as Record<string, any>);
const functions = resources.filter(([, r]) => r.Type === 'AWS::Lambda::Function');

describe('task functions and their logs', () => {
  it('finds the 18 task functions', () => {
    expect(functions.length).toBe(18); // Ec2Schedule's Advance replaced its Act and Verify functions; Approval's Chat votes
  });

  it('attaches AWSLambdaBasicExecutionRole (or any managed policy) to no role', () => {
    const managed = resources
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.ManagedPolicyArns)
      .map(([id, r]) => [id, JSON.stringify(r.Properties.ManagedPolicyArns)]);
    expect(managed).toEqual([]);
    expect(JSON.stringify(json)).not.toContain('AWSLambdaBasicExecutionRole');
  });

  it('gives each function its own log group, with retention, deleted with the stack', () => {
    const groups = functions.map(([, fn]) => fn.Properties.LoggingConfig?.LogGroup?.Ref);
    expect(groups.every((g) => typeof g === 'string')).toBe(true);
    expect(new Set(groups).size).toBe(functions.length);
    for (const g of groups) {
      expect(json.Resources[g]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Delete' });
    }
  });

  it("lets each function's role write logs only to that function's group: CreateLogStream and PutLogEvents", () => {
    for (const [id, fn] of functions) {
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      const group = fn.Properties.LoggingConfig.LogGroup.Ref;
      const logs = statements(json)
        .filter((s) => json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === role))
        .filter((s) => asList(s.Action).some((a) => a.startsWith('logs:')));
      expect(logs, id).toEqual([
        expect.objectContaining({ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [group, 'Arn'] } }),
      ]);
      expect(logs[0].Condition, id).toBeUndefined();
    }
  });

  it('gives no Lambda role any other logs permission', () => {
    const lambdaRoles = new Set(functions.map(([, fn]) => fn.Properties.Role['Fn::GetAtt'][0]));
    const other = statements(json)
      .filter((s) => json.Resources[s.policy].Properties.Roles.some((r: any) => lambdaRoles.has(r.Ref)))
      .flatMap((s) =>
        asList(s.Action)
          .filter((a) => a.startsWith('logs:'))
          .map((a) => `${s.policy} ${a}`),
      )
      .filter((a) => !/ logs:(CreateLogStream|PutLogEvents)$/.test(a));
    expect(other).toEqual([]);
  });

  it('carries no cdk-nag suppression for AWSLambdaBasicExecutionRole', () => {
    const suppressions = resources.flatMap(([id, r]) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((s: any) => ({ resource: id, ...s })));
    expect(suppressions.filter((s) => s.id === 'AwsSolutions-IAM4' || JSON.stringify(s).includes('BasicExecutionRole'))).toEqual([]);
  });
});
