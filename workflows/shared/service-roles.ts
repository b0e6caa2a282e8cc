/**
 * Roles that an AWS service assumes to act for opsflow, with the confused-deputy conditions AWS recommends:
 * the service may assume the role only for this account's own schedule group or rule (`aws:SourceAccount`,
 * `aws:SourceArn`), not for a schedule or rule of another account that names the role.
 */
import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** `aws:SourceAccount` and `aws:SourceArn` of a service acting for `sourceArn`, as one trust/key policy condition. */
export function sourceConditions(scope: Construct, sourceArn: string): Record<string, Record<string, string>> {
  return { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account, 'aws:SourceArn': sourceArn } };
}

/**
 * A rule's name in its account and region, `<stackName>-<name>`, fixed in advance so that policies can name its
 * ARN: the rule refers to its target's role (and, through the topic, to a key), so a policy that used the
 * rule's generated ARN would make a circular dependency. Names: 1-64 characters of letters, digits, `.`, `-`, `_`
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html).
 */
export function eventRuleName(scope: Construct, name: string): string {
  const stackName = Stack.of(scope).stackName;
  const ruleName = `${stackName}-${name}`;
  if (!Token.isUnresolved(stackName) && (ruleName.length > 64 || !/^[.\-_A-Za-z0-9]+$/.test(ruleName))) {
    throw new Error(`${name}: EventBridge rule name ${ruleName} must be 1-64 letters, digits, '.', '-' or '_'; shorten stackName`);
  }
  return ruleName;
}

/** The ARN of a rule on the default event bus, by name. */
export function eventRuleArn(scope: Construct, ruleName: string): string {
  return Stack.of(scope).formatArn({ service: 'events', resource: 'rule', resourceName: ruleName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

export interface SchedulerRoleProps {
  /** The schedule group whose schedules use the role. @default 'default' */
  readonly scheduleGroup?: string;
}

/**
 * The execution role of EventBridge Scheduler schedules. `aws:SourceArn` is the schedule group's ARN: AWS says not
 * to scope it to a single schedule (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html).
 */
export class SchedulerRole extends Role {
  constructor(scope: Construct, id: string, props: SchedulerRoleProps = {}) {
    const groupArn = Stack.of(scope).formatArn({
      service: 'scheduler',
      resource: 'schedule-group',
      resourceName: props.scheduleGroup ?? 'default',
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    super(scope, id, { assumedBy: new ServicePrincipal('scheduler.amazonaws.com').withConditions(sourceConditions(scope, groupArn)) });
  }
}

export interface EventRuleRoleProps {
  /** The rule whose targets use the role (see `eventRuleName`). */
  readonly ruleName: string;
}

/**
 * The role EventBridge assumes to reach a rule's target. For event bus rule targets `aws:SourceArn` is the rule's
 * ARN (https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html).
 */
export class EventRuleRole extends Role {
  constructor(scope: Construct, id: string, props: EventRuleRoleProps) {
    super(scope, id, { assumedBy: new ServicePrincipal('events.amazonaws.com').withConditions(sourceConditions(scope, eventRuleArn(scope, props.ruleName))) });
  }
}
