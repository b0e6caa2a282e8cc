/** The Ec2Schedule workflow's registration (workflows/shared/registration.ts). */
import { Duration } from 'aws-cdk-lib';
import { SCHEDULE_TAG } from '../../tasks/ec2-schedule/core/tags';
import { defineWorkflow, examplesIn } from '../shared/registration';
import { parseEc2Schedule } from './config';
import { Ec2Schedule } from './construct';

export const ec2Schedule = defineWorkflow({
  name: 'Ec2Schedule',
  summary: 'named schedules start/stop tagged EC2 instances, verified, with a report; control links and a chat command',
  parseConfig: parseEc2Schedule,
  build: (scope, e, { stackName }) => {
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
    });
    return {
      construct: w,
      stateMachine: w.stateMachine,
      outputs: { Ec2ControlApiUrl: w.api.apiEndpoint, Ec2ScheduleTableName: w.table.tableName },
    };
  },
  examples: examplesIn(__dirname),
  interestingTags: [SCHEDULE_TAG],
  tryLocally: [
    'npx opsflow start Ec2Schedule workflows/ec2-schedule/examples/ec2-stop-office-hours-dry-run.json',
    'npx opsflow fire opsflow-office-hours-start-0                               # as EventBridge Scheduler would at 07:00 Berlin',
    'npm run control-link -- i-0feed000000000011 start                           # a delegated start link',
  ],
});
