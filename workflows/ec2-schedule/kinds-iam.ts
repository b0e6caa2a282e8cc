/**
 * IAM for the kinds other than EC2 (EC2's statements are in construct.ts): listing and reading for the functions that
 * find resources, starting and stopping for the Advance function, on resources that opted in by tag only, the same
 * `aws:ResourceTag` conditions as EC2's (`startStopTagConditions`). Each action's resource types and condition keys
 * are those of the Service Authorization Reference:
 * - RDS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html): Start/StopDBInstance
 *   on `db`, Start/StopDBCluster on `cluster`, both with `aws:ResourceTag/${TagKey}`; DescribeDBInstances on `db`,
 *   DescribeDBClusters on `cluster`; DescribeEvents has no resource type ("*").
 * - Auto Scaling (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html):
 *   UpdateAutoScalingGroup on `autoScalingGroup` with `aws:ResourceTag/${TagKey}`; DescribeAutoScalingGroups has no
 *   resource type ("*").
 * - ECS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html):
 *   UpdateService on `service` with `aws:ResourceTag/${TagKey}`; DescribeServices on `service`; ListClusters and
 *   ListServices have no resource type ("*").
 */
import type { Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Kind } from '../../tasks/ec2-schedule/core/types';
import type { TaskFunction } from '../shared/task-function';

type Conditions = Array<Record<string, Record<string, string | string[]>>>;

export interface KindGrants {
  /** Read and list (the plan; links and chat resolve names). */
  readers: TaskFunction[];
  /** Also read the RDS events (the plan notes seven-day restarts). */
  planner: TaskFunction;
  /** Start and stop, scale to zero and back (the Advance function). */
  actor: TaskFunction;
}

export function grantKinds(stack: Stack, kinds: readonly Kind[], conditions: Conditions, fns: KindGrants): void {
  const rdsDb = `arn:${stack.partition}:rds:${stack.region}:${stack.account}:db:*`;
  const rdsCluster = `arn:${stack.partition}:rds:${stack.region}:${stack.account}:cluster:*`;
  const asg = `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/*`;
  const ecsService = `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:service/*/*`;
  const read: PolicyStatement[] = [];
  const act = (actions: string[], resource: string) => {
    for (const c of conditions) fns.actor.addToRolePolicy(new PolicyStatement({ actions, resources: [resource], conditions: c }));
  };
  const reasons: Array<{ appliesTo: string; reason: string }> = [];
  if (kinds.includes('rds-instance')) {
    read.push(new PolicyStatement({ actions: ['rds:DescribeDBInstances'], resources: [rdsDb] }));
    act(['rds:StartDBInstance', 'rds:StopDBInstance'], rdsDb);
    reasons.push({
      appliesTo: 'db',
      reason: 'DB instances opt in by tag (aws:ResourceTag conditions on start/stop); their identifiers are not known at deploy time.',
    });
  }
  if (kinds.includes('rds-cluster')) {
    read.push(new PolicyStatement({ actions: ['rds:DescribeDBClusters'], resources: [rdsCluster] }));
    act(['rds:StartDBCluster', 'rds:StopDBCluster'], rdsCluster);
    reasons.push({
      appliesTo: 'cluster',
      reason: 'DB clusters opt in by tag (aws:ResourceTag conditions on start/stop); their identifiers are not known at deploy time.',
    });
  }
  if (kinds.includes('rds-instance') || kinds.includes('rds-cluster')) {
    fns.planner.addToRolePolicy(new PolicyStatement({ actions: ['rds:DescribeEvents'], resources: ['*'] }));
  }
  if (kinds.includes('asg')) {
    read.push(new PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }));
    act(['autoscaling:UpdateAutoScalingGroup'], asg);
    reasons.push({
      appliesTo: 'autoScalingGroup',
      reason: 'Groups opt in by tag (aws:ResourceTag conditions on UpdateAutoScalingGroup); their names are not known at deploy time.',
    });
  }
  if (kinds.includes('ecs-service')) {
    read.push(new PolicyStatement({ actions: ['ecs:ListClusters', 'ecs:ListServices'], resources: ['*'] }));
    read.push(new PolicyStatement({ actions: ['ecs:DescribeServices'], resources: [ecsService] }));
    act(['ecs:UpdateService'], ecsService);
    reasons.push({
      appliesTo: 'service',
      reason: 'Services opt in by tag (aws:ResourceTag conditions on UpdateService); their names are not known at deploy time.',
    });
  }
  const readers = [...new Set([...fns.readers, fns.planner, fns.actor])];
  for (const fn of readers) {
    for (const s of read) fn.addToRolePolicy(s);
    fn.suppress([
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Describe/List actions of RDS, Auto Scaling and ECS on every resource of the kind: resources opt in by tag, which these calls read; some (DescribeAutoScalingGroups, ListClusters, ListServices, DescribeEvents) support no resource-level permissions.',
        appliesTo: [
          'Resource::*',
          { regex: '/^Resource::arn:<AWS::Partition>:(rds|ecs|autoscaling):(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):.*\\*$/g' },
        ],
      },
      ...reasons.map((r) => ({
        id: 'AwsSolutions-IAM5',
        reason: r.reason,
        appliesTo: [
          { regex: `/^Resource::arn:<AWS::Partition>:(rds|ecs|autoscaling):(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):${r.appliesTo}.*$/g` },
        ],
      })),
    ]);
  }
}
