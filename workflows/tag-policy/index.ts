/** The TagPolicy workflow's registration (workflows/shared/registration.ts). It asks Approval before anything destructive. */
import { Duration, TimeZone } from 'aws-cdk-lib';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Approval } from '../approval/construct';
import { defineWorkflow, examplesIn } from '../shared/registration';
import { hubRoleName } from '../shared/targets';
import { parseTagPolicy } from './config';
import { LAUNCH_EVENT_PATTERN, TAG_POLICY_ACTING_TASKS, TagPolicy } from './construct';
import { describeStatement, lookupEventsStatement, remediationStatements } from './iam';

export const tagPolicy = defineWorkflow({
  name: 'TagPolicy',
  summary: 'finds and remediates EC2 instances that break the tag policy, scheduled and on launch; approval before anything destructive',
  parseConfig: parseTagPolicy,
  build: (scope, t, { built, stackName, targets }) => {
    const approval = built.get('Approval')?.construct;
    if (!(approval instanceof Approval)) throw new Error('TagPolicy asks the Approval workflow before destructive actions: register Approval before TagPolicy');
    const w = new TagPolicy(scope, 'TagPolicy', {
      policy: t.policy,
      approvalStateMachine: approval.stateMachine,
      approvalTimeout: approval.maxTimeout.plus(Duration.hours(1)),
      scanSchedule: ScheduleExpression.expression(t.scanSchedule, TimeZone.of(t.scanTimezone)),
      scanEnabled: t.scanEnabled,
      launchEnabled: t.launchEnabled,
      settleDelay: Duration.seconds(t.settleSeconds),
      destructiveActions: t.destructiveActions,
      reportEmails: t.reportEmails,
      ...(t.reportChat && { reportChat: t.reportChat }),
      requesterEmails: t.requesterEmails,
      ...(targets && { targets: { config: targets, stackName, ...(t.targets && { override: t.targets }) } }),
    });
    return {
      construct: w,
      stateMachine: w.stateMachine,
      outputs: { TagPolicyReportTopicArn: w.topic.topicArn },
      // In a member account, the role does what Evaluate and Apply do here (CloudTrail lookups for creators included),
      // and each region forwards its launches to the hub's bus, where the launch rule picks them up.
      ...(targets && {
        member: {
          hubRoleNames: TAG_POLICY_ACTING_TASKS.map((task) => hubRoleName(stackName, 'TagPolicy', task)),
          grant: (role, scope) => {
            role.addToRolePolicy(describeStatement());
            role.addToRolePolicy(lookupEventsStatement());
            for (const statement of remediationStatements(scope, t.policy, t.destructiveActions)) role.addToRolePolicy(statement);
            role.suppress([
              {
                id: 'AwsSolutions-IAM5',
                reason: 'ec2:Describe* and cloudtrail:LookupEvents do not support resource-level permissions.',
                appliesTo: ['Resource::*'],
              },
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'Remediation targets whichever instances break the policy: any instance of the account in the target regions, never other resource types.',
                appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:[a-z0-9-]+:<AWS::AccountId>:instance\\/\\*$/g' }],
              },
            ]);
          },
          ...(t.launchEnabled && {
            forward: [
              {
                id: 'TagPolicyLaunch',
                description: 'opsflow tag policy: forward RunInstances to the hub (not Auto Scaling launches)',
                eventPattern: LAUNCH_EVENT_PATTERN,
              },
            ],
          }),
        },
      }),
    };
  },
  examples: examplesIn(__dirname),
  // The tag the shipped policy's first rule requires: who to ask about an instance.
  interestingTags: ['Owner'],
  actingTasks: TAG_POLICY_ACTING_TASKS,
  targetOverrides: (t) => (t.targets ? [{ field: 'tagPolicy.targets', override: t.targets }] : []),
  tryLocally: ['npx opsflow start TagPolicy workflows/tag-policy/examples/tag-policy-scan-dry-run.json'],
});
