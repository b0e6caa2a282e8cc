/**
 * The runtime's Secrets Manager through the real SDK client and the real AWS CLI v2: versions and staging labels as
 * PutSecretValue's page describes them, AWS's errors, durability across a restart, and IAM's resource (the full
 * secret ARN, whether the call names the secret by name or ARN).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceRequests } from '../../local/iam/requests';
import { Clock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { SecretsManagerService } from '../../local/services/secretsmanager';
import { awsCliEnv, findAwsCliV2 } from '../tools';

const root = mkdtempSync(join(tmpdir(), 'opsflow-secretsmanager-'));
const state = new StateDir(root);
const sm = new SecretsManagerService({ state, clock: new Clock() });
let server: Server;
let endpoint: string;
let client: SecretsManagerClient;
const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' };

beforeAll(async () => {
  server = createServer([sm], async () => ({ status: 404, body: '' }));
  endpoint = `http://127.0.0.1:${await listen(server, 0)}`;
  client = new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('SecretsManagerService', () => {
  it('creates a secret with an ARN ending in six random characters, empty until a value is put', async () => {
    const created = await client.send(new CreateSecretCommand({ Name: 'chat/empty', Description: 'no value yet' }));
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:chat\/empty-[A-Za-z]{6}$/);
    expect(created.VersionId).toBeUndefined();
    // AWS's answer for a secret with no value: ResourceNotFoundException naming the staging label.
    const empty = client.send(new GetSecretValueCommand({ SecretId: 'chat/empty' }));
    await expect(empty).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(empty).rejects.toThrow("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
    await expect(client.send(new CreateSecretCommand({ Name: 'chat/empty' }))).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'chat/none' }))).rejects.toThrow("Secrets Manager can't find the specified secret.");
  });

  it('moves AWSCURRENT to each new value and AWSPREVIOUS to the one before; old versions stay readable by stage and id', async () => {
    const { ARN } = await client.send(new CreateSecretCommand({ Name: 'chat/rotate', SecretString: '{"v":1}' }));
    const one = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    const two = await client.send(new PutSecretValueCommand({ SecretId: 'chat/rotate', SecretString: '{"v":2}' }));
    const three = await client.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: '{"v":3}' }));

    expect(two.VersionStages).toEqual(['AWSCURRENT']);
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'chat/rotate' }))).SecretString).toBe('{"v":3}');
    const previous = await client.send(new GetSecretValueCommand({ SecretId: ARN, VersionStage: 'AWSPREVIOUS' }));
    expect([previous.SecretString, previous.VersionId, previous.VersionStages]).toEqual(['{"v":2}', two.VersionId, ['AWSPREVIOUS']]);
    const described = await client.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(described.VersionIdsToStages).toEqual({ [two.VersionId!]: ['AWSPREVIOUS'], [three.VersionId!]: ['AWSCURRENT'] });
    expect(described.LastChangedDate).toBeInstanceOf(Date);
    // Version one lost its last label: deprecated, yet still readable by id.
    expect((await client.send(new GetSecretValueCommand({ SecretId: ARN, VersionId: one.VersionId }))).SecretString).toBe('{"v":1}');
  });

  it('PutSecretValue with explicit stages moves only those; a repeated token is ignored, a reused one with a new value refused', async () => {
    await client.send(new CreateSecretCommand({ Name: 'chat/stages', SecretString: 'a' }));
    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: 'chat/stages',
        SecretString: 'b',
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: 'tok-00000000000000000000000000000001',
      }),
    );
    const again = await client.send(
      new PutSecretValueCommand({
        SecretId: 'chat/stages',
        SecretString: 'b',
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: 'tok-00000000000000000000000000000001',
      }),
    );
    expect(again.VersionId).toBe(pending.VersionId);
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'chat/stages' }))).SecretString).toBe('a');
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'chat/stages', VersionStage: 'AWSPENDING' }))).SecretString).toBe('b');
    await expect(
      client.send(new PutSecretValueCommand({ SecretId: 'chat/stages', SecretString: 'c', ClientRequestToken: 'tok-00000000000000000000000000000001' })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(client.send(new PutSecretValueCommand({ SecretId: 'chat/stages', SecretString: 'c', SecretBinary: new Uint8Array([1]) }))).rejects.toThrow(
      "You can't specify both a binary secret value and a string secret value",
    );
  });

  it('UpdateSecret changes the description and, with a value, makes a new current version', async () => {
    await client.send(new CreateSecretCommand({ Name: 'chat/update', SecretString: 'old' }));
    await client.send(new UpdateSecretCommand({ SecretId: 'chat/update', Description: 'updated', SecretString: 'new' }));
    expect((await client.send(new DescribeSecretCommand({ SecretId: 'chat/update' }))).Description).toBe('updated');
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'chat/update', VersionStage: 'AWSPREVIOUS' }))).SecretString).toBe('old');
  });

  it('answers the AWS CLI v2', async () => {
    const cli = findAwsCliV2();
    expect(cli, 'AWS CLI v2 (/usr/bin/aws) is installed on this machine').toBeDefined();
    await client.send(new CreateSecretCommand({ Name: 'chat/cli', SecretString: '{"mattermostToken":"t"}' }));
    const { stdout } = await promisify(execFile)(
      cli!,
      ['--endpoint-url', endpoint, '--output', 'json', 'secretsmanager', 'get-secret-value', '--secret-id', 'chat/cli'],
      {
        env: awsCliEnv(root, credentials),
      },
    );
    const out = JSON.parse(stdout) as { SecretString: string; VersionStages: string[]; Name: string };
    expect([out.Name, out.SecretString, out.VersionStages]).toEqual(['chat/cli', '{"mattermostToken":"t"}', ['AWSCURRENT']]);
  });

  it('keeps secrets and their versions across a restart', async () => {
    const { ARN } = await client.send(new CreateSecretCommand({ Name: 'chat/durable', SecretString: 'one' }));
    await client.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: 'two' }));
    await state.commit();
    state.close();
    const reopened = new SecretsManagerService({ state: new StateDir(root), clock: new Clock() });
    expect(reopened.arnOf('chat/durable')).toBe(ARN);
    // A template's secret that exists already keeps its value on the next deploy.
    reopened.deploy({ arn: ARN!, name: 'chat/durable', value: 'from-template' });
    const res = await reopened.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      body: Buffer.from(JSON.stringify({ SecretId: 'chat/durable' })),
      service: 'secretsmanager',
      target: 'secretsmanager.GetSecretValue',
      accessKeyId: 'AKIDLOCAL',
    });
    expect(JSON.parse(String(res.body)).SecretString).toBe('two');
  });
});

describe('IAM request context of Secrets Manager calls', () => {
  it('authorizes on the full secret ARN, whether named by name or by ARN', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:Opsflow-ChatSecret-AbCdEf';
    const lookups = {
      instanceTags: () => undefined,
      resourceTags: () => undefined,
      secretArn: (id: string) => (id === arn || id === 'Opsflow-ChatSecret' ? arn : undefined),
    };
    const request = (SecretId: string) =>
      resourceRequests({ service: 'secretsmanager', operation: 'GetSecretValue', protocol: 'json', params: { SecretId } }, lookups);
    expect(request('Opsflow-ChatSecret')).toEqual([{ action: 'secretsmanager:GetSecretValue', resource: arn, context: {} }]);
    expect(request(arn)).toEqual([{ action: 'secretsmanager:GetSecretValue', resource: arn, context: {} }]);
    expect(request('other')[0].resource).toBe('arn:aws:secretsmanager:us-east-1:000000000000:secret:other');
  });
});
