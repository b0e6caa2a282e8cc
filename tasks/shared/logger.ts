/**
 * Structured JSON logging for every opsflow task (Powertools Logger, service "opsflow").
 *
 * Cores receive the narrow `Log` port instead of the Logger class so tests can record what was logged and
 * assert that no task token or link secret ever reaches it. Never pass whole events or records to it:
 * approval records carry the task token.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export interface Log {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export function createLogger(): Logger {
  return new Logger({ serviceName: 'opsflow' });
}

/**
 * What is safe to log about an error thrown by an AWS call: its name. Messages can echo request
 * parameters (a task token in an InvalidToken message, for one), so they stay out of the logs.
 */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
