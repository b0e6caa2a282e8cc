/**
 * One local service on a free port, with a durable state directory and a manual virtual clock, for the tests that
 * drive a service through its real SDK client. `restart()` stops the server and starts it again on the same state
 * directory, as `npm start` after a stop would; `client` is the client of the running server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { ManualClock, StateDir } from '../../local/kernel';
import type { ServiceHandler } from '../../local/kernel';
import { createServer, listen } from '../../local/server';

interface Destroyable {
  destroy(): void;
}

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
}

export interface OneService<C> {
  readonly clock: ManualClock;
  /** The state directory. */
  readonly dir: string;
  client: C;
  endpoint: string;
  restart(): Promise<void>;
}

export function serveOne<C extends Destroyable>(options: {
  /** Prefix of the temporary state directory. */
  prefix: string;
  /** The service over `state`; `close` runs before the state directory closes. */
  service: (state: StateDir, clock: ManualClock, endpoint: () => string) => { handler: ServiceHandler; close?: () => Promise<void> };
  client: (config: ClientConfig) => C;
}): OneService<C> {
  const dir = mkdtempSync(join(tmpdir(), `opsflow-${options.prefix}-`));
  let state: StateDir;
  let server: Server;
  let close: (() => Promise<void>) | undefined;
  const served = { clock: new ManualClock(Date.UTC(2030, 0, 1)), dir, endpoint: '' } as OneService<C>;

  async function start(): Promise<void> {
    state = new StateDir(dir);
    const made = options.service(state, served.clock, () => served.endpoint);
    close = made.close;
    server = createServer([made.handler], async () => ({ status: 404, body: '' }));
    served.endpoint = `http://127.0.0.1:${await listen(server, 0)}`;
    served.client = options.client({
      endpoint: served.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  }
  async function stop(): Promise<void> {
    served.client.destroy();
    await close?.();
    await state.commit();
    state.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
  served.restart = async () => {
    await stop();
    await start();
  };
  beforeAll(start);
  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return served;
}
