/** The TagPolicy workflow's registration (workflows/shared/registration.ts). It asks Approval before anything destructive. */
import { Duration, TimeZone } from 'aws-cdk-lib';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Approval } from '../approval/construct';
import { defineWorkflow, examplesIn } from '../shared/registration';
import { parseTagPolicy } from './config';
import { TagPolicy } from './construct';

export const tagPolicy = defineWorkflow({
  name: 'TagPolicy',
  summary: 'finds and remediates EC2 instances that break the tag policy, scheduled and on launch; approval before anything destructive',
  parseConfig: parseTagPolicy,
  build: (scope, t, { built }) => {
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
    });
    return { construct: w, stateMachine: w.stateMachine, outputs: { TagPolicyReportTopicArn: w.topic.topicArn } };
  },
  examples: examplesIn(__dirname),
  // The tag the shipped policy's first rule requires: who to ask about an instance.
  interestingTags: ['Owner'],
  tryLocally: ['npx opsflow start TagPolicy workflows/tag-policy/examples/tag-policy-scan-dry-run.json'],
});
