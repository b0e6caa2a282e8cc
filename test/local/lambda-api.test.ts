/**
 * The Lambda API's function lifecycle on a manual virtual clock, through the real @aws-sdk/client-lambda: a created
 * function is Pending, refuses invocations, then is Active; created functions are kept across a restart. (Invocations
 * themselves run in test/e2e/runtime-created.test.ts, where functions follow a real clock.)
 */
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ResourceConflictException } from '@aws-sdk/client-lambda';
import { strToU8, zipSync } from 'fflate';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LambdaRunner } from '../../local/services/lambda';
import { FUNCTION_PENDING_MS, LambdaApi } from '../../local/services/lambda-api';
import { serveOne } from './one-service';

const s = serveOne({
  prefix: 'lambda-api',
  service: (state, clock) => {
    const runner = new LambdaRunner({ clock, endpoint: () => 'http://127.0.0.1:1' });
    const api = new LambdaApi({ runner, state, clock });
    api.restore();
    return { handler: api, close: () => runner.close() };
  },
  client: (config) => new LambdaClient(config),
});
const clock = s.clock;

describe('LambdaApi', () => {
  it('creates a function Pending, refuses to invoke it until it is Active, and keeps it across a restart', async () => {
    // Act
    const created = await s.client.send(
      new CreateFunctionCommand({
        FunctionName: 'fresh',
        Runtime: 'nodejs20.x',
        Handler: 'lib/main.handler',
        Role: 'arn:aws:iam::000000000000:role/any',
        Code: { ZipFile: zipSync({ 'lib/main.js': strToU8('exports.handler = async () => 1;') }) },
      }),
    );
    const pendingInvoke = await s.client.send(new InvokeCommand({ FunctionName: 'fresh' })).catch((e: Error) => e);
    await clock.advance(FUNCTION_PENDING_MS);
    const later = await s.client.send(new GetFunctionCommand({ FunctionName: 'fresh' }));
    await s.restart();
    const restored = await s.client.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:fresh' }));

    // Assess
    expect(created).toMatchObject({ State: 'Pending', StateReasonCode: 'Creating', Handler: 'lib/main.handler', Timeout: 3, MemorySize: 128 });
    expect(pendingInvoke).toBeInstanceOf(ResourceConflictException);
    expect((pendingInvoke as Error).message).toBe('The operation cannot be performed at this time. The function is currently in the following state: Pending');
    expect(later.Configuration?.State).toBe('Active');
    expect(restored.Configuration).toMatchObject({ FunctionName: 'fresh', Runtime: 'nodejs20.x', State: 'Active', CodeSha256: created.CodeSha256 });
    expect(existsSync(join(s.dir, 'functions', 'fresh', 'lib', 'main.js'))).toBe(true);
  });

  it('refuses a package whose entries leave its directory', async () => {
    // Act
    const escaped = await s.client
      .send(
        new CreateFunctionCommand({
          FunctionName: 'escape',
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Role: 'arn:aws:iam::000000000000:role/any',
          Code: { ZipFile: zipSync({ '../outside.js': strToU8('x') }) },
        }),
      )
      .catch((e: Error) => e);

    // Assess
    expect(escaped).toMatchObject({ name: 'InvalidParameterValueException', message: expect.stringMatching(/outside its root/) });
    expect(existsSync(join(s.dir, 'functions', 'outside.js'))).toBe(false);
  });
});
