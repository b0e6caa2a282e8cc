/**
 * Static egress (`network.staticEgress`, off by default): every function that calls outside AWS (chat servers,
 * webhooks; TaskFunctionProps.callsOutsideAws) runs in the private subnets of a VPC whose NAT gateways leave from
 * Elastic IPs, so that a firewall can allow-list them (the stack outputs them as `EgressIps`). Functions that need
 * nothing outside AWS stay out of the VPC: they need no NAT, no endpoint and no ENI.
 *
 * - Public and private subnets in the configured AZs; NAT gateways with EIPs in the public ones (one shared, or one
 *   per AZ: README "Static egress" prices both and says what fails when one AZ's NAT gateway is lost).
 * - Gateway endpoints for DynamoDB and S3 (free: https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html),
 *   and an interface endpoint for each other AWS service the placed functions' roles may call, so their AWS calls
 *   stay off the NAT gateway (README prices each).
 * - One security group for the placed functions that allows only outbound HTTPS (443): chat APIs and AWS endpoints.
 * - The execution role of a placed function may manage its network interfaces in these subnets only
 *   (`place`), rather than AWSLambdaVPCAccessExecutionRole's `"Resource": "*"` on every ENI action.
 */
import { CfnOutput, Fn, Stack } from 'aws-cdk-lib';
import {
  type CfnEIP,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  type IInterfaceVpcEndpointService,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { type IRole, type Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { asObject, int, type Raw, unknownKeys } from './config';

export interface StaticEgressConfig {
  /** @default false */
  readonly enabled: boolean;
  /** The availability zones of the VPC's subnets (`us-east-1a`), in the stack's region. Required when enabled. */
  readonly azs: string[];
  /** NAT gateways, each with its own Elastic IP: 1 (shared by every AZ) up to one per AZ. @default 1 */
  readonly natGateways: number;
}

export interface NetworkConfig {
  readonly staticEgress: StaticEgressConfig;
}

export const NETWORK_DEFAULTS: NetworkConfig = { staticEgress: { enabled: false, azs: [], natGateways: 1 } };

/** An AZ name: region (`us-east-1`, `us-gov-west-1`) and a zone letter. */
const AZ = /^([a-z]{2}(?:-[a-z]+)+-\d)[a-z]$/;

/** The `network` section of opsflow.config.json; each problem names its field. */
export function parseNetworkConfig(raw: unknown, problems: string[]): NetworkConfig {
  if (raw === undefined) return NETWORK_DEFAULTS;
  const network = asObject(raw, 'network', problems);
  unknownKeys(network, ['staticEgress'], 'network', problems);
  if (network.staticEgress === undefined) return NETWORK_DEFAULTS;
  const se: Raw = asObject(network.staticEgress, 'network.staticEgress', problems);
  unknownKeys(se, ['enabled', 'azs', 'natGateways'], 'network.staticEgress', problems);
  const enabled = se.enabled ?? false;
  if (typeof enabled !== 'boolean') problems.push(`network.staticEgress.enabled must be true or false, got ${JSON.stringify(enabled)}`);
  const azs = se.azs ?? [];
  const names: string[] = [];
  if (!Array.isArray(azs)) problems.push('network.staticEgress.azs must be a list of availability zones, e.g. ["us-east-1a", "us-east-1b"]');
  else {
    azs.forEach((az, i) => {
      if (typeof az === 'string' && AZ.test(az)) names.push(az);
      else problems.push(`network.staticEgress.azs[${i}] must be an availability zone name such as us-east-1a, got ${JSON.stringify(az)}`);
    });
    if (new Set(names).size !== names.length) problems.push('network.staticEgress.azs must not name an availability zone twice');
    const regions = new Set(names.map((az) => AZ.exec(az)![1]));
    if (regions.size > 1) problems.push(`network.staticEgress.azs must all be in one region (the stack's), got ${[...regions].join(', ')}`);
    if (enabled === true && azs.length === 0) problems.push('network.staticEgress.azs must name at least one availability zone when staticEgress is enabled');
  }
  const natGateways =
    se.natGateways === undefined ? 1 : int(se.natGateways, 'network.staticEgress.natGateways', 1, Math.max(1, names.length), problems, { fallback: 1 });
  return { staticEgress: { enabled: enabled === true, azs: names, natGateways } };
}

/** Where a function that calls outside AWS is placed, for the Lambda function's props. */
export interface Placement {
  vpc: Vpc;
  vpcSubnets: SubnetSelection;
  securityGroups: SecurityGroup[];
}

/** IAM prefixes of the actions a placed function's role allows → the interface endpoint that serves them. */
const INTERFACE_ENDPOINTS: Record<string, IInterfaceVpcEndpointService> = {
  secretsmanager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  states: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
  sns: InterfaceVpcEndpointAwsService.SNS,
  sqs: InterfaceVpcEndpointAwsService.SQS,
  kms: InterfaceVpcEndpointAwsService.KMS,
  ses: InterfaceVpcEndpointAwsService.EMAIL,
  lambda: InterfaceVpcEndpointAwsService.LAMBDA,
  events: InterfaceVpcEndpointAwsService.EVENTBRIDGE,
  ec2: InterfaceVpcEndpointAwsService.EC2,
  sts: InterfaceVpcEndpointAwsService.STS,
  ssm: InterfaceVpcEndpointAwsService.SSM,
};

/**
 * Actions whose calls do not leave from the function's network: Lambda itself makes them with the role (the ENI
 * actions, https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html) or sends what they carry (logs,
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html; X-Ray segments: unconfirmed, README).
 */
const NOT_FROM_THE_FUNCTION = /^(logs:|xray:|ec2:(Create|Describe|Delete)NetworkInterfaces?$|ec2:(Assign|Unassign)PrivateIpAddresses$)/;

const ID = 'StaticEgress';

export class StaticEgress extends Construct {
  /** The stack's static egress, when `network.staticEgress.enabled`. */
  static of(scope: Construct): StaticEgress | undefined {
    return Stack.of(scope).node.tryFindChild(ID) as StaticEgress | undefined;
  }

  readonly vpc: Vpc;
  /** The placed functions' security group: outbound HTTPS only. */
  readonly securityGroup: SecurityGroup;
  /** The NAT gateways' Elastic IPs, one per NAT gateway. */
  readonly elasticIps: CfnEIP[];
  private readonly roles: IRole[] = [];

  /** Builds the network in `stack` (one per stack), when the config enables it. */
  static build(stack: Stack, config: StaticEgressConfig): StaticEgress | undefined {
    return config.enabled ? new StaticEgress(stack, config) : undefined;
  }

  private constructor(stack: Stack, config: StaticEgressConfig) {
    super(stack, ID);
    const flowLogs = new LogGroup(this, 'RejectedFlows', { retention: RetentionDays.ONE_MONTH });
    this.vpc = new Vpc(this, 'Vpc', {
      availabilityZones: config.azs,
      natGateways: config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: GatewayVpcEndpointAwsService.S3 },
      },
      // What the firewall refused is what an operator looks for when a call does not get through.
      flowLogs: { Rejected: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.REJECT } },
    });
    // The public subnets that hold a NAT gateway hold its EIP (aws-cdk-lib's NatGatewayProvider).
    this.elasticIps = this.vpc.publicSubnets.flatMap((s) => (s.node.tryFindChild('EIP') as CfnEIP | undefined) ?? []);
    this.securityGroup = new SecurityGroup(this, 'Functions', {
      vpc: this.vpc,
      description: 'opsflow functions that call outside AWS: outbound HTTPS only',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to chat servers, webhooks and AWS endpoints');
    new CfnOutput(stack, 'EgressIps', {
      value: Fn.join(
        ',',
        this.elasticIps.map((eip) => eip.ref),
      ),
      description: 'The addresses every function that calls outside AWS leaves from: give them to the firewall that allow-lists opsflow',
    });
  }

  /**
   * A function that calls outside AWS: its props for the private subnets and this security group, and on its role the
   * network-interface permissions Lambda needs, scoped to these subnets and this group. "ec2:DescribeNetworkInterfaces
   * – This action only works if it's allowed on all resources"; DeleteNetworkInterface on the interfaces
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
   */
  place(role: IRole): Placement {
    const stack = Stack.of(this);
    const ec2 = (resource: string, resourceName: string) => stack.formatArn({ service: 'ec2', resource, resourceName });
    const subnets = this.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS }).subnets;
    // On the role's default policy, which the function depends on: Lambda checks these when it creates the function.
    const statements = [
      new PolicyStatement({
        actions: ['ec2:CreateNetworkInterface'],
        resources: [ec2('network-interface', '*'), ...subnets.map((s) => ec2('subnet', s.subnetId)), ec2('security-group', this.securityGroup.securityGroupId)],
      }),
      new PolicyStatement({
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [ec2('network-interface', '*')],
      }),
      new PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces'], resources: ['*'] }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Lambda creates and deletes the function\'s network interfaces, whose ids are not known before; DescribeNetworkInterfaces works only on "*" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).',
          appliesTo: [
            'Resource::*',
            { regex: '/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):network-interface\\/\\*$/g' },
          ],
        },
      ],
      true,
    );
    this.roles.push(role);
    return { vpc: this.vpc, vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: [this.securityGroup] };
  }

  /**
   * Interface endpoints in the private subnets for every AWS service the placed functions' roles may call (DynamoDB
   * and S3 have gateway endpoints). Call it once every workflow is built: it reads the roles' policies as granted.
   */
  addInterfaceEndpoints(): void {
    const services = new Map<string, IInterfaceVpcEndpointService>();
    for (const role of this.roles) {
      const granted = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
      const statements = (granted?.document.toJSON()?.Statement ?? []) as Array<{ Effect: string; Action?: string | string[] }>;
      for (const statement of statements) {
        if (statement.Effect !== 'Allow') continue;
        for (const action of [statement.Action ?? []].flat()) {
          const prefix = action.split(':')[0];
          if (!NOT_FROM_THE_FUNCTION.test(action) && INTERFACE_ENDPOINTS[prefix]) services.set(prefix, INTERFACE_ENDPOINTS[prefix]);
        }
      }
    }
    if (services.size === 0) return;
    // The endpoints admit HTTPS from the placed functions only (not CDK's default: the whole VPC's CIDR).
    const endpoints = new SecurityGroup(this, 'Endpoints', {
      vpc: this.vpc,
      description: 'opsflow interface endpoints: HTTPS from the functions that call outside AWS',
      allowAllOutbound: false,
    });
    endpoints.addIngressRule(this.securityGroup, Port.tcp(443), 'HTTPS from the functions that call outside AWS');
    for (const [prefix, service] of [...services].sort(([a], [b]) => a.localeCompare(b))) {
      // Private DNS on (CDK's default): the SDK's usual endpoint names resolve to the endpoint inside the VPC.
      this.vpc.addInterfaceEndpoint(`${prefix.charAt(0).toUpperCase()}${prefix.slice(1)}Endpoint`, {
        service,
        subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [endpoints],
        open: false,
      });
    }
  }
}
