/**
 * How the clients on this machine (the `opsflow` CLI, `npm run control-link`, the startup hints) reach a running
 * runtime: its endpoint, and the credentials they sign AWS API calls with. One place, so that neither is repeated.
 *
 * A runtime records its endpoint in its state directory (`endpoint.json`, with its pid) once it listens, and
 * removes it when it stops. A client that is not told where to go (OPSFLOW_ENDPOINT, --port, OPSFLOW_PORT) reads
 * it there, so `npm start -- --port 4599` is said once: `npx opsflow outbox` then finds 4599 by itself.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lockHolder } from './storage';
import { configuredCredentials, DEFAULT_CREDENTIALS, type Credentials } from './credentials';

// On Node 20 (end of life, still supported by this project: README "Requirements") the AWS SDK prints, at every
// run, that its releases after January 2027 need Node 22; the README says so once, the clients do not repeat it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The port a runtime listens on when told nothing. */
export const DEFAULT_PORT = 4566;

/** Where a runtime records its endpoint, in its state directory. */
export const ENDPOINT_FILE = 'endpoint.json';

/**
 * The credentials local clients sign with: the first pair the runtime accepts (OPSFLOW_CREDENTIALS, default
 * test/test; it verifies every signature). Any credentials that are not a role session the runtime handed out act
 * as the account's administrator (README, "Callers outside the app").
 */
export function clientCredentials(): Credentials {
  return configuredCredentials()[0];
}

/** The environment an AWS CLI command needs to sign for this runtime (the startup hint); a secret the user chose is not printed. */
export function awsCliCredentials(): string {
  const first = clientCredentials();
  const secret = first === DEFAULT_CREDENTIALS ? first.secretAccessKey : '<its secret in OPSFLOW_CREDENTIALS>';
  return `AWS_ACCESS_KEY_ID=${first.accessKeyId} AWS_SECRET_ACCESS_KEY=${secret}`;
}

/** The state directory clients and `opsflow up` use: OPSFLOW_STATE_DIR, or `.opsflow` in the current directory. */
export function stateDirPath(): string {
  return resolve(process.env.OPSFLOW_STATE_DIR || '.opsflow');
}

/** Called by the runtime once it listens. */
export function recordEndpoint(stateDir: string, endpoint: string): void {
  writeFileSync(join(stateDir, ENDPOINT_FILE), `${JSON.stringify({ endpoint, pid: process.pid })}\n`, { mode: 0o600 });
}

/** Called by the runtime when it stops. */
export function forgetEndpoint(stateDir: string): void {
  rmSync(join(stateDir, ENDPOINT_FILE), { force: true });
}

/** The endpoint of the runtime that holds `stateDir` now, if one does. */
export function recordedEndpoint(stateDir: string): string | undefined {
  try {
    const { endpoint, pid } = JSON.parse(readFileSync(join(stateDir, ENDPOINT_FILE), 'utf8')) as { endpoint?: unknown; pid?: unknown };
    // A file left by a runtime that died (kill -9) names a port nobody may be listening on: only the live holder counts.
    return typeof endpoint === 'string' && pid === lockHolder(stateDir) ? endpoint : undefined;
  } catch {
    return undefined;
  }
}

/** Thrown for a --port value that is not a port. */
export class PortError extends Error {}

/** A port number from a flag or variable, or an error naming where it came from. */
export function parsePort(value: string, from: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new PortError(`${from} must be a port number (0-65535), got '${value}'`);
  return port;
}

/**
 * Where a client talks to: OPSFLOW_ENDPOINT; else 127.0.0.1 on --port, or OPSFLOW_PORT; else the endpoint the
 * runtime of the state directory recorded; else 127.0.0.1:4566.
 */
export function clientEndpoint(options: { port?: string; stateDir?: string } = {}): string {
  if (process.env.OPSFLOW_ENDPOINT) return process.env.OPSFLOW_ENDPOINT.replace(/\/+$/, '');
  if (options.port !== undefined) return `http://127.0.0.1:${parsePort(options.port, '--port')}`;
  if (process.env.OPSFLOW_PORT) return `http://127.0.0.1:${parsePort(process.env.OPSFLOW_PORT, 'OPSFLOW_PORT')}`;
  return recordedEndpoint(options.stateDir ?? stateDirPath()) ?? `http://127.0.0.1:${DEFAULT_PORT}`;
}
