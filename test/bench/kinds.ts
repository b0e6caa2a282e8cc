/**
 * Ec2Schedule over every resource kind at fleet size (issue 24): a generated fleet of N of each kind on one schedule
 * (EC2 instances, RDS DB instances, Aurora clusters with one writer each, Auto Scaling groups with one member each,
 * ECS services in clusters of 100), the app synthesized with `ec2Schedule.kinds` set to every kind, then the schedule's
 * stop and, on the same runtime, its start (StartExecution with the input the schedule's EventBridge Scheduler target
 * sends). Per run: state transitions, executions, Lambda invocations, AWS API calls per service (the tasks' calls,
 * counted at the endpoint), virtual time of the run, wall time, and the Step Functions + Lambda cost of one run at the
 * prices test/bench/scale.ts uses. Printed, never asserted. Every AWS rule of the runtime is on.
 * Alone: `npm run bench -- kinds` (BENCH_KINDS_SIZE for N, default 1,000; BENCH_KINDS_SCALE for the time scale, default 10).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { FleetSeed } from '../../local/services/fleet';
import { KINDS } from '../../tasks/ec2-schedule/core/types';
import { startRuntime } from '../e2e/harness';
import { synthWithConfig } from '../e2e/synth-config';
import { calls, measure, PRICES, type Figures } from './scale';

const SIZE = Number(process.env.BENCH_KINDS_SIZE ?? 1000);
const TIME_SCALE = Number(process.env.BENCH_KINDS_SCALE ?? 10);
/** A Sunday 07:00 UTC: no schedule of the app fires for hours (test/bench/scale.ts). */
const QUIET_START = Date.parse('2026-11-29T07:00:00Z');
const SCHEDULE = 'batch-window';

/** N of each kind, all running / available, all on SCHEDULE. */
export function kindsFleet(n: number): FleetSeed {
  const tags = { Schedule: SCHEDULE, Owner: 'bench@example.com' };
  const hex = (prefix: number, i: number) => `i-0${prefix.toString(16)}${i.toString(16).padStart(15, '0')}`;
  const instance = (id: string, name: string, extra: Record<string, string>) => ({
    instanceId: id,
    name,
    instanceType: 't3.micro',
    imageId: 'ami-0feed000000000001',
    state: 'running' as const,
    launchedDaysAgo: 10,
    launchedBy: { iamUser: 'bench' },
    tags: extra,
  });
  const pad = (i: number) => String(i).padStart(5, '0');
  return {
    description: `opsflow kinds bench: ${n} of each kind on ${SCHEDULE}`,
    instances: [
      ...Array.from({ length: n }, (_, i) => instance(hex(1, i), `bench-${pad(i)}`, tags)),
      // Each group's one member, as Auto Scaling tags it (not on the schedule itself: the group is).
      ...Array.from({ length: n }, (_, i) => instance(hex(2, i), `bench-asg-${pad(i)}-node`, { 'aws:autoscaling:groupName': `bench-asg-${pad(i)}` })),
    ],
    rds: {
      dbClusters: Array.from({ length: n }, (_, i) => ({
        id: `bench-aurora-${pad(i)}`,
        engine: 'aurora-postgresql' as const,
        engineVersion: '16.4',
        status: 'available' as const,
        createdDaysAgo: 30,
        tags,
      })),
      dbInstances: [
        ...Array.from({ length: n }, (_, i) => ({
          id: `bench-db-${pad(i)}`,
          engine: 'postgres',
          engineVersion: '16.4',
          instanceClass: 'db.t4g.micro',
          status: 'available' as const,
          createdDaysAgo: 30,
          tags,
        })),
        // Each cluster's writer: it follows its cluster (not on the schedule itself).
        ...Array.from({ length: n }, (_, i) => ({
          id: `bench-aurora-${pad(i)}-1`,
          engine: 'aurora-postgresql',
          engineVersion: '16.4',
          instanceClass: 'db.r6g.large',
          status: 'available' as const,
          createdDaysAgo: 30,
          cluster: `bench-aurora-${pad(i)}`,
          tags: { Owner: 'bench@example.com' },
        })),
      ],
    },
    autoScalingGroups: Array.from({ length: n }, (_, i) => ({
      name: `bench-asg-${pad(i)}`,
      minSize: 1,
      maxSize: 2,
      desiredCapacity: 1,
      instanceType: 't3.micro',
      imageId: 'ami-0feed000000000001',
      tags,
    })),
    ecsClusters: Array.from({ length: Math.ceil(n / 100) }, (_, c) => ({
      name: `bench-cluster-${c}`,
      tags: {},
      services: Array.from({ length: Math.min(100, n - c * 100) }, (_, s) => ({ name: `svc-${pad(c * 100 + s)}`, desiredCount: 1, tags })),
    })),
  } as FleetSeed;
}

function print(action: string, f: Figures, virtualSeconds: number, timeScale: number): string {
  const perService = new Map<string, number>();
  for (const [k, v] of Object.entries(f.apiCalls)) {
    const service = k.split(':')[0];
    perService.set(service, (perService.get(service) ?? 0) + v);
  }
  const services = [...perService].map(([k, v]) => `${k} ${v}`).join(', ');
  const actions = Object.entries(f.apiCalls)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const sfnUsd = f.transitions * PRICES.stepFunctionsPerTransition;
  const lambdaUsd = f.lambdaInvocations * PRICES.lambdaPerRequest + f.lambdaGbSeconds * PRICES.lambdaPerGbSecond;
  return [
    `Ec2Schedule ${action} of ${f.size.toLocaleString('en-US')} of each kind (${KINDS.join(', ')}; time scale ${timeScale}): ${f.status} in ${Math.round(virtualSeconds).toLocaleString('en-US')} s of virtual time; ${f.note}`,
    `  executions ${f.executions}, state transitions ${f.transitions}, largest history ${f.largestHistory} events (quota 25,000), largest state payload ${f.largestPayload} bytes (quota 262,144)`,
    `  Lambda ${f.lambdaInvocations} invocations, ${f.lambdaGbSeconds.toFixed(2)} GB-s (local durations); wall ${f.wallSeconds.toFixed(0)} s`,
    `  cost per run: Step Functions $${sfnUsd.toFixed(4)} + Lambda $${lambdaUsd.toFixed(4)} = $${(sfnUsd + lambdaUsd).toFixed(4)} (prices of ${PRICES.date})`,
    `  calls per service: ${services}`,
    `  calls: ${actions}`,
  ].join('\n');
}

export async function benchKinds(log: (line: string) => void = console.log): Promise<void> {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'opsflow-bench-kinds-'));
  try {
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(kindsFleet(SIZE)));
    const synth = synthWithConfig('opsflow-bench-kinds-', (config) => {
      config.ec2Schedule.kinds = [...KINDS];
      config.local.fleet = fleetFile;
    });
    log(
      `kinds bench: ${SIZE.toLocaleString('en-US')} of each kind, time scale ${TIME_SCALE}, load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores at the start`,
    );
    const h = await startRuntime({ cdkOut: synth.cdkOut, stateDir: join(synth.dir, 'state'), timeScale: TIME_SCALE, virtualStart: QUIET_START });
    try {
      for (const action of ['stop', 'start'] as const) {
        calls.clear();
        const since = h.rt.clock.nowMs();
        const started = Date.now();
        const arn = await h.start('Ec2Schedule', { action, schedule: SCHEDULE, requestedBy: 'bench' });
        const done = await h.finished(arn, 6 * 3_600_000);
        const wall = Date.now() - started;
        const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        const counts = done.output ? JSON.parse(done.output).counts : undefined;
        const note = counts ? `counts ${JSON.stringify(counts)}` : `${done.error}: ${(done.cause ?? '').slice(0, 300)}`;
        const f = await measure(h, 'Ec2Schedule', SIZE, done.status!, wall, note, 1, TIME_SCALE, since);
        log(print(action, f, (+d.stopDate! - +d.startDate!) / 1000, TIME_SCALE));
      }
    } finally {
      await h.stop();
      rmSync(synth.dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`  load ${loadavg()[0].toFixed(1)} at the end`);
}
