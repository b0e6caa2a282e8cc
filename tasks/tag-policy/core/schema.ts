/**
 * Checks a value against `tag-policy.schema.json`, the file editors also use. The validator is ajv's, compiled
 * to standalone code at build time (`schema.generated.ts`, written by `npm run schema`), so the schema stays
 * the one definition of the format and a Lambda bundle carries the generated checks, not ajv's compiler.
 * Here ajv's errors become the messages operators read: every problem, each starting with the path it is
 * about (`rules[1].pattern: ...`), in the order of the fields in the policy.
 */
import type { ErrorObject } from 'ajv';
import { schema, validate } from './schema.generated';

type Schema = Record<string, unknown>;

/** tag-policy.schema.json, as the generated validator holds it. */
export const POLICY_SCHEMA: Schema = schema as Schema;

/** Every violation of the policy schema in `value`, each starting with the JSON path it is about (`rules[1].pattern`). */
export function schemaProblems(value: unknown): string[] {
  if (validate(value)) return [];
  const errors = ((validate as unknown as { errors?: ErrorObject[] }).errors ?? []).map((e) => located(e, value));
  // A field's problems in the order of the policy's fields; an object's missing fields before its contents.
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => compareOrder(a.e.order, b.e.order) || a.i - b.i)
    .map(({ e }) => message(e));
}

interface Located {
  error: ErrorObject;
  /** The JSON path of the value the error is about (`rules[0].key`), '' for the policy itself. */
  path: string;
  value: unknown;
  /** Position of each path segment among its siblings; -1 puts an object's missing fields before its fields. */
  order: number[];
}

function located(error: ErrorObject, root: unknown): Located {
  const segments =
    error.instancePath === ''
      ? []
      : error.instancePath
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let value = root;
  let path = '';
  const order: number[] = [];
  for (const s of segments) {
    if (Array.isArray(value)) {
      path += `[${s}]`;
      order.push(Number(s));
      value = value[Number(s)];
    } else {
      path = join(path, s);
      order.push(Object.keys(value as object).indexOf(s));
      value = (value as Record<string, unknown>)[s];
    }
  }
  // Errors about one property of an object are placed, and named, at that property.
  const property = error.keyword === 'additionalProperties' ? (error.params as { additionalProperty: string }).additionalProperty : undefined;
  if (property !== undefined) {
    order.push(Object.keys(value as object).indexOf(property));
    path = join(path, property);
  }
  if (error.keyword === 'required') {
    order.push(-1);
    path = join(path, (error.params as { missingProperty: string }).missingProperty);
  }
  return { error, path, value, order };
}

function message({ error, path, value }: Located): string {
  const at = path || '(policy)';
  const p = error.params as Record<string, any>;
  switch (error.keyword) {
    case 'type':
      return `${at}: must be ${article(p.type)}, got ${describe(value)}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(p.allowedValue)}, got ${describe(value)}`;
    case 'enum':
      return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`;
    case 'minLength':
      return `${at}: must be at least ${p.limit} characters`;
    case 'maxLength':
      // Counted in characters (code points), as EC2 counts tag keys and values: "128 Unicode characters in UTF-8"
      // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions); so does ajv.
      return `${at}: must be at most ${p.limit} characters, got ${[...(value as string)].length}`;
    case 'minimum':
      return `${at}: must be at least ${p.limit}, got ${value}`;
    case 'maximum':
      return `${at}: must be at most ${p.limit}, got ${value}`;
    case 'minItems':
      return `${at}: must have at least ${p.limit} item(s)`;
    case 'maxItems':
      return `${at}: must have at most ${p.limit} items, got ${(value as unknown[]).length}`;
    case 'required':
      return `${at}: is required`;
    case 'additionalProperties':
      return `${at}: is not a known field (known: ${knownFields(error.schemaPath).join(', ')})`;
    default:
      // A keyword the schema gains later still reads as a named problem.
      return `${at}: fails the schema's ${error.keyword} (${JSON.stringify(error.params)})`;
  }
}

/** The fields the schema node of an `additionalProperties` error declares (its `$schema` aside). */
function knownFields(schemaPath: string): string[] {
  let node: unknown = POLICY_SCHEMA;
  for (const part of schemaPath.replace(/^#\/?/, '').split('/').slice(0, -1)) {
    if (part) node = (node as Schema)?.[part];
  }
  return Object.keys(((node as Schema | undefined)?.properties ?? {}) as Schema).filter((k) => k !== '$schema');
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const article = (type: string) => (type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`);

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
