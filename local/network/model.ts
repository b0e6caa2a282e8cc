/**
 * The network as the deployed templates build it: which way a function's outbound call can leave, and from which
 * public address. A function outside a VPC reaches the internet and AWS's public endpoints from an address AWS picks
 * and changes; a function in a VPC has only what its subnet's route table, its security groups and the VPC's
 * endpoints give it (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
 */
import { REGION } from '../kernel';
import type { ResolvedStack } from '../template';

/** What a function outside a VPC leaves from: "a changing AWS address" (README "Static egress"). */
export const CHANGING_AWS_ADDRESS = 'a changing AWS address';

/** Where a call goes: a host on the internet (by port), or an AWS service's public endpoint (by endpoint service name). */
export type Destination = { internet: { port: number } } | { aws: { service: string } };

export type Reach =
  | { ok: true; sourceIp: string; via: string }
  /** No way out: on AWS the connection attempt gets no answer. */
  | { ok: false; reason: string };

interface Subnet {
  id: string;
  vpcId: string;
  az: string;
}

interface Route {
  cidr: string;
  natGatewayId?: string;
  gatewayId?: string;
}

interface NatGateway {
  id: string;
  subnetId: string;
  publicIp?: string;
  private: boolean;
}

interface Endpoint {
  id: string;
  vpcId: string;
  service: string;
  type: string;
  routeTableIds: string[];
  privateDns: boolean;
}

interface EgressRule {
  protocol: string;
  from?: number;
  to?: number;
  /** An IPv4 CIDR, a prefix list or a security group. */
  cidr?: string;
  other?: boolean;
}

interface SecurityGroup {
  id: string;
  /** undefined: the template gives no egress rules, and EC2 adds "allow all outbound". */
  egress?: EgressRule[];
}

/** A function's VpcConfig. */
export interface Placement {
  subnetIds: string[];
  securityGroupIds: string[];
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export class NetworkModel {
  private readonly placements = new Map<string, Placement>();
  private readonly subnets = new Map<string, Subnet>();
  /** Subnet → its route table (SubnetRouteTableAssociation); a subnet without one uses the VPC's main table, local routes only. */
  private readonly subnetTables = new Map<string, string>();
  private readonly routes = new Map<string, Route[]>();
  private readonly nats = new Map<string, NatGateway>();
  /** VPCs with an internet gateway attached. */
  private readonly attachedGateways = new Map<string, Set<string>>();
  private readonly endpoints: Endpoint[] = [];
  private readonly groups = new Map<string, SecurityGroup>();
  /** Which of its subnets each execution environment was placed in (by sandbox id). */
  private readonly environments = new Map<string, string>();
  private readonly turns = new Map<string, number>();

  static fromStacks(stacks: readonly ResolvedStack[]): NetworkModel {
    const model = new NetworkModel();
    for (const stack of stacks) model.addStack(stack);
    return model;
  }

  private addStack(stack: ResolvedStack): void {
    const ref = (id: string) => String(stack.ref(id));
    for (const r of stack.resources('AWS::EC2::Subnet'))
      this.subnets.set(ref(r.logicalId), { id: ref(r.logicalId), vpcId: String(r.properties.VpcId), az: String(r.properties.AvailabilityZone ?? '') });
    for (const r of stack.resources('AWS::EC2::SubnetRouteTableAssociation'))
      this.subnetTables.set(String(r.properties.SubnetId), String(r.properties.RouteTableId));
    for (const r of stack.resources('AWS::EC2::Route')) {
      const p = r.properties;
      const table = String(p.RouteTableId);
      this.routes.set(table, [
        ...(this.routes.get(table) ?? []),
        {
          cidr: String(p.DestinationCidrBlock ?? p.DestinationIpv6CidrBlock ?? ''),
          natGatewayId: p.NatGatewayId as string | undefined,
          gatewayId: p.GatewayId as string | undefined,
        },
      ]);
    }
    const eips = new Map(stack.resources('AWS::EC2::EIP').map((r) => [String(stack.getAtt(r.logicalId, 'AllocationId')), ref(r.logicalId)]));
    for (const r of stack.resources('AWS::EC2::NatGateway')) {
      const p = r.properties;
      this.nats.set(ref(r.logicalId), {
        id: ref(r.logicalId),
        subnetId: String(p.SubnetId),
        publicIp: eips.get(String(p.AllocationId)),
        private: p.ConnectivityType === 'private',
      });
    }
    for (const r of stack.resources('AWS::EC2::VPCGatewayAttachment')) {
      const vpc = String(r.properties.VpcId);
      if (r.properties.InternetGatewayId)
        this.attachedGateways.set(vpc, new Set([...(this.attachedGateways.get(vpc) ?? []), String(r.properties.InternetGatewayId)]));
    }
    for (const r of stack.resources('AWS::EC2::VPCEndpoint')) {
      const p = r.properties;
      this.endpoints.push({
        id: ref(r.logicalId),
        vpcId: String(p.VpcId),
        service: String(p.ServiceName),
        // "Default: Gateway" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpcendpoint.html)
        type: String(p.VpcEndpointType ?? 'Gateway'),
        routeTableIds: list(p.RouteTableIds as string[] | undefined).map(String),
        privateDns: p.PrivateDnsEnabled === true || p.PrivateDnsEnabled === 'true',
      });
    }
    for (const r of stack.resources('AWS::EC2::SecurityGroup')) {
      const inline = r.properties.SecurityGroupEgress as Array<Record<string, unknown>> | undefined;
      this.groups.set(ref(r.logicalId), { id: ref(r.logicalId), egress: inline === undefined ? undefined : inline.map(egressRule) });
    }
    for (const r of stack.resources('AWS::EC2::SecurityGroupEgress')) {
      const group = this.groups.get(String(r.properties.GroupId));
      if (group) group.egress = [...(group.egress ?? []), egressRule(r.properties)];
    }
    for (const r of stack.resources('AWS::Lambda::Function')) {
      const vpc = r.properties.VpcConfig as { SubnetIds?: string[]; SecurityGroupIds?: string[] } | undefined;
      const subnetIds = list(vpc?.SubnetIds).map(String);
      if (subnetIds.length) this.placements.set(r.physicalName, { subnetIds, securityGroupIds: list(vpc?.SecurityGroupIds).map(String) });
    }
  }

  /** The function's VpcConfig, or undefined for a function outside any VPC. */
  placement(functionName: string): Placement | undefined {
    return this.placements.get(functionName);
  }

  /**
   * Whether a call of one execution environment (`sandbox`) of the function reaches `destination`, and from which
   * public address. Lambda gives the function a network interface in each of its subnets; each execution
   * environment here uses one of them, taken in turn, so that a function spread over two AZs leaves from both
   * AZs' NAT gateways.
   */
  reach(functionName: string, sandbox: string, destination: Destination): Reach {
    const placement = this.placements.get(functionName);
    if (!placement) return { ok: true, sourceIp: CHANGING_AWS_ADDRESS, via: 'Lambda (no VPC)' };
    const subnet = this.subnets.get(this.subnetOf(functionName, sandbox, placement));
    if (!subnet) return { ok: false, reason: `subnet ${placement.subnetIds.join(', ')} is not in the deployed templates` };
    const groups = placement.securityGroupIds.map((id) => this.groups.get(id));
    const table = this.subnetTables.get(subnet.id);
    if ('aws' in destination) {
      const service = `com.amazonaws.${REGION}.${destination.aws.service}`;
      const endpoint = this.endpoints.find(
        (e) =>
          e.vpcId === subnet.vpcId &&
          e.service === service &&
          // Gateway endpoints are targets in the route tables they name
          // (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html); an interface endpoint with
          // private DNS answers the service's public name inside the whole VPC
          // (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html).
          ((e.type === 'Gateway' && table !== undefined && e.routeTableIds.includes(table)) || (e.type === 'Interface' && e.privateDns)),
      );
      if (endpoint) {
        const blocked = this.blockedBy(groups, 443, 'endpoint');
        if (blocked) return { ok: false, reason: blocked };
        return { ok: true, sourceIp: `${subnet.id} (private)`, via: `${endpoint.type.toLowerCase()} endpoint ${endpoint.id}` };
      }
    }
    const port = 'internet' in destination ? destination.internet.port : 443;
    const what = 'aws' in destination ? `${destination.aws.service}'s public endpoint (the VPC has no endpoint for it)` : 'the internet';
    const routes = table ? (this.routes.get(table) ?? []) : [];
    const out = routes.find((r) => r.cidr === '0.0.0.0/0');
    if (!out)
      return {
        ok: false,
        reason: `no route to ${what} from ${subnet.id} (${table ? `route table ${table} has no 0.0.0.0/0 route` : 'the main route table has local routes only'})`,
      };
    if (!out.natGatewayId) {
      // "Connecting a function to a public subnet doesn't give it internet access or a public IP address."
      // (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html)
      return {
        ok: false,
        reason: `no way to ${what} from ${subnet.id}: its 0.0.0.0/0 route goes to ${out.gatewayId ?? 'a target'} without a NAT gateway, and a function's network interface has no public address`,
      };
    }
    const nat = this.nats.get(out.natGatewayId);
    if (!nat?.publicIp || nat.private)
      return { ok: false, reason: `NAT gateway ${out.natGatewayId} has no Elastic IP (a private NAT gateway does not reach the internet)` };
    const natTable = this.subnetTables.get(nat.subnetId);
    const natOut = (natTable ? (this.routes.get(natTable) ?? []) : []).find((r) => r.cidr === '0.0.0.0/0');
    // "Public – ... You create a public NAT gateway in a public subnet" (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html)
    if (!natOut?.gatewayId || !this.attachedGateways.get(subnet.vpcId)?.has(natOut.gatewayId))
      return { ok: false, reason: `NAT gateway ${nat.id} sits in ${nat.subnetId}, which has no route to an attached internet gateway` };
    const blocked = this.blockedBy(groups, port, 'internet');
    if (blocked) return { ok: false, reason: blocked };
    return { ok: true, sourceIp: nat.publicIp, via: `NAT gateway ${nat.id}` };
  }

  private subnetOf(functionName: string, sandbox: string, placement: Placement): string {
    const known = this.environments.get(sandbox);
    if (known) return known;
    const turn = this.turns.get(functionName) ?? 0;
    this.turns.set(functionName, turn + 1);
    const subnet = placement.subnetIds[turn % placement.subnetIds.length];
    this.environments.set(sandbox, subnet);
    return subnet;
  }

  /**
   * Security groups are stateful and allow what any of them allows (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html):
   * an outbound TCP connection to `port` needs one egress rule for that port and a destination that covers it.
   */
  private blockedBy(groups: Array<SecurityGroup | undefined>, port: number, to: 'internet' | 'endpoint'): string | undefined {
    if (groups.length === 0) return undefined;
    const allows = (rule: EgressRule) =>
      (rule.protocol === '-1' || rule.protocol === 'tcp' || rule.protocol === '6') &&
      (rule.protocol === '-1' || ((rule.from ?? 0) <= port && port <= (rule.to ?? 65535))) &&
      // An endpoint's addresses (the interface endpoint's in the VPC, the gateway endpoint's prefix list) are covered
      // by any destination here: the local model does not give them addresses (README, unconfirmed).
      (rule.cidr === '0.0.0.0/0' || (to === 'endpoint' && (rule.cidr !== undefined || rule.other === true)));
    if (groups.some((g) => g && (g.egress === undefined || g.egress.some(allows)))) return undefined;
    return `security group ${groups.map((g) => g?.id ?? '(not in the templates)').join(', ')} allows no outbound TCP ${port} to ${to === 'endpoint' ? 'the endpoint' : '0.0.0.0/0'}`;
  }
}

function egressRule(p: Record<string, unknown>): EgressRule {
  const port = (v: unknown) => (v === undefined ? undefined : Number(v));
  return {
    protocol: String(p.IpProtocol ?? '-1').toLowerCase(),
    from: port(p.FromPort),
    to: port(p.ToPort),
    cidr: p.CidrIp as string | undefined,
    other: p.DestinationPrefixListId !== undefined || p.DestinationSecurityGroupId !== undefined,
  };
}
