/**
 * The one set of config readers every config section uses. Each pushes a problem naming the field and returns a
 * usable fallback, so one synth reports every problem at once.
 */
import { isValidEmail } from '../../tasks/shared/email';

export type Raw = Record<string, unknown>;

export function asObject(v: unknown, field: string, problems: string[]): Raw {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Raw;
  problems.push(`${field} must be an object`);
  return {};
}

/** `prefix` is the section's field path (`approval`, `ec2Schedule.control`), or '' at the root. */
export function unknownKeys(o: Raw, known: string[], prefix: string, problems: string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) problems.push(`${prefix ? `${prefix}.` : ''}${k} is not a known setting`);
}

export function str(v: unknown, field: string, problems: string[]): string {
  if (typeof v === 'string' && v.length > 0) return v;
  problems.push(`${field} must be a non-empty string`);
  return '';
}

export function stringList(v: unknown, field: string, problems: string[]): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    problems.push(`${field} must be a list of non-empty strings`);
    return [];
  }
  return v as string[];
}

/** A whole number in [min, max]; `unit` ('seconds') is named in the problem. Invalid: `fallback` (default `min`). */
export function int(v: unknown, field: string, min: number, max: number, problems: string[], opts: { unit?: string; fallback?: number } = {}): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  problems.push(`${field} must be a whole number${opts.unit ? ` of ${opts.unit}` : ''} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return opts.fallback ?? min;
}

/** A list of email addresses, checked with the tasks' own rule (tasks/shared/email.ts) and lower-cased. */
export function emails(v: unknown, field: string, problems: string[]): string[] {
  if (!Array.isArray(v)) {
    problems.push(`${field} must be a list of email addresses`);
    return [];
  }
  v.forEach((e, i) => {
    if (typeof e !== 'string' || !isValidEmail(e)) problems.push(`${field}[${i}] must be an email address, got ${JSON.stringify(e)}`);
  });
  return v.filter((e): e is string => typeof e === 'string').map((e) => e.toLowerCase());
}

const DOMAIN = /^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

/** A DNS domain name such as `example.com` (an SES domain identity). */
export const isDomain = (s: string) => DOMAIN.test(s);
