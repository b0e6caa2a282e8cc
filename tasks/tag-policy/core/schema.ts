/**
 * Checks a value against `tag-policy.schema.json`, the file editors also use. This is a small interpreter of
 * exactly the JSON Schema (draft-07) keywords that schema uses, so the schema stays the one definition of the
 * format without adding a validator dependency to every Lambda bundle; an unknown keyword is a programming
 * error and throws, so the schema cannot silently grow past what is checked.
 */
import schemaJson from '../../../tag-policy.schema.json';

type Schema = Record<string, unknown>;

export const POLICY_SCHEMA: Schema = schemaJson as Schema;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'definitions']);

/** Every violation of `schema` in `value`, each starting with the JSON path it is about (`rules[1].pattern`). */
export function schemaProblems(value: unknown, schema: Schema = POLICY_SCHEMA, root: Schema = schema, path = ''): string[] {
  if (typeof schema.$ref === 'string') return schemaProblems(value, resolveRef(root, schema.$ref), root, path);
  const at = path || '(policy)';
  const problems: string[] = [];
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !KEYWORDS.has(keyword)) throw new Error(`tag-policy schema: unsupported keyword '${keyword}' at ${at}`);
  }
  if (schema.type !== undefined && !hasType(value, schema.type as string)) {
    return [`${at}: must be ${article(schema.type as string)}, got ${describe(value)}`];
  }
  if ('const' in schema && value !== schema.const) problems.push(`${at}: must be ${JSON.stringify(schema.const)}, got ${describe(value)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    problems.push(`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(value)}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) problems.push(`${at}: must be at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) problems.push(`${at}: must be at most ${schema.maxLength} characters, got ${value.length}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${at}: must be at least ${schema.minimum}, got ${value}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${at}: must be at most ${schema.maximum}, got ${value}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) problems.push(`${at}: must have at least ${schema.minItems} item(s)`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) problems.push(`${at}: must have at most ${schema.maxItems} items, got ${value.length}`);
    if (schema.items) value.forEach((item, i) => problems.push(...schemaProblems(item, schema.items as Schema, root, `${path}[${i}]`)));
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in value)) problems.push(`${join(path, key)}: is required`);
    }
    for (const [key, v] of Object.entries(value)) {
      if (Object.hasOwn(properties, key)) problems.push(...schemaProblems(v, properties[key], root, join(path, key)));
      else if (schema.additionalProperties === false) {
        problems.push(`${join(path, key)}: is not a known field (known: ${Object.keys(properties).filter((k) => k !== '$schema').join(', ')})`);
      }
    }
  }
  return problems;
}

const KEYWORDS = new Set([
  '$ref', 'type', 'const', 'enum', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'items',
  'properties', 'required', 'additionalProperties',
]);

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`tag-policy schema: only local $ref is supported, got ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = (node as Schema)?.[part];
  if (!isObject(node)) throw new Error(`tag-policy schema: $ref ${ref} does not resolve`);
  return node;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
