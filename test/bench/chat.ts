/**
 * Approvals in chat at load (issue 22): N approvals started at once, each posted to the local chat server's Slack
 * (`chat: {slack: <channel>}` in the input, README "Approvals in chat"), then all N approved at once with a click on the
 * message's Approve button. Printed, never asserted (p50 / p99 / max):
 *  (a) StartExecution answered → the request's message in the local chat server, in virtual seconds (the message's
 *      `postedAt` on the virtual clock) and real ms (chat server read every 50 ms);
 *  (b) click → the approval's wait ends: virtual seconds to the history's `ActivitySucceeded` (the Activity the
 *      execution waits on), real ms to the execution's end (the runtime's completion signal).
 * The runtime's AWS rules are on (Lambda concurrency, IAM, the network model); the local runtime runs every worker and
 * chat callback in one function process per function, so these are CPU-bound figures of this machine, not Slack's or AWS's.
 * Alone: `npm run bench -- chat` (BENCH_CHAT_APPROVALS for N, default 50; BENCH_TIME_SCALE, default 50).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { cpus, loadavg } from 'node:os';
import { fullHistory, startRuntime } from '../e2e/harness';

const SIZE = Number(process.env.BENCH_CHAT_APPROVALS ?? 50);
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 50);
/** An approver of the shipped config, a person of the local workspace (test/e2e/approval-chat.test.ts). */
const APPROVER = 'approver@example.com';

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const fmt = (values: number[], unit: string, digits: number) => {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${pct(s, 50).toFixed(digits)} ${unit}, p99 ${pct(s, 99).toFixed(digits)} ${unit}, max ${(s.at(-1) ?? NaN).toFixed(digits)} ${unit}`;
};

export async function benchChat(log: (line: string) => void = console.log): Promise<void> {
  const h = await startRuntime({ seedFleet: false, timeScale: TIME_SCALE });
  try {
    const channel = h.rt.chat.ws.channel('general')!.slackId;
    const wallStart = Date.now();
    const load = loadavg()[0];
    const title = (i: number) => `chat bench approval ${i}`;
    const runs = await Promise.all(
      Array.from({ length: SIZE }, async (_, i) => {
        const arn = await h.start('Approval', { title: title(i), approvers: [APPROVER], chat: { slack: channel } });
        return { i, arn, startedReal: Date.now(), startedVirtual: h.rt.clock.nowMs() };
      }),
    );
    // (a) the request's message (not a private answer) in the chat server.
    const seen = new Map<number, { id: string; real: number; virtual: number }>();
    const deadline = Date.now() + 600_000;
    while (seen.size < SIZE && Date.now() < deadline) {
      for (const m of h.rt.chat.list()) {
        if (m.platform !== 'slack' || m.visibleTo) continue;
        const i = /chat bench approval (\d+)\b/.exec(m.lines.join('\n'))?.[1];
        if (i !== undefined && !seen.has(Number(i)) && m.buttons.some((b) => b.id === 'approve'))
          seen.set(Number(i), { id: m.id, real: Date.now(), virtual: Date.parse(m.postedAt) });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const postedReal = runs.filter((r) => seen.has(r.i)).map((r) => seen.get(r.i)!.real - r.startedReal);
    const postedVirtual = runs.filter((r) => seen.has(r.i)).map((r) => (seen.get(r.i)!.virtual - r.startedVirtual) / 1000);

    // (b) every posted request approved at once by a click.
    const decided = await Promise.all(
      runs
        .filter((r) => seen.has(r.i))
        .map(async (r) => {
          const clickVirtual = h.rt.clock.nowMs();
          const clickReal = Date.now();
          const click = await h.rt.chat.click(seen.get(r.i)!.id, 'approve', APPROVER);
          await h.rt.sfn.waitForExecution(r.arn);
          const real = Date.now() - clickReal;
          const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: r.arn }));
          const events = await fullHistory(h.sfn, r.arn);
          const succeeded = events.find((e) => e.type === 'ActivitySucceeded');
          const at = succeeded?.timestamp ?? d.stopDate!;
          return { status: d.status, callback: click.callback?.status, real, virtual: (+at - clickVirtual) / 1000, fromEvent: succeeded?.type };
        }),
    );
    const ok = decided.filter((d) => d.status === 'SUCCEEDED').length;
    const callbacks = decided.filter((d) => d.callback === 200).length;
    log(
      `Approvals in chat, ${SIZE} started at once with a Slack channel (time scale ${TIME_SCALE}, load ${load.toFixed(1)} on ${cpus().length} cores): ` +
        `${seen.size} of ${SIZE} posted, ${callbacks} clicks answered 200, ${ok} of ${SIZE} SUCCEEDED after one click each (all clicked at once)`,
    );
    log(`  (a) start to message in chat: ${fmt(postedVirtual, 'virtual s', 1)}; ${fmt(postedReal, 'real ms', 0)}`);
    log(
      `  (b) click to the wait's end: ${fmt(
        decided.map((d) => d.virtual),
        'virtual s',
        1,
      )} (to ${decided[0]?.fromEvent ?? 'the execution end'}); click to execution end ${fmt(
        decided.map((d) => d.real),
        'real ms',
        0,
      )}; wall ${((Date.now() - wallStart) / 1000).toFixed(1)} s`,
    );
  } finally {
    await h.stop();
  }
}
