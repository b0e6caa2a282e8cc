/**
 * Reads a synthesized CDK app (cdk.out) and resolves its CloudFormation the way CloudFormation would at
 * deploy time, so the local runtime can "deploy" it: intrinsic functions, parameters, pseudo parameters,
 * conditions and mappings. What a resource's `Ref` and attributes evaluate to is a policy the caller
 * supplies (the runtime decides local names, ARNs and URLs); `defaultResourcePolicy` covers the types the
 * app uses with deterministic names, so a restarted runtime gets the same ARNs again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { ACCOUNT, REGION, arn, type Partition } from './kernel';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Metadata?: Record<string, unknown>;
  Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Conditions?: Record<string, unknown>;
  Resources?: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
}

export interface AssemblyStack {
  stackName: string;
  template: CfnTemplate;
  /** The (possibly nested) assembly directory the stack came from: its assets are relative to it. */
  assemblyDir: string;
}

const SYNTH_HINT = 'run `npx cdk synth` first';

/** Lists the stacks of a cloud assembly, including those of nested assemblies (CDK Stages). */
export function loadAssembly(cdkOutDir: string): { stacks: AssemblyStack[] } {
  const dir = resolvePath(cdkOutDir);
  if (!existsSync(dir)) throw new Error(`Cloud assembly ${dir} does not exist: ${SYNTH_HINT}`);
  return { stacks: readAssembly(dir) };
}

interface ManifestArtifact {
  type: string;
  properties?: { templateFile?: string; stackName?: string; directoryName?: string };
}

function readAssembly(dir: string): AssemblyStack[] {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`${manifestFile} is missing: ${SYNTH_HINT}`);
  const manifest = readJson<{ artifacts?: Record<string, ManifestArtifact> }>(manifestFile);
  const stacks: AssemblyStack[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'aws:cloudformation:stack') {
      const templateFile = artifact.properties?.templateFile;
      if (!templateFile) throw new Error(`${manifestFile}: stack artifact '${id}' has no templateFile`);
      const file = join(dir, templateFile);
      if (!existsSync(file)) throw new Error(`Template ${file} of stack '${id}' is missing: ${SYNTH_HINT}`);
      stacks.push({ stackName: artifact.properties?.stackName ?? id, template: readJson<CfnTemplate>(file), assemblyDir: dir });
    } else if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      stacks.push(...readAssembly(join(dir, artifact.properties.directoryName)));
    }
  }
  return stacks;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A resource with its properties resolved. */
export interface ResolvedResource {
  logicalId: string;
  type: string;
  properties: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** What the policy named it; `Ref` of most types. */
  physicalName: string;
}

/**
 * Decides what resources are called locally. `attribute` answers `Fn::GetAtt` and, with the attribute name
 * `'Ref'`, the `Ref` of the resource (a name for some types, an ARN or URL for others).
 */
export interface ResourcePolicy {
  physicalName(logicalId: string, resource: Omit<ResolvedResource, 'physicalName'>): string;
  attribute(logicalId: string, resource: ResolvedResource, attr: string): unknown;
}

export interface ResolvedStackOptions {
  stackName: string;
  policy: ResourcePolicy;
  /** Parameter values overriding the template's defaults. */
  parameters?: Record<string, string>;
  /** Where the stack is deployed: `AWS::AccountId`, `AWS::Region` (a member stack in a member account). @default HUB */
  partition?: Partition;
}

/** `Ref: AWS::NoValue`: removes the property (or list element) that holds it. */
const NO_VALUE = Symbol('AWS::NoValue');

export class ResolvedStack {
  readonly stackName: string;
  private readonly resolvedResources = new Map<string, ResolvedResource>();
  private readonly resolving = new Set<string>();
  private readonly conditions = new Map<string, boolean>();

  constructor(
    readonly template: CfnTemplate,
    private readonly options: ResolvedStackOptions,
  ) {
    this.stackName = options.stackName;
  }

  /** Deep-resolves intrinsic functions in any property tree. */
  resolve(value: unknown): unknown {
    const resolved = this.walk(value);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** Evaluates a named condition of the template's `Conditions` section. */
  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const expression = this.template.Conditions?.[name];
    if (expression === undefined) throw new Error(`Stack ${this.stackName}: condition '${name}' is not defined`);
    const value = this.evaluateCondition(expression);
    this.conditions.set(name, value);
    return value;
  }

  /** Whether the resource exists (it has no `Condition`, or its condition is true). */
  isCreated(logicalId: string): boolean {
    const resource = this.template.Resources?.[logicalId];
    return resource !== undefined && (resource.Condition === undefined || this.condition(resource.Condition));
  }

  /** The created resources, optionally of one type, with resolved properties. */
  resources(type?: string): ResolvedResource[] {
    return Object.entries(this.template.Resources ?? {})
      .filter(([id, r]) => (type === undefined || r.Type === type) && this.isCreated(id))
      .map(([id]) => this.resource(id));
  }

  resource(logicalId: string): ResolvedResource {
    const cached = this.resolvedResources.get(logicalId);
    if (cached) return cached;
    const raw = this.template.Resources?.[logicalId];
    if (!raw) throw new Error(`Stack ${this.stackName}: resource '${logicalId}' does not exist`);
    if (!this.isCreated(logicalId)) throw new Error(`Stack ${this.stackName}: resource '${logicalId}' is not created (condition '${raw.Condition}' is false)`);
    // CloudFormation rejects circular references; a template that has one still must not overflow the stack here.
    if (this.resolving.has(logicalId)) throw new Error(`Stack ${this.stackName}: circular reference through '${logicalId}'`);
    this.resolving.add(logicalId);
    try {
      const base = {
        logicalId,
        type: raw.Type,
        properties: (this.resolve(raw.Properties ?? {}) ?? {}) as Record<string, unknown>,
        metadata: raw.Metadata ?? {},
      };
      const resolved = { ...base, physicalName: this.options.policy.physicalName(logicalId, base) };
      this.resolvedResources.set(logicalId, resolved);
      return resolved;
    } finally {
      this.resolving.delete(logicalId);
    }
  }

  /** The created stack outputs, resolved. */
  outputs(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(this.template.Outputs ?? {})) {
      if (output.Condition === undefined || this.condition(output.Condition)) out[name] = this.resolve(output.Value);
    }
    return out;
  }

  ref(name: string): unknown {
    const pseudo = this.pseudoParameter(name);
    if (pseudo !== undefined) return pseudo;
    const parameter = this.template.Parameters?.[name];
    if (parameter) return this.parameter(name, parameter);
    if (this.template.Resources?.[name]) return this.getAtt(name, 'Ref');
    throw new Error(`Stack ${this.stackName}: Ref to '${name}', which is neither a parameter nor a resource`);
  }

  getAtt(logicalId: string, attr: string): unknown {
    const resource = this.resource(logicalId);
    return this.options.policy.attribute(logicalId, resource, attr);
  }

  private pseudoParameter(name: string): unknown {
    switch (name) {
      case 'AWS::Region':
        return this.options.partition?.region ?? REGION;
      case 'AWS::AccountId':
        return this.options.partition?.account ?? ACCOUNT;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${this.stackName}/${stableUuid(`stack:${this.stackName}`)}`;
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
      default:
        return undefined;
    }
  }

  private parameter(name: string, parameter: { Type?: string; Default?: unknown }): unknown {
    const value = this.options.parameters?.[name] ?? parameter.Default;
    if (value === undefined) throw new Error(`Stack ${this.stackName}: parameter '${name}' has no value and no Default`);
    const isList = parameter.Type === 'CommaDelimitedList' || parameter.Type?.startsWith('List<');
    return isList && typeof value === 'string' ? value.split(',') : value;
  }

  private walk(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.walk(v)).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    if (entries.length === 1 && isIntrinsic(entries[0][0])) return this.intrinsic(entries[0][0], entries[0][1]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const resolved = this.walk(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  private intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(this.str(fn, this.walk(arg)));
      case 'Fn::GetAtt': {
        const [id, attr] = typeof arg === 'string' ? splitOnce(arg, '.') : (this.list(fn, arg, 2) as [unknown, unknown]);
        return this.getAtt(this.str(fn, id), this.str(fn, this.walk(attr)));
      }
      case 'Fn::Join': {
        const [delimiter, items] = this.list(fn, arg, 2);
        const list = this.walk(items);
        if (!Array.isArray(list)) throw new Error(`Stack ${this.stackName}: Fn::Join needs a list, got ${JSON.stringify(list)}`);
        return list.map((item) => this.str(fn, item)).join(this.str(fn, delimiter));
      }
      case 'Fn::Sub':
        return this.sub(arg);
      case 'Fn::Select': {
        const [index, items] = this.list(fn, arg, 2).map((v) => this.walk(v));
        if (!Array.isArray(items)) throw new Error(`Stack ${this.stackName}: Fn::Select needs a list, got ${JSON.stringify(items)}`);
        const i = Number(index);
        if (!Number.isInteger(i) || i < 0 || i >= items.length)
          throw new Error(`Stack ${this.stackName}: Fn::Select index ${String(index)} is out of range for ${items.length} item(s)`);
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = this.list(fn, arg, 2).map((v) => this.walk(v));
        return this.str(fn, source).split(this.str(fn, delimiter));
      }
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = this.list(fn, arg, 3);
        return this.walk(this.condition(this.str(fn, name)) ? whenTrue : whenFalse);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = this.list(fn, arg, 3).map((v) => this.str(fn, this.walk(v)));
        const value = this.template.Mappings?.[map]?.[top]?.[second];
        if (value === undefined) throw new Error(`Stack ${this.stackName}: Fn::FindInMap found nothing at ${map}.${top}.${second}`);
        return value;
      }
      case 'Fn::Base64':
        return Buffer.from(this.str(fn, this.walk(arg))).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${REGION}${zone}`);
      case 'Fn::ImportValue':
        throw new Error(
          `Stack ${this.stackName}: Fn::ImportValue ${JSON.stringify(arg)} is not supported by the local runtime (cross-stack exports are not deployed); pass the value as a parameter instead`,
        );
      default:
        throw new Error(`Stack ${this.stackName}: intrinsic function ${fn} is not supported by the local runtime`);
    }
  }

  private sub(arg: unknown): string {
    const [text, vars] = typeof arg === 'string' ? [arg, {}] : this.list('Fn::Sub', arg, 2);
    const variables = (this.walk(vars) ?? {}) as Record<string, unknown>;
    return this.str('Fn::Sub', text).replace(/\$\{([^}]*)\}/g, (_, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in variables) return this.str('Fn::Sub', variables[name]);
      // `${Res.Attr}` is a GetAtt; pseudo parameters contain '::' but no '.'.
      const value = name.includes('.') ? this.getAtt(...splitOnce(name, '.')) : this.ref(name);
      return this.str('Fn::Sub', value);
    });
  }

  private evaluateCondition(expression: unknown): boolean {
    if (typeof expression === 'boolean') return expression;
    if (expression && typeof expression === 'object' && !Array.isArray(expression)) {
      const entries = Object.entries(expression);
      if (entries.length === 1) {
        const [fn, arg] = entries[0];
        switch (fn) {
          case 'Condition':
            return this.condition(this.str(fn, arg));
          case 'Fn::Equals': {
            const [a, b] = this.list(fn, arg, 2).map((v) => this.walk(v));
            return JSON.stringify(a) === JSON.stringify(b) || String(a) === String(b);
          }
          case 'Fn::Not':
            return !this.evaluateCondition(this.list(fn, arg, 1)[0]);
          case 'Fn::And':
            return (arg as unknown[]).every((c) => this.evaluateCondition(c));
          case 'Fn::Or':
            return (arg as unknown[]).some((c) => this.evaluateCondition(c));
          default: {
            // A condition function may also be nested inside Fn::If etc.; anything else must resolve to a boolean.
            const value = this.walk(expression);
            if (value === 'true' || value === true) return true;
            if (value === 'false' || value === false) return false;
          }
        }
      }
    }
    throw new Error(`Stack ${this.stackName}: cannot evaluate condition ${JSON.stringify(expression)}`);
  }

  private list(fn: string, arg: unknown, length: number): unknown[] {
    if (!Array.isArray(arg) || arg.length < length)
      throw new Error(`Stack ${this.stackName}: ${fn} needs a list of ${length} arguments, got ${JSON.stringify(arg)}`);
    return arg;
  }

  private str(fn: string, value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new Error(`Stack ${this.stackName}: ${fn} needs a string, got ${JSON.stringify(value)}`);
  }
}

function isIntrinsic(key: string): boolean {
  return key === 'Ref' || key.startsWith('Fn::');
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

/** Deterministic stand-ins for the random ids AWS generates, so names survive a runtime restart. */
function stableId(seed: string, length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
  const digest = createHash('sha256').update(seed).digest();
  let id = '';
  for (let i = 0; i < length; i++) id += alphabet[digest[i] % alphabet.length];
  return id;
}

/** An EC2 id (`vpc-0a1b2c3d4e5f60718`): a prefix and 17 hex digits. */
function ec2Id(prefix: string, seed: string): string {
  return `${prefix}-${stableId(`${prefix}:${seed}`, 17, '0123456789abcdef')}`;
}

/**
 * An Elastic IP's public address, in the ranges RFC 5737 reserves for documentation (192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24): it looks like a public address and can never be one.
 */
function elasticIp(seed: string): string {
  const digest = createHash('sha256').update(`eip:${seed}`).digest();
  const n = digest.readUInt16BE(0) % (3 * 254);
  return `${['192.0.2', '198.51.100', '203.0.113'][Math.floor(n / 254)]}.${(n % 254) + 1}`;
}

function stableUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The property that carries an explicit physical name, per resource type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::StepFunctions::Activity': 'Name',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::ApiGatewayV2::Api': 'Name',
  'AWS::ApiGatewayV2::Stage': 'StageName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Events::Rule': 'Name',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::Scheduler::ScheduleGroup': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::S3::Bucket': 'BucketName',
};

/** Explicit name property when present, else `<StackName>-<LogicalId>` (CloudFormation adds a random suffix; we do not, so names are stable). */
export function defaultPhysicalName(stackName: string, logicalId: string, resource: Omit<ResolvedResource, 'physicalName'>): string {
  const property = NAME_PROPERTY[resource.type];
  const explicit = property ? resource.properties[property] : undefined;
  if (typeof explicit === 'string' && explicit) return explicit;
  const generated = `${stackName}-${logicalId}`;
  // Bucket names are lower case (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); CloudFormation generates them so.
  if (resource.type === 'AWS::S3::Bucket') return generated.toLowerCase().slice(0, 63);
  return resource.type === 'AWS::SQS::Queue' && resource.properties.FifoQueue ? `${generated}.fifo` : generated;
}

export interface DefaultPolicyOptions {
  stackName: string;
  /** Base URL of the local endpoint (e.g. http://127.0.0.1:4566): HTTP API endpoints and SQS queue URLs. */
  endpoint: string;
  /** The account roles are created in (a member stack's). @default ACCOUNT */
  account?: string;
}

/** Local names, ARNs and URLs (us-east-1, account 000000000000) for the resource types the app uses. */
export function defaultResourcePolicy(options: DefaultPolicyOptions): ResourcePolicy {
  const { stackName } = options;
  return {
    physicalName: (logicalId, resource) => defaultPhysicalName(stackName, logicalId, resource),
    attribute(logicalId, resource, attr) {
      const value = defaultAttributes(options, resource)[attr];
      if (!value) throw new Error(`Stack ${stackName}: attribute '${attr}' of ${logicalId} (${resource.type}) is not supported by the local runtime`);
      return value();
    },
  };
}

/** `Ref` and `Fn::GetAtt` values per type, computed lazily: only the one asked for is built. */
function defaultAttributes(options: DefaultPolicyOptions, resource: ResolvedResource): Record<string, () => unknown> {
  const { stackName, endpoint } = options;
  const name = resource.physicalName;
  const p = resource.properties;
  const seed = `${stackName}/${resource.logicalId}`;
  const regional = (service: string, rest: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;
  switch (resource.type) {
    case 'AWS::StepFunctions::StateMachine':
      return { Ref: () => arn.stateMachine(name), Arn: () => arn.stateMachine(name), Name: () => name };
    case 'AWS::StepFunctions::Activity':
      return { Ref: () => arn.activity(name), Name: () => name };
    case 'AWS::Lambda::Function':
      return { Ref: () => name, Arn: () => arn.lambda(name) };
    case 'AWS::SNS::Topic':
      return { Ref: () => arn.topic(name), TopicArn: () => arn.topic(name), TopicName: () => name };
    case 'AWS::DynamoDB::Table':
      return { Ref: () => name, Arn: () => arn.table(name), StreamArn: () => `${arn.table(name)}/stream/1970-01-01T00:00:00.000` };
    case 'AWS::IAM::Role':
      return {
        Ref: () => name,
        Arn: () => `arn:aws:iam::${options.account ?? ACCOUNT}:role${(p.Path as string | undefined) ?? '/'}${name}`,
        RoleId: () => `AROA${stableId(seed, 17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
      };
    case 'AWS::Logs::LogGroup':
      return { Ref: () => name, Arn: () => regional('logs', `log-group:${name}:*`) };
    case 'AWS::ApiGatewayV2::Api':
      return { Ref: () => stableId(seed, 10), ApiId: () => stableId(seed, 10), ApiEndpoint: () => endpoint };
    case 'AWS::ApiGatewayV2::Stage':
      return { Ref: () => name };
    case 'AWS::S3::Bucket':
      return {
        Ref: () => name,
        Arn: () => `arn:aws:s3:::${name}`,
        DomainName: () => `${name}.s3.amazonaws.com`,
        RegionalDomainName: () => `${name}.s3.${REGION}.amazonaws.com`,
      };
    case 'AWS::KMS::Key':
      return { Ref: () => stableUuid(seed), KeyId: () => stableUuid(seed), Arn: () => regional('kms', `key/${stableUuid(seed)}`) };
    case 'AWS::SecretsManager::Secret': {
      // Secret ARNs end in a random 6-character suffix.
      const secretArn = () => regional('secretsmanager', `secret:${name}-${stableId(seed, 6, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')}`);
      return { Ref: secretArn, Id: secretArn };
    }
    case 'AWS::Events::Rule': {
      const bus = typeof p.EventBusName === 'string' && p.EventBusName !== 'default' ? `${p.EventBusName.split('/').pop()}/` : '';
      return { Ref: () => name, Arn: () => regional('events', `rule/${bus}${name}`) };
    }
    case 'AWS::Scheduler::Schedule':
      return { Ref: () => name, Arn: () => regional('scheduler', `schedule/${(p.GroupName as string | undefined) ?? 'default'}/${name}`) };
    case 'AWS::Scheduler::ScheduleGroup':
      return { Ref: () => name, Arn: () => regional('scheduler', `schedule-group/${name}`) };
    case 'AWS::SQS::Queue':
      return {
        Ref: () => `${endpoint}/${ACCOUNT}/${name}`,
        QueueUrl: () => `${endpoint}/${ACCOUNT}/${name}`,
        Arn: () => regional('sqs', name),
        QueueName: () => name,
      };
    // The network the local runtime models (local/network/model.ts): EC2's id formats, stable across restarts.
    case 'AWS::EC2::VPC': {
      const id = ec2Id('vpc', seed);
      return {
        Ref: () => id,
        VpcId: () => id,
        CidrBlock: () => p.CidrBlock,
        CidrBlockAssociations: () => [ec2Id('vpc-cidr-assoc', seed)],
        DefaultSecurityGroup: () => ec2Id('sg', `${seed}/default`),
        DefaultNetworkAcl: () => ec2Id('acl', `${seed}/default`),
        Ipv6CidrBlocks: () => [],
      };
    }
    case 'AWS::EC2::Subnet': {
      const id = ec2Id('subnet', seed);
      return {
        Ref: () => id,
        SubnetId: () => id,
        VpcId: () => p.VpcId,
        AvailabilityZone: () => p.AvailabilityZone,
        CidrBlock: () => p.CidrBlock,
        NetworkAclAssociationId: () => ec2Id('aclassoc', seed),
        Ipv6CidrBlocks: () => [],
      };
    }
    case 'AWS::EC2::RouteTable':
      return { Ref: () => ec2Id('rtb', seed), RouteTableId: () => ec2Id('rtb', seed) };
    case 'AWS::EC2::InternetGateway':
      return { Ref: () => ec2Id('igw', seed), InternetGatewayId: () => ec2Id('igw', seed) };
    case 'AWS::EC2::NatGateway':
      return { Ref: () => ec2Id('nat', seed), NatGatewayId: () => ec2Id('nat', seed) };
    case 'AWS::EC2::EIP':
      // The Ref of an EIP is its public address.
      return { Ref: () => elasticIp(seed), PublicIp: () => elasticIp(seed), AllocationId: () => ec2Id('eipalloc', seed) };
    case 'AWS::EC2::SecurityGroup': {
      const id = ec2Id('sg', seed);
      // In a VPC, the Ref of a security group is its id.
      return { Ref: () => id, GroupId: () => id, VpcId: () => p.VpcId };
    }
    case 'AWS::EC2::VPCEndpoint': {
      const id = ec2Id('vpce', seed);
      return { Ref: () => id, Id: () => id, DnsEntries: () => [], NetworkInterfaceIds: () => [], CreationTimestamp: () => '1970-01-01T00:00:00.000Z' };
    }
    default:
      // For most other types the Ref is the physical id; their attributes are not modelled.
      return { Ref: () => name };
  }
}

/** The ASL definition of an AWS::StepFunctions::StateMachine, with `DefinitionSubstitutions` applied. */
export function stateMachineDefinition(resource: Pick<ResolvedResource, 'logicalId' | 'properties'>): Record<string, unknown> {
  const { DefinitionString, Definition, DefinitionSubstitutions, DefinitionS3Location } = resource.properties;
  const substitutions = (DefinitionSubstitutions ?? {}) as Record<string, unknown>;
  const substitute = (text: string) => text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (key in substitutions ? String(substitutions[key]) : whole));
  if (typeof DefinitionString === 'string') {
    // Substitute inside parsed strings so a value with quotes cannot break the JSON.
    return mapStrings(parseDefinition(resource.logicalId, DefinitionString), substitute) as Record<string, unknown>;
  }
  if (Definition && typeof Definition === 'object') return mapStrings(Definition, substitute) as Record<string, unknown>;
  if (DefinitionS3Location) throw new Error(`State machine ${resource.logicalId}: DefinitionS3Location is not supported by the local runtime`);
  throw new Error(`State machine ${resource.logicalId} has neither DefinitionString nor Definition`);
}

function parseDefinition(logicalId: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`State machine ${logicalId}: DefinitionString is not valid JSON: ${(err as Error).message}`);
  }
}

function mapStrings(value: unknown, fn: (text: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [fn(k), mapStrings(v, fn)]));
  return value;
}

/**
 * The directory holding a Lambda function's bundled code (NodejsFunction included). The CDK CLI records it
 * as the resource metadata `aws:asset:path`, relative to the assembly directory the stack came from; without
 * that metadata (an app synthesized without the CLI), the staged asset is `asset.<hash>` for `Code.S3Key`
 * `<hash>.zip`.
 */
export function lambdaAssetDir(cdkOutDir: string, resource: Pick<ResolvedResource, 'logicalId' | 'metadata' | 'properties'>): string {
  const s3Key = (resource.properties.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const assetHash = typeof s3Key === 'string' ? /^([^/]+)\.zip$/.exec(s3Key)?.[1] : undefined;
  const assetPath = resource.metadata['aws:asset:path'] ?? (assetHash && `asset.${assetHash}`);
  if (typeof assetPath !== 'string') {
    throw new Error(
      `Lambda function ${resource.logicalId} has neither 'aws:asset:path' metadata nor an asset Code.S3Key: only CDK asset code runs locally (${SYNTH_HINT})`,
    );
  }
  const dir = resolvePath(cdkOutDir, assetPath);
  if (!existsSync(dir)) throw new Error(`Code of Lambda function ${resource.logicalId} is missing at ${dir}: ${SYNTH_HINT}`);
  if (!statSync(dir).isDirectory())
    throw new Error(`Code of Lambda function ${resource.logicalId} at ${dir} is a file; the local runtime runs unpacked asset directories`);
  return dir;
}
