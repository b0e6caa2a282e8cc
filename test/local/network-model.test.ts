/**
 * The network model (local/network/model.ts) on one VPC with every kind of way out: which calls of a function leave,
 * through what, from which address, and why the others get no answer. The template is synthesized by CDK, as apps
 * build their VPCs, and resolved as the runtime resolves it.
 */
import { App, Stack } from 'aws-cdk-lib';
import { GatewayVpcEndpointAwsService, InterfaceVpcEndpointAwsService, Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CHANGING_AWS_ADDRESS, NetworkModel } from '../../local/network/model';
import { defaultResourcePolicy, ResolvedStack } from '../../local/template';

function lab() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Lab', { env: { account: '000000000000', region: 'us-east-1' } });
  const vpc = new Vpc(stack, 'Vpc', {
    availabilityZones: ['us-east-1a'],
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: SubnetType.PUBLIC },
      { name: 'nat', subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'closed', subnetType: SubnetType.PRIVATE_ISOLATED },
    ],
  });
  vpc.addGatewayEndpoint('DynamoDb', { service: GatewayVpcEndpointAwsService.DYNAMODB, subnets: [{ subnetType: SubnetType.PRIVATE_ISOLATED }] });
  vpc.addInterfaceEndpoint('Secrets', { service: InterfaceVpcEndpointAwsService.SECRETS_MANAGER, subnets: { subnetType: SubnetType.PRIVATE_ISOLATED } });
  const code = Code.fromInline('exports.handler = async () => null;');
  const fn = (id: string, props: Partial<ConstructorParameters<typeof LambdaFunction>[2]> = {}) =>
    new LambdaFunction(stack, id, { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code, functionName: id, ...props });
  fn('outside');
  fn('public', { vpc, vpcSubnets: { subnetType: SubnetType.PUBLIC }, allowPublicSubnet: true });
  fn('nat', { vpc, vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS } });
  fn('closed', { vpc, vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED } });
  const httpOnly = new SecurityGroup(stack, 'HttpOnly', { vpc, allowAllOutbound: false });
  httpOnly.addEgressRule(Peer.anyIpv4(), Port.tcp(80));
  fn('httpOnly', { vpc, vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: [httpOnly] });
  const template = Template.fromStack(stack).toJSON();
  const resolved = new ResolvedStack(template, { stackName: 'Lab', policy: defaultResourcePolicy({ stackName: 'Lab', endpoint: 'http://127.0.0.1:4566' }) });
  const [eip] = resolved.resources('AWS::EC2::EIP');
  return { model: NetworkModel.fromStacks([resolved]), eip: String(resolved.ref(eip.logicalId)) };
}

const { model, eip } = lab();
const internet = { internet: { port: 443 } };
const aws = (service: string) => ({ aws: { service } });

describe('NetworkModel', () => {
  it('lets a function outside a VPC reach everything from a changing AWS address', () => {
    expect(model.placement('outside')).toBeUndefined();
    expect(model.reach('outside', 's1', internet)).toEqual({ ok: true, sourceIp: CHANGING_AWS_ADDRESS, via: 'Lambda (no VPC)' });
  });

  it("sends a private subnet's calls through its NAT gateway, from the gateway's Elastic IP, to the internet and to AWS", () => {
    expect(model.reach('nat', 's2', internet)).toEqual({ ok: true, sourceIp: eip, via: expect.stringMatching(/^NAT gateway nat-[0-9a-f]{17}$/) });
    expect(model.reach('nat', 's2', aws('sns'))).toMatchObject({ ok: true, sourceIp: eip });
    expect(eip).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/);
  });

  it('gives a function in a public subnet no way out: its network interface has no public address', () => {
    expect(model.reach('public', 's3', internet)).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /its 0\.0\.0\.0\/0 route goes to igw-[0-9a-f]{17} without a NAT gateway, and a function's network interface has no public address$/,
      ),
    });
  });

  it('lets an isolated subnet reach only the services it has endpoints for', () => {
    expect(model.reach('closed', 's4', aws('dynamodb'))).toMatchObject({ ok: true, via: expect.stringMatching(/^gateway endpoint vpce-/) });
    expect(model.reach('closed', 's4', aws('secretsmanager'))).toMatchObject({ ok: true, via: expect.stringMatching(/^interface endpoint vpce-/) });
    expect(model.reach('closed', 's4', aws('sns'))).toEqual({
      ok: false,
      reason: expect.stringMatching(/^no route to sns's public endpoint \(the VPC has no endpoint for it\)/),
    });
    expect(model.reach('closed', 's4', internet)).toEqual({ ok: false, reason: expect.stringMatching(/^no route to the internet from subnet-/) });
  });

  it('holds a call its security groups do not let out', () => {
    expect(model.reach('httpOnly', 's5', internet)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^security group sg-[0-9a-f]{17} allows no outbound TCP 443 to 0\.0\.0\.0\/0$/),
    });
    expect(model.reach('httpOnly', 's5', { internet: { port: 80 } })).toMatchObject({ ok: true, sourceIp: eip });
  });
});
