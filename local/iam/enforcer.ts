/**
 * IAM enforcement: every call a deployed resource makes is authorized against its role's policies and the
 * resource's policy (local/iam/policy.ts), with the request context AWS documents for the action
 * (local/iam/requests.ts, local/iam/actions.ts). Denials answer as each service does:
 *   EC2 `UnauthorizedOperation` (403), SNS `AuthorizationError` (403), DynamoDB / Step Functions / EventBridge /
 *   CloudTrail `AccessDeniedException` (400), SES `AccessDeniedException` (403),
 * with the message "User: <arn> is not authorized to perform: <action> on resource: <arn> because ..."
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
 * Callers without a role session (the AWS CLI, SDKs, `opsflow`) act as the account's administrator.
 */
import { ACCOUNT, AwsError, REGION, type Clock } from '../kernel';
import type { DecodedRequest } from '../rules/decode';
import { actionInfo, keyApplies } from './actions';
import type { IamModel, Session } from './model';
import { deniedMessage, evaluate, type Evaluation, type PrincipalRef, type RequestContext } from './policy';
import { resourceRequests, type ResourceLookups } from './requests';

/** A service principal calling on the app's behalf (EventBridge, API Gateway, SNS invoking Lambda). */
export interface ServiceCaller {
  service: string;
  /** `aws:SourceArn`: the rule, API route or topic the call comes from. */
  sourceArn: string;
}

export type Caller = Session | ServiceCaller;

export interface Denial {
  principalArn: string;
  action: string;
  resource: string;
  evaluation: Evaluation;
  message: string;
}

const isSession = (c: Caller): c is Session => 'role' in c;

export class IamEnforcer {
  /** Decisions made, for the bench and the console. */
  readonly stats = { allowed: 0, denied: 0 };

  constructor(
    readonly model: IamModel,
    private readonly lookups: ResourceLookups,
    private readonly clock: Clock,
  ) {}

  /**
   * Decides one action on one resource for a caller. Actions without resource-level permissions are
   * authorized on `*`, whatever resource the caller names, as AWS does.
   */
  check(caller: Caller, action: string, resource: string, context: RequestContext = {}): Denial | undefined {
    const info = actionInfo(action);
    const name = info?.name ?? action;
    const target = info && info.resourceTypes.length === 0 ? '*' : resource;
    const principal: PrincipalRef = isSession(caller) ? caller.principal : { type: 'Service', id: caller.service };
    const now = this.clock.now();
    const full: RequestContext = {
      'aws:CurrentTime': now.toISOString(),
      'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
      'aws:RequestedRegion': REGION,
      'aws:SecureTransport': true,
      ...(isSession(caller)
        ? { 'aws:PrincipalArn': caller.role.arn, 'aws:PrincipalAccount': ACCOUNT, 'aws:PrincipalType': 'AssumedRole', 'aws:userid': `AROA${caller.role.name.toUpperCase().slice(0, 17)}:${caller.sessionName}` }
        : { 'aws:SourceArn': caller.sourceArn, 'aws:SourceAccount': ACCOUNT, 'aws:PrincipalServiceName': caller.service }),
    };
    for (const [k, v] of Object.entries(context)) if (!info || keyApplies(info, k)) full[k] = v;
    const identity = isSession(caller) ? caller.role.policies : [];
    const evaluation = evaluate({ principal, action: name, resource: target, context: full }, identity, this.model.resourcePolicy(resource));
    if (evaluation.decision === 'Allow') {
      this.stats.allowed++;
      return undefined;
    }
    this.stats.denied++;
    const principalArn = isSession(caller) ? caller.principal.sessionArn! : caller.service;
    return { principalArn, action: name, resource: target, evaluation, message: deniedMessage(principalArn, name, target, evaluation) };
  }

  /**
   * A service assuming a role to act for the app (Scheduler, an EventBridge target's role): the role's trust
   * policy must allow the service principal `sts:AssumeRole`, with `aws:SourceArn`/`aws:SourceAccount` as the
   * service sends them for confused-deputy conditions
   * (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). Roles the templates do not
   * define are not checked here (their sessions have no policies, so what they do is denied anyway).
   */
  assumeRole(caller: ServiceCaller, roleArn: string): Denial | undefined {
    const trust = this.model.role(roleArn)?.trust;
    if (!trust) return undefined;
    const now = this.clock.now();
    const context: RequestContext = {
      'aws:CurrentTime': now.toISOString(),
      'aws:SourceArn': caller.sourceArn,
      'aws:SourceAccount': ACCOUNT,
      'aws:PrincipalServiceName': caller.service,
    };
    const evaluation = evaluate({ principal: { type: 'Service', id: caller.service }, action: 'sts:AssumeRole', resource: roleArn, context }, [], trust);
    if (evaluation.decision === 'Allow') return undefined;
    this.stats.denied++;
    return { principalArn: caller.service, action: 'sts:AssumeRole', resource: roleArn, evaluation, message: deniedMessage(caller.service, 'sts:AssumeRole', roleArn, evaluation) };
  }

  /**
   * Authorizes a signed API call. Returns the denial as the service's error, or undefined when allowed
   * (or the caller is outside the app). A call naming several resources is refused whole if any is denied.
   */
  authorizeCall(accessKeyId: string, decoded: DecodedRequest): AwsError | undefined {
    const session = this.model.session(accessKeyId);
    if (!session) return undefined;
    for (const r of resourceRequests(decoded, this.lookups)) {
      const denial = this.check(session, r.action, r.resource, r.context);
      if (denial) return serviceError(decoded.service, denial);
    }
    return undefined;
  }
}

/** The denial in the shape of the service that refuses it. */
export function serviceError(service: string, denial: Denial): AwsError {
  switch (service) {
    case 'ec2': {
      // EC2 adds an encoded message that `aws sts decode-authorization-message` would decode.
      const encoded = Buffer.from(JSON.stringify({ allowed: false, explicitDeny: denial.evaluation.decision === 'ExplicitDeny', action: denial.action, resource: denial.resource })).toString('base64');
      return new AwsError('UnauthorizedOperation', `You are not authorized to perform this operation. ${denial.message}. Encoded authorization failure message: ${encoded}`, 403);
    }
    case 'sns':
      // SNS spells its actions `SNS:Publish` in its messages.
      return new AwsError('AuthorizationError', denial.message.split(denial.action).join(`SNS:${denial.action.slice(4)}`), 403);
    case 'ses':
      return new AwsError('AccessDeniedException', denial.message, 403);
    default:
      return new AwsError('AccessDeniedException', denial.message, 400);
  }
}
