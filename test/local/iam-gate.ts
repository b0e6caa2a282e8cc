/**
 * The runtime's gate with IAM enforced for one role of a minimal template, for tests that drive one service through
 * its SDK client signed as that role: the same IamModel, IamEnforcer and Gate the runtime builds from cdk.out.
 */
import { IamEnforcer } from '../../local/iam/enforcer';
import { IamModel } from '../../local/iam/model';
import type { PolicyDocument } from '../../local/iam/policy';
import type { ResourceLookups } from '../../local/iam/requests';
import type { Clock } from '../../local/kernel';
import { Gate } from '../../local/rules/gate';
import { resolveRules } from '../../local/rules/settings';
import { defaultResourcePolicy, ResolvedStack } from '../../local/template';

export function gateWithRole(
  statements: PolicyDocument['Statement'],
  lookups: Partial<ResourceLookups>,
  clock: Clock,
): { gate: Gate; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } } {
  const template = {
    Resources: {
      Scheduler: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: 'Scheduler',
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          Policies: [{ PolicyName: 'scale', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
        },
      },
    },
  };
  const stack = new ResolvedStack(template as never, { stackName: 'Test', policy: defaultResourcePolicy({ stackName: 'Test', endpoint: 'http://127.0.0.1' }) });
  const model = IamModel.fromStacks([stack]);
  const gate = new Gate(resolveRules({ iam: true, rates: false, quotas: false }, {}));
  gate.iam = new IamEnforcer(model, { instanceTags: () => undefined, resourceTags: () => undefined, ...lookups }, clock);
  const roleArn = String(stack.getAtt('Scheduler', 'Arn'));
  return { gate, credentials: model.credentialsFor(roleArn, 'test') };
}
