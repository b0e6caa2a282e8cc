/**
 * A simulated organization as the real AWS CLI v2 sees it: `aws sts assume-role` into a member account's role, then
 * `aws ec2 describe-instances` with the temporary credentials in another region, on the fixture app
 * test/fixtures/org-app. Skipped with one line when AWS CLI v2 is missing (test/tools.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';
import { findAwsCliV2, toolAvailable } from '../tools';

const run = promisify(execFile);
const cli = findAwsCliV2();
const enabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');
const USER = { accessKeyId: 'test', secretAccessKey: 'test' };
const dir = mkdtempSync(join(tmpdir(), 'opsflow-org-cli-'));
let rt: Runtime;

/** The AWS CLI with exactly these credentials and region (nothing from the developer's shell or ~/.aws). */
async function aws(env: Record<string, string>, ...args: string[]): Promise<any> {
  const { stdout } = await run(cli!, ['--endpoint-url', rt.endpoint, '--output', 'json', ...args], {
    env: { PATH: process.env.PATH, HOME: dir, AWS_PAGER: '', AWS_DEFAULT_REGION: 'us-east-1', ...env },
  });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  if (!enabled) return;
  rt = await Runtime.start({ cdkOut: join(__dirname, '../fixtures/org-app/assembly'), stateDir: join(dir, 'state'), port: 0, credentials: [USER] });
}, 60_000);
afterAll(async () => {
  await rt?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!enabled)('AWS CLI v2 in a simulated organization', () => {
  it('assumes a role in account 111111111111 and describes its instances in eu-west-1', async () => {
    const hub = { AWS_ACCESS_KEY_ID: USER.accessKeyId, AWS_SECRET_ACCESS_KEY: USER.secretAccessKey };
    expect((await aws(hub, 'sts', 'get-caller-identity')).Account).toBe('000000000000');
    const assumed = await aws(
      hub,
      'sts',
      'assume-role',
      '--role-arn',
      'arn:aws:iam::111111111111:role/opsflow-operator',
      '--role-session-name',
      'cli-operator',
    );
    expect(assumed.AssumedRoleUser.Arn).toBe('arn:aws:sts::111111111111:assumed-role/opsflow-operator/cli-operator');
    const member = {
      AWS_ACCESS_KEY_ID: assumed.Credentials.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: assumed.Credentials.SecretAccessKey,
      AWS_SESSION_TOKEN: assumed.Credentials.SessionToken,
      AWS_DEFAULT_REGION: 'eu-west-1',
    };
    expect(await aws(member, 'sts', 'get-caller-identity')).toMatchObject({ Account: '111111111111' });
    const { Reservations } = await aws(member, 'ec2', 'describe-instances');
    expect(Reservations.flatMap((r: any) => r.Instances.map((i: any) => [i.InstanceId, i.Placement.AvailabilityZone]))).toEqual([
      ['i-0111111111111f001', 'eu-west-1b'],
    ]);
    expect(Reservations[0].OwnerId).toBe('111111111111');
  }, 120_000);

  it('is refused by the trust policy when the external id is wrong', async () => {
    const hub = { AWS_ACCESS_KEY_ID: USER.accessKeyId, AWS_SECRET_ACCESS_KEY: USER.secretAccessKey };
    const refused = aws(
      hub,
      'sts',
      'assume-role',
      '--role-arn',
      'arn:aws:iam::111111111111:role/opsflow-member',
      '--role-session-name',
      'x1',
      '--external-id',
      'wrong-id',
    );
    await expect(refused).rejects.toMatchObject({
      stderr: expect.stringContaining(
        'An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::000000000000:user/test is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/opsflow-member',
      ),
    });
  }, 120_000);
});
