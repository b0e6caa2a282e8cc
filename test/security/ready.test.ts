/**
 * Ready means ready: `/_opsflow/health` answers 'ready' (200) only once the app is deployed. Before, the endpoint
 * answered `{"status":"ready","stateMachines":[]}` while the deploy checks were still to refuse a definition, after
 * which the process exited: a script waiting for "ready" went on against a runtime about to disappear.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { mkdtempSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../local/kernel';
import { LocalApi, routeApi } from '../../local/console/handlers';
import { Runtime } from '../../local/runtime';
import { synthApp } from '../rules/apps/synth';

describe('/_opsflow/health', () => {
  it("answers 'deploying' with 503 until the app is deployed, then 'ready' with 200", async () => {
    let deployed = false;
    const deps = {
      clock: new Clock(),
      endpoint: () => 'http://127.0.0.1:1',
      sfn: { activeCount: () => 0 },
      outbox: {},
      fleet: {},
      scheduler: {},
      faults: {},
      dynamodb: {},
      definitions: new Map(),
      deployed: {
        stateMachines: [],
        workflows: [],
        activities: [],
        functions: [],
        tables: [],
        topics: [],
        rules: [],
        schedules: [],
        routes: [],
        notRun: {},
        noLocalEffect: {},
      },
      ready: () => deployed,
    };
    const api = new LocalApi(deps as never);
    const health = () =>
      routeApi(api as never, () => ({ status: 404, body: '' }), {
        method: 'GET',
        path: '/_opsflow/health',
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.alloc(0),
      } as never);
    expect(await health()).toMatchObject({ status: 503, body: expect.stringContaining('"status":"deploying"') });
    deployed = true;
    expect(await health()).toMatchObject({ status: 200, body: expect.stringContaining('"status":"ready"') });
  });

  it("never answers 'ready' for an app whose deploy checks refuse it", async () => {
    const cdkOut = synthApp({
      Refused(stack) {
        new sfn.CfnStateMachine(stack, 'Broken', {
          roleArn: 'arn:aws:iam::000000000000:role/sm',
          definitionString: JSON.stringify({ StartAt: 'Missing', States: { Only: { Type: 'Pass', End: true } } }),
        });
      },
    });
    const answers: Array<Promise<{ status: number; body: string } | Error>> = [];
    let endpoint = '';
    // node:http, not fetch: a fetch begun while the deploy checks hold the event loop, whose server is gone by the
    // time it connects, can stay pending in undici with no socket at all; http.get fails with ECONNREFUSED.
    const probe = () =>
      answers.push(
        new Promise((done) => {
          const req = get(`${endpoint}/_opsflow/health`, { agent: false }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk));
            res.on('end', () => done({ status: res.statusCode ?? 0, body }));
            res.on('error', done);
          });
          req.on('error', done);
        }),
      );
    const start = Runtime.start({
      cdkOut,
      port: 0,
      stateDir: mkdtempSync(join(tmpdir(), 'opsflow-ready-')),
      // Probes sent as soon as the endpoint listens, and at each step of the deploy after it.
      log: (line) => {
        const m = /^endpoint (\S+)/.exec(line);
        if (m) endpoint = m[1];
        if (endpoint) probe();
      },
    });
    await expect(start).rejects.toThrow(/States\.|Missing|refused/i);
    const seen = await Promise.all(answers);
    expect(seen.length).toBeGreaterThan(0);
    for (const answer of seen) if (!(answer instanceof Error)) expect(answer).not.toMatchObject({ status: 200 });
  });
});
