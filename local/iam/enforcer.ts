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
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { ACCOUNT, AwsError, REGION, type Clock } from '../kernel';
import { formList, type DecodedRequest } from '../wire/decode';
import { actionInfo, keyApplies } from './actions';
import type { IamModel, Session } from './model';
import { deniedMessage, evaluate, evaluateKeyPolicy, statements, type Evaluation, type PolicyDocument, type PrincipalRef, type RequestContext } from './policy';
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
  /** The request context the decision saw (what EC2's encoded authorization message carries). */
  context?: RequestContext;
}

/** `aws:SourceAccount`: the account of the rule, schedule or topic that calls (a member account's rule for its own role). */
const sourceAccount = (sourceArn: string) => /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/.exec(sourceArn)?.[1] ?? ACCOUNT;
const isSession = (c: Caller): c is Session => 'role' in c;
const principalOf = (c: Caller): PrincipalRef => (isSession(c) ? c.principal : { type: 'Service', id: c.service });

/**
 * EventBridge publishing to an SNS topic (a rule target without a role) is authorized by the topic policy, but
 * "You can't use `Condition` blocks in Amazon SNS topic policies for EventBridge"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions), and
 * when SNS asks KMS for the data key of an encrypted topic on EventBridge's behalf, "Adding the aws:SourceAccount,
 * aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for EventBridge-to-encrypted topics"
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). So: a topic
 * policy's Allow statement with a Condition grants EventBridge nothing (Deny statements still deny: the stricter
 * reading, since AWS says nothing of them), and the KMS request carries none of the source keys, so a key policy
 * statement that depends on them does not allow.
 */
const EVENTBRIDGE = 'events.amazonaws.com';
const SOURCE_KEYS = ['aws:SourceArn', 'aws:SourceAccount', 'aws:SourceOrgID', 'aws:SourceOrgPaths'];
const isEventBridge = (c: Caller): c is ServiceCaller => !isSession(c) && c.service === EVENTBRIDGE;

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
  check(caller: Caller, action: string, resource: string, context: RequestContext = {}, region = REGION): Denial | undefined {
    const info = actionInfo(action);
    const name = info?.name ?? action;
    const target = info && info.resourceTypes.length === 0 ? '*' : resource;
    const full = this.context(caller, info, context, region);
    const identity = isSession(caller) ? caller.role.policies : [];
    return this.decide(
      caller,
      name,
      target,
      evaluate({ principal: principalOf(caller), action: name, resource: target, context: full }, identity, this.resourcePolicyFor(caller, name, resource)),
      full,
    );
  }

  /** The resource's policy as it applies to the caller: for EventBridge publishing to a topic, without conditional Allow statements (see EVENTBRIDGE). */
  private resourcePolicyFor(caller: Caller, action: string, resource: string): PolicyDocument | undefined {
    const policy = this.model.resourcePolicy(resource);
    if (!policy || !isEventBridge(caller) || action.toLowerCase() !== 'sns:publish') return policy;
    return {
      ...policy,
      Statement: statements(policy).filter((s) => s.Effect === 'Deny' || s.Condition === undefined || Object.keys(s.Condition).length === 0),
    };
  }

  /**
   * Decides a KMS action on the key a service uses for the caller (an encrypted topic's key when publishing),
   * by KMS's rules: the key policy must allow the caller, or allow the account so that IAM policies apply
   * (evaluateKeyPolicy). `viaService` is the service calling KMS on the caller's behalf (`kms:ViaService`);
   * `context` carries the encryption context (`kms:EncryptionContext:*`). `sourceKeys: false` leaves a service
   * caller's `aws:SourceArn`/`aws:SourceAccount` out of the request, for services that do not pass them on to KMS.
   */
  checkKey(
    caller: Caller,
    action: string,
    keyRef: string,
    viaService: string,
    context: RequestContext = {},
    opts: { sourceKeys?: boolean } = {},
  ): Denial | undefined {
    const key = this.model.key(keyRef);
    const info = actionInfo(action);
    const name = info?.name ?? action;
    // kms:ViaService and kms:CallerAccount: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
    const full = this.context(caller, info, { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': `${viaService}.${REGION}.amazonaws.com`, ...context });
    if (opts.sourceKeys === false) for (const k of SOURCE_KEYS) delete full[k];
    const identity = isSession(caller) ? caller.role.policies : [];
    return this.decide(
      caller,
      name,
      key.arn,
      evaluateKeyPolicy({ principal: principalOf(caller), action: name, resource: key.arn, context: full }, identity, key.policy, ACCOUNT),
    );
  }

  /** The request context: the global keys the caller brings, then the call's keys the action can see. */
  private context(caller: Caller, info: ReturnType<typeof actionInfo>, context: RequestContext, region = REGION): RequestContext {
    const now = this.clock.now();
    const full: RequestContext = {
      'aws:CurrentTime': now.toISOString(),
      'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
      'aws:RequestedRegion': region,
      'aws:SecureTransport': true,
      ...(isSession(caller)
        ? {
            'aws:PrincipalArn': caller.role.arn,
            // The role's account: a member account's for a session of a member stack's role.
            'aws:PrincipalAccount': /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(caller.role.arn)?.[1] ?? ACCOUNT,
            'aws:PrincipalType': 'AssumedRole',
            'aws:userid': `AROA${caller.role.name.toUpperCase().slice(0, 17)}:${caller.sessionName}`,
          }
        : { 'aws:SourceArn': caller.sourceArn, 'aws:SourceAccount': sourceAccount(caller.sourceArn), 'aws:PrincipalServiceName': caller.service }),
    };
    for (const [k, v] of Object.entries(context)) if (!info || keyApplies(info, k)) full[k] = v;
    return full;
  }

  private decide(caller: Caller, action: string, resource: string, evaluation: Evaluation, context?: RequestContext): Denial | undefined {
    if (evaluation.decision === 'Allow') {
      this.stats.allowed++;
      return undefined;
    }
    this.stats.denied++;
    const principalArn = isSession(caller) ? caller.principal.sessionArn! : caller.service;
    return { principalArn, action, resource, evaluation, message: deniedMessage(principalArn, action, resource, evaluation), ...(context && { context }) };
  }

  /**
   * Starting an instance whose EBS volume is encrypted with a customer managed key: EC2 creates a grant on the
   * key for the caller, which needs kms:CreateGrant with `kms:GrantIsForAWSResource` true and `kms:ViaService`
   * EC2 (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html#ebs-encryption-permissions,
   * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource).
   * StartInstances itself succeeds; without the grant the instance cannot attach its volume and stops again
   * (Client.InternalError), which EC2 decides when it starts it.
   */
  private volumeGrants(session: Session, instanceIds: string[]): void {
    if (!this.lookups.volumeKey || !this.lookups.volumeGrant) return;
    for (const id of instanceIds) {
      const key = this.lookups.volumeKey(id);
      if (!key) continue;
      const denial = this.checkKey(session, 'kms:CreateGrant', key, 'ec2', { 'kms:GrantIsForAWSResource': true });
      this.lookups.volumeGrant(id, !denial);
    }
  }

  /**
   * Publishing to a topic encrypted with a KMS key: SNS uses the key for the publisher, who therefore needs
   * kms:GenerateDataKey* and kms:Decrypt on it (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html),
   * with the encryption context `aws:sns:topicArn`. Refused as SNS refuses it: KMSAccessDenied (400) carrying
   * KMS's denial. Undefined for an unencrypted topic or when allowed. For EventBridge the request carries no
   * source keys (see EVENTBRIDGE).
   */
  topicKeyDenial(caller: Caller, topicArn: string): AwsError | undefined {
    const keyRef = this.model.topicKey(topicArn);
    if (!keyRef) return undefined;
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      const denial = this.checkKey(
        caller,
        action,
        keyRef,
        'sns',
        { 'kms:EncryptionContext:aws:sns:topicArn': topicArn, 'kms:EncryptionContextKeys': ['aws:sns:topicArn'] },
        { sourceKeys: !isEventBridge(caller) },
      );
      if (denial) return new AwsError('KMSAccessDenied', `${denial.message} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)`, 400);
    }
    return undefined;
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
      'aws:SourceAccount': sourceAccount(caller.sourceArn),
      'aws:PrincipalServiceName': caller.service,
    };
    const evaluation = evaluate({ principal: { type: 'Service', id: caller.service }, action: 'sts:AssumeRole', resource: roleArn, context }, [], trust);
    if (evaluation.decision === 'Allow') return undefined;
    this.stats.denied++;
    return {
      principalArn: caller.service,
      action: 'sts:AssumeRole',
      resource: roleArn,
      evaluation,
      message: deniedMessage(caller.service, 'sts:AssumeRole', roleArn, evaluation),
    };
  }

  /**
   * Authorizes a signed API call. Returns the denial as the service's error, or undefined when allowed
   * (or the caller is outside the app). A call naming several resources is refused whole if any is denied.
   */
  authorizeCall(accessKeyId: string, decoded: DecodedRequest): AwsError | undefined {
    const session = this.model.session(accessKeyId);
    if (!session) return undefined;
    for (const r of resourceRequests(decoded, this.lookups)) {
      const denial = this.check(session, r.action, r.resource, r.context, decoded.partition?.region);
      if (denial) return serviceError(decoded.service, denial);
    }
    if (decoded.service === 'ec2' && decoded.operation === 'StartInstances') this.volumeGrants(session, formList(decoded.form, 'InstanceId'));
    if (decoded.service === 'sns' && decoded.operation === 'Publish' && typeof decoded.params.TopicArn === 'string')
      return this.topicKeyDenial(session, decoded.params.TopicArn);
    return undefined;
  }
}

/** The denial in the shape of the service that refuses it. */
export function serviceError(service: string, denial: Denial): AwsError {
  switch (service) {
    case 'ec2':
      return new AwsError(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. ${denial.message}. Encoded authorization failure message: ${encodedAuthorizationMessage(denial)}`,
        403,
      );
    case 'sns':
      // SNS spells its actions `SNS:Publish` in its messages.
      return new AwsError('AuthorizationError', denial.message.split(denial.action).join(`SNS:${denial.action.slice(4)}`), 403);
    case 'ses':
      return new AwsError('AccessDeniedException', denial.message, 403);
    case 'sqs':
      // SQS names its actions in lower case in its denials: "AccessDenied ... is not authorized to perform:
      // sqs:sendmessage on resource: arn:aws:sqs:... because no identity-based policy allows the sqs:sendmessage action"
      // (recorded: https://github.com/aws/serverless-application-model/issues/3633), 403 as its common errors list it.
      return new AwsError('AccessDenied', denial.message.split(denial.action).join(denial.action.toLowerCase()), 403);
    case 's3':
      return s3AccessDenied(denial.message);
    case 'rds':
      // RDS's common error "AccessDenied: You do not have sufficient access to perform this action", 403
      // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html), with IAM's denial as its message.
      return new AwsError('AccessDenied', denial.message, 403);
    case 'autoscaling':
      // AccessDenied, 403, as denied calls are recorded ("AccessDenied ... is not authorized to perform:
      // autoscaling:DescribeScalingActivities because no identity-based policy allows ... (Service: AutoScaling, Status
      // Code: 403 ...)"); Auto Scaling's API reference does not state it (README, unconfirmed behaviours).
      return new AwsError('AccessDenied', denial.message, 403);
    case 'ecs':
      // "An error occurred (AccessDeniedException) when calling the UpdateService operation: User: ... is not authorized
      // to perform: ecs:UpdateService on resource: arn:aws:ecs:...:service/<cluster>/<service> because no identity-based
      // policy allows the ecs:UpdateService action" (as recorded); a client error, 400, like ECS's other exceptions.
      return new AwsError('AccessDeniedException', denial.message, 400);
    case 'lambda':
      // "AccessDeniedException ... HTTP Status Code: 403" (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors).
      return new AwsError('AccessDeniedException', denial.message, 403);
    default:
      return new AwsError('AccessDeniedException', denial.message, 400);
  }
}

/** What AWS's encrypted envelope adds to the compressed message, in bytes (see encodedAuthorizationMessage). */
const ENVELOPE_BYTES = 84;

/**
 * EC2's encoded authorization message, of the size AWS's has. AWS sends the decision and the whole request context
 * ("The values of condition keys in the context of the user's request",
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html; up to 10,240 characters,
 * the API's EncodedMessage length limit), compressed and encrypted, as URL-safe base64. A recorded RunInstances
 * denial decodes to 2,118 bytes of JSON and was 958 characters encoded; this one is the same JSON shape
 * (`{allowed, explicitDeny, matchedStatements, failures, context: {principal, action, resource, conditions}}`),
 * deflated, behind an 84-byte stand-in for the encryption envelope: the recorded message's JSON comes out at 956
 * characters (test/local/encoded-authorization.test.ts). It is not encrypted: strip the first 84 bytes after
 * base64url-decoding and inflate the rest to read it.
 */
export function encodedAuthorizationMessage(denial: Pick<Denial, 'principalArn' | 'action' | 'resource' | 'evaluation' | 'context'>): string {
  const values = (v: unknown) => ({ items: (Array.isArray(v) ? v : [v]).map((x) => ({ value: String(x) })) });
  return encodeAuthorizationMessage({
    allowed: false,
    explicitDeny: denial.evaluation.decision === 'ExplicitDeny',
    matchedStatements: { items: [] },
    failures: { items: [] },
    context: {
      principal: { id: String(denial.context?.['aws:userid'] ?? denial.principalArn), arn: denial.principalArn },
      action: denial.action,
      resource: denial.resource,
      conditions: {
        items: Object.entries(denial.context ?? {})
          .filter(([, v]) => v !== undefined)
          .map(([key, v]) => ({ key, values: values(v) })),
      },
    },
  });
}

/** A decoded authorization message, deflated behind the envelope's stand-in, as URL-safe base64. */
export function encodeAuthorizationMessage(decoded: unknown): string {
  return Buffer.concat([randomBytes(ENVELOPE_BYTES), deflateRawSync(Buffer.from(JSON.stringify(decoded)), { level: 9 })]).toString('base64url');
}

/**
 * S3's AccessDenied (403), whose message quotes the resource: 'User: <arn> is not authorized to perform:
 * s3:GetObject on resource: "arn:aws:s3:::bucket/key" because no identity-based policy allows the s3:GetObject
 * action'. https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html
 */
export function s3AccessDenied(message: string): AwsError {
  return new AwsError('AccessDenied', message.replace(/ on resource: (\S+) (because|with)/, ' on resource: "$1" $2'), 403);
}
