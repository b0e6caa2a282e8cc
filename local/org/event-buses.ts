/**
 * EventBridge between the accounts and regions of a simulated organization: an event sent to another account's event
 * bus (PutEvents naming the bus by ARN, or a rule whose target is that bus) is admitted only if the receiving bus's
 * resource policy allows the sender `events:PutEvents`: "On the receiver account, edit the permissions on an event bus
 * to allow specified AWS accounts, an organization, or all AWS accounts to send events to the receiver account"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html). The policy is evaluated with the
 * sender's identity: `aws:PrincipalOrgID` only when the sender's account is a member of the organization
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid),
 * `aws:SourceArn` the rule that forwards (as the example policies condition on it,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-restrict-rule.html).
 *
 * The event arrives as it was sent: its `account` and `region` stay the source's ("region: Identifies the AWS Region
 * where the event originated", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html),
 * which is how the receiver's rules tell the sender apart ("set up one or more rules that match events that come from
 * the sender account", eb-cross-account.html). The sender's identity policy is the gate's to check (an API call's,
 * or the target role's); this module adds the receiver's side.
 */
import type { Partition } from '../kernel';
import { evaluate, type PolicyDocument, type RequestContext } from '../iam/policy';
import type { Organization } from './organization';
import type { StsCaller } from './sts';

/** A bus ARN's parts: `arn:aws:events:<region>:<account>:event-bus/<name>`. */
export function parseBusArn(arn: string): (Partition & { name: string }) | undefined {
  const m = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/(.+)$/.exec(arn);
  return m ? { region: m[1], account: m[2], name: m[3] } : undefined;
}

export interface EventBusesOptions {
  org: () => Organization | undefined;
  /** A bus's resource policy (AWS::Events::EventBusPolicy of the deployed templates), by bus ARN. */
  policy: (busArn: string) => PolicyDocument | undefined;
  /** Whether IAM is enforced (OPSFLOW_IAM=off: every send is admitted). */
  enforced: () => boolean;
  now: () => Date;
}

export class EventBuses {
  constructor(private readonly opts: EventBusesOptions) {}

  /**
   * Why the receiving bus refuses `caller`'s event, in IAM's denial wording; undefined when admitted (or the sender is
   * in the bus's own account, where the identity policy alone decides). `sourceArn`: the forwarding rule, if any.
   */
  refusal(caller: StsCaller, busArn: string, sourceArn?: string): string | undefined {
    const bus = parseBusArn(busArn);
    if (!bus || !this.opts.enforced() || bus.account === caller.account) return undefined;
    const org = this.opts.org();
    const account = org?.account(caller.account);
    const now = this.opts.now();
    const context: RequestContext = {
      'aws:CurrentTime': now.toISOString(),
      'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
      'aws:PrincipalArn': caller.principalArn,
      'aws:PrincipalAccount': caller.account,
      'aws:PrincipalType': caller.principalType,
      'aws:userid': caller.userId,
      ...(org && account?.member && { 'aws:PrincipalOrgID': org.id, 'aws:PrincipalOrgPaths': [account.orgPath!] }),
      ...(sourceArn && { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': caller.account }),
    };
    const evaluation = evaluate({ principal: caller.principal, action: 'events:PutEvents', resource: busArn, context }, [], this.opts.policy(busArn));
    if (evaluation.decision === 'Allow') return undefined;
    return `User: ${caller.arn} is not authorized to perform: events:PutEvents on resource: ${busArn} ${
      evaluation.decision === 'ExplicitDeny'
        ? 'with an explicit deny in a resource-based policy'
        : 'because no resource-based policy allows the events:PutEvents action'
    }`;
  }
}
