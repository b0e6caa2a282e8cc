/**
 * Approval at load (issue 9 item 15): N approvals started at once, with the runtime's AWS rules on (SES at the
 * harness's 14 emails per second, Lambda concurrency, IAM). Printed, never asserted:
 *  - start to "Approval needed" email, p50 / p99 / max, in real ms and in virtual seconds (the latency AWS would show
 *    at this load, since rates, waits and back-off run on the virtual clock);
 *  - emails sent per approval (exactly one each is the goal), executions that failed.
 * Latency is measured per execution: from its own StartExecution answer to its email's `sentAt` (virtual), and to the
 * moment the outbox showed it (real, outbox read every 100 ms).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { startRuntime, type Harness } from '../e2e/harness';

export interface ApprovalLoadFigures {
  size: number;
  timeScale: number;
  emailed: number;
  /** "Approval needed" emails sent in all (one per approval is right). */
  emails: number;
  duplicated: number;
  failed: number;
  realMs: { p50: number; p99: number; max: number };
  virtualSeconds: { p50: number; p99: number; max: number };
  wallSeconds: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
};

/** Starts `size` approvals at once on a started runtime and measures them (test/bench/scale.ts calls this too). */
export async function approvalLoad(h: Harness, size: number): Promise<ApprovalLoadFigures> {
  const timeScale = h.rt.clock.scale;
  const wallStart = Date.now();
  const subject = (i: number) => `Approval needed: bench approval ${i}`;
  const startedReal = new Map<number, number>();
  const startedVirtual = new Map<number, number>();
  const arns = await Promise.all(
    Array.from({ length: size }, async (_, i) => {
      const arn = await h.start('Approval', { title: `bench approval ${i}`, approvers: [`approver${i}@example.com`] });
      startedReal.set(i, Date.now());
      startedVirtual.set(i, h.rt.clock.nowMs());
      return arn;
    }),
  );
  const seenReal = new Map<number, number>();
  const deadline = Date.now() + 600_000;
  while (seenReal.size < size && Date.now() < deadline) {
    for (const m of h.rt.outbox.list()) {
      const i = /^Approval needed: bench approval (\d+)$/.exec(m.subject)?.[1];
      if (i !== undefined && !seenReal.has(Number(i))) seenReal.set(Number(i), Date.now());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Let stragglers (a second email for the same approval) show: one more sweep interval of virtual time.
  await new Promise((r) => setTimeout(r, h.rt.clock.toReal(5 * 60_000)));
  const mails = h.rt.outbox.list().filter((m) => /^Approval needed: bench approval \d+$/.test(m.subject));
  const perApproval = new Map<string, number>();
  for (const m of mails) perApproval.set(m.subject, (perApproval.get(m.subject) ?? 0) + 1);
  const firstSent = new Map<number, number>();
  for (let i = 0; i < size; i++) {
    const first = mails.find((m) => m.subject === subject(i));
    if (first) firstSent.set(i, Date.parse(first.sentAt));
  }
  let failed = 0;
  for (const executionArn of arns) {
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING' && d.status !== 'SUCCEEDED') failed++;
  }
  return {
    size,
    timeScale,
    emailed: firstSent.size,
    emails: mails.length,
    duplicated: [...perApproval.values()].filter((n) => n > 1).length,
    failed,
    realMs: summary([...seenReal].map(([i, at]) => at - startedReal.get(i)!)),
    virtualSeconds: summary([...firstSent].map(([i, at]) => (at - startedVirtual.get(i)!) / 1000)),
    wallSeconds: (Date.now() - wallStart) / 1000,
  };
}

export async function benchApprovalLoad(size: number, timeScale: number): Promise<ApprovalLoadFigures> {
  const h = await startRuntime({ seedFleet: false, timeScale });
  try {
    return await approvalLoad(h, size);
  } finally {
    await h.stop();
  }
}

/** The one-line verdict: every approval emailed exactly once, none failed. */
export function approvalLoadStatus(f: ApprovalLoadFigures): string {
  return f.emailed === f.size && f.emails === f.size && f.failed === 0
    ? 'ALL EMAILED ONCE'
    : `${f.emailed} of ${f.size} emailed, ${f.emails} emails, ${f.failed} failed`;
}

export function printApprovalLoad(f: ApprovalLoadFigures): string {
  const fmt = (s: { p50: number; p99: number; max: number }, unit: string, digits = 0) =>
    `p50 ${s.p50.toFixed(digits)} ${unit}, p99 ${s.p99.toFixed(digits)} ${unit}, max ${s.max.toFixed(digits)} ${unit}`;
  return [
    `Approval at load, ${f.size} started at once (time scale ${f.timeScale}): ${f.emailed} of ${f.size} emailed, ${f.emails} "Approval needed" emails (${f.duplicated} approvals emailed more than once), ${f.failed} executions failed`,
    `  start to email: ${fmt(f.virtualSeconds, 'virtual s', 1)}; ${fmt(f.realMs, 'real ms')}; wall ${f.wallSeconds.toFixed(1)} s`,
  ].join('\n');
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const size = Number(process.env.BENCH_APPROVALS ?? 200);
  const scale = Number(process.env.BENCH_TIME_SCALE ?? 50);
  benchApprovalLoad(size, scale).then(
    (f) => {
      console.log(printApprovalLoad(f));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
