/**
 * The embedded local runtime: "deploys" the synthesized app (cdk.out) onto simulated AWS services behind one
 * AWS-compatible endpoint on 127.0.0.1, and runs it: the same state machines and Lambda bundles that
 * `cdk deploy` ships, the same SDK clients, pointed at the local endpoint through AWS_ENDPOINT_URL.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { StepFunctionsService } from './engine';
import type { Deployed } from './console/api';
import { declaredWorkflows, interestingTags } from './console/metadata';
import { parseRecordPanel, type RecordPanel } from './console/records';
import { ConsoleServer } from './console/server';
import { configuredCredentials, Keyring, type Credentials } from './credentials';
import { defaultFaults, type Faults } from './faults';
import { HttpApiRouter } from './services/http-api';
import { ACCOUNT, AwsError, Clock, HUB, REGION, StateDir, type AwsRequest, type AwsResponse, type BusEvent, type Partition, type Target } from './kernel';
import { Organization, type OrganizationSpec } from './org/organization';
import { Partitions } from './org/partitions';
import { StsService } from './org/sts';
import { EventBuses, parseBusArn } from './org/event-buses';
import { OrganizationsService } from './org/organizations';
import { DEFAULT_PORT, forgetEndpoint, recordEndpoint } from './client';
import { DEFAULT_RUNTIME, LambdaRunner, nodeForRuntime } from './services/lambda';
import { LambdaApi } from './services/lambda-api';
import { FileOutbox } from './outbox';
import { Egress, EGRESS_WIRE, NETWORK_CALLS_PATH } from './network/egress';
import { Internet } from './network/internet';
import { NetworkModel } from './network/model';
import { Scheduler } from './services/scheduler';
import { IamEnforcer } from './iam/enforcer';
import { accountOfArn, IamModel } from './iam/model';
import { CfnSchemas } from './rules/cfn-schemas';
import { checkAssembly, DeployRefusedError } from './rules/deploy';
import { Gate } from './rules/gate';
import { DYNAMODB_ITEM_BYTES, DYNAMODB_PAGE_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES, requestQuota, STATES_HISTORY_EVENTS, STATES_PAYLOAD_BYTES } from './rules/quotas';
import { RateLimits } from './rules/rates';
import { resolveRules, SES_SANDBOX_RATE, type Rules } from './rules/settings';
import { createServer, listen, ownHosts } from './server';
import { CloudTrailService } from './services/cloudtrail';
import { DynamoDbService } from './services/dynamodb/service';
import { S3Service } from './services/s3';
import { identityForAccessKey, inAccount, loadFleetSeed, roleSessionIdentity, type Caller, type FleetSeed, type UserIdentity } from './services/fleet';
import { AutoScalingService } from './services/autoscaling';
import { Ec2Service } from './services/ec2';
import { RdsService } from './services/rds';
import { EcsService } from './services/ecs';
import { EventsService, type OtherBuses, type RuleTarget } from './services/events';
import { SesAccount, SesV2Service } from './services/sesv2';
import { SecretsManagerService, generateSecretString } from './services/secretsmanager';
import { SnsService } from './services/sns';
import { ChatError, ChatServer, chatCallbackUrls, chatSecretArns, type ChatSetup, type Delivery } from './services/chat/server';
import { SqsService } from './services/sqs';
import { defaultResourcePolicy, lambdaAssetDir, loadAssembly, ResolvedStack, stateMachineDefinition, type ResolvedResource } from './template';

export interface RuntimeOptions {
  /** @default 'cdk.out' */
  readonly cdkOut?: string;
  /** Where state persists. @default '.opsflow' */
  readonly stateDir?: string;
  /** 0 picks a free port. @default OPSFLOW_PORT or 4566 */
  readonly port?: number;
  /** The address to listen on; anything but loopback exposes the runtime to the network. @default OPSFLOW_HOST or 127.0.0.1 */
  readonly host?: string;
  /** Virtual time runs this many times faster. @default OPSFLOW_TIME_SCALE or 1 */
  readonly timeScale?: number;
  /** With a time scale: where virtual time starts (epoch ms) when the state holds no clock yet. @default now */
  readonly virtualStart?: number;
  /** Seed the fleet the app's template names (`Metadata.OpsflowLocal.fleet`) when the state has none. @default true */
  readonly seedFleet?: boolean;
  /** Progress lines while deploying. @default no output */
  readonly log?: (line: string) => void;
  /** AWS's rules, all on unless relaxed here or by OPSFLOW_IAM/QUOTAS/DEPLOY_CHECKS/RATES=off. */
  readonly rules?: Partial<Rules>;
  /** The credentials AWS clients may sign with; the endpoint verifies every signature with their secrets. @default OPSFLOW_CREDENTIALS or test/test */
  readonly credentials?: readonly Credentials[];
  /**
   * Install the local chat app: write the chat server's secrets into the deployment's chat secret(s) (stack outputs
   * ending in `ChatSecretArn`) after the deploy, as an operator would after installing the Slack app. @default true
   */
  readonly installChat?: boolean;
}

/** Types the runtime accepts without running anything: permissions, logs and encryption are not enforced locally. */
const NO_LOCAL_EFFECT = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Lambda::Permission',
  'AWS::Logs::LogGroup',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::SNS::TopicPolicy',
  'AWS::CDK::Metadata',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Route',
]);

/** Types the network model reads (local/network/model.ts): they decide where the functions' calls can go. */
const NETWORK_TYPES = [
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::EC2::RouteTable',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::Route',
  'AWS::EC2::InternetGateway',
  'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::NatGateway',
  'AWS::EC2::EIP',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::EC2::VPCEndpoint',
];

/**
 * What an app's template tells the local runtime (`Metadata.OpsflowLocal`, README "Local runtime metadata"); what
 * the console and the CLI show (workflows, examples, tag columns) is read by local/console/metadata.ts.
 */
interface AppMetadata {
  /** The EC2 fleet to simulate: a JSON file (local/services/fleet.ts `FleetSeed`), relative to the app's directory. */
  fleet?: string;
  /** SES identities (domains, addresses) verified in the simulated account before the app is deployed. */
  sesIdentities?: string[];
  /** The local chat workspace: Mattermost hosts, channels, people (local/services/chat/server.ts `ChatSetup`). */
  chat?: ChatSetup;
  /** A simulated AWS Organization: member accounts, regions, a fleet per account and region (local/org/organization.ts). */
  organization?: OrganizationSpec;
  /** A member stack: deployed into every member account of the simulated organization, not into the hub (README "A simulated organization"). */
  member?: boolean;
  /** A member stack's parameters that take the hub's account id and region. */
  hubParameters?: { account: string; region: string };
}

export class Runtime {
  readonly clock: Clock;
  readonly state: StateDir;
  readonly rules: Rules;
  /** AWS's rules in front of every service and on every call the runtime makes for the app. */
  readonly gate: Gate;
  /** State machine ARN → its role ARN, for the credentials of its executions. */
  private readonly machineRoles = new Map<string, string>();
  readonly faults: Faults = defaultFaults();
  /** Whose signatures the endpoint accepts: the user's credentials, the runtime's own, the app's role sessions. */
  readonly keys: Keyring;
  readonly outbox: FileOutbox;
  readonly sfn: StepFunctionsService;
  readonly ec2: Ec2Service;
  /** The simulated organization, when the app declares one (`Metadata.OpsflowLocal.organization`). */
  org?: Organization;
  /** State per account and region: each request goes to the services of its partition (local/org/partitions.ts). */
  readonly partitions: Partitions;
  /** EC2 in the organization's other partitions (every account × region but the hub's). */
  readonly memberEc2 = new Map<string, Ec2Service>();
  /** The member stacks' event rules, where they run. */
  readonly memberRules: Array<Partition & { name: string }> = [];
  /** EventBridge in the organization's other partitions, by `<account>/<region>`. */
  private readonly memberEvents = new Map<string, EventsService>();
  /** STS: also who an access key is, for the policies of other accounts' event buses. */
  private readonly sts: StsService;
  /** The event buses' policies, for events crossing accounts (local/org/event-buses.ts). */
  private readonly buses: EventBuses;
  /** RDS, Auto Scaling (over that partition's EC2) and ECS in the organization's other partitions, by `<account>/<region>`. */
  readonly memberKinds = new Map<string, { rds: RdsService; autoscaling: AutoScalingService; ecs: EcsService }>();
  readonly rds: RdsService;
  /** Auto Scaling groups whose instances live in the EC2 fleet. */
  readonly autoscaling: AutoScalingService;
  /** ECS clusters and services (task counts on the virtual clock). */
  readonly ecs: EcsService;
  readonly events: EventsService;
  readonly scheduler: Scheduler;
  readonly sns: SnsService;
  readonly dynamodb: DynamoDbService;
  /** SQS queues the app creates at run time (CreateQueue). */
  readonly sqs: SqsService;
  /** Secrets Manager: the app's secrets (the chat secrets), durable. */
  readonly secrets: SecretsManagerService;
  /** The account's SES: verified identities and sandbox status. */
  readonly ses: SesAccount;
  /** S3 for the app and for Distributed Map's ItemReader/ResultWriter. */
  readonly s3: S3Service;
  readonly lambdas: LambdaRunner;
  /** The Lambda API: functions the app creates at run time (CreateFunction) and Invoke. */
  readonly lambdaApi: LambdaApi;
  readonly http: HttpApiRouter;
  /** The internet the functions see: stand-ins for the hosts they call (chat servers); add yours with `internet.add`. */
  readonly internet = new Internet();
  /** The deployed app's VPCs, subnets, routes, NAT gateways and endpoints (local/network/model.ts). */
  network?: NetworkModel;
  /** The functions' way out: outbound calls through the network model, recorded. */
  readonly egress: Egress;
  /** Slack, Mattermost and Teams, for the app's chat calls and the people who click (local/services/chat/). */
  readonly chat: ChatServer;
  /** Where chat clicks go (the Slack app's Request URL, the Teams outgoing webhook's callback URL): the stack outputs ending in `ChatCallbackUrl`, set at deploy. */
  chatRequestUrls: string[] = [];
  /** The browser console at `/` and the `/_opsflow/` API the CLI uses too. */
  readonly console: ConsoleServer;
  /** Deployed ASL definitions by state machine ARN. */
  private readonly definitions = new Map<string, object>();
  /** What the app's tables say about their records (`Metadata.OpsflowLocal.records`), for the console. */
  private readonly recordPanels: RecordPanel[] = [];
  readonly deployed: Deployed = {
    stateMachines: [],
    workflows: [],
    interestingTags: [],
    activities: [],
    functions: [],
    tables: [],
    topics: [],
    secrets: [],
    rules: [],
    schedules: [],
    routes: [],
    notRun: {},
    noLocalEffect: {},
  };
  endpoint = '';
  /** SigV4 signing names of the services the endpoint answers; SDK integrations reach these. */
  private served: readonly string[] = [];
  /** Host header values this runtime answers (its own address); set once it listens. */
  private allowedHosts: string[] = [];
  private server?: Server;
  private stopping = false;
  /** Set once the app is deployed: `/_opsflow/health` answers 'ready' only then. */
  private deployDone = false;
  private readonly log: (line: string) => void;
  private readonly seedFleet: boolean;

  private constructor(options: RuntimeOptions) {
    this.log = options.log ?? (() => {});
    this.rules = resolveRules(options.rules);
    this.gate = new Gate(this.rules);
    if (this.rules.quotas) this.gate.use(requestQuota);
    // A malformed OPSFLOW_CREDENTIALS fails here, before the state directory is locked.
    const users = options.credentials ?? configuredCredentials();
    // A member account's administrator signs with the account id as access key id (LocalStack's convention,
    // https://docs.localstack.cloud/references/credentials/: "a 12-digit number which will be taken ... as the account ID"),
    // and the first configured secret, so no page can guess a secret the user's own key does not already give away.
    const accountKey = (id: string) => (id !== ACCOUNT && this.org?.account(id) ? { accessKeyId: id, secretAccessKey: users[0].secretAccessKey } : undefined);
    // STS's sessions expire (on the virtual clock); the runtime's own role sessions do not.
    const session = (id: string) => {
      const s = this.gate.iam?.model.session(id);
      return s && (s.expiresMs === undefined || s.expiresMs > this.clock.nowMs()) ? s : undefined;
    };
    this.keys = new Keyring(users, (id) => session(id)?.credentials ?? accountKey(id));
    this.partitions = new Partitions((id) => {
      const s = session(id);
      if (s) return accountOfArn(s.role.arn);
      return id !== ACCOUNT && this.org?.account(id) ? id : ACCOUNT;
    });
    this.state = new StateDir(resolve(options.stateDir ?? '.opsflow'));
    this.state.lock();
    this.state.writeFault = () => (this.faults.diskFull ? 'ENOSPC' : undefined);
    const scale = options.timeScale ?? Number(process.env.OPSFLOW_TIME_SCALE ?? 1);
    // With a time scale the virtual clock continues from where the last run left it, so state stays coherent.
    const saved = this.state.store<{ virtualNow: number; scale: number }>('runtime').get('clock');
    this.clock = new Clock({ scale, start: scale === 1 ? undefined : (saved?.virtualNow ?? options.virtualStart) });
    if (this.rules.rates) this.gate.use(new RateLimits(this.clock, this.rules).check);
    const endpoint = () => this.endpoint;
    const invoke = (t: Target) => this.invokeTarget(t);
    this.outbox = new FileOutbox(this.state, this.clock);
    this.sts = new StsService({ clock: this.clock, model: () => this.gate.iam?.model, org: () => this.org });
    this.buses = new EventBuses({
      org: () => this.org,
      policy: (arn) => this.gate.iam?.model.resourcePolicy(arn),
      enforced: () => this.rules.iam && this.gate.iam !== undefined,
      now: () => this.clock.now(),
    });
    this.events = new EventsService({ clock: this.clock, invoke, otherBuses: this.otherBuses() });
    this.scheduler = new Scheduler({ clock: this.clock, state: this.state, invoke });
    this.sns = new SnsService({ clock: this.clock, outbox: this.outbox, invoke, state: this.state });
    this.dynamodb = new DynamoDbService({
      state: this.state,
      clock: this.clock,
      pageBytes: this.rules.quotas ? DYNAMODB_PAGE_BYTES : undefined,
      itemBytes: this.rules.quotas ? DYNAMODB_ITEM_BYTES : undefined,
    });
    this.sqs = new SqsService({ state: this.state, clock: this.clock, endpoint });
    this.secrets = new SecretsManagerService({ state: this.state, clock: this.clock });
    this.ses = new SesAccount(this.state, this.clock, () => this.rules.sesSandbox);
    this.seedFleet = options.seedFleet ?? true;
    this.ec2 = new Ec2Service({ clock: this.clock, state: this.state, faults: this.faults, bus: this.events });
    this.rds = new RdsService({ clock: this.clock, state: this.state, bus: this.events });
    this.autoscaling = new AutoScalingService({ clock: this.clock, state: this.state, fleet: this.ec2.fleet, bus: this.events });
    this.ecs = new EcsService({ clock: this.clock, state: this.state });
    mkdirSync(this.state.path('logs'), { recursive: true, mode: 0o700 });
    this.lambdas = new LambdaRunner({
      clock: this.clock,
      endpoint,
      crashes: () => this.faults.crashLambdas,
      logDir: this.state.path('logs'),
      limits: {
        payloadBytes: this.rules.quotas ? LAMBDA_SYNC_PAYLOAD_BYTES : undefined,
        concurrency: this.rules.rates ? this.rules.lambdaConcurrency : undefined,
      },
      credentials: this.keys.lambda,
    });
    this.lambdaApi = new LambdaApi({
      runner: this.lambdas,
      state: this.state,
      clock: this.clock,
      // Lambda assumes the execution role: it must be a role the app defines, whose trust policy allows Lambda.
      canAssume: (roleArn, functionArn) => {
        const iam = this.rules.iam ? this.gate.iam : undefined;
        if (!iam) return undefined;
        if (!iam.model.role(roleArn)) return `${roleArn} is not a role of the deployed app`;
        return iam.assumeRole({ service: 'lambda.amazonaws.com', sourceArn: functionArn }, roleArn)?.message;
      },
      credentials: (roleArn, name) => (this.gate.iam ? this.gate.iam.model.credentialsFor(roleArn, name) : undefined),
    });
    this.s3 = new S3Service({ state: this.state, clock: this.clock });
    this.egress = new Egress({ clock: this.clock, internet: this.internet, network: () => this.network, caller: (call) => this.lambdas.caller(call) });
    this.sfn = new StepFunctionsService({
      clock: this.clock,
      state: this.state,
      bus: this.events,
      invokeLambda: (fn, payload) => this.lambdas.invoke(fn, payload),
      endpoint,
      served: () => this.served,
      s3: this.s3,
      iam: this.taskIam(),
      crashActivityWorker: () => this.faults.crashActivityWorkers > 0 && this.faults.crashActivityWorkers-- > 0,
      limits: this.rules.quotas ? { payloadBytes: STATES_PAYLOAD_BYTES, historyEvents: STATES_HISTORY_EVENTS } : undefined,
      trail: { identity: (key, invokedBy) => this.identityOf(key, invokedBy), record: (r) => this.ec2.fleet.recordCall(r) },
    });
    this.http = new HttpApiRouter({
      clock: this.clock,
      invoke: async (fn, event) => {
        this.gate.authorizeApiGateway(fn, event as never);
        return this.lambdas.invoke(fn, event);
      },
    });
    this.chat = new ChatServer({ state: this.state, clock: this.clock }, { callbackUrls: () => this.chatRequestUrls, deliver: (d) => this.deliverToApp(d) });
    this.internet.add(this.chat);
    this.console = new ConsoleServer({
      chat: this.chat,
      clock: this.clock,
      endpoint,
      sfn: this.sfn,
      outbox: this.outbox,
      fleet: this.ec2.fleet,
      fleets: () => this.org?.partitions().flatMap((p) => (this.ec2In(p) ? [{ ...p, fleet: this.ec2In(p)!.fleet }] : [])),
      scheduler: this.scheduler,
      faults: this.faults,
      deployed: this.deployed,
      dynamodb: this.dynamodb,
      definitions: this.definitions,
      recordPanels: this.recordPanels,
      storage: () => ({ ...this.state.health(), stateDir: this.state.root }),
      ready: () => this.deployDone,
    });
  }

  /** Starts the endpoint, deploys cdk.out and starts the schedule clock. */
  static async start(options: RuntimeOptions = {}): Promise<Runtime> {
    const cdkOut = resolve(options.cdkOut ?? 'cdk.out');
    if (!existsSync(cdkOut)) throw new Error(`${cdkOut} does not exist: run \`npx cdk synth\` first (npm start does it for you)`);
    const rt = new Runtime(options);
    // Deploying is real work: virtual time runs at real speed until the runtime is ready (see Clock.busy).
    const deploying = rt.clock.busy();
    const ses = new SesV2Service({ outbox: rt.outbox, account: rt.ses, clock: rt.clock, faults: rt.faults, sendRate: rt.rules.sesPerSecond });
    const services = [
      rt.sfn,
      rt.ec2,
      rt.rds,
      rt.events,
      rt.sns,
      rt.dynamodb,
      rt.sqs,
      rt.lambdaApi,
      rt.s3,
      rt.secrets,
      rt.autoscaling,
      rt.ecs,
      ses,
      new CloudTrailService({ fleet: rt.ec2.fleet }),
    ];
    rt.served = services.flatMap((s) => s.services);
    // An answer means durable: every change a request made is on disk before its response leaves.
    rt.server = createServer(
      // The network first: a call that cannot leave the function's VPC never reaches IAM or the service.
      [
        ...services.map((s) => rt.egress.wrap(rt.partitions.route(rt.gate.wrap(s)))),
        // Global services: one for every account and region.
        ...[rt.sts, new OrganizationsService({ org: () => rt.org, accountOf: (key) => rt.partitions.accountOf(key) })].map((s) =>
          rt.egress.wrap(rt.partitions.global(rt.gate.wrap(s))),
        ),
      ],
      (req) => rt.plain(req),
      {
        allowedHosts: () => rt.allowedHosts,
        clocks: () => [
          { now: Date.now(), scale: 1 },
          { now: rt.clock.nowMs(), scale: rt.clock.scale },
        ],
        credentials: (id) => rt.keys.lookup(id),
        regions: () => rt.org?.regions ?? [REGION],
      },
      { mark: () => rt.state.mark(), commit: (mark) => rt.state.commit(mark) },
    );
    rt.sfn.watchDisconnects(rt.server);
    const host = options.host ?? process.env.OPSFLOW_HOST ?? '127.0.0.1';
    let port: number;
    try {
      port = await listen(rt.server, options.port ?? Number(process.env.OPSFLOW_PORT ?? DEFAULT_PORT), host);
    } catch (err) {
      deploying();
      await rt.stop();
      throw listenError(err as NodeJS.ErrnoException, host, options.port ?? Number(process.env.OPSFLOW_PORT ?? DEFAULT_PORT));
    }
    rt.endpoint = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
    rt.allowedHosts = ownHosts(host, port);
    if (host !== '127.0.0.1') rt.log(`listening on ${host}, not only on 127.0.0.1: other machines can reach this runtime`);
    rt.log(`endpoint ${rt.endpoint}`);
    try {
      await rt.sfn.recover();
      const assembly = loadAssembly(cdkOut);
      const apps = assembly.stacks.map((s) => s.template.Metadata?.OpsflowLocal as AppMetadata | undefined);
      // A bad fleet file is refused (naming the file and the field) before the deploy checks, which take seconds.
      const fleets = rt.seedFleet ? apps.flatMap((app) => (app?.fleet ? [loadFleetSeed(resolve(cdkOut, '..', app.fleet))] : [])) : [];
      const orgs = apps.flatMap((app) => (app?.organization ? [app.organization] : []));
      if (orgs.length > 1) throw new Error('template metadata OpsflowLocal.organization: more than one stack declares an organization');
      if (orgs[0]) rt.addOrganization(new Organization(orgs[0]), (file) => loadFleetSeed(resolve(cdkOut, '..', file)));
      const all = assembly.stacks.map((s) => ({
        assemblyDir: s.assemblyDir,
        member: (s.template.Metadata?.OpsflowLocal as AppMetadata | undefined)?.member === true,
        resolved: new ResolvedStack(s.template, {
          stackName: s.stackName,
          parameters: hubParameters(s.template),
          policy: defaultResourcePolicy({ stackName: s.stackName, endpoint: rt.endpoint }),
        }),
      }));
      const stacks = all.filter((s) => !s.member);
      const memberStacks = rt.memberStacks(assembly.stacks.filter((_, i) => all[i].member));
      // What CloudFormation would refuse fails `up` before anything runs, listing every problem.
      if (rt.rules.deployChecks) {
        const problems = checkAssembly(
          all.map((s) => s.resolved),
          new CfnSchemas({ log: (line) => rt.log(line) }),
        );
        if (problems.length) throw new DeployRefusedError(problems);
      }
      rt.enforceIam([...stacks.map((s) => s.resolved), ...memberStacks.map((s) => s.resolved)]);
      rt.deployMemberRules(memberStacks);
      rt.network = NetworkModel.fromStacks(stacks.map((s) => s.resolved));
      rt.logNodeRuntimes(stacks.map((s) => s.resolved));
      for (const stack of stacks) rt.deploy(stack.resolved, stack.assemblyDir);
      const outputs = Object.assign({}, ...stacks.map((s) => s.resolved.outputs())) as Record<string, unknown>;
      rt.setUpChat(
        apps.map((app) => app?.chat ?? {}),
        outputs,
        options.installChat ?? true,
      );
      // Functions created at run time before a restart, now that IAM knows their roles.
      rt.lambdaApi.restore();
      for (const seed of fleets) {
        rt.ec2.fleet.seed(seed);
        if (seed.rds) rt.rds.world.seed(seed.rds);
        rt.autoscaling.seed(seed.autoScalingGroups ?? []);
        rt.ecs.seed(seed.ecsClusters ?? []);
      }
      for (const identity of apps.flatMap((app) => app?.sesIdentities ?? [])) rt.ses.verify(identity);
      const verified =
        rt.ses
          .list()
          .map((i) => i.name)
          .join(', ') || 'none';
      rt.log(
        rt.rules.sesSandbox
          ? `SES sandbox (OPSFLOW_SES_SANDBOX=off for production access): mail only to verified identities: ${verified}` +
              (rt.rules.sesPerSecond > SES_SANDBOX_RATE
                ? `; OPSFLOW_SES_RATE=${rt.rules.sesPerSecond} is above the sandbox's ${SES_SANDBOX_RATE} per second`
                : '')
          : `SES production access (OPSFLOW_SES_SANDBOX=off): mail to any recipient, from verified identities: ${verified}`,
      );
      rt.scheduler.start();
      await rt.state.commit();
      rt.deployDone = true;
      // Clients on this machine (the CLI, control-link) find this runtime's port here without being told.
      recordEndpoint(rt.state.root, rt.endpoint);
    } catch (err) {
      await rt.stop();
      throw err;
    } finally {
      deploying();
    }
    return rt;
  }

  /**
   * The organization's accounts in its regions: each partition but the hub's gets EC2, RDS, Auto Scaling and ECS (seeded
   * with its fleet file), CloudTrail and EventBridge of its own, behind the same rules as the hub's.
   */
  private addOrganization(org: Organization, loadSeed: (file: string) => FleetSeed): void {
    this.org = org;
    // Fleet files are read before anything is created: a bad one is refused naming the file.
    const seeds = new Map(org.accounts.flatMap((a) => Object.entries(a.fleets).map(([region, file]) => [`${a.id}/${region}`, loadSeed(file)] as const)));
    for (const p of org.partitions()) {
      if (p.account === HUB.account && p.region === HUB.region) continue;
      const events = new EventsService({ clock: this.clock, invoke: (t) => this.invokeTarget(t), partition: p, otherBuses: this.otherBuses() });
      this.memberEvents.set(`${p.account}/${p.region}`, events);
      const ec2 = new Ec2Service({ clock: this.clock, state: this.state, faults: this.faults, bus: events, partition: p, identity: (k) => this.identityOf(k) });
      const seed = seeds.get(`${p.account}/${p.region}`);
      if (seed && this.seedFleet) ec2.fleet.seed(seed);
      this.memberEc2.set(`${p.account}/${p.region}`, ec2);
      const kinds = this.memberKindsIn(p, ec2, events, seed);
      this.partitions.add(
        p,
        [ec2, new CloudTrailService({ fleet: ec2.fleet }), events, kinds.rds, kinds.autoscaling, kinds.ecs].map((s) => this.gate.wrap(s)),
      );
    }
    this.deployed.organization = { accounts: org.accounts.map((a) => ({ id: a.id, name: a.name })), regions: [...org.regions] };
    const members = org.accounts.filter((a) => a.member).length;
    this.log(
      `organization ${org.id}: ${members} accounts (hub ${ACCOUNT}) and ${org.accounts.length - members} outside, in ${org.regions.join(', ')}; ` +
        `an account's administrator signs with its account id as access key id`,
    );
  }

  /**
   * A member partition's RDS, Auto Scaling groups (over its EC2 fleet) and ECS, each stored apart from the hub's and
   * seeded once from the partition's fleet file (`rds`, `autoScalingGroups`, `ecsClusters`), as the hub's are.
   */
  private memberKindsIn(p: Partition, ec2: Ec2Service, events: EventsService, seed: FleetSeed | undefined) {
    const kinds = {
      rds: new RdsService({ clock: this.clock, state: this.state, bus: events, partition: p }),
      autoscaling: new AutoScalingService({ clock: this.clock, state: this.state, fleet: ec2.fleet, bus: events }),
      ecs: new EcsService({ clock: this.clock, state: this.state, partition: p }),
    };
    if (seed && this.seedFleet) {
      if (seed.rds) kinds.rds.world.seed(seed.rds);
      kinds.autoscaling.seed(seed.autoScalingGroups ?? []);
      kinds.ecs.seed(seed.ecsClusters ?? []);
    }
    this.memberKinds.set(`${p.account}/${p.region}`, kinds);
    return kinds;
  }

  /**
   * Member stacks (`Metadata.OpsflowLocal.member`) as deployed into each member account of the organization, in each
   * of its regions, as a StackSet's stack instances are (not into the hub, the management account, which a StackSet
   * with service-managed permissions skips too:
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html).
   * Their IAM takes effect (the roles, their trust and identity policies, in the account's ARNs) and their event
   * rules run in their account and region (`deployMemberRules`). A role without a name gets one per stack instance,
   * as CloudFormation generates it (`<stack>-<logical id>-<random>`): here the region stands for the random part.
   */
  private memberStacks(templates: Array<{ stackName: string; template: ResolvedStack['template'] }>): Array<{ partition: Partition; resolved: ResolvedStack }> {
    if (!templates.length) return [];
    const members = (this.org?.accounts ?? []).filter((a) => a.member && a.id !== ACCOUNT);
    if (!members.length)
      this.log(`member stacks ${templates.map((t) => t.stackName).join(', ')} not deployed: the app declares no organization with member accounts`);
    const regions = this.org?.regions ?? [REGION];
    const resolved = members.flatMap((a) =>
      regions.flatMap((region) =>
        templates.map((t) => {
          const policy = defaultResourcePolicy({ stackName: t.stackName, endpoint: this.endpoint, account: a.id });
          const physicalName: typeof policy.physicalName = (id, r) => {
            const name = policy.physicalName(id, r);
            return region === REGION || r.type !== 'AWS::IAM::Role' || r.properties.RoleName ? name : `${name.slice(0, 63 - region.length)}-${region}`;
          };
          const partition = { account: a.id, region };
          return {
            partition,
            resolved: new ResolvedStack(t.template, {
              stackName: t.stackName,
              parameters: hubParameters(t.template),
              policy: { ...policy, physicalName },
              partition,
            }),
          };
        }),
      ),
    );
    if (resolved.length) {
      const run = new Set(['AWS::Events::Rule', 'AWS::CDK::Metadata']);
      const skipped = new Set(
        templates
          .flatMap((t) => Object.values(t.template.Resources ?? {}).map((r) => r.Type))
          .filter((type) => !type.startsWith('AWS::IAM::') && !run.has(type)),
      );
      this.log(
        `member stacks ${templates.map((t) => t.stackName).join(', ')} deployed into ${members.length} member accounts × ${regions.length} regions: ` +
          `their IAM roles and policies, and their event rules` +
          (skipped.size ? `; not run in member accounts: ${[...skipped].sort().join(', ')}` : ''),
      );
    }
    return resolved;
  }

  /** The event rules of member stacks, on the default bus of their account and region. */
  private deployMemberRules(stacks: Array<{ partition: Partition; resolved: ResolvedStack }>): void {
    for (const { partition, resolved } of stacks) {
      const events = this.eventsIn(partition);
      if (!events) continue;
      for (const r of resolved.resources('AWS::Events::Rule')) {
        const p = r.properties;
        if (p.ScheduleExpression || !p.EventPattern) continue;
        events.addRule({
          name: r.physicalName,
          eventBusName: busNameOf(p.EventBusName),
          eventPattern: p.EventPattern as object,
          state: p.State as never,
          targets: ruleTargets(p),
        });
        this.memberRules.push({ ...partition, name: r.physicalName });
      }
    }
  }

  /** EventBridge of one account in one region (the hub's, or a member partition's). */
  eventsIn(p: Partition): EventsService | undefined {
    return p.account === HUB.account && p.region === HUB.region ? this.events : this.memberEvents.get(`${p.account}/${p.region}`);
  }

  /** What an EventBridge needs to send to another account's or region's bus. */
  private otherBuses(): OtherBuses {
    return { at: (p) => this.eventsIn(p), refusal: (key, arn) => this.buses.refusal(this.sts.caller(key), arn) };
  }

  /**
   * A rule's target that is another event bus: the event goes there as it is, if that bus's policy admits the rule's
   * role (or, without a role, its account). An event received from another account goes no further (`notSentOnward`).
   */
  private async forwardEvent(target: Target): Promise<void> {
    const bus = parseBusArn(target.arn);
    const there = bus && this.eventsIn(bus);
    if (!bus || !there) throw new AwsError('ResourceNotFoundException', `Event bus ${target.arn} is not simulated by the local runtime`);
    const from = target.source ? /^arn:aws[a-z-]*:events:[a-z0-9-]+:(\d{12}):/.exec(target.source.arn)?.[1] : undefined;
    const event = JSON.parse(target.input) as BusEvent;
    const key = target.roleArn ? this.gate.iam?.model.credentialsFor(target.roleArn, 'events').accessKeyId : from;
    const refused = key ? this.buses.refusal(this.sts.caller(key), target.arn, target.source?.arn) : undefined;
    if (refused) throw new AwsError('AccessDeniedException', refused);
    await there.receive(bus.name, event);
  }

  /** EC2 of one account in one region (the hub's, or a member partition's). */
  ec2In(p: Partition): Ec2Service | undefined {
    return p.account === HUB.account && p.region === HUB.region ? this.ec2 : this.memberEc2.get(`${p.account}/${p.region}`);
  }

  /** RDS, Auto Scaling and ECS of one account in one region (the hub's, or a member partition's). */
  kindsIn(p: Partition): { rds: RdsService; autoscaling: AutoScalingService; ecs: EcsService } | undefined {
    return p.account === HUB.account && p.region === HUB.region ? this : this.memberKinds.get(`${p.account}/${p.region}`);
  }

  /**
   * The chat workspace the app describes, where clicks go, and "installing the app": the chat server's secrets are
   * merged into each deployment chat secret (a new version only when a field differs, so a restart changes nothing).
   */
  private setUpChat(setups: ChatSetup[], outputs: Record<string, unknown>, install: boolean): void {
    this.chat.configure({
      mattermostHosts: setups.flatMap((s) => s.mattermostHosts ?? []),
      channels: setups.flatMap((s) => s.channels ?? []),
      people: setups.flatMap((s) => s.people ?? []),
    });
    this.chatRequestUrls = chatCallbackUrls(outputs);
    if (!install) return;
    const fields = this.chat.secretFields();
    for (const arn of chatSecretArns(outputs)) {
      const current = this.secrets.currentString(arn);
      let value: Record<string, unknown> = {};
      try {
        const parsed = JSON.parse(current ?? '{}');
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) value = parsed;
      } catch {
        // Not JSON: the install replaces it, as an operator pasting the app's secrets would.
      }
      if (Object.entries(fields).every(([k, v]) => JSON.stringify(value[k]) === JSON.stringify(v))) continue;
      this.secrets.putString(arn, JSON.stringify({ ...value, ...fields }));
      this.log(`chat: the local Slack, Mattermost and Teams app is installed into ${arn}`);
    }
  }

  /**
   * A chat click's callback, sent to the app as the platform sends it: over HTTP to this runtime's endpoint (the app's
   * HTTP API). The local chat server reaches nothing else: any other URL is refused with the reason.
   */
  private async deliverToApp(d: Delivery): Promise<{ status: number; body: string }> {
    let url: URL;
    try {
      url = new URL(d.url);
    } catch {
      throw new ChatError('BadCallbackUrl', `the callback URL ${JSON.stringify(d.url)} is not a URL`);
    }
    if (url.origin !== new URL(this.endpoint).origin)
      throw new ChatError(
        'UnreachableCallbackUrl',
        `the local chat server sends callbacks to this runtime's endpoint (${this.endpoint}) only, not to ${url.origin}`,
      );
    const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
    return { status: res.status, body: await res.text() };
  }

  /** Says which Node.js runs the functions of each Lambda runtime the templates name, and whether it is that major. */
  private logNodeRuntimes(stacks: ResolvedStack[]): void {
    const runtimes = new Set(
      stacks.flatMap((s) =>
        s
          .resources()
          .filter((r) => r.type === 'AWS::Lambda::Function')
          .map((r) => String(r.properties.Runtime ?? DEFAULT_RUNTIME)),
      ),
    );
    for (const runtime of runtimes) {
      const node = nodeForRuntime(runtime);
      this.log(
        node.matches
          ? `Lambda ${runtime} functions run on Node.js ${node.version} (${node.source === 'host' ? 'this Node.js' : `npm package ${node.source}`})`
          : `Lambda ${runtime} functions run on this Node.js ${node.version}, not the major ${runtime} names: no node-linux-${process.arch} package of that major is installed (npm ci installs it on Linux x64 and arm64)`,
      );
    }
  }

  /** The IAM of executions; one whose state machine has no role (or with IAM relaxed) signs with the runtime's own key. */
  private taskIam() {
    const iam = this.gate.taskIam((sm) => this.machineRoles.get(sm));
    return { ...iam, credentials: (executionArn: string) => iam.credentials(executionArn) ?? this.keys.runtime };
  }

  /** Reads the templates' IAM and says at startup what is enforced. */
  private enforceIam(stacks: ResolvedStack[]): void {
    const model = IamModel.fromStacks(stacks);
    const tagsByArn = model.resourceTags;
    this.gate.iam = new IamEnforcer(
      model,
      {
        instanceTags: (id, p) => (p ? this.ec2In(p) : this.ec2)?.fleet.get(id)?.tags as Array<{ Key: string; Value: string }> | undefined,
        resourceTags: (arn) => tagsByArn.get(arn),
        volumeKey: (id) => this.ec2.fleet.get(id)?.sim.volumeKmsKeyArn,
        volumeGrant: (id, allowed) => void (allowed ? this.ec2.fleet.grantDenied.delete(id) : this.ec2.fleet.grantDenied.add(id)),
        sesIdentity: (address) => this.ses.resolve(address).identity,
        sesSandbox: () => this.rules.sesSandbox,
        secretArn: (id) => this.secrets.arnOf(id),
        // Each in the account and region its ARN (or, for a group by name, the request) names.
        rdsTags: (arn) => this.kindsIn(partitionOfArn(arn))?.rds.world.tagsOf(arn),
        autoScalingGroup: (name, p) => this.kindsIn(p ?? HUB)?.autoscaling.groupInfo(name),
        ecsTags: (arn) => this.kindsIn(partitionOfArn(arn))?.ecs.tagsOf(arn),
        organizationParent: (id) => (this.org && id === this.org.rootId ? this.org.rootArn : this.org?.ous.find((ou) => ou.id === id)?.arn),
      },
      this.clock,
    );
    this.log(
      this.rules.iam
        ? `IAM enforced: ${model.roleCount} roles, ${model.statementCount} policy statements (OPSFLOW_IAM=off or --iam off relaxes it)`
        : 'IAM NOT enforced (OPSFLOW_IAM=off): every call is allowed, unlike on AWS',
    );
    const relaxed = (['quotas', 'deployChecks', 'rates'] as const).filter((k) => !this.rules[k]);
    if (relaxed.length) this.log(`relaxed, unlike on AWS: ${relaxed.join(', ')}`);
  }

  private deploy(stack: ResolvedStack, assemblyDir: string): void {
    this.log(`deploying stack ${stack.stackName}`);
    const all = stack.resources();
    const byType = (type: string) => all.filter((r) => r.type === type);
    const count = (bucket: Record<string, number>, type: string) => (bucket[type] = (bucket[type] ?? 0) + 1);
    const handled = new Set<string>();
    const use = (type: string) => (handled.add(type), byType(type));

    for (const r of use('AWS::Lambda::Function')) {
      const p = r.properties;
      this.lambdas.register({
        arn: stack.getAtt(r.logicalId, 'Arn') as string,
        name: r.physicalName,
        logicalId: r.logicalId,
        assetDir: lambdaAssetDir(assemblyDir, r),
        handler: (p.Handler as string) ?? 'index.handler',
        environment: (p.Environment as { Variables?: Record<string, string> })?.Variables ?? {},
        timeoutSeconds: (p.Timeout as number) ?? 3,
        memoryMb: p.MemorySize as number | undefined,
        runtime: p.Runtime as string | undefined,
        // The execution role's credentials: Lambda names the session after the function.
        credentials: p.Role && this.gate.iam ? this.gate.iam.model.credentialsFor(String(p.Role), r.physicalName) : undefined,
      });
      this.deployed.functions.push(r.physicalName);
    }
    for (const r of use('AWS::DynamoDB::Table')) {
      const p = r.properties;
      this.dynamodb.addTable({
        name: r.physicalName,
        keySchema: p.KeySchema as never,
        attributeDefinitions: p.AttributeDefinitions as never,
        globalSecondaryIndexes: p.GlobalSecondaryIndexes as never,
        timeToLiveAttribute: (p.TimeToLiveSpecification as { AttributeName?: string } | undefined)?.AttributeName,
      });
      this.deployed.tables.push(r.physicalName);
      const records = (r.metadata.OpsflowLocal as { records?: unknown } | undefined)?.records;
      if (records !== undefined) this.recordPanels.push(parseRecordPanel(records, r.physicalName, `${stack.stackName} table ${r.logicalId}`));
    }
    for (const r of use('AWS::S3::Bucket')) this.s3.ensureBucket(r.physicalName);
    for (const r of use('AWS::SNS::Topic')) {
      const fifo = String(r.properties.FifoTopic) === 'true';
      this.sns.addTopic({
        arn: stack.ref(r.logicalId) as string,
        name: r.physicalName,
        ...(fifo ? { fifo, contentBasedDeduplication: String(r.properties.ContentBasedDeduplication) === 'true' } : {}),
      });
      this.deployed.topics.push(r.physicalName);
    }
    for (const r of use('AWS::SNS::Subscription')) {
      const p = r.properties;
      this.sns.addSubscription({ topicArn: p.TopicArn as string, protocol: p.Protocol as string, endpoint: p.Endpoint as string });
    }
    for (const r of use('AWS::SecretsManager::Secret')) {
      const p = r.properties;
      const generate = p.GenerateSecretString as Parameters<typeof generateSecretString>[0] | undefined;
      const arn = stack.ref(r.logicalId) as string;
      this.secrets.deploy({
        arn,
        name: r.physicalName,
        description: p.Description as string | undefined,
        kmsKeyId: p.KmsKeyId as string | undefined,
        value: typeof p.SecretString === 'string' ? p.SecretString : generate ? generateSecretString(generate) : undefined,
      });
      this.deployed.secrets.push(arn);
    }
    for (const r of use('AWS::StepFunctions::Activity')) {
      this.sfn.deployActivity({ arn: stack.ref(r.logicalId) as string, name: r.physicalName });
      this.deployed.activities.push(r.physicalName);
    }
    // What the app says about its workflows and its fleet, for the console and the CLI (README "Local runtime metadata").
    const workflows = new Map(declaredWorkflows(stack.template, stack.stackName).map((w) => [w.logicalId, w]));
    for (const tag of interestingTags(stack.template, stack.stackName))
      if (!this.deployed.interestingTags.includes(tag)) this.deployed.interestingTags.push(tag);
    for (const r of use('AWS::StepFunctions::StateMachine')) {
      const arn = stack.ref(r.logicalId) as string;
      const definition = stateMachineDefinition(r);
      this.sfn.deployStateMachine({ arn, name: r.physicalName, definition, roleArn: String(r.properties.RoleArn ?? '') });
      if (r.properties.RoleArn) this.machineRoles.set(arn, String(r.properties.RoleArn));
      this.definitions.set(arn, definition);
      this.deployed.stateMachines.push({ name: r.physicalName, arn });
      const w = workflows.get(r.logicalId);
      if (w) this.deployed.workflows.push({ name: w.name, arn, tryLocally: w.tryLocally, examples: w.examples });
    }
    for (const r of use('AWS::Events::Rule')) this.deployRule(r);
    for (const r of use('AWS::Scheduler::Schedule')) {
      const p = r.properties;
      const target = p.Target as { Arn: string; Input?: string; RoleArn?: string };
      this.scheduler.add({
        name: r.physicalName,
        group: p.GroupName as string | undefined,
        expression: p.ScheduleExpression as string,
        timezone: p.ScheduleExpressionTimezone as string | undefined,
        target: { arn: target.Arn, input: target.Input ?? '{}', roleArn: target.RoleArn },
        state: p.State as 'ENABLED' | 'DISABLED' | undefined,
        startDate: p.StartDate as string | undefined,
        endDate: p.EndDate as string | undefined,
      });
      this.deployed.schedules.push(r.physicalName);
    }
    this.deployRoutes(stack, byType);
    // The network the functions' calls go through (local/network/model.ts).
    for (const t of NETWORK_TYPES) use(t);
    // Enforced by IAM (local/iam): roles, their policies and the resource policies the template sets.
    if (this.rules.iam)
      for (const t of [
        'AWS::IAM::Role',
        'AWS::IAM::Policy',
        'AWS::IAM::ManagedPolicy',
        'AWS::Lambda::Permission',
        'AWS::SNS::TopicPolicy',
        'AWS::KMS::Key',
        'AWS::KMS::Alias',
        'AWS::S3::BucketPolicy',
        'AWS::Events::EventBusPolicy',
      ])
        handled.add(t);

    for (const r of all) {
      if (handled.has(r.type) || r.type.startsWith('AWS::ApiGatewayV2::')) continue;
      count(NO_LOCAL_EFFECT.has(r.type) ? this.deployed.noLocalEffect : this.deployed.notRun, r.type);
    }
  }

  private deployRule(r: ResolvedResource): void {
    const p = r.properties;
    const targets = ruleTargets(p);
    if (p.ScheduleExpression) {
      // A scheduled rule behaves like a schedule with one target per rule target.
      for (const t of targets) {
        this.scheduler.add({
          name: `${r.physicalName}-${t.id}`,
          expression: p.ScheduleExpression as string,
          target: {
            arn: t.arn,
            input: t.input ?? '{}',
            roleArn: t.roleArn,
            source: { service: 'events.amazonaws.com', arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/${r.physicalName}` },
          },
          state: p.State as never,
        });
      }
    } else {
      this.events.addRule({ name: r.physicalName, eventPattern: p.EventPattern as object, state: p.State as never, targets });
    }
    this.deployed.rules.push(r.physicalName);
  }

  private deployRoutes(stack: ResolvedStack, byType: (type: string) => ResolvedResource[]): void {
    const integrations = new Map(byType('AWS::ApiGatewayV2::Integration').map((i) => [i.logicalId, i]));
    for (const stage of byType('AWS::ApiGatewayV2::Stage')) {
      const s = stage.properties.DefaultRouteSettings as { ThrottlingBurstLimit?: number; ThrottlingRateLimit?: number } | undefined;
      this.http.addStage({
        apiId: stage.properties.ApiId as string,
        name: stage.properties.StageName as string,
        throttle:
          s?.ThrottlingBurstLimit !== undefined
            ? { burstLimit: s.ThrottlingBurstLimit, rateLimit: s.ThrottlingRateLimit ?? s.ThrottlingBurstLimit }
            : undefined,
      });
    }
    for (const route of byType('AWS::ApiGatewayV2::Route')) {
      const target = String(route.properties.Target ?? '');
      const integrationId = (stack.template.Resources?.[route.logicalId]?.Properties?.Target as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.[
        'Fn::Join'
      ]?.[1]
        ?.map((part) => (part as { Ref?: string }).Ref)
        .find(Boolean);
      const integration = integrationId ? integrations.get(integrationId) : undefined;
      if (integration?.properties.IntegrationType !== 'AWS_PROXY') {
        throw new Error(`HTTP API route ${route.properties.RouteKey} (${target}): only Lambda proxy integrations run locally`);
      }
      this.http.addRoute({
        apiId: route.properties.ApiId as string,
        routeKey: route.properties.RouteKey as string,
        integrationArn: integration.properties.IntegrationUri as string,
        payloadFormatVersion: '2.0',
      });
      this.deployed.routes.push(route.properties.RouteKey as string);
    }
  }

  /** Where schedules, rules and subscriptions deliver: a state machine, a Lambda function or an SNS topic. */
  private async invokeTarget(target: Target): Promise<void> {
    if (target.arn.split(':')[2] === 'events') notSentOnward(target);
    this.gate.authorizeTarget(target);
    const service = target.arn.split(':')[2];
    if (service === 'states') {
      await this.sfn.startExecution(target.arn, target.input, undefined, this.targetCaller(target));
    } else if (service === 'lambda') {
      // Asynchronous invocation: the caller does not wait for, or see, the function's result.
      this.lambdas.invoke(target.arn, JSON.parse(target.input)).catch((err: Error) => {
        // Invocations cut off by stop() are expected; anything else is worth a line on the console.
        if (!this.stopping) console.error(`opsflow: ${target.arn} failed: ${err.name}: ${err.message}`);
      });
    } else if (service === 'sns') {
      await this.sns.publish(target.arn, target.input);
    } else if (service === 'events') {
      await this.forwardEvent(target);
    } else {
      throw new AwsError('InvalidTarget', `the local runtime cannot deliver to ${target.arn}`);
    }
  }

  /**
   * Who an access key is, as CloudTrail writes it: a role session the runtime handed out (a Lambda function, a state
   * machine, a target), or else a key of OPSFLOW_CREDENTIALS, which stands for the IAM user of that name.
   */
  private identityOf(accessKeyId: string, invokedBy?: string): UserIdentity {
    const session = this.gate.iam?.model.session(accessKeyId);
    if (session) return inAccount(roleSessionIdentity(session.role.arn, session.sessionName, accessKeyId, invokedBy), accountOfArn(session.role.arn));
    // A member account's administrator key: the account's root user, as CloudTrail names it.
    if (accessKeyId !== ACCOUNT && this.org?.account(accessKeyId))
      return { type: 'Root', principalId: accessKeyId, arn: `arn:aws:iam::${accessKeyId}:root`, accountId: accessKeyId, accessKeyId };
    // IAM off: the runtime's own key signs a service's call; CloudTrail still names the service.
    return { ...identityForAccessKey(accessKeyId), ...(invokedBy && { invokedBy }) };
  }

  /**
   * A schedule or rule starting an execution: the service calls with the target's role (the session the IAM gate
   * checks, named after the service), and CloudTrail names the service in `invokedBy`.
   */
  private targetCaller(target: Target): Caller | undefined {
    if (!target.roleArn || !target.source) return undefined;
    const session = target.source.service.split('.')[0];
    const key = this.gate.iam?.model.credentialsFor(target.roleArn, session).accessKeyId ?? '';
    return { identity: roleSessionIdentity(target.roleArn, session, key, target.source.service) };
  }

  /** Requests that are not signed AWS API calls: the console, `/_opsflow/*` and the app's HTTP API routes. */
  private async plain(req: AwsRequest): Promise<AwsResponse> {
    if (req.path === EGRESS_WIRE.path) return this.egress.handle(req);
    if (req.path === NETWORK_CALLS_PATH && req.method === 'GET')
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ calls: this.egress.list() }) };
    const answered = await this.console.handle(req);
    if (answered) return answered;
    return (
      (await this.http.handle(req)) ?? {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          message: `No route for ${req.method} ${req.path}. The local endpoint serves AWS API calls (signed), the app's HTTP API routes (${this.deployed.routes.join(', ') || 'none'}), the console at / and its API under /_opsflow/.`,
        }),
      }
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.endpoint) forgetEndpoint(this.state.root);
    this.scheduler.stop();
    this.sfn.close();
    this.ec2.close();
    for (const ec2 of this.memberEc2.values()) ec2.close();
    this.rds.close();
    for (const kinds of this.memberKinds.values()) kinds.rds.close();
    await this.lambdas.close();
    this.state.store('runtime').put('clock', { virtualNow: this.clock.nowMs(), scale: this.clock.scale });
    // Long-polling clients (GetActivityTask) would hold close() open for up to a minute.
    this.server?.closeAllConnections();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
    this.state.close();
  }
}

/**
 * A port that cannot be listened on, said plainly with the fix (never a raw `EADDRINUSE`). `opsflow up` checks the
 * port before synthesizing (local/cli.ts); this covers a port taken in the moment between, and callers of `start`.
 */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE')
    return new Error(`port ${port} on ${host} is in use by another program: stop it, or start on another port: npm start -- --port ${port + 1}`);
  if (err.code === 'EACCES')
    return new Error(
      `no permission to listen on port ${port} on ${host} (ports below 1024 need root): start on another port: npm start -- --port ${DEFAULT_PORT}`,
    );
  if (err.code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${host}: it is not an address of this machine (--host, OPSFLOW_HOST)`);
  return err;
}

/** The account and region an ARN names (`arn:aws:<service>:<region>:<account>:...`). */
function partitionOfArn(arn: string): Partition {
  const [, , , region = '', account = ''] = arn.split(':');
  return { account, region };
}

/** The hub's account and region for the parameters a member stack names (`Metadata.OpsflowLocal.hubParameters`). */
function hubParameters(template: ResolvedStack['template']): Record<string, string> | undefined {
  const names = (template.Metadata?.OpsflowLocal as AppMetadata | undefined)?.hubParameters;
  return names && { [names.account]: ACCOUNT, [names.region]: REGION };
}

/** An AWS::Events::Rule's targets, as EventBridge keeps them. */
function ruleTargets(p: Record<string, unknown>): RuleTarget[] {
  type CfnTarget = {
    Id: string;
    Arn: string;
    RoleArn?: string;
    Input?: string;
    InputPath?: string;
    InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  };
  return ((p.Targets as CfnTarget[] | undefined) ?? []).map((t) => ({
    id: t.Id,
    arn: t.Arn,
    input: t.Input,
    inputPath: t.InputPath,
    inputTransformer: t.InputTransformer,
    roleArn: t.RoleArn,
  }));
}

/** A rule's `EventBusName`: a name, or an ARN whose last part is the name; absent: the default bus. */
function busNameOf(nameOrArn: unknown): string | undefined {
  return typeof nameOrArn === 'string' ? nameOrArn.slice(nameOrArn.lastIndexOf('/') + 1) : undefined;
}

/**
 * "If a receiver account sets up a rule that sends events received from a sender account on to a third account, these
 * events are not sent to the third account" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html).
 * Not back to the sender either (AWS does not say; the stricter reading, README "Unconfirmed behaviours").
 */
function notSentOnward(target: Target): void {
  const from = target.source ? /^arn:aws[a-z-]*:events:[a-z0-9-]+:(\d{12}):/.exec(target.source.arn)?.[1] : undefined;
  const to = parseBusArn(target.arn)?.account;
  const event = target.input.startsWith('{') ? (JSON.parse(target.input) as Partial<BusEvent>) : {};
  if (from && to && to !== from && event.account && event.account !== from)
    throw new AwsError('AccessDeniedException', `an event of account ${event.account} sent to account ${from} is not sent on to account ${to}`);
}
