/**
 * TagPolicy scan cost from 10 to 10,000 instances: state transitions (StateEntered events in the execution
 * history, what Standard workflows are billed by) per run and per instance. The fleet is paged inside the
 * Evaluate task, so transitions grow with pages (5,000 instances per invocation), not with instances.
 * Printed, not asserted: wall time depends on the machine. One in ten instances breaks the policy.
 */
import { fullHistory, startRuntime } from '../e2e/harness';

const SIZES = [10, 100, 1_000, 10_000];
const compliant = [{ Key: 'Owner', Value: 'bench@example.com' }, { Key: 'CostCenter', Value: 'CC-1000' }, { Key: 'Environment', Value: 'dev' }];
const broken = [{ Key: 'Owner', Value: 'bench@example.com' }, { Key: 'Environment', Value: 'dev' }];

export async function benchTagPolicy(): Promise<string[]> {
  const h = await startRuntime({ seedFleet: false, timeScale: 60 });
  const lines = ['TagPolicy dry-run scan: state transitions by fleet size', 'instances  transitions  per-instance  violating  seconds'];
  try {
    let size = 0;
    for (const target of SIZES) {
      const add = target - size;
      h.rt.ec2.fleet.addInstances(add - add / 10, { tags: compliant });
      h.rt.ec2.fleet.addInstances(add / 10, { tags: broken });
      size = target;
      const started = Date.now();
      const arn = await h.start('TagPolicy', { mode: 'scan' });
      const done = await h.finished(arn, 600_000);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (done.status !== 'SUCCEEDED') throw new Error(`scan of ${size} instances ended ${done.status}: ${done.error} ${done.cause}`);
      const transitions = (await fullHistory(h.sfn, arn)).filter((e) => e.type?.endsWith('StateEntered')).length;
      const report = JSON.parse(done.output!) as { counts: { scanned: number; violating: number } };
      lines.push(
        `${String(report.counts.scanned).padStart(9)}  ${String(transitions).padStart(11)}  ${(transitions / report.counts.scanned).toFixed(4).padStart(12)}  ${String(report.counts.violating).padStart(9)}  ${seconds.padStart(7)}`,
      );
    }
  } finally {
    await h.stop();
  }
  return lines;
}

if (require.main === module) {
  benchTagPolicy().then((lines) => console.log(lines.join('\n')), (err) => {
    console.error(err);
    process.exit(1);
  });
}
