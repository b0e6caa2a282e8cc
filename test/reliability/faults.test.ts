/**
 * Reliability (issue 13): a full disk, corrupt state, oversized bodies, reset of directories that are not the
 * runtime's own, file modes. The runtime runs in-process (test/e2e/harness.ts); kill -9 rounds are in crash.test.ts.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { startRuntime, type Harness } from '../e2e/harness';

const exec = promisify(execFile);
const SIGNED = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/us-east-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' };

function cli(args: string[], env: Record<string, string>) {
  return exec(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

let h: Harness;
beforeAll(async () => {
  h = await startRuntime({ seedFleet: false });
});
afterAll(async () => {
  await h?.stop();
});

describe('a full disk', () => {
  it('fails the request with 503, says so in health, and works again once there is space; the runtime never crashes', async () => {
    // Prepare
    const approval = h.arnOf('Approval');
    const faults = (patch: object) =>
      fetch(`${h.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
    await faults({ diskFull: true });

    // Act
    const refused = await h.sfn
      .send(new StartExecutionCommand({ stateMachineArn: approval, input: '{}' }))
      .catch((err: Error & { $metadata?: { httpStatusCode?: number } }) => err);
    const sick = await fetch(`${h.endpoint}/_opsflow/health`);
    const sickBody = (await sick.json()) as { status: string; storage: { error: string } };
    await faults({ diskFull: false });
    await h.rt.state.commit();
    const well = await fetch(`${h.endpoint}/_opsflow/health`);
    const started = await h.sfn.send(new StartExecutionCommand({ stateMachineArn: approval, input: '{}' }));

    // Assess
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).name).toBe('ServiceUnavailable');
    expect((refused as Error).message).toMatch(/could not save this change.*ENOSPC/);
    expect(sick.status).toBe(503);
    expect(sickBody.status).toBe('failing');
    expect(sickBody.storage.error).toMatch(/ENOSPC/);
    expect(well.status).toBe(200);
    expect(started.executionArn).toMatch(/^arn:aws:states:/);
  });
});

describe('oversized bodies', () => {
  it('answers 413 from Content-Length, before reading the body, at the Step Functions 1 MB request limit', async () => {
    // Act
    const res = await fetch(h.endpoint, {
      method: 'POST',
      headers: { ...SIGNED, 'x-amz-target': 'AWSStepFunctions.StartExecution', 'content-type': 'application/x-amz-json-1.0' },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    const body = (await res.json()) as { message: string };

    // Assess
    expect(res.status).toBe(413);
    expect(body.message).toMatch(/exceeds the 1048576-byte limit \(Step Functions maximum request size/);
  });

  it('refuses a streamed (chunked) body once it passes the cap, without buffering the rest', async () => {
    // Prepare: 300 MB offered in 1 MB chunks, sent only while the server keeps reading.
    const chunk = Buffer.alloc(1024 * 1024, 120);
    const rssBefore = process.memoryUsage().rss;
    let sent = 0;

    // Act
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${h.endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/json' } });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', (err) => (answered ? undefined : reject(err)));
      const pump = () => {
        while (!answered && sent < 300 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;

    // Assess
    expect(status).toBe(413);
    expect(sent).toBeLessThan(300 * 1024 * 1024);
    expect(grownMb).toBeLessThan(200);
  });
});

describe('corrupt state', () => {
  it('refuses to start, naming the file, the line and the fix', async () => {
    // Prepare
    const stateDir = join(mkdtempSync(join(tmpdir(), 'opsflow-corrupt-')), 'state');
    const first = await startRuntime({ stateDir, seedFleet: false });
    await first.stop();
    const journal = readdirSync(stateDir).find((f) => f.startsWith('journal.'))!;
    appendFileSync(join(stateDir, journal), '{"s":"sfn.executions","k":"x",\n{"s":"sfn.executions","k":"y","v":{}}\n');

    // Act
    const refused = await Runtime.start({ cdkOut: process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', port: 0, stateDir }).then(
      () => undefined,
      (err: Error) => err,
    );

    // Assess
    expect(refused?.message).toContain(`the state file ${join(stateDir, journal)} is corrupt at line`);
    expect(refused?.message).toContain('npm run reset');
  });
});

describe('reset', () => {
  it('refuses a directory the runtime did not create, and keeps its files', async () => {
    // Prepare
    const foreign = mkdtempSync(join(tmpdir(), 'opsflow-foreign-'));
    writeFileSync(join(foreign, 'notes.txt'), 'mine');

    // Act
    const { code, out } = await cli(['reset'], { OPSFLOW_STATE_DIR: foreign, OPSFLOW_ENDPOINT: 'http://127.0.0.1:9' });

    // Assess
    expect(code).toBe(1);
    expect(out).toMatch(/not an opsflow state directory .*refusing to delete it/);
    expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses the state directory of a runtime running on another port (its lock), and deletes nothing', async () => {
    // Act: the CLI probes a port where nothing listens; the lock still stops it.
    const { code, out } = await cli(['reset'], { OPSFLOW_STATE_DIR: h.stateDir, OPSFLOW_ENDPOINT: 'http://127.0.0.1:9' });

    // Assess
    expect(code).toBe(1);
    expect(out).toMatch(/in use by the opsflow runtime with pid \d+ .*stop it before resetting its state/);
    expect(existsSync(join(h.stateDir, 'opsflow-state.json'))).toBe(true);
  });

  it("deletes a stopped runtime's own directory", async () => {
    // Prepare
    const stateDir = join(mkdtempSync(join(tmpdir(), 'opsflow-reset-')), 'state');
    await (await startRuntime({ stateDir, seedFleet: false })).stop();

    // Act
    const { code } = await cli(['reset'], { OPSFLOW_STATE_DIR: stateDir, OPSFLOW_ENDPOINT: 'http://127.0.0.1:9' });

    // Assess
    expect(code).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('the runtime refuses to keep state in a directory holding unrelated files', async () => {
    // Prepare
    const foreign = mkdtempSync(join(tmpdir(), 'opsflow-foreign-'));
    mkdirSync(join(foreign, 'src'));

    // Act
    const refused = await Runtime.start({ cdkOut: process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', port: 0, stateDir: foreign }).then(
      () => undefined,
      (err: Error) => err,
    );

    // Assess
    expect(refused?.message).toMatch(/holds files opsflow did not create \(src\)/);
  });
});

describe('file modes', () => {
  it('keeps state (task tokens, link secrets, mail) readable by this user only: files 0600 in 0700 directories', async () => {
    // Act
    const modes: Record<string, number> = {};
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        const st = statSync(p);
        modes[p.slice(h.stateDir.length + 1) || '.'] = st.mode & 0o777;
        if (st.isDirectory()) walk(p);
      }
    };
    walk(h.stateDir);
    modes['.'] = statSync(h.stateDir).mode & 0o777;

    // Assess
    for (const [path, mode] of Object.entries(modes)) {
      const dir = path === '.' || statSync(join(h.stateDir, path)).isDirectory();
      expect({ path, mode: mode.toString(8) }).toEqual({ path, mode: dir ? '700' : '600' });
    }
  });
});
