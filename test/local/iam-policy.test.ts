import { describe, expect, it } from 'vitest';
import {
  conditionHolds,
  deniedMessage,
  evaluate,
  evaluateKeyPolicy,
  type AuthorizationRequest,
  type PolicyDocument,
  type PrincipalRef,
} from '../../local/iam/policy';

// Cases follow the examples of AWS's docs: reference_policies_evaluation-logic.html, reference_policies_elements_condition_operators.html,
// reference_policies_multi-value-conditions.html, reference_policies_variables.html.
const ROLE: PrincipalRef = { type: 'AWS', id: 'arn:aws:iam::000000000000:role/Act', sessionArn: 'arn:aws:sts::000000000000:assumed-role/Act/fn' };
const INSTANCE = 'arn:aws:ec2:us-east-1:000000000000:instance/i-0abc';
const req = (over: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({
  principal: ROLE,
  action: 'ec2:StopInstances',
  resource: INSTANCE,
  context: {},
  ...over,
});
const doc = (...Statement: PolicyDocument['Statement'][]): PolicyDocument => ({ Version: '2012-10-17', Statement: Statement.flat() });

describe('evaluate: the decision', () => {
  it('denies implicitly when no policy allows', () => {
    expect(evaluate(req(), []).decision).toBe('ImplicitDeny');
    expect(evaluate(req(), [doc({ Effect: 'Allow', Action: 'ec2:StartInstances', Resource: '*' })]).decision).toBe('ImplicitDeny');
  });

  it('allows through an identity-based policy; an explicit deny anywhere overrides an allow', () => {
    const allow = doc({ Effect: 'Allow', Action: 'ec2:*', Resource: '*' });
    expect(evaluate(req(), [allow])).toEqual({ decision: 'Allow', policyType: 'identity-based' });
    expect(evaluate(req(), [allow, doc({ Effect: 'Deny', Action: 'ec2:Stop*', Resource: '*' })]).decision).toBe('ExplicitDeny');
    const resourceDeny = doc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' });
    expect(evaluate(req(), [allow], resourceDeny)).toEqual({ decision: 'ExplicitDeny', policyType: 'resource-based' });
  });

  it('allows a role of the same account through a resource-based policy alone', () => {
    const topic = 'arn:aws:sns:us-east-1:000000000000:alerts';
    const policy = doc({ Effect: 'Allow', Principal: { AWS: ROLE.id }, Action: 'sns:Publish', Resource: topic });
    expect(evaluate(req({ action: 'sns:Publish', resource: topic }), [], policy)).toEqual({ decision: 'Allow', policyType: 'resource-based' });
    const other = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:role/Other' }, Action: 'sns:Publish', Resource: topic });
    expect(evaluate(req({ action: 'sns:Publish', resource: topic }), [], other).decision).toBe('ImplicitDeny');
  });

  it('matches a service principal in a resource policy, with aws:SourceArn', () => {
    const fn = 'arn:aws:lambda:us-east-1:000000000000:function:sweep';
    const policy = doc({
      Effect: 'Allow',
      Principal: { Service: 'scheduler.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: fn,
      Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:scheduler:us-east-1:000000000000:schedule/*/sweep' } },
    });
    const svc = (sourceArn: string): AuthorizationRequest => ({
      principal: { type: 'Service', id: 'scheduler.amazonaws.com' },
      action: 'lambda:InvokeFunction',
      resource: fn,
      context: { 'aws:SourceArn': sourceArn },
    });
    expect(evaluate(svc('arn:aws:scheduler:us-east-1:000000000000:schedule/default/sweep'), [], policy).decision).toBe('Allow');
    expect(evaluate(svc('arn:aws:scheduler:us-east-1:000000000000:schedule/default/other'), [], policy).decision).toBe('ImplicitDeny');
    expect(evaluate({ ...svc('x'), principal: { type: 'Service', id: 'events.amazonaws.com' } }, [], policy).decision).toBe('ImplicitDeny');
  });
});

describe('evaluate: actions and resources', () => {
  it('matches actions case-insensitively with wildcards', () => {
    expect(evaluate(req(), [doc({ Effect: 'Allow', Action: 'EC2:stop*', Resource: '*' })]).decision).toBe('Allow');
    expect(evaluate(req(), [doc({ Effect: 'Allow', Action: 'ec2:St?pInstances', Resource: '*' })]).decision).toBe('Allow');
    expect(evaluate(req(), [doc({ Effect: 'Allow', Action: 'ec2:Start*', Resource: '*' })]).decision).toBe('ImplicitDeny');
  });

  it('matches ARNs segment by segment, with wildcards', () => {
    const allow = (Resource: string) => evaluate(req(), [doc({ Effect: 'Allow', Action: 'ec2:StopInstances', Resource })]).decision;
    expect(allow('arn:aws:ec2:us-east-1:000000000000:instance/*')).toBe('Allow');
    expect(allow('arn:aws:ec2:*:*:instance/i-0abc')).toBe('Allow');
    expect(allow('arn:aws:ec2:us-east-1:111111111111:instance/*')).toBe('ImplicitDeny');
    expect(allow('arn:aws:ec2:us-east-1:000000000000:volume/*')).toBe('ImplicitDeny');
    // A table ARN does not cover its indexes.
    const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/T';
    expect(
      evaluate(req({ action: 'dynamodb:Query', resource: `${table}/index/pending` }), [doc({ Effect: 'Allow', Action: 'dynamodb:Query', Resource: table })])
        .decision,
    ).toBe('ImplicitDeny');
  });

  it('honours NotAction and NotResource', () => {
    const policy = doc({ Effect: 'Allow', NotAction: 'ec2:Terminate*', NotResource: 'arn:aws:ec2:*:*:instance/i-0protected' });
    expect(evaluate(req(), [policy]).decision).toBe('Allow');
    expect(evaluate(req({ action: 'ec2:TerminateInstances' }), [policy]).decision).toBe('ImplicitDeny');
    expect(evaluate(req({ resource: 'arn:aws:ec2:us-east-1:000000000000:instance/i-0protected' }), [policy]).decision).toBe('ImplicitDeny');
  });

  it('resolves policy variables, and an unresolvable one matches nothing', () => {
    const policy = doc({ Effect: 'Allow', Action: 'ec2:StopInstances', Resource: 'arn:aws:ec2:*:*:instance/${aws:PrincipalTag/instance}' });
    expect(evaluate(req({ context: { 'aws:PrincipalTag/instance': 'i-0abc' } }), [policy]).decision).toBe('Allow');
    expect(evaluate(req(), [policy]).decision).toBe('ImplicitDeny');
    const star = doc({ Effect: 'Allow', Action: 'ec2:StopInstances', Resource: 'arn:aws:ec2:*:*:instance/${*}' });
    expect(evaluate(req(), [star]).decision).toBe('ImplicitDeny');
    expect(evaluate(req({ resource: 'arn:aws:ec2:us-east-1:000000000000:instance/*' }), [star]).decision).toBe('Allow');
  });
});

describe('conditions', () => {
  it('ANDs operators and keys, ORs the values of one key', () => {
    const c = { StringEquals: { 'aws:ResourceTag/env': ['dev', 'test'], 'aws:ResourceTag/team': 'ops' } };
    expect(conditionHolds(c, { 'aws:ResourceTag/env': 'test', 'aws:ResourceTag/team': 'ops' })).toBe(true);
    expect(conditionHolds(c, { 'aws:ResourceTag/env': 'prod', 'aws:ResourceTag/team': 'ops' })).toBe(false);
    expect(conditionHolds(c, { 'aws:ResourceTag/env': 'dev' })).toBe(false);
  });

  it('a missing key: false, except negated operators, ...IfExists and Null', () => {
    expect(conditionHolds({ StringEquals: { 'aws:ResourceTag/env': 'dev' } }, {})).toBe(false);
    expect(conditionHolds({ StringNotEquals: { 'aws:ResourceTag/env': 'dev' } }, {})).toBe(true);
    expect(conditionHolds({ StringEqualsIfExists: { 'aws:ResourceTag/env': 'dev' } }, {})).toBe(true);
    expect(conditionHolds({ StringEqualsIfExists: { 'aws:ResourceTag/env': 'dev' } }, { 'aws:ResourceTag/env': 'prod' })).toBe(false);
    expect(conditionHolds({ Null: { 'aws:ResourceTag/Schedule': 'false' } }, { 'aws:ResourceTag/Schedule': 'office' })).toBe(true);
    expect(conditionHolds({ Null: { 'aws:ResourceTag/Schedule': 'false' } }, {})).toBe(false);
    // The tag-policy Act role: both keys must be absent.
    const both = { Null: { 'aws:ResourceTag/aws:autoscaling:groupName': 'true', 'aws:ResourceTag/aws:cloudformation:stack-name': 'true' } };
    expect(conditionHolds(both, {})).toBe(true);
    expect(conditionHolds(both, { 'aws:ResourceTag/aws:cloudformation:stack-name': 'web' })).toBe(false);
  });

  it('negated operators NOR their values', () => {
    const c = { StringNotEquals: { 'ses:FromAddress': ['a@example.com', 'b@example.com'] } };
    expect(conditionHolds(c, { 'ses:FromAddress': 'a@example.com' })).toBe(false);
    expect(conditionHolds(c, { 'ses:FromAddress': 'c@example.com' })).toBe(true);
  });

  it('ForAllValues and ForAnyValue over multivalued keys (aws:TagKeys, ses:Recipients)', () => {
    const only = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Owner', 'CostCenter'] } };
    expect(conditionHolds(only, { 'aws:TagKeys': ['Owner'] })).toBe(true);
    expect(conditionHolds(only, { 'aws:TagKeys': ['Owner', 'Secret'] })).toBe(false);
    expect(conditionHolds(only, {})).toBe(true); // absent: vacuously true, as AWS warns
    expect(conditionHolds(only, { 'aws:TagKeys': [] })).toBe(true);
    const any = { 'ForAnyValue:StringLike': { 'ses:Recipients': '*@example.com' } };
    expect(conditionHolds(any, { 'ses:Recipients': ['x@other.org', 'y@example.com'] })).toBe(true);
    expect(conditionHolds(any, { 'ses:Recipients': ['x@other.org'] })).toBe(false);
    expect(conditionHolds(any, {})).toBe(false);
    expect(conditionHolds({ 'ForAllValues:StringNotLike': { 'ses:Recipients': '*@evil.com' } }, { 'ses:Recipients': ['a@example.com'] })).toBe(true);
  });

  it('string case rules, numbers, dates, booleans, IP addresses and ARNs', () => {
    expect(conditionHolds({ StringEquals: { 'aws:ResourceTag/env': 'Dev' } }, { 'aws:resourcetag/env': 'dev' })).toBe(false);
    expect(conditionHolds({ StringEqualsIgnoreCase: { 'aws:ResourceTag/env': 'Dev' } }, { 'aws:resourcetag/env': 'dev' })).toBe(true);
    expect(conditionHolds({ StringLike: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'home/alice' })).toBe(true);
    expect(conditionHolds({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' })).toBe(true);
    expect(conditionHolds({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': 11 })).toBe(false);
    expect(conditionHolds({ DateGreaterThan: { 'aws:CurrentTime': '2020-04-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-01-01T00:00:00Z' })).toBe(true);
    expect(conditionHolds({ DateLessThan: { 'aws:EpochTime': '1700000000' } }, { 'aws:EpochTime': '1600000000' })).toBe(true);
    expect(conditionHolds({ Bool: { 'kms:GrantIsForAWSResource': 'true' } }, { 'kms:GrantIsForAWSResource': true })).toBe(true);
    expect(conditionHolds({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': true })).toBe(false);
    expect(conditionHolds({ IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { 'aws:SourceIp': '203.0.113.7' })).toBe(true);
    expect(conditionHolds({ NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { 'aws:SourceIp': '198.51.100.1' })).toBe(true);
    expect(
      conditionHolds(
        { ArnLike: { 'aws:SourceArn': 'arn:aws:events:*:000000000000:rule/*' } },
        { 'aws:SourceArn': 'arn:aws:events:us-east-1:000000000000:rule/r1' },
      ),
    ).toBe(true);
    expect(
      conditionHolds(
        { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:events:us-east-1:000000000000:rule/r1' } },
        { 'aws:SourceArn': 'arn:aws:events:us-east-1:000000000000:rule/r1' },
      ),
    ).toBe(false);
    expect(
      conditionHolds(
        { StringEquals: { 'aws:SourceAccount': '${aws:PrincipalAccount}' } },
        { 'aws:SourceAccount': '000000000000', 'aws:PrincipalAccount': '000000000000' },
      ),
    ).toBe(true);
  });

  it('refuses an operator IAM does not have', () => {
    expect(() => conditionHolds({ StringMatches: { a: 'b' } }, { a: 'b' })).toThrow(/Unknown condition operator StringMatches/);
  });
});

describe('deniedMessage', () => {
  it("uses AWS's wording for implicit and explicit denials", () => {
    expect(deniedMessage(ROLE.sessionArn!, 'ec2:StopInstances', INSTANCE, { decision: 'ImplicitDeny', policyType: 'identity-based' })).toBe(
      `User: arn:aws:sts::000000000000:assumed-role/Act/fn is not authorized to perform: ec2:StopInstances on resource: ${INSTANCE} because no identity-based policy allows the ec2:StopInstances action`,
    );
    expect(deniedMessage(ROLE.sessionArn!, 'ec2:StopInstances', INSTANCE, { decision: 'ExplicitDeny', policyType: 'identity-based' })).toMatch(
      /with an explicit deny in an identity-based policy$/,
    );
  });
});

// https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html and key-policy-default.html
describe('evaluateKeyPolicy: the key policy is required', () => {
  const KEY = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const kmsReq = (over: Partial<AuthorizationRequest> = {}) => req({ action: 'kms:GenerateDataKey', resource: KEY, ...over });
  const root = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' });
  const iamAllow = doc({ Effect: 'Allow', Action: 'kms:GenerateDataKey*', Resource: KEY });

  it('with the default key policy, IAM policies decide', () => {
    expect(evaluateKeyPolicy(kmsReq(), [iamAllow], root, '000000000000')).toEqual({ decision: 'Allow', policyType: 'identity-based' });
    expect(evaluateKeyPolicy(kmsReq(), [], root, '000000000000')).toEqual({ decision: 'ImplicitDeny', policyType: 'identity-based' });
    // The account as a bare id enables IAM policies too.
    expect(
      evaluateKeyPolicy(kmsReq(), [iamAllow], doc({ Effect: 'Allow', Principal: { AWS: '000000000000' }, Action: 'kms:*', Resource: '*' }), '000000000000')
        .decision,
    ).toBe('Allow');
  });

  it('without a statement for the account, an IAM allow has no effect', () => {
    const adminOnly = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:role/KeyAdmin' }, Action: 'kms:*', Resource: '*' });
    expect(evaluateKeyPolicy(kmsReq(), [iamAllow], adminOnly, '000000000000')).toEqual({ decision: 'ImplicitDeny', policyType: 'resource-based' });
    // The root statement enables IAM policies only for the actions it names.
    const describeOnly = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:DescribeKey', Resource: '*' });
    expect(evaluateKeyPolicy(kmsReq(), [iamAllow], describeOnly, '000000000000').decision).toBe('ImplicitDeny');
  });

  it('a key policy naming the principal allows without IAM; an IAM deny still wins', () => {
    const named = doc({ Effect: 'Allow', Principal: { AWS: ROLE.id }, Action: 'kms:GenerateDataKey*', Resource: '*' });
    expect(evaluateKeyPolicy(kmsReq(), [], named, '000000000000')).toEqual({ decision: 'Allow', policyType: 'resource-based' });
    expect(evaluateKeyPolicy(kmsReq(), [doc({ Effect: 'Deny', Action: 'kms:*', Resource: '*' })], named, '000000000000').decision).toBe('ExplicitDeny');
  });

  it('a service principal needs a statement of its own, with its aws:SourceArn conditions', () => {
    const events: PrincipalRef = { type: 'Service', id: 'events.amazonaws.com' };
    const context = { 'aws:SourceArn': 'arn:aws:events:us-east-1:000000000000:rule/alerts', 'aws:SourceAccount': '000000000000' };
    expect(evaluateKeyPolicy(kmsReq({ principal: events, context }), [], root, '000000000000').decision).toBe('ImplicitDeny');
    const forRule = (arn: string) =>
      doc({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: { ArnEquals: { 'aws:SourceArn': arn }, StringEquals: { 'aws:SourceAccount': '000000000000' } },
      });
    expect(evaluateKeyPolicy(kmsReq({ principal: events, context }), [], forRule(context['aws:SourceArn']), '000000000000').decision).toBe('Allow');
    expect(
      evaluateKeyPolicy(kmsReq({ principal: events, context }), [], forRule('arn:aws:events:us-east-1:000000000000:rule/other'), '000000000000').decision,
    ).toBe('ImplicitDeny');
  });
});
