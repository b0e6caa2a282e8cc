/**
 * One hub across an organisation (issue 23): ACCOUNTS accounts (the hub and ACCOUNTS - 1 members) × REGIONS regions ×
 * SIZE running instances each, all on one schedule, the app synthesized with config `targets` naming every account and
 * region and the local runtime simulating the organisation (STS AssumeRole against each member stack's role, EC2 state
 * and rate buckets per account and region). One scheduled stop (StartExecution with the input the schedule's
 * EventBridge Scheduler target sends). Printed, never asserted: state transitions, executions, the largest history and
 * state payload of any execution (quotas 25,000 events, 256 KiB), AssumeRole and other calls per action, virtual time
 * against the EC2 floor, wall time, and the Step Functions + Lambda cost of one run (test/bench/scale.ts's prices).
 *
 * The EC2 floor: each account and region has its own StopInstances buckets (1,000 instances burst, 20 a second:
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), so SIZE ≤ 1,000 per target costs no
 * token wait, and a run's floor is the stop transition itself (60 s locally, local/services/fleet.ts).
 * Alone: `npm run bench -- org` (BENCH_ORG_ACCOUNTS default 50, BENCH_ORG_REGIONS default 4, BENCH_ORG_SIZE default 500,
 * BENCH_ORG_SCALE the time scale, default 10).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { FleetSeed } from '../../local/services/fleet';
import { startRuntime } from '../e2e/harness';
import { synthWithConfig } from '../e2e/synth-config';
import { calls, measure, PRICES } from './scale';

const ACCOUNTS = Number(process.env.BENCH_ORG_ACCOUNTS ?? 50);
const REGION_COUNT = Number(process.env.BENCH_ORG_REGIONS ?? 4);
const SIZE = Number(process.env.BENCH_ORG_SIZE ?? 500);
const TIME_SCALE = Number(process.env.BENCH_ORG_SCALE ?? 10);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-west-2'].slice(0, REGION_COUNT);
const HUB = '000000000000';
/** A Sunday 07:00 UTC: no schedule of the app fires for hours (test/bench/scale.ts). */
const QUIET_START = Date.parse('2026-11-29T07:00:00Z');
const SCHEDULE = 'batch-window';

const accountId = (a: number) => (a === 0 ? HUB : String(100_000_000_000 + a));

/** SIZE running instances of account `a` in region `r`, on SCHEDULE; ids unique across the organisation. */
function fleet(a: number, r: number): FleetSeed {
  return {
    description: `opsflow org bench: ${accountId(a)} in ${REGIONS[r]}`,
    instances: Array.from({ length: SIZE }, (_, i) => ({
      instanceId: `i-0${a.toString(16).padStart(3, '0')}${r.toString(16)}${i.toString(16).padStart(12, '0')}`,
      name: `bench-${a}-${r}-${i}`,
      instanceType: 't3.micro',
      imageId: 'ami-0feed000000000001',
      state: 'running' as const,
      launchedDaysAgo: 10,
      launchedBy: { iamUser: 'bench' },
      tags: { Schedule: SCHEDULE, Owner: 'bench@example.com' },
    })),
  } as FleetSeed;
}

export async function benchOrg(log: (line: string) => void = console.log): Promise<void> {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'opsflow-bench-org-'));
  const file = (a: number, r: number) => join(dir, `fleet-${a}-${r}.json`);
  try {
    for (let a = 0; a < ACCOUNTS; a++) for (let r = 0; r < REGIONS.length; r++) writeFileSync(file(a, r), JSON.stringify(fleet(a, r)));
    const accounts = Array.from({ length: ACCOUNTS }, (_, a) => accountId(a));
    const synth = synthWithConfig('opsflow-bench-org-', (config) => {
      config.local.fleet = file(0, 0);
      config.targets = { organizationId: 'o-opsflowbench1', externalId: 'opsflow-bench-external-id', accounts, regions: REGIONS };
      config.local.organization = {
        id: 'o-opsflowbench1',
        regions: REGIONS.slice(1),
        accounts: accounts.map((id, a) => ({
          id,
          name: a === 0 ? 'hub' : `member-${a}`,
          fleets: Object.fromEntries(REGIONS.map((region, r) => [region, file(a, r)]).filter(([, f]) => a !== 0 || f !== file(0, 0))),
        })),
      };
    });
    const targets = ACCOUNTS * REGIONS.length;
    log(
      `org bench: ${ACCOUNTS} accounts × ${REGIONS.length} regions × ${SIZE} instances = ${(targets * SIZE).toLocaleString('en-US')}, time scale ${TIME_SCALE}, load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores at the start`,
    );
    const h = await startRuntime({ cdkOut: synth.cdkOut, stateDir: join(synth.dir, 'state'), timeScale: TIME_SCALE, virtualStart: QUIET_START });
    try {
      calls.clear();
      const since = h.rt.clock.nowMs();
      const started = Date.now();
      const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: SCHEDULE, requestedBy: 'bench' });
      const done = await h.finished(arn, 12 * 3_600_000);
      const wall = Date.now() - started;
      const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const counts = done.output ? JSON.parse(done.output).counts : undefined;
      const note = counts ? `counts ${JSON.stringify(counts)}` : `${done.error}: ${(done.cause ?? '').slice(0, 300)}`;
      const f = await measure(h, 'Ec2Schedule', targets * SIZE, done.status!, wall, note, 0, TIME_SCALE, since);
      const virtual = (+d.stopDate! - +d.startDate!) / 1000;
      const sfnUsd = f.transitions * PRICES.stepFunctionsPerTransition;
      const lambdaUsd = f.lambdaInvocations * PRICES.lambdaPerRequest + f.lambdaGbSeconds * PRICES.lambdaPerGbSecond;
      const floor = Math.max(0, (SIZE - 1000) / 20) + 60;
      log(
        [
          `Ec2Schedule stop across ${targets} targets: ${f.status} in ${Math.round(virtual).toLocaleString('en-US')} s of virtual time (EC2 floor per target ${floor} s: buckets are per account and region); ${f.note}`,
          `  executions ${f.executions}, state transitions ${f.transitions}, largest history ${f.largestHistory} events (quota 25,000), largest state payload ${f.largestPayload} bytes (quota 262,144)`,
          `  AssumeRole calls ${f.apiCalls['sts:AssumeRole'] ?? 0} (members ${ACCOUNTS - 1}), StopInstances ${f.apiCalls['ec2:StopInstances'] ?? 0}, DescribeInstances ${f.apiCalls['ec2:DescribeInstances'] ?? 0}`,
          `  Lambda ${f.lambdaInvocations} invocations, ${f.lambdaGbSeconds.toFixed(2)} GB-s (local durations); wall ${f.wallSeconds.toFixed(0)} s`,
          `  cost per run: Step Functions $${sfnUsd.toFixed(4)} + Lambda $${lambdaUsd.toFixed(4)} = $${(sfnUsd + lambdaUsd).toFixed(4)} (prices of ${PRICES.date})`,
          `  calls: ${Object.entries(f.apiCalls)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ].join('\n'),
      );
    } finally {
      await h.stop();
      rmSync(synth.dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`  load ${loadavg()[0].toFixed(1)} at the end`);
}
