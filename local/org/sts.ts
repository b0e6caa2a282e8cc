/**
 * AWS STS at the local endpoint (query protocol, signing name `sts`): GetCallerIdentity and AssumeRole.
 *
 * AssumeRole decides as AWS does (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
 * - the role's trust policy must allow the caller `sts:AssumeRole` ("The trust relationship is defined in the role's
 *   trust policy when the role is created"), with the request's `sts:ExternalId`, `aws:PrincipalOrgID`,
 *   `aws:PrincipalArn` and the other keys the caller brings;
 * - across accounts the caller's identity policy must allow it too: "the administrator of the account that owns the
 *   role must grant permission in the trust policy, and the administrator of the calling account must attach an
 *   identity-based policy" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html);
 *   in the same account, a trust policy naming the principal itself is enough, one naming the account (or `*`)
 *   needs the identity policy as well (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts);
 * - `DurationSeconds` "from 900 seconds (15 minutes) up to the maximum session duration set for the role", and "if you
 *   assume a role using role chaining and provide a DurationSeconds parameter value greater than one hour, the
 *   operation fails" (API_AssumeRole.html, DurationSeconds); the default is one hour.
 * Refused: `AccessDenied` (403) "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role>"
 * (as recorded, https://github.com/aws/aws-cli/issues/7216), also for a role that does not exist; `ValidationError`
 * (400) "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." / "... exceeds the 1 hour
 * session limit for roles assumed by role chaining." (as recorded, https://github.com/kreuzwerker/awsu/issues/27,
 * https://github.com/aws/eks-anywhere/pull/9485).
 *
 * The credentials are new at each call and expire with the session (on the virtual clock); the endpoint accepts
 * them (their session token with them) and a call signed with them acts in the role's account (local/org/partitions.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import escapeHtml from 'escape-html';
import { ACCOUNT, AwsError, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler } from '../kernel';
import { accountOfArn, type IamModel, type Session } from '../iam/model';
import { evaluate, statements, type PolicyDocument, type PrincipalRef, type RequestContext } from '../iam/policy';
import { identityForAccessKey } from '../services/fleet';
import type { Organization } from './organization';

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** Who calls, as STS and IAM see them. */
export interface StsCaller {
  /** What GetCallerIdentity answers and denial messages name: a user, an account root, an assumed-role session. */
  arn: string;
  userId: string;
  account: string;
  /** `aws:PrincipalArn`: the role for a role session. */
  principalArn: string;
  principalType: 'User' | 'Account' | 'AssumedRole';
  principal: PrincipalRef;
  /** The caller's identity policies; undefined: the account's administrator (an IAM user or root with full access). */
  policies?: PolicyDocument[];
  session?: Session;
}

export interface StsOptions {
  clock: Clock;
  /** The deployed app's IAM (roles, their trust, the sessions); undefined before the deploy. */
  model: () => IamModel | undefined;
  org: () => Organization | undefined;
}

const hashId = (prefix: string, seed: string) =>
  prefix +
  createHash('sha256')
    .update(seed)
    .digest('hex')
    .slice(0, 17)
    .toUpperCase()
    .replace(/[018]/g, (d) => ({ 0: 'Q', 1: 'R', 8: 'S' })[d as '0' | '1' | '8']);

export class StsService implements ServiceHandler {
  readonly services = ['sts'] as const;

  constructor(private readonly opts: StsOptions) {}

  /** The caller behind an access key: a role session, a member account's administrator (its id as key), or a hub user. */
  caller(accessKeyId: string): StsCaller {
    const session = this.opts.model()?.session(accessKeyId);
    if (session) {
      const account = accountOfArn(session.role.arn);
      const roleId = hashId('AROA', session.role.arn);
      return {
        arn: session.principal.sessionArn!,
        userId: `${roleId}:${session.sessionName}`,
        account,
        principalArn: session.role.arn,
        principalType: 'AssumedRole',
        principal: { ...session.principal, account },
        policies: session.role.policies,
        session,
      };
    }
    if (accessKeyId !== ACCOUNT && this.opts.org()?.account(accessKeyId)) {
      const arn = `arn:aws:iam::${accessKeyId}:root`;
      return {
        arn,
        userId: accessKeyId,
        account: accessKeyId,
        principalArn: arn,
        principalType: 'Account',
        principal: { type: 'AWS', id: arn, account: accessKeyId },
      };
    }
    const user = identityForAccessKey(accessKeyId);
    return {
      arn: user.arn,
      userId: user.principalId,
      account: ACCOUNT,
      principalArn: user.arn,
      principalType: 'User',
      principal: { type: 'AWS', id: user.arn, account: ACCOUNT },
    };
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    const requestId = randomUUID();
    try {
      const form = new URLSearchParams(req.body.length ? req.body.toString('utf8') : req.query.toString());
      const action = form.get('Action') ?? '';
      let result: string;
      if (action === 'GetCallerIdentity') result = this.getCallerIdentity(req);
      else if (action === 'AssumeRole') result = this.assumeRole(req, form);
      else throw new AwsError('InvalidAction', `Could not find operation ${action || '(none)'} for version 2011-06-15`, 400);
      return {
        status: 200,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: STS handler failed', err);
      const e = err instanceof AwsError ? err : new AwsError('InternalFailure', 'An internal error has occurred', 500);
      return {
        status: e.status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${e.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${escapeHtml(e.code)}</Code><Message>${escapeHtml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    }
  }

  /** https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html: Account, Arn, UserId. */
  private getCallerIdentity(req: AwsRequest): string {
    const c = this.caller(req.accessKeyId);
    return el('Arn', c.arn) + el('UserId', c.userId) + el('Account', c.account);
  }

  private assumeRole(req: AwsRequest, form: URLSearchParams): string {
    const roleArn = form.get('RoleArn');
    const sessionName = form.get('RoleSessionName');
    const externalId = form.get('ExternalId') ?? undefined;
    const durationText = form.get('DurationSeconds');
    // Parameter constraints from API_AssumeRole.html, in the validation wording of AWS's query services.
    const problems: string[] = [];
    if (roleArn === null) problems.push("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
    else if (roleArn.length < 20 || roleArn.length > 2048)
      problems.push(`Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048`);
    if (sessionName === null) problems.push("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
    else if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
      problems.push(
        `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId))
      problems.push(
        `Value '${externalId}' at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*`,
      );
    const duration = durationText === null ? 3600 : Number(durationText);
    if (!(Number.isInteger(duration) && duration >= 900 && duration <= 43200))
      problems.push(`Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
    if (problems.length)
      throw new AwsError('ValidationError', `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`, 400);

    const caller = this.caller(req.accessKeyId);
    const denied = new AwsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    const model = this.opts.model();
    const role = model?.role(roleArn!);
    if (!model || !role?.trust) throw denied;

    const org = this.opts.org();
    const account = org?.account(caller.account);
    const resourceAccountId = accountOfArn(role.arn);
    const resourceAccount = org?.account(resourceAccountId);
    const now = this.opts.clock.now();
    // The request context: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    // (aws:PrincipalOrgID "The identifier of an organization in AWS Organizations to which the requesting principal
    // belongs"; present only when the principal's account is a member) and the STS keys
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_externalid).
    const context: RequestContext = {
      'aws:CurrentTime': now.toISOString(),
      'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
      'aws:RequestedRegion': req.region,
      'aws:SecureTransport': true,
      'aws:PrincipalArn': caller.principalArn,
      'aws:PrincipalAccount': caller.account,
      'aws:PrincipalType': caller.principalType,
      'aws:userid': caller.userId,
      ...(caller.principalType === 'User' && { 'aws:username': caller.arn.split('/').pop() }),
      ...(org && account?.member && { 'aws:PrincipalOrgID': org.id, 'aws:PrincipalOrgPaths': [account.orgPath!] }),
      // aws:ResourceOrgID: "the identifier of the organization in AWS Organizations to which the resource being
      // requested belongs" (same page): the role's account's, which the hub's identity policy conditions on.
      'aws:ResourceAccount': resourceAccountId,
      ...(org && resourceAccount?.member && { 'aws:ResourceOrgID': org.id, 'aws:ResourceOrgPaths': [resourceAccount.orgPath!] }),
      'sts:RoleSessionName': sessionName!,
      ...(externalId !== undefined && { 'sts:ExternalId': externalId }),
    };
    const request = { principal: caller.principal, action: 'sts:AssumeRole', resource: role.arn, context };
    const trust = evaluate(request, [], role.trust);
    if (trust.decision !== 'Allow') throw denied;
    const identity = caller.policies ? evaluate(request, caller.policies) : { decision: 'Allow' as const };
    if (identity.decision === 'ExplicitDeny') throw denied;
    if (identity.decision !== 'Allow') {
      // Without the identity policy, only a same-account trust policy that names the principal itself allows.
      const named: PolicyDocument = {
        Statement: statements(role.trust).filter(
          (s) => s.Principal !== '*' && ![s.Principal?.AWS ?? []].flat().some((p) => p === '*' || /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$/.test(p)),
        ),
      };
      const sameAccount = accountOfArn(role.arn) === caller.account;
      if (!sameAccount || evaluate({ ...request, principal: { ...caller.principal, account: undefined } }, [], named).decision !== 'Allow') throw denied;
    }
    const chained = caller.principalType === 'AssumedRole';
    if (chained && duration > 3600)
      throw new AwsError('ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.', 400);
    if (duration > (role.maxSessionDuration ?? 3600))
      throw new AwsError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.', 400);

    const session = model.assumeRole(role, sessionName!, now.getTime() + duration * 1000, chained);
    const c = session.credentials;
    return (
      `<AssumedRoleUser>${el('Arn', session.principal.sessionArn!)}${el('AssumedRoleId', `${hashId('AROA', role.arn)}:${sessionName}`)}</AssumedRoleUser>` +
      `<Credentials>${el('AccessKeyId', c.accessKeyId)}${el('SecretAccessKey', c.secretAccessKey)}${el('SessionToken', c.sessionToken)}${el('Expiration', new Date(session.expiresMs!).toISOString().replace(/\.\d{3}Z$/, 'Z'))}</Credentials>`
    );
  }
}

function el(name: string, value: string | number): string {
  return `<${name}>${escapeHtml(String(value))}</${name}>`;
}
