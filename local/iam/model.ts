/**
 * The IAM of the deployed app, read from its templates as CloudFormation would create it: roles with their
 * inline policies, AWS::IAM::Policy and AWS::IAM::ManagedPolicy attachments, and the resource-based policies
 * the template sets (AWS::Lambda::Permission, AWS::SNS::TopicPolicy, AWS::KMS::Key key policies).
 *
 * Credentials: each caller the runtime runs with a role (a Lambda function, a state machine, a schedule or
 * rule target) gets an access key id of its own that maps back to `assumed-role/<role>/<session>`, as the
 * temporary credentials Lambda and Step Functions hand out do. Any other access key (the AWS CLI, an SDK,
 * `opsflow`) is the account's administrator.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ACCOUNT, REGION } from '../kernel';
import type { ResolvedStack } from '../template';
import type { PolicyDocument, PrincipalRef, Statement } from './policy';

export interface Role {
  name: string;
  arn: string;
  policies: PolicyDocument[];
  /** AWS managed policies attached by ARN; their content is not known locally (not enforced, counted). */
  managedPolicyArns: string[];
  /** The trust policy (`AssumeRolePolicyDocument`): who may assume the role; undefined for roles not in the templates. */
  trust?: PolicyDocument;
  /** `MaxSessionDuration` in seconds: "If you do not specify a value for this setting, the default maximum of one hour is applied" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html). */
  maxSessionDuration?: number;
}

export interface Session {
  role: Role;
  sessionName: string;
  principal: PrincipalRef;
  /** The session's temporary credentials; the endpoint verifies signatures with them (local/auth.ts). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  /** When STS AssumeRole's credentials expire (virtual epoch ms); sessions the runtime hands its own callers do not. */
  expiresMs?: number;
  /** The session came from role chaining (AssumeRole called with a role session's credentials). */
  chained?: boolean;
}

/** The account of an IAM or STS ARN (`arn:aws:iam::<account>:role/x`). */
export function accountOfArn(arn: string): string {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1] ?? ACCOUNT;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function roleNameFromArn(roleArn: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(roleArn)?.[1];
}

export class IamModel {
  private readonly roles = new Map<string, Role>();
  private readonly resourcePolicies = new Map<string, PolicyDocument>();
  private readonly sessions = new Map<string, Session>();
  /** Session secrets derive from it: random at each start, so only the callers the runtime hands them to know them. */
  private readonly secretSeed = randomBytes(32);
  /** Tags the template gives resources (`aws:ResourceTag/*`), by ARN. */
  readonly resourceTags = new Map<string, Record<string, string>>();
  /** Key policies by key ARN. */
  private readonly keys = new Map<string, PolicyDocument>();
  /** Key ids and alias names (`alias/x`) → key ARN. */
  private readonly keyAliases = new Map<string, string>();
  /** Encrypted topics: topic ARN → KmsMasterKeyId as the template gives it. */
  private readonly topicKeys = new Map<string, string>();
  /** Statements enforced, for the startup line. */
  statementCount = 0;

  static fromStacks(stacks: readonly ResolvedStack[]): IamModel {
    const model = new IamModel();
    for (const stack of stacks) model.addStack(stack);
    return model;
  }

  get roleCount(): number {
    return this.roles.size;
  }

  private addStack(stack: ResolvedStack): void {
    const byName = new Map<string, Role>();
    for (const r of stack.resources('AWS::IAM::Role')) {
      const arn = String(stack.getAtt(r.logicalId, 'Arn'));
      const name = roleNameFromArn(arn) ?? r.physicalName;
      const inline = list(r.properties.Policies as Array<{ PolicyDocument: PolicyDocument }> | undefined).map((p) => p.PolicyDocument);
      const managed = list(r.properties.ManagedPolicyArns as string[] | undefined);
      const role: Role = {
        name,
        arn,
        policies: [...inline],
        managedPolicyArns: managed.filter((a) => a.includes(':aws:policy/')),
        trust: r.properties.AssumeRolePolicyDocument as PolicyDocument | undefined,
        maxSessionDuration: Number(r.properties.MaxSessionDuration ?? 3600),
      };
      this.roles.set(arn, role);
      byName.set(name, role);
      byName.set(String(stack.ref(r.logicalId)), role);
    }
    // Customer managed policies attached by ARN (the Ref of an AWS::IAM::ManagedPolicy).
    const managedByArn = new Map<string, PolicyDocument>();
    for (const p of stack.resources('AWS::IAM::ManagedPolicy')) {
      const doc = p.properties.PolicyDocument as PolicyDocument;
      managedByArn.set(String(stack.ref(p.logicalId)), doc);
      for (const roleName of list(p.properties.Roles as string[] | undefined)) byName.get(roleName)?.policies.push(doc);
    }
    for (const r of stack.resources('AWS::IAM::Role')) {
      for (const arn of list(r.properties.ManagedPolicyArns as string[] | undefined)) {
        const doc = managedByArn.get(arn);
        if (doc) byName.get(String(stack.ref(r.logicalId)))?.policies.push(doc);
      }
    }
    for (const p of stack.resources('AWS::IAM::Policy')) {
      for (const roleName of list(p.properties.Roles as string[] | undefined))
        byName.get(roleName)?.policies.push(p.properties.PolicyDocument as PolicyDocument);
    }
    const tagged: Array<[string, (id: string) => unknown]> = [
      ['AWS::DynamoDB::Table', (id) => stack.getAtt(id, 'Arn')],
      ['AWS::StepFunctions::StateMachine', (id) => stack.ref(id)],
      ['AWS::StepFunctions::Activity', (id) => stack.ref(id)],
      ['AWS::SNS::Topic', (id) => stack.ref(id)],
    ];
    for (const [type, arnOf] of tagged) {
      for (const r of stack.resources(type)) {
        const tags = r.properties.Tags as Array<{ Key: string; Value: string }> | undefined;
        if (Array.isArray(tags)) this.resourceTags.set(String(arnOf(r.logicalId)), Object.fromEntries(tags.map((t) => [t.Key, String(t.Value)])));
      }
    }
    // Resource-based policies.
    for (const p of stack.resources('AWS::Lambda::Permission')) {
      const fn = String(p.properties.FunctionName);
      const functionArn = fn.startsWith('arn:') ? fn : `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${fn}`;
      const principal = String(p.properties.Principal);
      const condition: Statement['Condition'] = {};
      if (p.properties.SourceArn) condition.ArnLike = { 'aws:SourceArn': String(p.properties.SourceArn) };
      if (p.properties.SourceAccount) condition.StringEquals = { 'aws:SourceAccount': String(p.properties.SourceAccount) };
      this.addResourceStatement(functionArn, {
        Effect: 'Allow',
        Principal: principal.endsWith('.amazonaws.com')
          ? { Service: principal }
          : { AWS: /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal },
        Action: String(p.properties.Action),
        Resource: functionArn,
        ...(Object.keys(condition).length ? { Condition: condition } : {}),
      });
    }
    for (const p of stack.resources('AWS::SNS::TopicPolicy')) {
      for (const topic of list(p.properties.Topics as string[] | undefined))
        this.addResourcePolicy(String(topic), p.properties.PolicyDocument as PolicyDocument);
    }
    // An event bus's policy: one statement per resource (`Statement`), or the whole policy (`Policy`)
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-eventbuspolicy.html).
    for (const p of stack.resources('AWS::Events::EventBusPolicy')) {
      const bus = String(p.properties.EventBusName ?? 'default');
      const busArn = bus.startsWith('arn:') ? bus : `arn:aws:events:${stack.ref('AWS::Region')}:${stack.ref('AWS::AccountId')}:event-bus/${bus}`;
      if (p.properties.Policy) this.addResourcePolicy(busArn, p.properties.Policy as PolicyDocument);
      else if (p.properties.Statement) this.addResourceStatement(busArn, { Sid: p.properties.StatementId as string, ...(p.properties.Statement as Statement) });
    }
    for (const p of stack.resources('AWS::S3::BucketPolicy')) {
      const bucket = String(p.properties.Bucket);
      this.addResourcePolicy(bucket.startsWith('arn:') ? bucket : `arn:aws:s3:::${bucket}`, p.properties.PolicyDocument as PolicyDocument);
    }
    // KMS keys: their key policy is evaluated by KMS's own rules (evaluateKeyPolicy), not as a resource policy.
    for (const k of stack.resources('AWS::KMS::Key')) {
      const keyArn = String(stack.getAtt(k.logicalId, 'Arn'));
      // CloudFormation requires KeyPolicy only since 2022; without one, KMS gives the key its default key policy.
      this.keys.set(keyArn, (k.properties.KeyPolicy as PolicyDocument | undefined) ?? defaultKeyPolicy());
      this.keyAliases.set(String(stack.ref(k.logicalId)), keyArn);
    }
    for (const a of stack.resources('AWS::KMS::Alias')) {
      const target = String(a.properties.TargetKeyId);
      const keyArn = this.keys.has(target) ? target : this.keyAliases.get(target);
      if (keyArn) this.keyAliases.set(String(a.properties.AliasName), keyArn);
    }
    for (const t of stack.resources('AWS::SNS::Topic')) {
      if (t.properties.KmsMasterKeyId) this.topicKeys.set(String(stack.ref(t.logicalId)), String(t.properties.KmsMasterKeyId));
    }
    this.statementCount =
      [...this.roles.values()].reduce((n, r) => n + r.policies.reduce((m, d) => m + list(d.Statement).length, 0), 0) +
      [...this.resourcePolicies.values()].reduce((n, d) => n + list(d.Statement).length, 0) +
      [...this.keys.values()].reduce((n, d) => n + list(d.Statement).length, 0);
  }

  /**
   * The key a KmsMasterKeyId-style reference designates (key ARN, key id, alias ARN or `alias/name`) with its
   * key policy: the template's, AWS's for an AWS managed key (`alias/aws/<service>`), and the default key
   * policy for a key the templates do not define (its real policy is not known here).
   */
  key(ref: string): { arn: string; policy: PolicyDocument; awsManaged?: string } {
    const alias = /(?:^|:)(alias\/.+)$/.exec(ref)?.[1];
    const managed = alias && /^alias\/aws\/([a-z0-9-]+)$/.exec(alias)?.[1];
    if (managed) return { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:${alias}`, policy: awsManagedKeyPolicy(managed), awsManaged: managed };
    const keyArn = this.keys.has(ref)
      ? ref
      : (this.keyAliases.get(alias ?? ref) ?? (ref.startsWith('arn:') ? ref : `arn:aws:kms:${REGION}:${ACCOUNT}:key/${ref}`));
    return { arn: keyArn, policy: this.keys.get(keyArn) ?? defaultKeyPolicy() };
  }

  /** The KMS key reference an encrypted SNS topic names (`KmsMasterKeyId`), if any. */
  topicKey(topicArn: string): string | undefined {
    return this.topicKeys.get(topicArn);
  }

  private addResourcePolicy(arn: string, doc: PolicyDocument): void {
    for (const s of list(doc.Statement)) this.addResourceStatement(arn, s);
  }

  private addResourceStatement(arn: string, statement: Statement): void {
    const doc = this.resourcePolicies.get(arn) ?? { Version: '2012-10-17', Statement: [] as Statement[] };
    (doc.Statement as Statement[]).push(statement);
    this.resourcePolicies.set(arn, doc);
  }

  role(roleArn: string): Role | undefined {
    return this.roles.get(roleArn);
  }

  resourcePolicy(resourceArn: string): PolicyDocument | undefined {
    // A bucket policy covers the bucket's objects (`arn:aws:s3:::bucket/key`).
    if (resourceArn.startsWith('arn:aws:s3:::')) return this.resourcePolicies.get(resourceArn.split('/')[0]);
    // A Lambda permission on the function covers `function:name:qualifier` invocations too.
    return this.resourcePolicies.get(resourceArn) ?? this.resourcePolicies.get(resourceArn.split(':').slice(0, 7).join(':'));
  }

  /**
   * Temporary credentials for a role session: an `ASIA…` access key id that identifies the session.
   * Unknown roles (not in the templates, e.g. imported by ARN) get a session with no policies: everything
   * they do is denied, as it would be on AWS for a role whose policies the app does not define.
   */
  credentialsFor(roleArn: string, sessionName: string): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
    const name = roleNameFromArn(roleArn) ?? roleArn;
    const role = this.roles.get(roleArn) ?? { name, arn: roleArn, policies: [], managedPolicyArns: [] };
    const accessKeyId = `ASIA${createHash('sha256').update(`${roleArn}/${sessionName}`).digest('hex').slice(0, 16).toUpperCase()}`;
    // Derived from the seed: the same session always gets the same secret within a run.
    const credentials = {
      accessKeyId,
      secretAccessKey: createHmac('sha256', this.secretSeed).update(accessKeyId).digest('base64').slice(0, 40),
      sessionToken: `opsflow-local-session-${createHmac('sha256', this.secretSeed).update(`token/${accessKeyId}`).digest('base64url')}`,
    };
    this.sessions.set(accessKeyId, {
      role,
      sessionName,
      principal: { type: 'AWS', id: role.arn, sessionArn: `arn:aws:sts::${accountOfArn(role.arn)}:assumed-role/${role.name}/${sessionName}` },
      credentials,
    });
    return credentials;
  }

  /**
   * A session STS AssumeRole hands out (local/org/sts.ts): new random credentials at each call, as STS gives, valid
   * until `expiresMs`. The role must be one the templates define.
   */
  assumeRole(role: Role, sessionName: string, expiresMs: number, chained: boolean): Session {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const session: Session = {
      role,
      sessionName,
      principal: { type: 'AWS', id: role.arn, sessionArn: `arn:aws:sts::${accountOfArn(role.arn)}:assumed-role/${role.name}/${sessionName}` },
      credentials: {
        accessKeyId,
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: `opsflow-local-sts-${randomBytes(48).toString('base64url')}`,
      },
      expiresMs,
      chained,
    };
    this.sessions.set(accessKeyId, session);
    return session;
  }

  /** The role session an access key belongs to; undefined means the caller is outside the app (administrator). */
  session(accessKeyId: string): Session | undefined {
    return this.sessions.get(accessKeyId);
  }

  /** A session for a role by ARN, without handing out credentials (schedule and rule targets). */
  sessionFor(roleArn: string, sessionName: string): Session {
    return this.sessions.get(this.credentialsFor(roleArn, sessionName).accessKeyId)!;
  }
}

/**
 * The default key policy: it allows the account, which enables IAM policies, and nothing else.
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
 */
function defaultKeyPolicy(): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

/**
 * The key policy of an AWS managed key (`aws/sns`, `aws/dynamodb`, ...): principals of the account may use it
 * through that service only; no service principal (EventBridge, CloudWatch) may, and the policy cannot be
 * changed. https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key and, for SNS,
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
 */
function awsManagedKeyPolicy(service: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': `${service}.${REGION}.amazonaws.com` } },
      },
    ],
  };
}
