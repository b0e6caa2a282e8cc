/**
 * CloudFormation's resource schemas, as `@aws-cdk/aws-service-spec` carries them (Apache-2.0, released weekly by
 * the CDK team from CloudFormation's registry schemas, the same model `aws-cdk-lib`'s L1 classes are generated from).
 * Per resource type it has the properties with their types, `required` flags and `allowedValues` (enums), the
 * nested property types, and the attributes `Fn::GetAtt` may read. It has no patterns, lengths or ranges.
 *
 * The package ships one gzipped database of every type (about 15 MB of JSON, seconds to load). The runtime must be
 * ready in seconds, so the database is split once per package version into one small file per resource type
 * (under node_modules/.cache, or the temporary directory when that is read-only), and a deploy reads only the
 * files of the types its templates use.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A property's type, as the service spec writes it, with references to nested types by id. */
export type SchemaType =
  | { type: 'string'; allowedValues?: string[] }
  | { type: 'integer'; allowedValues?: number[] }
  | { type: 'number' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; ref: string }
  | { type: 'array' | 'map'; element: SchemaType }
  | { type: 'union'; types: SchemaType[] };

export interface SchemaProperty {
  type: SchemaType;
  required?: true;
}

export interface ResourceSchema {
  typeName: string;
  properties: Record<string, SchemaProperty>;
  /** What `Fn::GetAtt` may read (the schema's read-only properties), dotted for nested ones. */
  attributes: string[];
  /** Nested property types by id. */
  definitions: Record<string, { name: string; properties: Record<string, SchemaProperty> }>;
}

const SPEC = '@aws-cdk/aws-service-spec';

/** Loads the schemas of the types asked for, each file once; `undefined` for a type the spec does not know. */
export class CfnSchemas {
  private readonly loaded = new Map<string, ResourceSchema | undefined>();
  private dir: string | undefined;

  constructor(private readonly options: { cacheRoot?: string; log?: (line: string) => void } = {}) {}

  get(typeName: string): ResourceSchema | undefined {
    if (this.loaded.has(typeName)) return this.loaded.get(typeName);
    const file = join(this.cacheDir(), fileName(typeName));
    const schema = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ResourceSchema) : undefined;
    this.loaded.set(typeName, schema);
    return schema;
  }

  /** The per-type files of the installed spec version, built on first use. */
  private cacheDir(): string {
    if (this.dir) return this.dir;
    const version = (require(`${SPEC}/package.json`) as { version: string }).version;
    const roots = this.options.cacheRoot ? [this.options.cacheRoot] : [join(nodeModulesOf(SPEC), '.cache', 'opsflow'), join(tmpdir(), 'opsflow-cache')];
    for (const root of roots) {
      const dir = join(root, `cfn-schemas-${version}`);
      if (existsSync(join(dir, 'COMPLETE'))) return (this.dir = dir);
    }
    this.options.log?.(`splitting ${SPEC} ${version} into one schema file per resource type (once per version, takes seconds)`);
    let lastError: unknown;
    for (const root of roots) {
      const dir = join(root, `cfn-schemas-${version}`);
      try {
        buildCache(dir);
        return (this.dir = dir);
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`cannot write CloudFormation schema cache under ${roots.join(' or ')}: ${(lastError as Error).message}`);
  }
}

function nodeModulesOf(pkg: string): string {
  // <node_modules>/@aws-cdk/aws-service-spec/package.json
  return dirname(dirname(dirname(require.resolve(`${pkg}/package.json`))));
}

function fileName(typeName: string): string {
  return `${typeName.replace(/::/g, '__')}.json`;
}

interface SpecType {
  type: string;
  allowedValues?: unknown[];
  reference?: { $ref: string };
  element?: SpecType;
  types?: SpecType[];
}
interface SpecProperty {
  type: SpecType;
  required?: boolean;
}

function compactType(t: SpecType): SchemaType {
  switch (t.type) {
    case 'ref':
      return { type: 'ref', ref: t.reference!.$ref };
    case 'array':
    case 'map':
      return { type: t.type, element: compactType(t.element!) };
    case 'union':
      return { type: 'union', types: t.types!.map(compactType) };
    default:
      return (t.allowedValues ? { type: t.type, allowedValues: t.allowedValues } : { type: t.type }) as SchemaType;
  }
}

function compactProperties(props: Record<string, SpecProperty>): Record<string, SchemaProperty> {
  return Object.fromEntries(
    Object.entries(props).map(([name, p]) => [name, p.required ? { type: compactType(p.type), required: true } : { type: compactType(p.type) }]),
  );
}

/**
 * Splits the spec database into one file per resource type. Built in a private directory and renamed into place,
 * so concurrent runtimes (parallel test workers) never read a half-written cache; the loser of the race discards
 * its copy.
 */
function buildCache(dir: string): void {
  // Loaded only here: it takes seconds, once per spec version.
  const { loadAwsServiceSpecSync } = require(SPEC) as typeof import('@aws-cdk/aws-service-spec');
  const db = loadAwsServiceSpecSync();
  const work = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(work, { recursive: true });
  try {
    for (const r of db.all('resource')) {
      const definitions: ResourceSchema['definitions'] = {};
      for (const { entity } of db.follow('usesType', r)) {
        definitions[entity.$id] = { name: entity.name, properties: compactProperties(entity.properties as Record<string, SpecProperty>) };
      }
      const schema: ResourceSchema = {
        typeName: r.cloudFormationType,
        properties: compactProperties(r.properties as Record<string, SpecProperty>),
        attributes: Object.keys(r.attributes),
        definitions,
      };
      writeFileSync(join(work, fileName(r.cloudFormationType)), JSON.stringify(schema));
    }
    writeFileSync(join(work, 'COMPLETE'), '');
    try {
      renameSync(work, dir);
    } catch (err) {
      if (!existsSync(join(dir, 'COMPLETE'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
