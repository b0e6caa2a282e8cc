/**
 * TagPolicy scan cost from 10 to 10,000 instances: state transitions (StateEntered events in the execution
 * history, what Standard workflows are billed by) per run and per instance, and the CloudTrail LookupEvents calls
 * of the creator lookups. The fleet is paged inside the Evaluate task, so transitions grow with pages (5,000
 * instances per invocation), not with instances; creators are read per launch (50 RunInstances events a call, at
 * CloudTrail's 2 calls a second, which the runtime enforces) and cached, so a second scan makes no call.
 * Printed, not asserted: wall time depends on the machine. 20% of the instances lack the Owner tag.
 */
import type { AwsRequest, AwsResponse } from '../../local/kernel';
import { CloudTrailService } from '../../local/services/cloudtrail';
import { identity } from '../../local/services/fleet';
import { fullHistory, startRuntime, type Harness } from '../e2e/harness';

const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000,10000').split(',').map(Number);
const OWNED = [
  { Key: 'Owner', Value: 'team@example.com' },
  { Key: 'CostCenter', Value: 'CC-1000' },
  { Key: 'Environment', Value: 'dev' },
];
const UNOWNED = OWNED.slice(1);

/**
 * Adds `count` instances to the runtime's fleet, every fifth one without the Owner tag, each launched on its own
 * RunInstances (the worst case for the per-launch lookup: one event per instance) by one of 50 SSO users, whose
 * email is the creator TagPolicy should find. Returns how many lack Owner.
 */
export function launchTagPolicyFleet(h: Harness, count: number, offset = 0): number {
  let lacking = 0;
  for (let n = offset; n < offset + count; n++) {
    const unowned = n % 5 === 0;
    if (unowned) lacking++;
    h.rt.ec2.fleet.run(
      { imageId: 'ami-0feed000000000001', instanceType: 't3.micro', count: 1, tags: unowned ? UNOWNED : OWNED },
      { identity: identity.sso('Developer', `dev${n % 50}@example.com`) },
    );
  }
  return lacking;
}

/** Counts LookupEvents calls reaching the runtime (the workflows' calls: the bench itself makes none). */
export function countLookups(): { count: () => number; restore: () => void } {
  const original = CloudTrailService.prototype.handle;
  let n = 0;
  CloudTrailService.prototype.handle = function (req: AwsRequest): Promise<AwsResponse> {
    n++;
    return original.call(this, req);
  };
  return { count: () => n, restore: () => void (CloudTrailService.prototype.handle = original) };
}

export async function benchTagPolicy(): Promise<string[]> {
  const lookups = countLookups();
  const h = await startRuntime({ seedFleet: false, timeScale: 60 });
  const lines = [
    'TagPolicy dry-run scan: state transitions and creator lookups by fleet size (20% without Owner)',
    'instances  transitions  per-instance  violating  tagged-by-creator  LookupEvents  again  seconds',
  ];
  try {
    let size = 0;
    for (const target of SIZES) {
      launchTagPolicyFleet(h, target - size, size);
      size = target;
      const scan = async () => {
        const before = lookups.count();
        const arn = await h.start('TagPolicy', { mode: 'scan' });
        const done = await h.finished(arn, 600_000);
        if (done.status !== 'SUCCEEDED') throw new Error(`scan of ${size} instances ended ${done.status}: ${done.error} ${done.cause}`);
        return { arn, calls: lookups.count() - before, report: JSON.parse(done.output!) as { counts: { scanned: number; violating: number; toTag: number } } };
      };
      const started = Date.now();
      const first = await scan();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const again = await scan();
      const transitions = (await fullHistory(h.sfn, first.arn)).filter((e) => e.type?.endsWith('StateEntered')).length;
      const { counts } = first.report;
      lines.push(
        `${String(counts.scanned).padStart(9)}  ${String(transitions).padStart(11)}  ${(transitions / counts.scanned).toFixed(4).padStart(12)}  ${String(counts.violating).padStart(9)}  ${String(counts.toTag).padStart(17)}  ${String(first.calls).padStart(12)}  ${String(again.calls).padStart(5)}  ${seconds.padStart(7)}`,
      );
    }
  } finally {
    await h.stop();
    lookups.restore();
  }
  return lines;
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  benchTagPolicy().then(
    (lines) => console.log(lines.join('\n')),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
