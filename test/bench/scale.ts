/**
 * Fleet-scale figures of the three workflows on the local runtime with its AWS rules on (whatever the runtime
 * enforces by default) and EC2 transitions taking realistic virtual time (boot 30 s, stop 60 s: local/services/fleet.ts).
 * Per workflow and size: state transitions, the largest history of any one execution, the largest state payload,
 * Lambda invocations and GB-seconds, AWS API calls by action, wall time, and the estimated cost of one run in USD.
 * Printed, never asserted. Virtual time runs TIME_SCALE times faster; Lambda durations are measured in real time.
 *
 *  - Ec2Schedule: stop N running instances of one schedule (batches of 50 as child executions).
 *  - TagPolicy: scan N instances, 20% without the Owner tag (so its creator lookups run), dry run.
 *  - Approval: N approvals started at once; latency from start to the email (p50, p99), emails per approval, failed
 *    executions (test/bench/approval.ts).
 *
 * And the EC2 floor (benchEc2Floor; alone: `npm run bench -- ec2-floor`): a scheduled start and a scheduled stop of
 * 10,000 instances, every rule on, timed in virtual time next to the floor EC2's resource token buckets impose
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html: StartInstances 1,000 then 2 a second,
 * StopInstances 1,000 then 20 a second: 4,500 s and 450 s for 10,000). Virtual time includes the runtime's own processing
 * multiplied by the time scale, so these run slower than the rest: start at scale 10, stop at scale 1 (real time), by
 * default (BENCH_FLOOR_START_SCALE, BENCH_FLOOR_STOP_SCALE; BENCH_FLOOR_SIZE for the fleet).
 */
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { cpus, loadavg } from 'node:os';
import type { AwsRequest, AwsResponse } from '../../local/kernel';
import { CloudTrailService } from '../../local/services/cloudtrail';
import { DynamoDbService } from '../../local/services/dynamodb/service';
import { AutoScalingService } from '../../local/services/autoscaling';
import { Ec2Service } from '../../local/services/ec2';
import { EcsService } from '../../local/services/ecs';
import { EventsService } from '../../local/services/events';
import { RdsService } from '../../local/services/rds';
import { SesV2Service } from '../../local/services/sesv2';
import { SnsService } from '../../local/services/sns';
import { StepFunctionsService } from '../../local/engine/service';
import { OrganizationsService } from '../../local/org/organizations';
import { StsService } from '../../local/org/sts';
import { credentials, fullHistory, startRuntime, type Harness } from '../e2e/harness';
import { launchTagPolicyFleet } from './tag-policy';
import { approvalLoad, approvalLoadStatus, printApprovalLoad } from './approval';

/**
 * Published prices, US East (N. Virginia), read on 2026-11-30:
 * Step Functions Standard: $0.025 per 1,000 state transitions (https://aws.amazon.com/step-functions/pricing/);
 * Lambda arm64: $0.0000133334 per GB-second, $0.20 per 1M requests (https://aws.amazon.com/lambda/pricing/);
 * SNS: $0.50 per 1M publishes, $2.00 per 100,000 email deliveries (https://aws.amazon.com/sns/pricing/);
 * SES: $0.10 per 1,000 emails (https://aws.amazon.com/ses/pricing/). Free tiers are left out.
 */
export const PRICES = {
  date: '2026-11-30',
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  snsPerPublish: 0.5 / 1_000_000,
  snsPerEmailDelivery: 2 / 100_000,
  sesPerEmail: 0.1 / 1000,
};
/** TaskFunction memorySize (workflows/shared/task-function.ts). */
const LAMBDA_GB = 256 / 1024;
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 50);
const SIZES = (process.env.BENCH_SIZES ?? '10,1000,10000').split(',').map(Number);
const QUIET_START = Date.parse('2026-11-29T07:00:00Z');
/** Which workflows to run (comma-separated). @default all three */
const WORKFLOWS = (process.env.BENCH_WORKFLOWS ?? 'Ec2Schedule,TagPolicy,Approval').split(',');

// ---- AWS API calls by action, counted at the endpoint (the calls the tasks make through the SDK) ----------------
export const calls = new Map<string, number>();
function actionOf(service: string, req: AwsRequest): string {
  if (req.target) return `${service}:${req.target.split('.').pop()}`;
  const form = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '') ? new URLSearchParams(req.body.toString('utf8')) : undefined;
  const action = req.query.get('Action') ?? form?.get('Action');
  if (action) return `${service}:${action}`;
  if (service === 'sesv2' && /\/outbound-emails$/.test(req.path)) return 'sesv2:SendEmail';
  return `${service}:${req.method} ${req.path.split('/').slice(0, 3).join('/')}`;
}
for (const [name, cls] of [
  ['ec2', Ec2Service],
  ['cloudtrail', CloudTrailService],
  ['dynamodb', DynamoDbService],
  ['events', EventsService],
  ['sesv2', SesV2Service],
  ['sns', SnsService],
  ['states', StepFunctionsService],
  ['rds', RdsService],
  ['autoscaling', AutoScalingService],
  ['ecs', EcsService],
  ['sts', StsService],
  ['organizations', OrganizationsService],
] as const) {
  const proto = (cls as unknown as { prototype: { handle(req: AwsRequest): Promise<AwsResponse> } }).prototype;
  const original = proto.handle;
  proto.handle = function (req: AwsRequest) {
    // The bench's own client (starting runs, polling, reading histories) is not the workflows' traffic.
    if (req.accessKeyId !== credentials.accessKeyId) {
      const action = actionOf(name, req);
      calls.set(action, (calls.get(action) ?? 0) + 1);
    }
    return original.call(this, req);
  };
}

export interface Figures {
  workflow: string;
  size: number;
  status: string;
  executions: number;
  transitions: number;
  largestHistory: number;
  largestPayload: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  apiCalls: Record<string, number>;
  wallSeconds: number;
  usd: number;
  note: string;
}

/** Every execution of every state machine in this runtime, measured from its history. */
export async function measure(
  h: Harness,
  workflow: string,
  size: number,
  status: string,
  wallMs: number,
  note: string,
  emails = 0,
  timeScale = TIME_SCALE,
  /** Only executions started at or after this moment (a second run on the same runtime). */
  since = 0,
): Promise<Figures> {
  let executions = 0;
  let transitions = 0;
  let largestHistory = 0;
  let largestPayload = 0;
  let lambdaInvocations = 0;
  let lambdaRealMs = 0;
  const integrations = new Map<string, number>();
  for (const sm of h.rt.deployed.stateMachines) {
    let nextToken: string | undefined;
    do {
      const page = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm.arn, maxResults: 1000, nextToken }));
      for (const e of page.executions ?? []) {
        if (+e.startDate! < since) continue;
        executions++;
        const events = await fullHistory(h.sfn, e.executionArn!);
        largestHistory = Math.max(largestHistory, events.length);
        const started = new Map<number, number>();
        for (const ev of events) {
          if (ev.type?.endsWith('StateEntered')) transitions++;
          for (const details of Object.values(ev).filter((v) => v && typeof v === 'object' && !(v instanceof Date)) as Array<Record<string, unknown>>) {
            for (const k of ['input', 'output', 'parameters'])
              if (typeof details[k] === 'string') largestPayload = Math.max(largestPayload, Buffer.byteLength(details[k] as string));
          }
          if (ev.type === 'TaskScheduled') {
            const d = ev.taskScheduledEventDetails!;
            const key = `${d.resourceType}:${d.resource}`;
            integrations.set(key, (integrations.get(key) ?? 0) + 1);
            if (d.resourceType === 'lambda') lambdaInvocations++;
          }
          // Lambda tasks (a function ARN as Resource) record LambdaFunction* events.
          if (ev.type === 'LambdaFunctionScheduled') {
            lambdaInvocations++;
            integrations.set('lambda:Invoke', (integrations.get('lambda:Invoke') ?? 0) + 1);
          }
          if (ev.type === 'LambdaFunctionStarted') started.set(ev.id!, +ev.timestamp!);
          if (ev.type === 'LambdaFunctionSucceeded' || ev.type === 'LambdaFunctionFailed' || ev.type === 'LambdaFunctionTimedOut') {
            const from = started.get(ev.previousEventId!);
            if (from !== undefined) lambdaRealMs += (+ev.timestamp! - from) / timeScale;
          }
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
  const apiCalls: Record<string, number> = {};
  for (const [k, v] of [...integrations, ...calls].sort((a, b) => b[1] - a[1])) apiCalls[k] = v;
  const lambdaGbSeconds = (lambdaRealMs / 1000) * LAMBDA_GB;
  const snsPublishes = integrations.get('sns:publish') ?? 0;
  const sesEmails = calls.get('sesv2:SendEmail') ?? 0;
  const usd =
    transitions * PRICES.stepFunctionsPerTransition +
    lambdaInvocations * PRICES.lambdaPerRequest +
    lambdaGbSeconds * PRICES.lambdaPerGbSecond +
    snsPublishes * (PRICES.snsPerPublish + emails * PRICES.snsPerEmailDelivery) +
    sesEmails * PRICES.sesPerEmail;
  return {
    workflow,
    size,
    status,
    executions,
    transitions,
    largestHistory,
    largestPayload,
    lambdaInvocations,
    lambdaGbSeconds,
    apiCalls,
    wallSeconds: wallMs / 1000,
    usd,
    note,
  };
}

async function run(workflow: string, size: number, body: (h: Harness) => Promise<{ status: string; note: string }>): Promise<Figures> {
  calls.clear();
  // A Sunday 07:00 UTC: no schedule of the app fires in the next 23 virtual hours (TagPolicy scans at 06:00 UTC daily,
  // Ec2Schedule acts on weekdays), so a long run measures its own workflow only.
  const h = await startRuntime({ seedFleet: false, timeScale: TIME_SCALE, virtualStart: QUIET_START });
  try {
    calls.clear(); // deploy-time calls are not the run's
    const started = Date.now();
    const { status, note } = await body(h);
    const wall = Date.now() - started;
    return await measure(h, workflow, size, status, wall, note, 1);
  } finally {
    await h.stop();
  }
}

const ec2Schedule = (size: number) =>
  run('Ec2Schedule', size, async (h) => {
    h.rt.ec2.fleet.addInstances(size, {
      tags: [
        { Key: 'Schedule', Value: 'batch-window' },
        { Key: 'Name', Value: 'bench' },
      ],
    });
    const done = await h.finished(await h.start('Ec2Schedule', { action: 'stop', schedule: 'batch-window', requestedBy: 'bench' }), 3_600_000);
    const counts = done.output ? JSON.parse(done.output).counts : undefined;
    const honest = counts && counts.total === size && counts.moved + counts.skipped + counts.failed + counts.dryRun === size;
    return {
      status: done.status!,
      note: counts ? `counts ${JSON.stringify(counts)}${honest ? '' : ' (DO NOT ADD UP)'}` : `${done.error}: ${(done.cause ?? '').slice(0, 160)}`,
    };
  });

const tagPolicy = (size: number) =>
  run('TagPolicy', size, async (h) => {
    // Each instance launched on its own RunInstances (CloudTrail holds one event per instance); 20% lack Owner.
    const lacking = launchTagPolicyFleet(h, size);
    const done = await h.finished(await h.start('TagPolicy', { mode: 'scan' }), 3_600_000);
    const counts = done.output ? JSON.parse(done.output).counts : undefined;
    // Honest counts: every instance is compliant or violating; every one lacking Owner is tagged with its creator or notified.
    const honest = counts && counts.scanned === size && counts.compliant + counts.violating === size && counts.violating === lacking;
    const lookups = calls.get('cloudtrail:LookupEvents') ?? 0;
    return {
      status: done.status!,
      note: counts
        ? `counts ${JSON.stringify(counts)}${honest ? '' : ' (DO NOT ADD UP)'}; ${lacking} lack Owner, ${counts.toTag} to be tagged with their creator; LookupEvents ${lookups} = ${(lookups / 2).toFixed(1)} s at CloudTrail's 2/s (first scan; later scans read only new launches)`
        : `${done.error}: ${(done.cause ?? '').slice(0, 160)}`,
    };
  });

const approval = (size: number) =>
  run('Approval', size, async (h) => {
    const f = await approvalLoad(h, size);
    return { status: approvalLoadStatus(f), note: printApprovalLoad(f).split('\n')[1].trim() };
  });

function print(f: Figures): string {
  const api = Object.entries(f.apiCalls)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `${f.workflow} at ${f.size.toLocaleString('en-US')}: ${f.status}; ${f.note}`,
    `  executions ${f.executions}, transitions ${f.transitions}, largest history ${f.largestHistory} events, largest state payload ${f.largestPayload} bytes`,
    `  Lambda ${f.lambdaInvocations} invocations, ${f.lambdaGbSeconds.toFixed(2)} GB-s; wall ${f.wallSeconds.toFixed(1)} s; estimated $${f.usd.toFixed(4)} per run (prices of ${PRICES.date})`,
    `  AWS API calls: ${api}`,
  ].join('\n');
}

// ---- the EC2 floor -------------------------------------------------------------------------------------------------

const FLOOR_SIZE = Number(process.env.BENCH_FLOOR_SIZE ?? 10_000);
const FLOOR_SCALE = { start: Number(process.env.BENCH_FLOOR_START_SCALE ?? 10), stop: Number(process.env.BENCH_FLOOR_STOP_SCALE ?? 1) };
/** The resource token buckets of Start/StopInstances: capacity and refill per second (page above). */
const EC2_RESOURCE = { start: [1000, 2], stop: [1000, 20] } as const;
/** The target: within 1.2 times the floor. */
const FLOOR_TARGET = 1.2;

export interface FloorFigures {
  action: 'start' | 'stop';
  size: number;
  status: string;
  virtualSeconds: number;
  floorSeconds: number;
  accounted: string;
  figures: Figures;
  timeScale: number;
}

/** A scheduled start or stop of FLOOR_SIZE instances, timed on the runtime's virtual clock. */
async function floorRun(action: 'start' | 'stop'): Promise<FloorFigures> {
  const [capacity, refill] = EC2_RESOURCE[action];
  const floorSeconds = Math.max(0, FLOOR_SIZE - capacity) / refill;
  let virtualSeconds = NaN;
  let accounted = '';
  calls.clear();
  const h = await startRuntime({ seedFleet: false, timeScale: FLOOR_SCALE[action], virtualStart: QUIET_START });
  try {
    h.rt.ec2.fleet.addInstances(FLOOR_SIZE, {
      state: action === 'start' ? 'stopped' : 'running',
      tags: [
        { Key: 'Schedule', Value: 'batch-window' },
        { Key: 'Name', Value: 'bench' },
      ],
    });
    calls.clear();
    const started = Date.now();
    const arn = await h.start('Ec2Schedule', { action, schedule: 'batch-window', requestedBy: 'bench' });
    const done = await h.finished(arn, 6 * 3_600_000);
    const wall = Date.now() - started;
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    virtualSeconds = (+d.stopDate! - +d.startDate!) / 1000;
    const counts = done.output ? JSON.parse(done.output).counts : undefined;
    accounted = counts
      ? `${counts.moved.toLocaleString('en-US')} moved of ${FLOOR_SIZE.toLocaleString('en-US')}${counts.total === FLOOR_SIZE && counts.moved + counts.skipped + counts.failed + counts.dryRun === FLOOR_SIZE ? ', every instance accounted for' : ' (DO NOT ADD UP)'}`
      : `${done.error}: ${(done.cause ?? '').slice(0, 160)}`;
    const figures = await measure(h, 'Ec2Schedule', FLOOR_SIZE, done.status!, wall, accounted, 1, FLOOR_SCALE[action]);
    return { action, size: FLOOR_SIZE, status: done.status!, virtualSeconds, floorSeconds, accounted, figures, timeScale: FLOOR_SCALE[action] };
  } finally {
    await h.stop();
  }
}

function printFloor(f: FloorFigures): string {
  const ratio = f.virtualSeconds / f.floorSeconds;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const calls = Object.entries(f.figures.apiCalls)
    .filter(([k]) => /ec2:(Start|Stop|Describe)Instances/.test(k))
    .map(([k, v]) => `${k.slice(4)} ${v}`)
    .join(', ');
  return [
    `Ec2Schedule ${f.action} of ${n(f.size)} (time scale ${f.timeScale}): ${f.status} in ${n(f.virtualSeconds)} s of virtual time; EC2's floor ${n(f.floorSeconds)} s; ` +
      `ratio ${ratio.toFixed(2)} (target ${FLOOR_TARGET}: ${ratio <= FLOOR_TARGET ? 'met' : 'NOT MET'})`,
    `  ${f.accounted}`,
    `  executions ${f.figures.executions}, transitions ${f.figures.transitions}, largest history ${f.figures.largestHistory} events (quota 25,000), largest state ${f.figures.largestPayload} bytes (quota 262,144)`,
    `  Lambda ${f.figures.lambdaInvocations} invocations; EC2 calls that reached EC2: ${calls}; wall ${f.figures.wallSeconds.toFixed(0)} s; estimated $${f.figures.usd.toFixed(4)} per run`,
  ].join('\n');
}

/** The scheduled start and stop of 10,000 instances next to EC2's floor. */
export async function benchEc2Floor(log: (line: string) => void = console.log): Promise<FloorFigures[]> {
  log(
    `EC2 floor bench: ${FLOOR_SIZE.toLocaleString('en-US')} instances, every rule on; load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores at the start`,
  );
  const all: FloorFigures[] = [];
  for (const action of ['start', 'stop'] as const) {
    const f = await floorRun(action);
    all.push(f);
    log(printFloor(f));
  }
  log(`  load ${loadavg()[0].toFixed(1)} at the end`);
  return all;
}

export async function benchScale(log: (line: string) => void = console.log): Promise<Figures[]> {
  const all: Figures[] = [];
  log(`fleet-scale bench: time scale ${TIME_SCALE}, sizes ${SIZES.join(', ')}`);
  for (const size of SIZES) {
    for (const [name, bench] of [
      ['Ec2Schedule', ec2Schedule],
      ['TagPolicy', tagPolicy],
    ] as const) {
      if (!WORKFLOWS.includes(name)) continue;
      const f = await bench(size);
      all.push(f);
      log(print(f));
    }
  }
  for (const size of WORKFLOWS.includes('Approval') ? [10, 200] : []) {
    const f = await approval(size);
    all.push(f);
    log(print(f));
  }
  return all;
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  benchScale().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
