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
import { createHash } from 'node:crypto';
import { ACCOUNT } from '../kernel';
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
}

export interface Session {
  role: Role;
  sessionName: string;
  principal: PrincipalRef;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function roleNameFromArn(roleArn: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(roleArn)?.[1];
}

export class IamModel {
  private readonly roles = new Map<string, Role>();
  private readonly resourcePolicies = new Map<string, PolicyDocument>();
  private readonly sessions = new Map<string, Session>();
  /** Tags the template gives resources (`aws:ResourceTag/*`), by ARN. */
  readonly resourceTags = new Map<string, Record<string, string>>();
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
      const role: Role = { name, arn, policies: [...inline], managedPolicyArns: managed.filter((a) => a.includes(':aws:policy/')), trust: r.properties.AssumeRolePolicyDocument as PolicyDocument | undefined };
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
      for (const roleName of list(p.properties.Roles as string[] | undefined)) byName.get(roleName)?.policies.push(p.properties.PolicyDocument as PolicyDocument);
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
        Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal },
        Action: String(p.properties.Action),
        Resource: functionArn,
        ...(Object.keys(condition).length ? { Condition: condition } : {}),
      });
    }
    for (const p of stack.resources('AWS::SNS::TopicPolicy')) {
      for (const topic of list(p.properties.Topics as string[] | undefined)) this.addResourcePolicy(String(topic), p.properties.PolicyDocument as PolicyDocument);
    }
    for (const k of stack.resources('AWS::KMS::Key')) {
      if (k.properties.KeyPolicy) this.addResourcePolicy(String(stack.getAtt(k.logicalId, 'Arn')), k.properties.KeyPolicy as PolicyDocument);
    }
    this.statementCount = [...this.roles.values()].reduce((n, r) => n + r.policies.reduce((m, d) => m + list(d.Statement).length, 0), 0)
      + [...this.resourcePolicies.values()].reduce((n, d) => n + list(d.Statement).length, 0);
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
    this.sessions.set(accessKeyId, {
      role,
      sessionName,
      principal: { type: 'AWS', id: role.arn, sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.name}/${sessionName}` },
    });
    return { accessKeyId, secretAccessKey: 'local', sessionToken: `opsflow-local-session-${accessKeyId}` };
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
