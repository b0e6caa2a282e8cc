/**
 * Reliability: the runtime loses nothing it acknowledged (issue 13).
 *
 * Ten rounds: `opsflow up` runs as a child process on one state directory; mixed load (StartExecution of the
 * Approval workflow, approvals through the emailed links, schedule fires) runs against it; after a delay drawn
 * from a seeded generator the runtime is killed with SIGKILL. The next round starts a runtime on the same
 * directory and checks, before any new load, that every execution that was acknowledged (200 with an ARN) in
 * any round exists, and that none is left RUNNING: each one the crash interrupted is FAILED with
 * Local.RuntimeRestarted.
 *
 * Approvals: each round first starts a few Approval executions and waits for their emails; one link is answered
 * before the load, the others during it (the kill may cut them off). Every approval answered 200 must have
 * reached Step Functions durably: after the restart its execution's history holds ActivitySucceeded.
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { RESTART_ERROR } from '../../local/engine';
import { credentials } from '../e2e/harness';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROUNDS = 10;
/** Approval executions started at the beginning of each round, answered during its load. */
const APPROVALS_PER_ROUND = 2;
/** A round whose approval emails are not out by then fails the test (it would not test approvals). */
const APPROVAL_DEADLINE_MS = 60_000;
/**
 * The load per round is bounded: an unbounded flood of starts and fires queues so much Lambda work on the two
 * cores that no approval email goes out before the kill, and approvals would go untested.
 */
const STARTS_PER_WORKER = 15;
const FIRES_PER_ROUND = 4;

/** mulberry32: the kill points are random but the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Up {
  child: ChildProcess;
  endpoint: string;
  stateMachines: Array<{ name: string; arn: string }>;
  schedules: string[];
}

const children: ChildProcess[] = [];

/** Starts `opsflow up --json` and resolves with its ready line (a signal: no polling). */
function up(stateDir: string): Promise<Up> {
  // `node --import tsx`, not the tsx CLI: one process, so SIGKILL hits the runtime itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli.ts', 'up', '--port', '0', '--json'], {
    // SES at 14 emails/s, an account out of the sandbox (as in the e2e harness): at the sandbox's 1/s the round's
    // approval emails, sent together, would be throttled and wait for the 5-minute sweep to resend them.
    // The runtime accepts the harness's credentials, whatever the developer's shell says.
    env: {
      ...process.env,
      OPSFLOW_STATE_DIR: stateDir,
      OPSFLOW_SES_RATE: '14',
      OPSFLOW_CREDENTIALS: `${credentials.accessKeyId}:${credentials.secretAccessKey}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so the Lambda workers it spawns can be cleaned up after the crash.
    detached: true,
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    // The ready document is pretty-printed JSON: complete once it parses.
    let text = '';
    lines.on('line', (line) => {
      if (!text && !line.startsWith('{')) return;
      text += `${line}\n`;
      let ready: { endpoint: string; stateMachines: Up['stateMachines']; schedules: string[] };
      try {
        ready = JSON.parse(text);
      } catch {
        return;
      }
      resolve({ child, endpoint: ready.endpoint, stateMachines: ready.stateMachines, schedules: ready.schedules });
    });
    child.once('exit', (code) => reject(new Error(`opsflow up exited (${code}) before it was ready: ${stderr}`)));
  });
}

/**
 * The approval links emailed for each title, once all are in the outbox; undefined after APPROVAL_DEADLINE_MS.
 * The outbox has no change signal, so it is read every 50 ms.
 */
async function approvalLinks(endpoint: string, titles: string[]): Promise<Map<string, string> | undefined> {
  const deadline = Date.now() + APPROVAL_DEADLINE_MS;
  while (Date.now() < deadline) {
    const outbox = (await (await fetch(`${endpoint}/_opsflow/outbox`)).json()) as Array<{ subject: string; links: string[] }>;
    const links = new Map<string, string>();
    for (const title of titles) {
      const mail = outbox.find((m) => m.subject.includes(title));
      const link = mail?.links.find((l) => l.includes('/approvals/'));
      if (link) links.set(title, link.split('?')[0]);
    }
    if (links.size === titles.length) return links;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** SIGKILL the runtime, then its process group (orphaned Lambda workers). */
async function crash(u: Up): Promise<void> {
  const exited = new Promise((r) => u.child.once('exit', r));
  u.child.kill('SIGKILL');
  await exited;
  try {
    process.kill(-u.child.pid!, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

afterAll(() => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('kill -9 during mixed load', () => {
  it(`loses no acknowledged execution in ${ROUNDS} rounds, and marks every interrupted one ${RESTART_ERROR}`, { timeout: 300_000 }, async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'opsflow-crash-')), 'state');
    const random = seeded(13);
    const acknowledged = new Set<string>();
    /** Executions whose approval link was answered 200. */
    const approved = new Set<string>();
    const roundsWithoutApproval: number[] = [];
    const undecided: string[] = [];
    let fires = 0;
    let interrupted = 0;
    const lost: string[] = [];
    const leftRunning: string[] = [];

    for (let round = 0; round <= ROUNDS; round++) {
      const u = await up(stateDir);
      const sfn = new SFNClient({ endpoint: u.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      const approval = u.stateMachines.find((s) => s.name.endsWith('Approval'))!;
      // Act, first part: the round's approvals start before the checks, so their emails go out meanwhile and
      // before the load competes with them.
      const titles: string[] = [];
      const byTitle = new Map<string, string>();
      for (let k = 0; k < (round < ROUNDS ? APPROVALS_PER_ROUND : 0); k++) {
        const title = `approval round ${round} #${k}`;
        const out = await sfn.send(
          new StartExecutionCommand({
            stateMachineArn: approval.arn,
            input: JSON.stringify({ title, approvers: ['lead@example.com'], requestedBy: 'reliability' }),
          }),
        );
        acknowledged.add(out.executionArn!);
        titles.push(title);
        byTitle.set(title, out.executionArn!);
      }
      // Assess the previous rounds: everything acknowledged exists; nothing is left RUNNING.
      for (const executionArn of acknowledged) {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch(() => undefined);
        if (!d) lost.push(executionArn);
      }
      // An acknowledged approval reached Step Functions before its 200: the history holds the decision.
      for (const executionArn of approved) {
        const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 })).catch(() => undefined);
        if (!history?.events?.some((e) => e.type === 'ActivitySucceeded')) undecided.push(executionArn);
      }
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: approval.arn, nextToken, maxResults: 1000 }));
        for (const e of page.executions ?? []) {
          if (e.status === 'RUNNING' && ![...byTitle.values()].includes(e.executionArn!)) leftRunning.push(e.executionArn!);
          if (e.status === 'FAILED' && round === ROUNDS) {
            const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
            if (d.error === RESTART_ERROR) interrupted += 1;
          }
        }
        nextToken = page.nextToken;
      } while (nextToken);
      if (round === ROUNDS) {
        sfn.destroy();
        await crash(u);
        break;
      }

      const links = await approvalLinks(u.endpoint, titles);
      if (!links) roundsWithoutApproval.push(round);
      const decide = async (title: string) => {
        try {
          const res = await fetch(links!.get(title)!, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'decision=approve&comment=ok',
          });
          if (res.ok) approved.add(byTitle.get(title)!);
        } catch {
          // cut off by the kill
        }
      };
      // One approval is acknowledged before the load, so every round has one to check; the rest are answered
      // during the load and may be cut off by the kill.
      if (links) await decide(titles[0]);
      let stopping = false;
      const starter = async (worker: number) => {
        for (let i = 0; !stopping && i < STARTS_PER_WORKER; i++) {
          const input = JSON.stringify({ title: `round ${round} worker ${worker} #${i}`, approvers: ['lead@example.com'], requestedBy: 'reliability' });
          try {
            const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: approval.arn, input }));
            acknowledged.add(out.executionArn!);
          } catch {
            // refused or cut off by the kill: not acknowledged, nothing to check
          }
        }
      };
      const firer = async () => {
        for (let i = 0; !stopping && i < FIRES_PER_ROUND; i++) {
          const schedule = u.schedules[Math.floor(random() * u.schedules.length)];
          try {
            const res = await fetch(`${u.endpoint}/_opsflow/schedules/${encodeURIComponent(schedule)}/fire`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{}',
            });
            if (res.ok) fires += 1;
          } catch {
            // cut off by the kill
          }
        }
      };
      const load = Promise.all([starter(1), starter(2), starter(3), starter(4), firer(), ...(links ? titles.slice(1).map(decide) : [])]);
      await new Promise((r) => setTimeout(r, 300 + random() * 1200));
      await crash(u);
      stopping = true;
      await load;
      sfn.destroy();
    }

    console.log(
      `reliability: ${ROUNDS} kill -9 rounds, ${acknowledged.size} StartExecution acknowledged, ${approved.size} approvals and ${fires} schedule fires acknowledged; lost: ${lost.length}; interrupted and marked ${RESTART_ERROR}: ${interrupted}`,
    );
    expect(acknowledged.size).toBeGreaterThan(ROUNDS);
    expect(lost).toEqual([]);
    expect(roundsWithoutApproval).toEqual([]);
    expect(approved.size).toBeGreaterThanOrEqual(ROUNDS);
    expect(undecided).toEqual([]);
    expect(leftRunning).toEqual([]);
    expect(interrupted).toBeGreaterThan(0);
  });
});
