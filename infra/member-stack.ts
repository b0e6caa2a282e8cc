/**
 * The member stack (`<stackName>Member`): what a target account of the organisation holds so that the hub can act in it
 * (config `targets`, README "Accounts and regions"). Deployed into every target account and region, by the hub's
 * StackSet (`targets.deploy: "stackset"`) or by hand (`cdk deploy <stackName>Member`), it holds:
 * - in the first target region only (IAM is global: one role per account), one role, `targets.roleName`, that only the
 *   hub's acting roles may assume, with the external id and from inside the organisation, allowed what those hub roles
 *   may do in the hub's own account, built by the workflows' own policy builders for this account's target regions;
 * - in every region, a rule forwarding what the workflows react to (RunInstances) to the hub's default event bus, whose
 *   role may only put events on that bus.
 * Parameters: `HubAccountId` and `HubRegion`, the hub stack's account and region (the StackSet passes its own).
 *
 * Nothing here names a workflow: the built workflows say what their member access is (`BuiltWorkflow.member`).
 */
import { App, Aws, BootstraplessSynthesizer, CfnCondition, CfnParameter, CfnResource, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import { ArnPrincipal, CfnRole, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { NagSuppressions, type NagPackSuppression } from 'cdk-nag';
import { Construct } from 'constructs';
import { declareLocalApp } from '../workflows/shared/local-metadata';
import { EventRuleRole, eventRuleName } from '../workflows/shared/service-roles';
import { type Grantee, isOuId, type MemberAccess, memberScope, type TargetsConfig } from '../workflows/shared/targets';

export interface MemberStackProps extends StackProps {
  readonly targets: TargetsConfig;
  /** Every region a target names (`allRegions`): the role's statements cover these, the role lives in the first. */
  readonly regions: readonly string[];
  /** What each workflow needs in a member account. */
  readonly access: readonly MemberAccess[];
}

/** The member role as a `Grantee`: one inline policy, so that a condition on one resource creates or omits all of it. */
class MemberRole implements Grantee {
  readonly resource: CfnRole;
  private readonly permissions = new PolicyDocument();

  constructor(scope: Construct, id: string, props: { roleName: string; trust: PolicyDocument }) {
    this.resource = new CfnRole(scope, id, {
      roleName: props.roleName,
      description: 'opsflow member role: the hub acts in this account through it (README "Accounts and regions")',
      assumeRolePolicyDocument: props.trust,
      policies: [{ policyName: 'opsflow-member', policyDocument: this.permissions }],
    });
  }

  addToRolePolicy(statement: PolicyStatement): void {
    this.permissions.addStatements(statement);
  }

  suppress(suppressions: NagPackSuppression[]): void {
    NagSuppressions.addResourceSuppressions(this.resource, suppressions);
  }
}

export class MemberStack extends Stack {
  /** The member role (created only in the first target region: see `roleRegion`). */
  readonly role: CfnRole;
  /** The region whose stack instance holds the role. */
  readonly roleRegion: string;
  readonly hubAccountId: CfnParameter;
  readonly hubRegion: CfnParameter;

  constructor(scope: Construct, id: string, props: MemberStackProps) {
    // No bootstrap in member accounts: no assets, a template small enough to pass inline, and the deployer's own
    // credentials (`cdk deploy`) or the StackSet's execution role; no BootstrapVersion parameter to resolve either.
    super(scope, id, { synthesizer: new BootstraplessSynthesizer(), ...props });
    const { targets } = props;
    if (props.regions.length === 0) throw new Error('MemberStack: regions must name at least one region');
    this.roleRegion = props.regions[0];
    this.hubAccountId = new CfnParameter(this, 'HubAccountId', {
      type: 'String',
      allowedPattern: '^\\d{12}$',
      description: "The opsflow hub's account id: its acting roles may assume the member role; its default event bus receives the forwarded events.",
    });
    this.hubRegion = new CfnParameter(this, 'HubRegion', {
      type: 'String',
      allowedPattern: '^[a-z]{2}(-[a-z]+)+-\\d+$',
      description: "The opsflow hub's region, where its default event bus is.",
    });

    // The trust: the hub's acting roles by ARN, presenting the external id, from inside the organisation.
    // sts:ExternalId: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html;
    // aws:PrincipalOrgID: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid.
    // A role ARN in a trust policy must name an existing role ("Invalid principal in policy" otherwise), and is stored as
    // that role's unique id: deploy the hub first, and redeploy this stack if a hub role is ever replaced
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles).
    const hubRoleArns = [...new Set(props.access.flatMap((a) => a.hubRoleNames))].map(
      (name) => `arn:${this.partition}:iam::${this.hubAccountId.valueAsString}:role/${name}`,
    );
    const trust = new PolicyDocument({
      statements: [
        new PolicyStatement({
          actions: ['sts:AssumeRole'],
          principals: hubRoleArns.map((arn) => new ArnPrincipal(arn)),
          conditions: { StringEquals: { 'sts:ExternalId': targets.externalId, 'aws:PrincipalOrgID': targets.organizationId } },
        }),
      ],
    });
    const roleScope = new Construct(this, 'Role');
    const role = new MemberRole(roleScope, 'Resource', { roleName: targets.roleName, trust });
    for (const a of props.access) a.grant(role, memberScope(this, props.regions));
    this.role = role.resource;
    // IAM names are global to the account: the role exists once, in the stack instance of the first target region.
    onlyWhere(roleScope, new CfnCondition(this, 'IsRoleRegion', { expression: Fn.conditionEquals(Aws.REGION, this.roleRegion) }));

    // Forwarders: this region's events the hub reacts to, to the hub's default bus (the bus admits the organisation only).
    // Cross-account and cross-Region targets: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html,
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html.
    const forwards = props.access.flatMap((a) => a.forward ?? []);
    if (forwards.length) {
      const forwarders = new Construct(this, 'Forward');
      const hubBus = EventBus.fromEventBusArn(
        forwarders,
        'HubBus',
        `arn:${this.partition}:events:${this.hubRegion.valueAsString}:${this.hubAccountId.valueAsString}:event-bus/default`,
      );
      for (const f of forwards) {
        const ruleName = eventRuleName(this, f.id);
        new Rule(forwarders, f.id, {
          ruleName,
          description: f.description,
          eventPattern: f.eventPattern,
          targets: [new EventBusTarget(hubBus, { role: new EventRuleRole(forwarders, `${f.id}Role`, { ruleName }) })],
        });
      }
      // The hub account's own launches reach its rules directly: no forwarder there, should it be a target too.
      onlyWhere(
        forwarders,
        new CfnCondition(this, 'IsNotHubAccount', { expression: Fn.conditionNot(Fn.conditionEquals(Aws.ACCOUNT_ID, this.hubAccountId.valueAsString)) }),
      );
    }

    // The local runtime deploys this template into every simulated member account (README "Local runtime metadata").
    declareLocalApp(this, { member: true, hubParameters: { account: 'HubAccountId', region: 'HubRegion' } });
  }
}

/** Creates every resource under `scope` only where `condition` holds. */
function onlyWhere(scope: Construct, condition: CfnCondition): void {
  for (const c of scope.node.findAll()) if (c instanceof CfnResource) c.cfnOptions.condition = condition;
}

const MAX_TEMPLATE_BODY_BYTES = 51_200;

/** The member stack's template as the hub's StackSet carries it: synthesized on its own, from the same props. */
export function memberTemplateBody(id: string, props: MemberStackProps): string {
  const app = new App();
  const stack = new MemberStack(app, id, props);
  const body = JSON.stringify(app.synth().getStackByName(stack.stackName).template);
  // "TemplateBody ... maximum length of 51,200 bytes" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
  if (Buffer.byteLength(body) > MAX_TEMPLATE_BODY_BYTES)
    throw new Error(
      `${id}: the member template takes ${Buffer.byteLength(body)} bytes, over a StackSet TemplateBody's ${MAX_TEMPLATE_BODY_BYTES}; use targets.deploy "stacks"`,
    );
  return body;
}

export interface MemberStackSetProps {
  /** The StackSet's name (`<stackName>Member`, as the member stack's). */
  readonly stackSetName: string;
  readonly templateBody: string;
  readonly targets: TargetsConfig;
  /** Every account and OU a target names: the StackSet deploys to the OUs. */
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
}

/**
 * The member stack as a service-managed StackSet of the hub: deployed by CloudFormation to every account of the
 * target OUs in every target region, and to accounts that join those OUs later (auto-deployment). Service-managed
 * StackSets target OUs ("When deploying to Amazon Organizations accounts with SERVICE_MANAGED permissions: You must
 * specify the OrganizationalUnitIds property",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-cloudformation-stackset-deploymenttargets.html),
 * and never deploy to the management account; accounts named by id outside those OUs get `cdk deploy` (README).
 * The hub passes its own account and region as the member's parameters.
 */
export class MemberStackSet extends Construct {
  readonly stackSet: CfnStackSet;

  constructor(scope: Construct, id: string, props: MemberStackSetProps) {
    super(scope, id);
    const ous = props.accounts.filter(isOuId);
    if (ous.length === 0) throw new Error('MemberStackSet: a service-managed StackSet deploys to OUs: name at least one');
    this.stackSet = new CfnStackSet(this, 'Resource', {
      stackSetName: props.stackSetName,
      description: 'opsflow member stack: the role the hub assumes and the launch forwarding, in every target account and region',
      permissionModel: 'SERVICE_MANAGED',
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      callAs: props.targets.stackSetCallAs,
      capabilities: ['CAPABILITY_NAMED_IAM'],
      managedExecution: { Active: true },
      operationPreferences: { regionConcurrencyType: 'PARALLEL', maxConcurrentPercentage: 25, failureTolerancePercentage: 10 },
      parameters: [
        { parameterKey: 'HubAccountId', parameterValue: Aws.ACCOUNT_ID },
        { parameterKey: 'HubRegion', parameterValue: Aws.REGION },
      ],
      stackInstancesGroup: [{ deploymentTargets: { organizationalUnitIds: ous }, regions: [...props.regions] }],
      templateBody: props.templateBody,
    });
  }
}
