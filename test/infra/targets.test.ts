/**
 * Accounts and regions (config `targets`): the config's validation, the member stack (its role's trust and
 * permissions, the launch forwarding), the hub's side (AssumeRole, OU listing, the bus policy), the StackSet, and the
 * app without `targets` (unchanged).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { parseConfig } from '../../infra/config';
import { asList, statements } from './synth';

const TARGETS = {
  organizationId: 'o-abcdef1234',
  externalId: 'opsflow-external-1',
  accounts: ['111111111111', 'ou-abcd-12345678'],
  regions: ['us-east-1', 'eu-west-1'],
};

const withTargets = (targets: unknown, rest: Record<string, unknown> = {}) => ({ targets, ...rest });
const problemsOf = (raw: unknown): string => {
  try {
    parseConfig(raw);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
};

describe('config: targets', () => {
  it('reads targets with their defaults: role opsflow-member, plain stacks, the StackSet acting as the management account', () => {
    expect(parseConfig(withTargets(TARGETS)).targets).toEqual({ ...TARGETS, roleName: 'opsflow-member', deploy: 'stacks', stackSetCallAs: 'SELF' });
  });

  it('is absent unless configured: one account and region, as before', () => {
    expect(parseConfig({}).targets).toBeUndefined();
  });

  it('fails when an account is neither an account id nor an OU id, naming its index', () => {
    expect(problemsOf(withTargets({ ...TARGETS, accounts: ['111111111111', 'ou-abcd-12345678', '12345'] }))).toContain(
      'targets.accounts[2]: must be a 12-digit account id or an OU id ou-…, got "12345"',
    );
  });

  it('fails when a region is not an AWS region', () => {
    expect(problemsOf(withTargets({ ...TARGETS, regions: ['us-east-1', 'eu-west-9'] }))).toContain(
      'targets.regions[1]: must be an AWS region name such as eu-west-1, got "eu-west-9"',
    );
  });

  it('fails when an account or region is listed twice, or the lists are empty', () => {
    const message = problemsOf(withTargets({ ...TARGETS, accounts: ['111111111111', '111111111111'], regions: [] }));
    expect(message).toContain("targets.accounts[1]: '111111111111' is listed twice");
    expect(message).toContain('targets.regions: must be a non-empty list of AWS region names such as eu-west-1');
  });

  it('fails when organizationId is not o- and 10 to 32 lower-case letters or digits', () => {
    expect(problemsOf(withTargets({ ...TARGETS, organizationId: 'o-ABC' }))).toContain(
      'targets.organizationId: must be an organization id o-… (o- and 10 to 32 lower-case letters or digits), got "o-ABC"',
    );
  });

  it('fails when externalId is shorter than 2, longer than 1224 or has a character AssumeRole refuses, without echoing it', () => {
    for (const externalId of ['x', 'a'.repeat(1225), 'has space', undefined]) {
      const message = problemsOf(withTargets({ ...TARGETS, externalId }));
      expect(message).toContain("targets.externalId: must be 2 to 1224 letters, digits or + = , . @ : / _ - (AssumeRole's ExternalId)");
      if (externalId === 'has space') expect(message).not.toContain(externalId);
    }
    expect(problemsOf(withTargets({ ...TARGETS, externalId: `${'a'.repeat(1215)}+=,.@:/-_` }))).toBe('');
  });

  it('fails when roleName breaks IAM rules', () => {
    for (const roleName of ['', 'a'.repeat(65), 'opsflow member', 'opsflow/member']) {
      expect(problemsOf(withTargets({ ...TARGETS, roleName }))).toContain(
        `targets.roleName: must be an IAM role name, 1 to 64 letters, digits or + = , . @ _ -, got ${JSON.stringify(roleName)}`,
      );
    }
  });

  it('fails on an unknown deploy mode, an unknown setting, and an unknown StackSet caller', () => {
    const message = problemsOf(withTargets({ ...TARGETS, deploy: 'ssh', stackSetCallAs: 'ME', region: 'us-east-1' }));
    expect(message).toContain('targets.deploy: must be "stackset" or "stacks", got "ssh"');
    expect(message).toContain('targets.stackSetCallAs: must be "SELF" or "DELEGATED_ADMIN", got "ME"');
    expect(message).toContain('targets.region is not a known setting');
  });

  it('fails when a StackSet would have no OU to deploy to', () => {
    expect(problemsOf(withTargets({ ...TARGETS, accounts: ['111111111111'], deploy: 'stackset' }))).toContain(
      'targets.deploy: a service-managed StackSet deploys to OUs: name at least one OU (ou-…) in targets.accounts, or deploy "stacks"',
    );
  });

  it("fails when the stack name leaves no room for the hub roles' names", () => {
    // 46 characters: Opsflow<46>-Ec2SchedulePlan (62) and -TagPolicyEvaluate (64) fit, -Ec2ScheduleAdvance (65) does not.
    const stackName = `Opsflow${'x'.repeat(39)}`;
    expect(problemsOf(withTargets(TARGETS, { stackName }))).toBe(
      `opsflow config: stackName: with targets, the hub role ${stackName}-Ec2ScheduleAdvance must be at most 64 characters; shorten stackName`,
    );
    expect(problemsOf(withTargets(TARGETS, { stackName: stackName.slice(0, -1) }))).toBe('');
  });

  const schedule = (targets: unknown) => ({
    ec2Schedule: { schedules: { 'office-hours': { timezone: 'Europe/Berlin', periods: [{ days: 'MON-FRI', start: '07:00' }], targets } } },
  });

  it('reads per-schedule and tag-policy targets: accounts and/or regions over the top level', () => {
    const c = parseConfig({ targets: TARGETS, ...schedule({ regions: ['eu-west-1'] }), tagPolicy: { targets: { accounts: ['222222222222'] } } });
    expect(c.ec2Schedule.schedules['office-hours'].targets).toEqual({ regions: ['eu-west-1'] });
    expect(c.tagPolicy.targets).toEqual({ accounts: ['222222222222'] });
  });

  it('fails when an override sets what only the top level sets, or is bad', () => {
    const message = problemsOf({ targets: TARGETS, ...schedule({ roleName: 'x', accounts: ['1'] }), tagPolicy: { targets: { regions: ['mars-1'] } } });
    expect(message).toContain(
      'ec2Schedule.schedules.office-hours.targets.roleName: set only in the top-level targets (one member role per account); here only accounts and regions',
    );
    expect(message).toContain('ec2Schedule.schedules.office-hours.targets.accounts[0]: must be a 12-digit account id or an OU id ou-…, got "1"');
    expect(message).toContain('tagPolicy.targets.regions[0]: must be an AWS region name such as eu-west-1, got "mars-1"');
    expect(problemsOf({ targets: TARGETS, ...schedule({}) })).toContain('ec2Schedule.schedules.office-hours.targets: name accounts, regions or both');
  });

  it('fails when an override has no top-level targets to set up the member role', () => {
    const message = problemsOf({ ...schedule({ regions: ['eu-west-1'] }), tagPolicy: { targets: { regions: ['eu-west-1'] } } });
    expect(message).toContain(
      'ec2Schedule.schedules.office-hours.targets: needs the top-level targets (organizationId, externalId, accounts, regions), which set up the member role it uses',
    );
    expect(message).toContain('tagPolicy.targets: needs the top-level targets');
  });
});

/** The shipped config with `change` applied, synthesized without bundling. */
function synth(change: (config: any) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-targets-'));
  const config = JSON.parse(readFileSync('opsflow.config.json', 'utf8'));
  change(config);
  writeFileSync(join(dir, 'opsflow.config.json'), JSON.stringify(config));
  const built = buildApp(new App({ outdir: join(dir, 'cdk.out'), context: { config: join(dir, 'opsflow.config.json'), 'aws:cdk:bundling-stacks': [] } }));
  const assembly = built.app.synth();
  return { ...built, assembly };
}

const HUB_ACTING_ROLES = [
  'Opsflow-Ec2SchedulePlan',
  'Opsflow-Ec2ScheduleAdvance',
  'Opsflow-Ec2ScheduleControl',
  'Opsflow-Ec2ScheduleChat',
  'Opsflow-TagPolicyEvaluate',
  'Opsflow-TagPolicyApply',
];
const hubRoleArn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'HubAccountId' }, `:role/${name}`]] });
const hubBusArn = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'HubRegion' }, ':', { Ref: 'HubAccountId' }, ':event-bus/default']],
};

describe('with targets', () => {
  let hub: any;
  let member: any;
  let built: ReturnType<typeof synth>;
  beforeAll(() => {
    built = synth((c) => {
      c.targets = { ...TARGETS, deploy: 'stackset' };
      c.tagPolicy = { ...c.tagPolicy, targets: { regions: ['ap-southeast-2'] } };
    });
    hub = built.assembly.getStackByName('Opsflow').template;
    member = built.assembly.getStackByName('OpsflowMember').template;
  });

  it('synthesizes the member stack <stackName>Member beside the hub, marked for the local runtime, with no bootstrap to check', () => {
    expect(built.assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Opsflow', 'OpsflowMember']);
    expect(member.Metadata.OpsflowLocal).toEqual({ member: true, hubParameters: { account: 'HubAccountId', region: 'HubRegion' } });
    expect(Object.keys(member.Parameters)).toEqual(['HubAccountId', 'HubRegion']);
    expect(member.Rules).toBeUndefined();
  });

  it("holds one role, trusted only by the hub's acting roles by ARN, with the external id and the organisation", () => {
    const roles = Template.fromJSON(member).findResources('AWS::IAM::Role', { Properties: { RoleName: 'opsflow-member' } });
    expect(Object.keys(roles)).toHaveLength(1);
    const role = Object.values<any>(roles)[0];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { AWS: HUB_ACTING_ROLES.map(hubRoleArn) },
        Condition: { StringEquals: { 'sts:ExternalId': TARGETS.externalId, 'aws:PrincipalOrgID': TARGETS.organizationId } },
      },
    ]);
    // IAM is global: the role exists once per account, in the first target region's stack instance.
    expect(role.Condition).toBe('IsRoleRegion');
    expect(member.Conditions.IsRoleRegion).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
  });

  it('the hub roles it names exist in the hub with those names', () => {
    const names = Object.values<any>(hub.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName)
      .map((r) => r.Properties.RoleName);
    expect(names.sort()).toEqual([...HUB_ACTING_ROLES].sort());
  });

  it("allows exactly what the hub's acting roles may do in EC2 and CloudTrail, in every target region, nothing wider", () => {
    const regionless = (resource: unknown) =>
      JSON.stringify(resource)
        .replace(/\{"Ref":"AWS::Region"\}/g, '"<region>"')
        .replace(/"(:ec2:|:rds:|:ecs:|:autoscaling:)(us-east-1|eu-west-1|ap-southeast-2):"/g, '"$1<region>:"')
        .replace(/","<region>",":/g, '<region>:');
    const flat = (ss: any[]) =>
      ss.flatMap((s) => asList(s.Resource).map((r) => JSON.stringify({ a: asList(s.Action).sort(), c: s.Condition ?? null, r: regionless(r) })));
    const role = Object.values<any>(member.Resources).find((r) => r.Properties?.RoleName === 'opsflow-member');
    const memberStatements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    const actingRoleIds = Object.entries<any>(hub.Resources)
      .filter(([, r]) => HUB_ACTING_ROLES.includes(r.Properties?.RoleName))
      .map(([id]) => id);
    const hubStatements = statements(hub).filter((s) =>
      actingRoleIds.some((id) => JSON.stringify(hub.Resources[s.policy].Properties.Roles).includes(`"${id}"`)),
    );
    const hubSet = new Set(flat(hubStatements));
    const extra = flat(memberStatements).filter((s) => !hubSet.has(s));
    expect(extra).toEqual([]);
    // And every region the targets name is covered (the tag policy's own ap-southeast-2 too).
    const instanceResources = memberStatements.filter((s: any) => asList(s.Action).includes('ec2:CreateTags')).flatMap((s: any) => asList(s.Resource));
    expect(JSON.stringify(instanceResources)).toMatch(/us-east-1.*eu-west-1.*ap-southeast-2/);
    // Nothing of the hub's own resources (tables, topics, state machines) and no way onward.
    const actions = memberStatements.flatMap((s: any) => asList(s.Action));
    expect(actions.filter((a: string) => !/^(ec2|rds|autoscaling|ecs|cloudtrail|kms):/.test(a))).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['ec2:StartInstances', 'ec2:CreateTags', 'cloudtrail:LookupEvents']));
  });

  it("forwards RunInstances, with the hub's launch rule's pattern, to the hub's default bus, with a role that may only put events there", () => {
    const t = Template.fromJSON(member);
    const hubRule = Object.values<any>(hub.Resources).find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.Name === 'Opsflow-TagPolicyLaunch');
    const rules = Object.values<any>(t.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual(hubRule.Properties.EventPattern);
    expect(rules[0].Properties.Targets).toEqual([{ Arn: hubBusArn, Id: 'Target0', RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } }]);
    const roleId = rules[0].Properties.Targets[0].RoleArn['Fn::GetAtt'][0];
    const policies = Object.values<any>(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId));
    expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: hubBusArn }]);
    expect(member.Resources[roleId].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'events.amazonaws.com' });
    // Not in the hub account itself, should it be a target: its launches reach its own rule directly.
    expect(rules[0].Condition).toBe('IsNotHubAccount');
    expect(member.Resources[roleId].Condition).toBe('IsNotHubAccount');
  });

  it('lets each hub acting role assume the member role, in the organisation only, and no other role assume anything', () => {
    const assume = statements(hub).filter((s) => asList(s.Action).includes('sts:AssumeRole'));
    expect(assume).toHaveLength(HUB_ACTING_ROLES.length);
    for (const s of assume) {
      expect(s.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::*:role/opsflow-member']] });
      expect(s.Condition).toEqual({ StringEquals: { 'aws:ResourceOrgID': TARGETS.organizationId } });
    }
    const roleOf = (s: { policy: string }) => hub.Resources[hub.Resources[s.policy].Properties.Roles[0].Ref].Properties.RoleName;
    expect(assume.map(roleOf).sort()).toEqual([...HUB_ACTING_ROLES].sort());
  });

  it('lets the roles that resolve OUs (planning, and checking a named target) list them, within the organisation', () => {
    const list = statements(hub).filter((s) => asList(s.Action).some((a) => a.startsWith('organizations:')));
    const roleOf = (s: { policy: string }) => hub.Resources[hub.Resources[s.policy].Properties.Roles[0].Ref].Properties.RoleName;
    expect(list.map(roleOf).sort()).toEqual(['Opsflow-Ec2ScheduleChat', 'Opsflow-Ec2ScheduleControl', 'Opsflow-Ec2SchedulePlan', 'Opsflow-TagPolicyEvaluate']);
    for (const s of list) {
      expect(asList(s.Action).sort()).toEqual(['organizations:ListAccountsForParent', 'organizations:ListOrganizationalUnitsForParent']);
      expect(JSON.stringify(s.Resource)).toContain(':organizations::*:ou/o-abcdef1234/ou-*');
      expect(JSON.stringify(s.Resource)).toContain(':organizations::*:root/o-abcdef1234/r-*');
    }
  });

  it("lets the hub's own roles act in the hub account in every target region (the hub account may be a target)", () => {
    const start = statements(hub).find((s) => asList(s.Action).includes('ec2:StartInstances'))!;
    const resources = JSON.stringify(start.Resource);
    expect(resources).toContain(':ec2:eu-west-1:');
    expect(resources).toContain(':ec2:us-east-1:');
    expect(resources).toContain('AWS::Region');
  });

  it("opens the hub's default event bus to PutEvents from the organisation only", () => {
    const policies = Object.values<any>(Template.fromJSON(hub).findResources('AWS::Events::EventBusPolicy'));
    expect(policies).toEqual([
      {
        Type: 'AWS::Events::EventBusPolicy',
        Properties: {
          EventBusName: 'default',
          StatementId: 'Opsflow-OrganizationLaunches',
          Statement: {
            Effect: 'Allow',
            Principal: '*',
            Action: 'events:PutEvents',
            Resource: {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']],
            },
            Condition: { StringEquals: { 'aws:PrincipalOrgID': TARGETS.organizationId } },
          },
        },
      },
    ]);
  });

  it('deploys the member template as a service-managed StackSet to the OUs in every target region, with auto-deployment', () => {
    const sets = Object.values<any>(Template.fromJSON(hub).findResources('AWS::CloudFormation::StackSet'));
    expect(sets).toHaveLength(1);
    const { TemplateBody, ...props } = sets[0].Properties;
    expect(props).toMatchObject({
      StackSetName: 'OpsflowMember',
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      CallAs: 'SELF',
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      Parameters: [
        { ParameterKey: 'HubAccountId', ParameterValue: { Ref: 'AWS::AccountId' } },
        { ParameterKey: 'HubRegion', ParameterValue: { Ref: 'AWS::Region' } },
      ],
      StackInstancesGroup: [{ DeploymentTargets: { OrganizationalUnitIds: ['ou-abcd-12345678'] }, Regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'] }],
    });
    // The same template as `cdk deploy OpsflowMember` deploys, inline: under TemplateBody's 51,200 bytes.
    expect(JSON.parse(TemplateBody)).toEqual(member);
    expect(Buffer.byteLength(TemplateBody)).toBeLessThan(51_200);
  });

  it('finds no unsuppressed AwsSolutions errors or warnings in either stack', () => {
    for (const stack of [built.stack, built.member!]) {
      const found = [
        ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
        ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ];
      expect(found.map((f) => `${f.id}: ${f.entry.data}`)).toEqual([]);
    }
  });
});

describe('with targets deployed as plain stacks', () => {
  it('has no StackSet in the hub', () => {
    const { assembly } = synth((c) => {
      c.targets = TARGETS;
    });
    expect(JSON.stringify(assembly.getStackByName('Opsflow').template)).not.toContain('AWS::CloudFormation::StackSet');
    expect(assembly.getStackByName('OpsflowMember').template.Metadata.OpsflowLocal.member).toBe(true);
  });
});

describe('without targets', () => {
  it('synthesizes the hub alone, with no named roles, no AssumeRole, no organisation access, no bus policy, no StackSet', () => {
    const { assembly } = synth(() => {});
    expect(assembly.stacks.map((s) => s.stackName)).toEqual(['Opsflow']);
    const hub = assembly.getStackByName('Opsflow').template;
    const types = Object.values<any>(hub.Resources).map((r) => r.Type);
    expect(types).not.toContain('AWS::Events::EventBusPolicy');
    expect(types).not.toContain('AWS::CloudFormation::StackSet');
    expect(Object.values<any>(hub.Resources).filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName)).toEqual([]);
    const actions = statements(hub).flatMap((s) => asList(s.Action));
    expect(actions.filter((a) => a.startsWith('sts:') || a.startsWith('organizations:'))).toEqual([]);
  });
});
