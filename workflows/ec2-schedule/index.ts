/** The Ec2Schedule workflow's registration (workflows/shared/registration.ts). */
import { Duration } from 'aws-cdk-lib';
import { SCHEDULE_TAG } from '../../tasks/ec2-schedule/core/tags';
import { defineWorkflow, examplesIn } from '../shared/registration';
import { hubRoleName } from '../shared/targets';
import { parseEc2Schedule } from './config';
import { EC2_SCHEDULE_ACTING_TASKS, Ec2Schedule } from './construct';
import { describeInstancesStatement, ec2ActStatements, grantKinds, startStopTagConditions } from './kinds-iam';

export const ec2Schedule = defineWorkflow({
  name: 'Ec2Schedule',
  summary: 'named schedules start/stop tagged EC2 instances, verified, with a report; control links and a chat command',
  parseConfig: parseEc2Schedule,
  build: (scope, e, { stackName, targets }) => {
    const w = new Ec2Schedule(scope, 'Ec2Schedule', {
      schedules: e.schedules,
      kinds: e.kinds,
      batchSize: e.batchSize,
      verifyTimeout: Duration.seconds(e.verifyTimeoutSeconds),
      kmsKeyArns: e.kmsKeyArns,
      reportEmails: e.reportEmails,
      ...(e.reportChat && { reportChat: e.reportChat }),
      controlAllowTags: e.control.allowTags,
      controlAllowInstanceIds: e.control.allowInstanceIds,
      scheduleNamePrefix: stackName.toLowerCase(),
      ...(targets && { targets: { config: targets, stackName } }),
    });
    const act = { kinds: e.kinds, allowTags: e.control.allowTags, allowInstanceIds: e.control.allowInstanceIds, kmsKeyArns: e.kmsKeyArns };
    return {
      construct: w,
      stateMachine: w.stateMachine,
      outputs: { Ec2ControlApiUrl: w.api.apiEndpoint, Ec2ScheduleTableName: w.table.tableName },
      // In a member account, the role does what Plan, Advance, Control and Chat do here: the same builders, its regions.
      ...(targets && {
        member: {
          hubRoleNames: EC2_SCHEDULE_ACTING_TASKS.map((t) => hubRoleName(stackName, 'Ec2Schedule', t)),
          grant: (role, scope) => {
            role.addToRolePolicy(describeInstancesStatement());
            for (const statement of ec2ActStatements(scope, act)) role.addToRolePolicy(statement);
            grantKinds(scope, e.kinds, startStopTagConditions(e.control.allowTags), { readers: [role], planner: role, actor: role });
            role.suppress([
              { id: 'AwsSolutions-IAM5', reason: 'ec2:DescribeInstances does not support resource-level permissions.', appliesTo: ['Resource::*'] },
              {
                id: 'AwsSolutions-IAM5',
                reason:
                  'Start/StopInstances on any instance of the account in the target regions, but only with a Schedule tag or a tag ec2Schedule.control allows (aws:ResourceTag conditions): instances opt in by tag.',
                appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:[a-z0-9-]+:<AWS::AccountId>:instance\\/\\*$/g' }],
              },
            ]);
          },
        },
      }),
    };
  },
  examples: examplesIn(__dirname),
  interestingTags: [SCHEDULE_TAG],
  actingTasks: EC2_SCHEDULE_ACTING_TASKS,
  targetOverrides: (e) =>
    Object.entries(e.schedules).flatMap(([name, s]) => (s.targets ? [{ field: `ec2Schedule.schedules.${name}.targets`, override: s.targets }] : [])),
  tryLocally: [
    'npx opsflow start Ec2Schedule workflows/ec2-schedule/examples/ec2-stop-office-hours-dry-run.json',
    'npx opsflow fire opsflow-office-hours-start-0                               # as EventBridge Scheduler would at 07:00 Berlin',
    'npm run control-link -- i-0feed000000000011 start                           # a delegated start link',
  ],
});
