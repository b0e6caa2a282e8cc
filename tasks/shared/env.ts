/**
 * Typed, fail-fast environment reading. Each handler calls its `loadEnv()` once at cold start; a missing or
 * malformed variable throws there, naming the variable, instead of failing the first request in a way that
 * looks like a data problem.
 */
import { isValidEmail, normalizeEmail } from './email';

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvError extends Error {
  name = 'Env.Invalid';
  constructor(variable: string, problem: string) {
    super(`environment variable ${variable} ${problem}`);
  }
}

export function requireString(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new EnvError(name, 'is required');
  return value;
}

export function requireInt(env: Env, name: string, limits: { min?: number; max?: number } = {}): number {
  const raw = requireString(env, name).trim();
  if (!/^-?\d+$/.test(raw)) throw new EnvError(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (limits.min !== undefined && value < limits.min) throw new EnvError(name, `must be at least ${limits.min}, got ${value}`);
  if (limits.max !== undefined && value > limits.max) throw new EnvError(name, `must be at most ${limits.max}, got ${value}`);
  return value;
}

/** An absolute http(s) URL, returned without a trailing slash so callers can append paths. */
export function requireUrl(env: Env, name: string): string {
  const raw = requireString(env, name).trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EnvError(name, `must be an absolute URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EnvError(name, 'must be an http(s) URL');
  if (url.search || url.hash) throw new EnvError(name, 'must not have a query or fragment');
  return raw.replace(/\/+$/, '');
}

/** A JSON array of email addresses (may be empty), returned normalized and de-duplicated. */
export function requireEmailList(env: Env, name: string): string[] {
  const raw = requireString(env, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new EnvError(name, 'must be a JSON array of email addresses (not valid JSON)');
  }
  if (!Array.isArray(parsed)) throw new EnvError(name, 'must be a JSON array of email addresses');
  parsed.forEach((entry, i) => {
    if (typeof entry !== 'string' || !isValidEmail(entry.trim())) {
      throw new EnvError(name, `entry ${i} is not a valid email address: ${JSON.stringify(entry)}`);
    }
  });
  return [...new Set((parsed as string[]).map(normalizeEmail))];
}
