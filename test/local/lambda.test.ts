import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_HEADER, Clock, type AwsRequest, type ServiceHandler } from '../../local/kernel';
import { LambdaInvokeError, LambdaRunner, LAMBDA_ACCESS_KEY_ID, nodeForRuntime, type LambdaFunction } from '../../local/services/lambda';
import { createServer, listen } from '../../local/server';

/** A bundle as NodejsFunction emits it: plain CommonJS, one exported handler. */
const HANDLER = `
let invocations = 0; // module state survives while the environment stays warm
let laterRan = false;
exports.handler = async (event, context) => {
  invocations += 1;
  switch (event.action) {
    case 'echo':
      return {
        event, invocations,
        endpoint: process.env.AWS_ENDPOINT_URL, color: process.env.COLOR, other: process.env.OTHER ?? null,
        region: process.env.AWS_REGION, accessKeyId: process.env.AWS_ACCESS_KEY_ID,
        sessionToken: process.env.AWS_SESSION_TOKEN ?? null, nodeOptions: process.env.NODE_OPTIONS ?? null,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, taskRoot: process.env.LAMBDA_TASK_ROOT, handler: process.env._HANDLER,
        now: Date.now(), date: new Date().getTime(), fixed: new Date(0).toISOString(), utc: Date.UTC(2020, 0, 1),
        isDate: new Date() instanceof Date,
        context: { awsRequestId: context.awsRequestId, functionName: context.functionName, functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB, logGroupName: context.logGroupName,
          remaining: context.getRemainingTimeInMillis() },
      };
    case 'sleep': {
      // Paced code, as a function that keeps to an API's rate sleeps between calls.
      const before = Date.now();
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      const between = Date.now();
      const { setTimeout: sleep } = require('node:timers/promises');
      await sleep(event.ms);
      return { first: between - before, second: Date.now() - between, slept: Date.now() - before };
    }
    case 'poll': {
      // As the approval worker does: a long poll, with a socket timeout that outlasts it.
      const { SFNClient, GetActivityTaskCommand } = require('@aws-sdk/client-sfn');
      const before = Date.now();
      const task = await new SFNClient({ requestHandler: { requestTimeout: 2 * event.ms } }).send(new GetActivityTaskCommand({ activityArn: 'arn:aws:states:us-east-1:000000000000:activity:a' }));
      return { waited: Date.now() - before, taskToken: task.taskToken ?? null };
    }
    case 'later':
      laterRan = false;
      setTimeout(() => (laterRan = true), event.ms);
      return 'set';
    case 'laterRan?':
      return laterRan;
    case 'version':
      return { node: process.versions.node, executionEnv: process.env.AWS_EXECUTION_ENV };
    case 'throw': {
      class PolicyInvalidError extends Error { name = 'Policy.Invalid'; }
      throw new PolicyInvalidError('tag policy has no rules');
    }
    case 'hang':
      return new Promise(() => {});
    case 'exit':
      process.exit(7);
    case 'uncaught':
      setImmediate(() => { throw new TypeError('exploded later'); });
      return new Promise(() => {});
    case 'log':
      console.log('processing order', { id: event.id });
      console.error('something odd');
      return 'logged';
    case 'sdk': {
      // The bundle lives outside the project, like a Lambda bundle relying on the SDK the runtime provides.
      const { SFNClient, ListActivitiesCommand } = require('@aws-sdk/client-sfn');
      return new SFNClient({}).send(new ListActivitiesCommand({}));
    }
  }
};
`;

const ESM_HANDLER = `export const handler = async (event) => ({ esm: true, event });`;

/** A cold start that waits INIT_MS (virtual) before the handler is ready: top-level await, as ES modules allow. */
const SLOW_INIT_HANDLER = `
await new Promise((resolve) => setTimeout(resolve, Number(process.env.INIT_MS)));
export const handler = async () => 'initialized';
`;

/** GetActivityTask's long poll in the test's endpoint, in virtual ms. */
const LONG_POLL_MS = 300_000;

describe('LambdaRunner', () => {
  const root = mkdtempSync(join(tmpdir(), 'opsflow-lambda-'));
  const bundle = join(root, 'asset.cjs');
  const esmBundle = join(root, 'asset.esm');
  const slowInitBundle = join(root, 'asset.slow-init');
  const logDir = join(root, 'logs');
  const clock = new Clock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
  const crashes: string[] = [];
  const seen: AwsRequest[] = [];
  const polls: AwsRequest[] = [];
  let server: Server;
  let endpoint = '';
  let runner: LambdaRunner;

  const fn = (name: string, extra: Partial<LambdaFunction> = {}): LambdaFunction => ({
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    name,
    logicalId: `${name}Logical`,
    assetDir: bundle,
    handler: 'index.handler',
    environment: {},
    timeoutSeconds: 5,
    ...extra,
  });

  async function failure(promise: Promise<unknown>): Promise<LambdaInvokeError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LambdaInvokeError);
    return err as LambdaInvokeError;
  }

  beforeAll(async () => {
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'index.js'), HANDLER);
    mkdirSync(esmBundle);
    writeFileSync(join(esmBundle, 'index.mjs'), ESM_HANDLER);
    mkdirSync(slowInitBundle);
    writeFileSync(join(slowInitBundle, 'index.mjs'), SLOW_INIT_HANDLER);
    const states: ServiceHandler = {
      services: ['states'],
      async handle(req) {
        if (req.target === 'AWSStepFunctions.GetActivityTask') {
          // Nothing arrives: the poll ends empty after LONG_POLL_MS of virtual time, a wait for the caller.
          polls.push(req);
          await clock.waitFor(req, clock.sleep(LONG_POLL_MS));
          return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' };
        }
        seen.push(req);
        return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ activities: [] }) };
      },
    };
    server = createServer([states], async () => ({ status: 404, body: '' }));
    endpoint = `http://127.0.0.1:${await listen(server, 0)}`;
    // Must not leak into functions: each one gets only its own environment.
    process.env.AWS_SESSION_TOKEN = 'runtime-session-token';
    runner = new LambdaRunner({ clock, endpoint: () => endpoint, crashes: () => crashes, logDir });
    runner.register(fn('blue', { environment: { COLOR: 'blue' } }));
    runner.register(fn('green', { environment: { COLOR: 'green', OTHER: 'only-green' }, memoryMb: 512 }));
    runner.register(fn('slow', { timeoutSeconds: 0.3 }));
    runner.register(fn('esm', { assetDir: esmBundle }));
    runner.register(fn('broken', { handler: 'index.missing' }));
    // Lambda's longest timeout, 15 minutes: room for minutes of sleep and long polls.
    runner.register(fn('paced', { timeoutSeconds: 900 }));
    runner.register(fn('slowInit', { assetDir: slowInitBundle, environment: { INIT_MS: '11000' } }));
    runner.register(fn('stuckInit', { assetDir: slowInitBundle, environment: { INIT_MS: '30000' } }));
  });

  afterAll(async () => {
    delete process.env.AWS_SESSION_TOKEN;
    await runner?.close();
    server?.close();
  });

  it('gives each function its own environment, Lambda context and the virtual clock', async () => {
    // Prepare
    const before = clock.nowMs();

    // Act
    const blue = (await runner.invoke('blue', { action: 'echo', n: 1 })) as Record<string, unknown>;
    const green = (await runner.invoke('arn:aws:lambda:us-east-1:000000000000:function:green:$LATEST', { action: 'echo' })) as Record<string, unknown>;
    const after = clock.nowMs();

    // Assess
    expect(blue).toMatchObject({
      event: { action: 'echo', n: 1 },
      endpoint,
      color: 'blue',
      other: null,
      region: 'us-east-1',
      accessKeyId: LAMBDA_ACCESS_KEY_ID,
      sessionToken: null,
      nodeOptions: null,
      functionName: 'blue',
      taskRoot: bundle,
      handler: 'index.handler',
      fixed: '1970-01-01T00:00:00.000Z',
      utc: Date.UTC(2020, 0, 1),
      isDate: true,
      context: {
        functionName: 'blue',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:blue',
        memoryLimitInMB: '128',
        logGroupName: '/aws/lambda/blue',
      },
    });
    expect(green).toMatchObject({ color: 'green', other: 'only-green', functionName: 'green', context: { memoryLimitInMB: '512' } });
    expect((blue.context as { awsRequestId: string }).awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((blue.context as { remaining: number }).remaining).toBeGreaterThan(0);
    expect((blue.context as { remaining: number }).remaining).toBeLessThanOrEqual(5000);
    // Virtual time (2030, 1000x) rather than the host clock.
    for (const t of [blue.now, blue.date, green.now]) {
      expect(t).toBeGreaterThanOrEqual(Math.floor(before));
      expect(t).toBeLessThanOrEqual(Math.ceil(after));
    }
  });

  it("runs a function's timers on the runtime's clock: N virtual seconds of sleep at scale S take about N/S real seconds, as its Date measures them", async () => {
    // Prepare: a warm environment (a cold start is real work, at real speed).
    await runner.invoke('paced', { action: 'echo' });
    const before = clock.nowMs();
    const started = performance.now();

    // Act: paced code sleeps 2 x 5 virtual minutes (setTimeout, then timers/promises).
    const out = (await runner.invoke('paced', { action: 'sleep', ms: 300_000 })) as { first: number; second: number; slept: number };
    const real = performance.now() - started;

    // Assess: 600 virtual seconds at 1000x are 0.6 real seconds (given 30 s here for a loaded machine); a function
    // that held the clock at real speed while it slept would take 10 minutes.
    expect(real).toBeLessThan(600_000 / clock.scale + 30_000);
    // Its Date and its timers agree: each sleep lasts what it asked for (the work around it runs at real speed), and
    // no more time passes for the function than for the runtime.
    for (const part of [out.first, out.second]) {
      expect(part).toBeGreaterThanOrEqual(300_000);
      expect(part).toBeLessThan(310_000);
    }
    expect(out.slept).toBeLessThanOrEqual(clock.nowMs() - before);
  });

  it('does not hold the clock while a function waits on a runtime call that waits on virtual time (a long poll)', async () => {
    // Prepare
    await runner.invoke('paced', { action: 'echo' });
    const before = clock.nowMs();
    const started = performance.now();

    // Act: GetActivityTask finds nothing for 5 virtual minutes.
    const out = (await runner.invoke('paced', { action: 'poll', ms: LONG_POLL_MS })) as { waited: number; taskToken: string | null };
    const real = performance.now() - started;

    // Assess: the call was named, the runtime marked it as a wait, and the minutes passed at the scale.
    expect(polls.at(-1)!.headers[CALL_HEADER]).toMatch(/^[0-9a-f]{16}:\d+$/);
    expect(out.taskToken).toBeNull();
    expect(real).toBeLessThan(LONG_POLL_MS / clock.scale + 30_000);
    // The function's Date saw the wait, and the answer came once its Date followed the clock again.
    expect(out.waited).toBeGreaterThanOrEqual(LONG_POLL_MS);
    expect(out.waited).toBeLessThanOrEqual(clock.nowMs() - before);
  });

  it('freezes an environment between invocations: a timer due meanwhile fires at the next invocation', async () => {
    // Prepare: an invocation sets a 1-second timer and returns.
    await runner.invoke('green', { action: 'later', ms: 1000 });

    // Act: 10 virtual seconds pass with no invocation, then two come.
    await clock.sleep(10_000);
    const atThaw = await runner.invoke('green', { action: 'laterRan?' });
    const after = await runner.invoke('green', { action: 'laterRan?' });

    // Assess: the timer had not run when the next invocation came; it ran then.
    expect([atThaw, after]).toEqual([false, true]);
  });

  it("gives a cold start that outlasts the 10-second init limit the function's timeout, as Lambda's retried init has", async () => {
    // Act: one init waits 11 virtual seconds (timeout 5 s: it ends within 10 + 5), the other 30.
    const slow = await runner.invoke('slowInit', {});
    const stuck = await failure(runner.invoke('stuckInit', {}));

    // Assess
    expect(slow).toBe('initialized');
    expect(readFileSync(join(logDir, 'slowInit.log'), 'utf8')).toContain('INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout\n');
    expect(stuck.errorType).toBe('Sandbox.Timedout');
    expect(stuck.errorMessage).toMatch(/Task timed out after 5\.00 seconds$/);
  });

  it('runs each function on the Node.js major its Lambda runtime names', async () => {
    // Prepare
    runner.register(fn('node22', { runtime: 'nodejs22.x' }));

    // Act
    const out = (await runner.invoke('node22', { action: 'version' })) as { node: string; executionEnv: string };

    // Assess: on Linux x64/arm64 npm installs node-linux-<arch> 22 (an optional dependency); the host may be Node 20.
    expect(nodeForRuntime('nodejs22.x')).toMatchObject({ matches: true });
    expect(out.node.split('.')[0]).toBe('22');
    expect(out.executionEnv).toBe('AWS_Lambda_nodejs22.x');
  });

  it('provides the AWS SDK v3 to bundles outside the project and points it at AWS_ENDPOINT_URL', async () => {
    // Act
    const result = await runner.invoke('blue', { action: 'sdk' });

    // Assess
    expect(result).toMatchObject({ activities: [] });
    expect(seen.map((r) => [r.service, r.target, r.accessKeyId])).toEqual([['states', 'AWSStepFunctions.ListActivities', LAMBDA_ACCESS_KEY_ID]]);
  });

  it('runs ES module handlers', async () => {
    expect(await runner.invoke('esm', { x: 1 })).toEqual({ esm: true, event: { x: 1 } });
  });

  it('reports a thrown error with its name as errorType and keeps the environment warm', async () => {
    // Prepare
    const first = (await runner.invoke('green', { action: 'echo' })) as { invocations: number };

    // Act
    const err = await failure(runner.invoke('green', { action: 'throw' }));
    const next = (await runner.invoke('green', { action: 'echo' })) as { invocations: number };

    // Assess
    expect(err.toDocument()).toEqual({
      errorType: 'Policy.Invalid',
      errorMessage: 'tag policy has no rules',
      trace: expect.arrayContaining(['Policy.Invalid: tag policy has no rules']),
    });
    expect(next.invocations).toBe(first.invocations + 2);
  });

  it('times out like Lambda and cold-starts the next invocation', async () => {
    // Prepare
    await runner.invoke('slow', { action: 'echo' });

    // Act
    const err = await failure(runner.invoke('slow', { action: 'hang' }));
    const next = (await runner.invoke('slow', { action: 'echo' })) as { invocations: number };

    // Assess
    expect(err.errorType).toBe('Sandbox.Timedout');
    expect(err.errorMessage).toMatch(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 0\.30 seconds$/);
    expect(next.invocations).toBe(1);
  });

  it('reports a process exit as Runtime.ExitError and recovers with a fresh environment', async () => {
    // Prepare
    await runner.invoke('green', { action: 'echo' });

    // Act
    const err = await failure(runner.invoke('green', { action: 'exit' }));
    const next = (await runner.invoke('green', { action: 'echo' })) as { invocations: number };

    // Assess
    expect(err.errorType).toBe('Runtime.ExitError');
    expect(err.errorMessage).toMatch(/Error: Runtime exited with error: exit status 7$/);
    expect(next.invocations).toBe(1);
  });

  it('reports an uncaught exception with its own type and recycles the environment', async () => {
    // Act
    const err = await failure(runner.invoke('green', { action: 'uncaught' }));
    const next = (await runner.invoke('green', { action: 'echo' })) as { invocations: number };

    // Assess
    expect([err.errorType, err.errorMessage]).toEqual(['TypeError', 'exploded later']);
    expect(next.invocations).toBe(1);
  });

  it('crashes functions named in crashes() and recovers once they are removed', async () => {
    // Prepare
    await runner.invoke('blue', { action: 'echo' });
    crashes.push('blueLogical');

    // Act
    const err = await failure(runner.invoke('blue', { action: 'echo' }));
    crashes.length = 0;
    const next = (await runner.invoke('blue', { action: 'echo' })) as { invocations: number };

    // Assess
    expect(err.errorType).toBe('Runtime.ExitError');
    expect(next.invocations).toBe(1);
  });

  it('writes function output to <logDir>/<function>.log in Lambda text format', async () => {
    // Act
    await runner.invoke('esm', {});
    await runner.invoke('green', { action: 'log', id: 42 });

    // Assess
    const log = readFileSync(join(logDir, 'green.log'), 'utf8');
    const requestId = /START RequestId: (\S+) Version: \$LATEST\n[^\n]*processing order/.exec(log)?.[1];
    expect(requestId).toBeDefined();
    expect(log).toContain(`\t${requestId}\tINFO\tprocessing order { id: 42 }\n`);
    expect(log).toContain(`\t${requestId}\tERROR\tsomething odd\n`);
    expect(log).toContain(`END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: `);
    expect(log).not.toContain('esm');
  });

  it('reports a handler that is not exported as Runtime.HandlerNotFound', async () => {
    const err = await failure(runner.invoke('broken', {}));
    expect([err.errorType, err.errorMessage]).toEqual(['Runtime.HandlerNotFound', 'index.missing is undefined or not exported']);
  });

  it('rejects unknown functions with ResourceNotFoundException', async () => {
    await expect(runner.invoke('arn:aws:lambda:us-east-1:000000000000:function:nope', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(runner.invoke('arn:aws:lambda:us-east-1:000000000000:function:blue:7', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

/**
 * A loaded machine, made deterministic: the process stalls for PAUSE_MS real ms right after the runner sets each
 * timer on the clock (descheduled, a GC pause), which at scale 1000 is PAUSE_MS virtual seconds if the clock is not
 * held at real speed by then.
 */
const PAUSE_MS = 20;
class PausingClock extends Clock {
  override at(when: Date | number, fn: () => void): () => void {
    const cancel = super.at(when, fn);
    const end = performance.now() + PAUSE_MS;
    while (performance.now() < end) {
      // stalled
    }
    return cancel;
  }
}

describe('LambdaRunner on a machine that stalls', () => {
  const root = mkdtempSync(join(tmpdir(), 'opsflow-lambda-stall-'));
  const clock = new PausingClock({ scale: 1000, start: Date.UTC(2030, 0, 1) });
  let runner: LambdaRunner;

  beforeAll(() => {
    // The slow cold start, and a handler that works a while (real time), so that its timeout, once over, fires first.
    writeFileSync(
      join(root, 'index.mjs'),
      SLOW_INIT_HANDLER.replace(
        "async () => 'initialized'",
        "async () => { const end = performance.now() + 50; while (performance.now() < end); return 'initialized'; }",
      ),
    );
    runner = new LambdaRunner({ clock, endpoint: () => 'http://127.0.0.1:9' });
    runner.register({
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:slowInit',
      name: 'slowInit',
      logicalId: 'slowInitLogical',
      assetDir: root,
      handler: 'index.handler',
      environment: { INIT_MS: '11000' },
      timeoutSeconds: 5,
    });
  });

  afterAll(async () => {
    await runner?.close();
  });

  it('counts the init limit and the timeout from when the function starts, not from before a stall', async () => {
    // Act: a cold start of 11 virtual seconds (past the 10-second limit, within 10 + 5), then a warm invocation.
    const cold = await runner.invoke('slowInit', {});
    const warm = await runner.invoke('slowInit', {});

    // Assess: the stalls cost real milliseconds at real speed, not virtual seconds of the init or of the timeout.
    expect([cold, warm]).toEqual(['initialized', 'initialized']);
  });
});
