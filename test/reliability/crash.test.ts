/**
 * Reliability: the runtime loses nothing it acknowledged (issue 13).
 *
 * Ten rounds: `opsflow up` runs as a child process on one state directory; mixed load (StartExecution of the
 * Approval workflow, approvals through the emailed links, schedule fires) runs against it; after a delay drawn
 * from a seeded generator the runtime is killed with SIGKILL. The next round starts a runtime on the same
 * directory and checks, before any new load, that every execution that was acknowledged (200 with an ARN) in
 * any round exists, and that none is left RUNNING: each one the crash interrupted is FAILED with
 * Local.RuntimeRestarted.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { RESTART_ERROR } from '../../local/engine';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROUNDS = 10;
const credentials = { accessKeyId: 'AKIDRELIABILITY', secretAccessKey: 'local' };

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
    env: { ...process.env, OPSFLOW_STATE_DIR: stateDir },
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
    let approvals = 0;
    let fires = 0;
    let interrupted = 0;
    const lost: string[] = [];
    const leftRunning: string[] = [];

    for (let round = 0; round <= ROUNDS; round++) {
      const u = await up(stateDir);
      const sfn = new SFNClient({ endpoint: u.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      // Assess the previous rounds: everything acknowledged exists; nothing is left RUNNING.
      for (const executionArn of acknowledged) {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch(() => undefined);
        if (!d) lost.push(executionArn);
      }
      const approval = u.stateMachines.find((s) => s.name.endsWith('Approval'))!;
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: approval.arn, nextToken, maxResults: 1000 }));
        for (const e of page.executions ?? []) {
          if (e.status === 'RUNNING') leftRunning.push(e.executionArn!);
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

      // Act: mixed load until the kill.
      let stopping = false;
      const starter = async (worker: number) => {
        for (let i = 0; !stopping; i++) {
          const input = JSON.stringify({ title: `round ${round} worker ${worker} #${i}`, approvers: ['lead@example.com'], requestedBy: 'reliability' });
          try {
            const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: approval.arn, input }));
            acknowledged.add(out.executionArn!);
          } catch {
            // refused or cut off by the kill: not acknowledged, nothing to check
          }
        }
      };
      const approver = async () => {
        const used = new Set<string>();
        while (!stopping) {
          try {
            const outbox = (await (await fetch(`${u.endpoint}/_opsflow/outbox`)).json()) as Array<{ links: string[] }>;
            const link = outbox.flatMap((m) => m.links).find((l) => l.startsWith(u.endpoint) && !used.has(l));
            if (!link) {
              await new Promise((r) => setImmediate(r));
              continue;
            }
            used.add(link);
            const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve&comment=ok' });
            if (res.ok) approvals += 1;
          } catch {
            // cut off by the kill
          }
        }
      };
      const firer = async () => {
        while (!stopping) {
          const schedule = u.schedules[Math.floor(random() * u.schedules.length)];
          try {
            const res = await fetch(`${u.endpoint}/_opsflow/schedules/${encodeURIComponent(schedule)}/fire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
            if (res.ok) fires += 1;
          } catch {
            // cut off by the kill
          }
        }
      };
      const load = Promise.all([starter(1), starter(2), starter(3), starter(4), approver(), firer()]);
      // Long enough, in some rounds, for approval emails to go out and be answered.
      await new Promise((r) => setTimeout(r, 300 + random() * 2000));
      await crash(u);
      stopping = true;
      await load;
      sfn.destroy();
    }

    console.log(`reliability: ${ROUNDS} kill -9 rounds, ${acknowledged.size} StartExecution acknowledged, ${approvals} approvals and ${fires} schedule fires acknowledged; lost: ${lost.length}; interrupted and marked ${RESTART_ERROR}: ${interrupted}`);
    expect(acknowledged.size).toBeGreaterThan(ROUNDS);
    expect(lost).toEqual([]);
    expect(leftRunning).toEqual([]);
    expect(interrupted).toBeGreaterThan(0);
  });
});
