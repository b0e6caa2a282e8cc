/**
 * IAM of the resources Ec2Schedule reads and moves, built for an `ArnScope` (workflows/shared/targets.ts): the hub's
 * functions get these statements for the hub's account and region, the member role (infra/member-stack.ts) the same for
 * its account in the target regions. EC2: DescribeInstances, and Start/StopInstances on instances that opted in by tag
 * (`startStopTagConditions`). The other kinds: listing and reading for the functions that
 * find resources, starting and stopping for the Advance function, on resources that opted in by tag only, the same
 * `aws:ResourceTag` conditions as EC2's. Each action's resource types and condition keys
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
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { parseAllowTag } from '../../tasks/ec2-schedule/core/allow';
import { SCHEDULE_TAG } from '../../tasks/ec2-schedule/core/tags';
import type { Kind } from '../../tasks/ec2-schedule/core/types';
import type { ArnScope, Grantee } from '../shared/targets';

type Conditions = Array<Record<string, Record<string, string | string[]>>>;

/**
 * The conditions under which the Act role may start or stop an instance, one statement each (IAM allows when any
 * statement does): the Schedule tag is present, or the instance matches an `allowTags` entry, read as the handlers
 * read it (`parseAllowTag`): `Key` is the tag present with any value (`Null` false), `Key=Value` that value
 * (`StringEquals`, values of one key together). EC2 authorizes Start/StopInstances per instance with
 * `aws:ResourceTag/<key>`: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html;
 * operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 */
export function startStopTagConditions(allowTags: string[]): Conditions {
  const present = new Set<string>([SCHEDULE_TAG]);
  const values = new Map<string, string[]>();
  for (const { key, value } of allowTags.map(parseAllowTag)) {
    if (value === undefined) present.add(key);
    else values.set(key, [...new Set([...(values.get(key) ?? []), value])]);
  }
  return [
    ...[...present].map((key) => ({ Null: { [`aws:ResourceTag/${key}`]: 'false' } })),
    ...[...values].filter(([key]) => !present.has(key)).map(([key, vs]) => ({ StringEquals: { [`aws:ResourceTag/${key}`]: vs.length === 1 ? vs[0] : vs } })),
  ];
}

/** DescribeInstances supports no resource-level permissions. */
export const describeInstancesStatement = () => new PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] });

export interface Ec2ActOptions {
  readonly kinds: readonly Kind[];
  /** `ec2Schedule.control.allowTags`. */
  readonly allowTags: string[];
  /** `ec2Schedule.control.allowInstanceIds`. */
  readonly allowInstanceIds: string[];
  /** `ec2Schedule.kmsKeyArns`. */
  readonly kmsKeyArns: string[];
}

/**
 * What the Advance function may do to EC2: start and stop only instances that opted in, a Schedule tag (scheduled runs)
 * or a tag that ec2Schedule.control allows (links and chat), so that IAM allows exactly what the handlers offer; any
 * other instance is refused by IAM. Instances listed by id too. Grants on the KMS keys of encrypted volumes.
 */
export function ec2ActStatements(scope: ArnScope, o: Ec2ActOptions): PolicyStatement[] {
  const startStop = ['ec2:StartInstances', 'ec2:StopInstances'];
  const out: PolicyStatement[] = [];
  for (const conditions of o.kinds.includes('ec2') ? startStopTagConditions(o.allowTags) : []) {
    out.push(new PolicyStatement({ actions: startStop, resources: scope.arns('ec2', 'instance/*'), conditions }));
  }
  if (o.allowInstanceIds.length && o.kinds.includes('ec2')) {
    out.push(new PolicyStatement({ actions: startStop, resources: o.allowInstanceIds.flatMap((i) => scope.arns('ec2', `instance/${i}`)) }));
  }
  if (o.kmsKeyArns.length) {
    // Starting an instance with encrypted volumes makes EC2 create a grant on the volume's key, as the caller.
    out.push(new PolicyStatement({ actions: ['kms:CreateGrant'], resources: o.kmsKeyArns, conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }));
  }
  return out;
}

export interface KindGrants {
  /** Read and list (the plan; links and chat resolve names). */
  readers: Grantee[];
  /** Also read the RDS events (the plan notes seven-day restarts). */
  planner: Grantee;
  /** Start and stop, scale to zero and back (the Advance function). */
  actor: Grantee;
}

export function grantKinds(scope: ArnScope, kinds: readonly Kind[], conditions: Conditions, fns: KindGrants): void {
  const rdsDb = scope.arns('rds', 'db:*');
  const rdsCluster = scope.arns('rds', 'cluster:*');
  const asg = scope.arns('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*');
  const ecsService = scope.arns('ecs', 'service/*/*');
  const read: PolicyStatement[] = [];
  const act = (actions: string[], resources: string[]) => {
    for (const c of conditions) fns.actor.addToRolePolicy(new PolicyStatement({ actions, resources, conditions: c }));
  };
  const reasons: Array<{ appliesTo: string; reason: string }> = [];
  if (kinds.includes('rds-instance')) {
    read.push(new PolicyStatement({ actions: ['rds:DescribeDBInstances'], resources: rdsDb }));
    act(['rds:StartDBInstance', 'rds:StopDBInstance'], rdsDb);
    reasons.push({
      appliesTo: 'db',
      reason: 'DB instances opt in by tag (aws:ResourceTag conditions on start/stop); their identifiers are not known at deploy time.',
    });
  }
  if (kinds.includes('rds-cluster')) {
    read.push(new PolicyStatement({ actions: ['rds:DescribeDBClusters'], resources: rdsCluster }));
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
    read.push(new PolicyStatement({ actions: ['ecs:DescribeServices'], resources: ecsService }));
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
