/**
 * The endpoint as the real AWS CLI v2 (Debian's `awscli`, installed by .ci/run) sees it. Without AWS CLI v2 on the
 * machine these tests are skipped with one line saying how to get it (a failure under OPSFLOW_REQUIRE_TOOLS=1);
 * test/tools.ts finds the executable, passing over a pyenv AWS CLI v1 that may come first on PATH.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../demo-fleet';
import { awsCliEnv, findAwsCliV2, toolAvailable } from '../tools';
import { credentials, startRuntime, type Harness } from './harness';

const run = promisify(execFile);
const cli = findAwsCliV2();
const enabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');
let h: Harness;
let aws: (...args: string[]) => Promise<any>;
const cliEnv = () => awsCliEnv(h.stateDir, credentials);

beforeAll(async () => {
  if (!enabled) return;
  // A fixed Wednesday 10:00 Berlin, nine virtual hours before office-hours' 19:00 stop (nine real minutes at this
  // scale): on the real clock's time of day, that stop could fire mid-test and stop the instance first.
  h = await startRuntime({ timeScale: 60, virtualStart: Date.parse('2025-03-05T09:00:00Z') });
  aws = async (...args: string[]) => {
    const { stdout } = await run(cli!, ['--endpoint-url', h.endpoint, '--output', 'json', ...args], { env: cliEnv() });
    return stdout.trim() && args[0] !== 's3' ? JSON.parse(stdout) : {};
  };
});
afterAll(() => h?.stop());

const stateOf = async (id: string) => (await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].State!.Name;

describe.skipIf(!enabled)('AWS CLI v2 against the local endpoint', () => {
  it('is version 2', async () => {
    const { stdout } = await run(cli!, ['--version']);
    expect(stdout).toMatch(/^aws-cli\/2\./);
  });

  it('lists state machines, starts, describes and reads the history of an execution', async () => {
    const { stateMachines } = await aws('stepfunctions', 'list-state-machines');
    const approval = stateMachines.find((s: any) => s.name === 'Opsflow-Approval');
    expect(approval.stateMachineArn).toBe(h.arnOf('Approval'));

    const started = await aws(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      approval.stateMachineArn,
      '--name',
      'cli-run',
      '--input',
      '{"title":"x","approvers":["not-an-email"]}',
    );
    expect(started.executionArn).toMatch(/:execution:Opsflow-Approval:cli-run$/);
    await h.finished(started.executionArn);

    const described = await aws('stepfunctions', 'describe-execution', '--execution-arn', started.executionArn);
    expect(described).toMatchObject({ status: 'FAILED', name: 'cli-run', error: 'Input.Invalid' });
    const { executions } = await aws('stepfunctions', 'list-executions', '--state-machine-arn', approval.stateMachineArn, '--status-filter', 'FAILED');
    expect(executions.map((e: any) => e.name)).toContain('cli-run');
    const { events } = await aws('stepfunctions', 'get-execution-history', '--execution-arn', started.executionArn);
    expect(events[0].type).toBe('ExecutionStarted');
    expect(events.at(-1).type).toBe('ExecutionFailed');
  });

  it('describes, stops and starts EC2 instances', async () => {
    const { Reservations } = await aws(
      'ec2',
      'describe-instances',
      '--filters',
      'Name=tag:Schedule,Values=office-hours',
      'Name=instance-state-name,Values=running',
    );
    const ids: string[] = Reservations.flatMap((r: any) => r.Instances.map((i: any) => i.InstanceId));
    expect(ids.length).toBeGreaterThan(2);
    const id = ids.find((i) => i !== DEMO.kmsBroken)!;

    const stopped = await aws('ec2', 'stop-instances', '--instance-ids', id);
    expect(stopped.StoppingInstances[0]).toMatchObject({ InstanceId: id, PreviousState: { Name: 'running' }, CurrentState: { Name: 'stopping' } });
    // The instance reaches 'stopped' 60 virtual seconds later (1 s at this scale, longer on a busy machine).
    await h.until(`${id} to stop`, async () => ((await stateOf(id)) === 'stopped' ? true : undefined));
    const after = await aws('ec2', 'describe-instances', '--instance-ids', id);
    expect(after.Reservations[0].Instances[0].State.Name).toBe('stopped');

    const started = await aws('ec2', 'start-instances', '--instance-ids', id);
    expect(started.StartingInstances[0].CurrentState.Name).toBe('pending');
  });

  it('copies files to and from S3 and lists them; over 8 MB, up in a multipart upload and down in ranged parts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsflow-cli-s3-'));
    writeFileSync(join(dir, 'small.txt'), 'hello from the CLI');
    // Over the CLI's 8 MB multipart_threshold: uploaded in 8 MB parts, downloaded in 8 MB byte ranges.
    const big = Buffer.alloc(9 * 1024 * 1024 + 3, 'opsflow');
    writeFileSync(join(dir, 'big.bin'), big);
    await aws('s3', 'mb', 's3://cli-files');
    await aws('s3', 'cp', join(dir, 'small.txt'), 's3://cli-files/notes/a b+c.txt');
    await aws('s3', 'cp', join(dir, 'big.bin'), 's3://cli-files/big.bin');
    expect(h.rt.s3.getObject('cli-files', 'big.bin').meta.etag).toMatch(/^"[0-9a-f]{32}-2"$/);

    const { stdout: top } = await run(cli!, ['--endpoint-url', h.endpoint, 's3', 'ls', 's3://cli-files/'], { env: cliEnv() });
    expect(top).toMatch(/^\s+PRE notes\/$/m);
    expect(top).toMatch(/ 9437187 big\.bin$/m);
    const { stdout: notes } = await run(cli!, ['--endpoint-url', h.endpoint, 's3', 'ls', 's3://cli-files/notes/'], { env: cliEnv() });
    expect(notes).toMatch(/ 18 a b\+c\.txt$/m);

    await aws('s3', 'cp', 's3://cli-files/notes/a b+c.txt', join(dir, 'back.txt'));
    expect(readFileSync(join(dir, 'back.txt'), 'utf8')).toBe('hello from the CLI');
    await aws('s3', 'cp', 's3://cli-files/big.bin', join(dir, 'big-back.bin'));
    expect(readFileSync(join(dir, 'big-back.bin')).equals(big)).toBe(true);
  });

  it('surfaces EC2 error codes', async () => {
    await expect(aws('ec2', 'start-instances', '--instance-ids', 'i-0000000000000dead')).rejects.toThrow(/InvalidInstanceID\.NotFound/);
  });
});
