/** The tags Ec2Schedule reads, shared by the tasks and the CDK config (IAM conditions, docs). */
/** Instances opt in to a schedule with `Schedule=<name>`; Start/StopInstances are allowed only on such instances. */
export const SCHEDULE_TAG = 'Schedule';
/** `opsflow:group=<group>` puts an instance into an ordering group of its schedule. */
export const GROUP_TAG = 'opsflow:group';
/** `opsflow:override=<ISO date>`: leave this instance alone until then; expires by itself. */
export const OVERRIDE_TAG = 'opsflow:override';
/** Set by EC2 Auto Scaling on its members. */
export const ASG_TAG = 'aws:autoscaling:groupName';
/** `opsflow:hibernate=true` on an EC2 instance: hibernate it on scheduled stops, as a schedule's `hibernate: true` does. */
export const HIBERNATE_TAG = 'opsflow:hibernate';
