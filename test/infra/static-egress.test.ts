/**
 * `network.staticEgress` (workflows/shared/network.ts): off, nothing of it is in the template; on, a VPC with public
 * and private subnets in the configured AZs, NAT gateways with Elastic IPs, gateway endpoints for DynamoDB and S3, and
 * the `EgressIps` output; only functions with `callsOutsideAws` are placed in it, with an ENI policy scoped to its
 * subnets and an outbound-HTTPS-only security group, and the interface endpoints their roles need. Bad values fail
 * the synth naming the field.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config';
import { OpsflowStack } from '../../infra/opsflow-stack';
import { synthEgress } from '../fixtures/egress/app';
import { asList } from './synth';

const AZS = ['us-east-1a', 'us-east-1b'];

function opsflow(network?: unknown) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new OpsflowStack(app, 'Opsflow', { config: parseConfig(network === undefined ? {} : { network }) });
  Aspects.of(app).add(new AwsSolutionsChecks());
  return { stack, json: Template.fromStack(stack).toJSON() as { Resources: Record<string, any>; Outputs: Record<string, any> } };
}

const ofType = (json: { Resources: Record<string, any> }, type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);

const nagFindings = (stack: import('aws-cdk-lib').Stack) =>
  [
    ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`);

describe('network.staticEgress config', () => {
  it('is off by default', () => {
    expect(parseConfig({}).network).toEqual({ staticEgress: { enabled: false, azs: [], natGateways: 1 } });
  });

  it('names every bad field', () => {
    expect(() =>
      parseConfig({ network: { staticEgress: { enabled: 'yes', azs: ['us-east-1a', 'us-east-1a', 'eu-west-1b', 'east'], natGateways: 4, nat: 1 } } }),
    ).toThrow(
      [
        'opsflow config: network.staticEgress.nat is not a known setting',
        'network.staticEgress.enabled must be true or false, got "yes"',
        'network.staticEgress.azs[3] must be an availability zone name such as us-east-1a, got "east"',
        'network.staticEgress.azs must not name an availability zone twice',
        "network.staticEgress.azs must all be in one region (the stack's), got us-east-1, eu-west-1",
        'network.staticEgress.natGateways must be a whole number from 1 to 3, got 4',
      ].join('; '),
    );
    expect(() => parseConfig({ network: { staticEgress: { enabled: true } } })).toThrow(
      'opsflow config: network.staticEgress.azs must name at least one availability zone when staticEgress is enabled',
    );
    expect(() => parseConfig({ network: { egress: {} } })).toThrow('opsflow config: network.egress is not a known setting');
  });
});

describe('static egress off', () => {
  const { stack, json } = opsflow();
  it('adds no VPC, no NAT gateway, no EIP and no EgressIps output, and no function is in a VPC', () => {
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::VPCEndpoint']) expect(ofType(json, type), type).toEqual([]);
    expect(json.Outputs.EgressIps).toBeUndefined();
    expect(ofType(json, 'AWS::Lambda::Function').filter(([, r]) => r.Properties.VpcConfig)).toEqual([]);
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe.each([1, 2])('static egress on, two AZs, %i NAT gateway(s)', (natGateways) => {
  const { stack, json } = opsflow({ staticEgress: { enabled: true, azs: AZS, natGateways } });

  it('builds public and private subnets in the given AZs, NAT gateways with EIPs in the public ones, and outputs the EIPs', () => {
    expect(ofType(json, 'AWS::EC2::VPC')).toHaveLength(1);
    const subnets = ofType(json, 'AWS::EC2::Subnet').map(([, r]) => [r.Properties.AvailabilityZone, r.Properties.MapPublicIpOnLaunch]);
    expect(subnets.sort()).toEqual([
      ['us-east-1a', false],
      ['us-east-1a', true],
      ['us-east-1b', false],
      ['us-east-1b', true],
    ]);
    const eips = ofType(json, 'AWS::EC2::EIP').map(([id]) => id);
    const nats = ofType(json, 'AWS::EC2::NatGateway');
    expect(eips).toHaveLength(natGateways);
    expect(nats.map(([, r]) => r.Properties.AllocationId['Fn::GetAtt'][0]).sort()).toEqual([...eips].sort());
    // Every private subnet's default route goes to a NAT gateway (its own AZ's, when there is one per AZ).
    const routes = ofType(json, 'AWS::EC2::Route').filter(([, r]) => r.Properties.NatGatewayId);
    expect(routes).toHaveLength(2);
    expect(new Set(routes.map(([, r]) => r.Properties.NatGatewayId.Ref)).size).toBe(natGateways);
    // One address is the output as it is; several are joined with commas.
    expect(json.Outputs.EgressIps.Value).toEqual(eips.length === 1 ? { Ref: eips[0] } : { 'Fn::Join': [',', eips.map((id) => ({ Ref: id }))] });
  });

  it('has gateway endpoints for DynamoDB and S3, and interface endpoints only for what the placed functions call', () => {
    const endpoints = ofType(json, 'AWS::EC2::VPCEndpoint').map(([, r]) => [JSON.stringify(r.Properties.ServiceName), r.Properties.VpcEndpointType]);
    // The approval functions read the chat secret, send SES mail and answer Step Functions (SendTaskSuccess and so on).
    expect(endpoints.map(([name, type]) => [name.match(/"\.([a-z0-9]+)"/)?.[1], type]).sort()).toEqual([
      ['dynamodb', 'Gateway'],
      ['email', 'Interface'],
      ['s3', 'Gateway'],
      ['secretsmanager', 'Interface'],
      ['states', 'Interface'],
    ]);
  });

  it('places the functions that post to chat (callsOutsideAws) in the VPC, keeps every other one out, and stays cdk-nag clean', () => {
    const placed = ofType(json, 'AWS::Lambda::Function')
      .filter(([, r]) => r.Properties.VpcConfig)
      .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''));
    // With no chat notification configured, only the Approval functions talk to chat (approval.chat may come per execution).
    expect(placed.sort()).toEqual(['ApprovalChatFn', 'ApprovalDecideFn', 'ApprovalSweepFn', 'ApprovalWorkerFn']);
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('a function with callsOutsideAws, static egress on (the Egress fixture app)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-egress-infra-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const app = synthEgress(join(dir, 'cdk.out'), { staticEgress: { enabled: true, azs: AZS, natGateways: 2 }, bundle: false, nag: true });
  const json = Template.fromStack(app.stack).toJSON() as { Resources: Record<string, any> };
  const [[, poster]] = ofType(json, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Poster'));
  const [[, stays]] = ofType(json, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Stays'));
  const [[sgId, sg]] = ofType(json, 'AWS::EC2::SecurityGroup').filter(([id]) => id.startsWith('StaticEgressFunctions'));
  const privateSubnets = ofType(json, 'AWS::EC2::Subnet')
    .filter(([, r]) => !r.Properties.MapPublicIpOnLaunch && JSON.stringify(r.Properties.VpcId).includes('StaticEgress'))
    .map(([id]) => id);

  it('runs in the private subnets with the outbound-HTTPS-only security group; the other function stays out', () => {
    expect(poster.Properties.VpcConfig).toEqual({
      SubnetIds: privateSubnets.map((id) => ({ Ref: id })),
      SecurityGroupIds: [{ 'Fn::GetAtt': [sgId, 'GroupId'] }],
    });
    expect(privateSubnets).toHaveLength(2);
    expect(sg.Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: expect.any(String), FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    expect(stays.Properties.VpcConfig).toBeUndefined();
  });

  it('may manage network interfaces only in those subnets and that group, with no managed policy, before it is created', () => {
    const roleId = poster.Properties.Role['Fn::GetAtt'][0];
    expect(json.Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    const [[policyId, policy]] = ofType(json, 'AWS::IAM::Policy').filter(([, r]) => r.Properties.Roles.some((x: any) => x.Ref === roleId));
    expect(poster.DependsOn).toContain(policyId);
    const eni = (policy.Properties.PolicyDocument.Statement as any[]).filter((s) => asList(s.Action).some((a: string) => a.startsWith('ec2:')));
    expect(eni.map((s) => [[s.Action].flat().sort(), JSON.stringify(s.Resource)])).toEqual([
      [['ec2:CreateNetworkInterface'], expect.stringMatching(/network-interface\/\*.*subnet\/.*subnet\/.*security-group\//)],
      [
        ['ec2:AssignPrivateIpAddresses', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'],
        expect.stringMatching(/^\{.*network-interface\/\*"\]\]\}$/),
      ],
      [['ec2:DescribeNetworkInterfaces'], '"*"'],
    ]);
    for (const id of [...privateSubnets, sgId]) expect(JSON.stringify(eni[0].Resource)).toContain(`"${id}"`);
  });

  it('gets an interface endpoint for each AWS service its role may call beyond DynamoDB and S3, and no other', () => {
    const interfaces = ofType(json, 'AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties.VpcEndpointType === 'Interface');
    expect(interfaces.map(([, r]) => [JSON.stringify(r.Properties.ServiceName), r.Properties.PrivateDnsEnabled])).toEqual([
      [expect.stringContaining('.secretsmanager'), true],
    ]);
    expect(interfaces[0][1].Properties.SubnetIds).toEqual(privateSubnets.map((id) => ({ Ref: id })));
  });

  it('stays cdk-nag clean', () => {
    expect(nagFindings(app.stack).filter((f) => f.includes('StaticEgress') || f.includes('Poster'))).toEqual([]);
  });
});
