/**
 * What CloudFormation refuses by its resource schemas (see cfn-schemas.ts for where they come from):
 *
 * - `Fn::GetAtt` of an attribute the resource type does not have, or of a resource the template does not have, is a
 *   template error: CreateStack/CreateChangeSet fails with `ValidationError` before anything is created. Recorded
 *   responses: "An error occurred (ValidationError) when calling the CreateStack operation: Template error: resource
 *   DemoTopic does not support attribute type Arn in Fn::GetAtt"; "Template error: instance of Fn::GetAtt references
 *   undefined resource eventHandler".
 * - Properties are validated against the type's schema before any resource is provisioned: "Pre-deployment
 *   validation runs automatically on Create Stack, Update Stack, and Create Change Set operations ... Property syntax
 *   validation against resource schemas" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html),
 *   in its FAIL tier, which "stops the operation before any resource is touched"
 *   (https://aws.amazon.com/blogs/devops/ship-infrastructure-faster-with-cloudformation-and-cdk-pre-deployment-validation-on-every-stack-operation/).
 *   The wording is that of the resource schema validator, recorded in stack events:
 *   "Properties validation failed for resource table with message: #/RetentionProperties: extraneous key
 *   [memoryStoreRetentionPeriodInHours] is not permitted" (github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1514),
 *   "#: required key [Name] not found" (github.com/aws-cloudformation/iac-model-evaluation/issues/29),
 *   "#/Tags: expected type: JSONArray, found: JSONObject" (github.com/DataDog/datadog-cloudformation-macro/issues/64),
 *   "#/AuthorizationType: failed validation constraint for keyword [enum]" (github.com/aws-samples/aws-bookstore-demo-app/issues/56).
 *
 * Values are checked after intrinsic resolution; a value whose intrinsic the local runtime cannot resolve is
 * skipped, since its type is not known before deploy. Scalars convert as CloudFormation converts them: a Number
 * parameter "becomes a string" when referenced (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html)
 * and still fills integer properties, so "30" passes as an integer and 30 as a string.
 */
import type { ResolvedStack } from '../template';
import type { CfnSchemas, ResourceSchema, SchemaProperty, SchemaType } from './cfn-schemas';

export interface SchemaProblem {
  logicalId: string;
  type: string;
  error: string;
  message: string;
}

/** Custom resources take any properties and return any attributes. */
function isCustom(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

// ---- Fn::GetAtt --------------------------------------------------------------------------------------------

/** Every `Fn::GetAtt` (and `${Res.Attr}` of `Fn::Sub`) of the template that CloudFormation would refuse. */
export function getAttProblems(stack: ResolvedStack, schemas: CfnSchemas): SchemaProblem[] {
  const resources = stack.template.Resources ?? {};
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  const check = (owner: string, id: string, attr: string) => {
    const key = `${owner}|${id}|${attr}`;
    if (seen.has(key)) return;
    seen.add(key);
    const target = resources[id];
    const ownerType = resources[owner]?.Type ?? 'Outputs';
    if (!target) {
      problems.push({
        logicalId: owner,
        type: ownerType,
        error: 'ValidationError',
        message: `Template error: instance of Fn::GetAtt references undefined resource ${id}`,
      });
      return;
    }
    if (!attributeExists(target.Type, attr, schemas)) {
      problems.push({
        logicalId: owner,
        type: ownerType,
        error: 'ValidationError',
        message: `Template error: resource ${id} does not support attribute type ${attr} in Fn::GetAtt`,
      });
    }
  };
  const walk = (owner: string, value: unknown): void => {
    if (Array.isArray(value)) return value.forEach((v) => walk(owner, v));
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Fn::GetAtt') {
        const [id, attr] = typeof v === 'string' ? splitOnce(v) : Array.isArray(v) ? v : [];
        if (typeof id === 'string' && typeof attr === 'string') check(owner, id, attr);
      } else if (k === 'Fn::Sub') {
        const text = typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
        const vars = Array.isArray(v) && v[1] && typeof v[1] === 'object' ? (v[1] as Record<string, unknown>) : {};
        for (const [, name] of typeof text === 'string' ? text.matchAll(/\$\{([^!}][^}]*)\}/g) : []) {
          if (!(name in vars) && name.includes('.') && !name.includes('::')) check(owner, ...splitOnce(name));
        }
      }
      walk(owner, v);
    }
  };
  for (const [id, r] of Object.entries(resources)) walk(id, r.Properties);
  for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) walk(name, output.Value);
  return problems;
}

function attributeExists(type: string, attr: string, schemas: CfnSchemas): boolean {
  if (isCustom(type)) return true;
  // A nested stack's outputs are read as `Outputs.<Name>`.
  if (type === 'AWS::CloudFormation::Stack' && attr.startsWith('Outputs.')) return true;
  const schema = schemas.get(type);
  // A type the spec does not know (a third-party or brand-new type) is not judged.
  return !schema || schema.attributes.includes(attr);
}

function splitOnce(text: string): [string, string] {
  const at = text.indexOf('.');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

// ---- Properties --------------------------------------------------------------------------------------------

/** A value whose intrinsic function the runtime cannot resolve before deploy: its type is not known. */
const UNKNOWN = Symbol('unknown');

/** The resource's properties with intrinsics resolved where the runtime can; `Ref: AWS::NoValue` removes. */
function settle(stack: ResolvedStack, raw: unknown): unknown {
  if (Array.isArray(raw)) return raw.map((v) => settle(stack, v)).filter((v) => v !== undefined);
  if (!raw || typeof raw !== 'object') return raw;
  const entries = Object.entries(raw);
  if (entries.length === 1 && (entries[0][0] === 'Ref' || entries[0][0].startsWith('Fn::'))) {
    try {
      return stack.resolve(raw);
    } catch {
      return UNKNOWN;
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const settled = settle(stack, v);
    if (settled !== undefined) out[k] = settled;
  }
  return out;
}

/** The JSON type names of the schema validator's messages ("expected type: String, found: JSONArray"). */
function found(value: unknown): string {
  if (Array.isArray(value)) return 'JSONArray';
  if (value === null) return 'null';
  switch (typeof value) {
    case 'object':
      return 'JSONObject';
    case 'string':
      return 'String';
    case 'boolean':
      return 'Boolean';
    case 'number':
      return Number.isInteger(value) ? 'Integer' : 'Number';
    default:
      return typeof value;
  }
}

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

class PropertyValidator {
  readonly messages: string[] = [];

  constructor(private readonly schema: ResourceSchema) {}

  object(path: string, value: unknown, properties: Record<string, SchemaProperty>): void {
    if (!isObject(value)) return this.typeError(path, 'JSONObject', value);
    for (const [key, v] of Object.entries(value)) {
      const property = properties[key];
      if (!property) this.messages.push(`${path}: extraneous key [${key}] is not permitted`);
      else this.value(`${path}/${key}`, v, property.type);
    }
    for (const [key, property] of Object.entries(properties)) {
      if (property.required && !(key in value)) this.messages.push(`${path}: required key [${key}] not found`);
    }
  }

  value(path: string, value: unknown, type: SchemaType): void {
    if (value === UNKNOWN) return;
    switch (type.type) {
      case 'string':
      case 'date-time':
        if (!isScalar(value)) return this.typeError(path, 'String', value);
        return this.enumeration(path, String(value), type.type === 'string' ? type.allowedValues : undefined);
      case 'integer': {
        const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
        if (typeof n !== 'number' || !Number.isInteger(n)) return this.typeError(path, 'Integer', value);
        return this.enumeration(path, n, type.allowedValues);
      }
      case 'number':
        if (!(typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))))
          this.typeError(path, 'Number', value);
        return;
      case 'boolean':
        if (!(typeof value === 'boolean' || (typeof value === 'string' && /^(true|false)$/i.test(value)))) this.typeError(path, 'Boolean', value);
        return;
      case 'json':
      case 'null':
        return;
      case 'tag':
        return this.object(path, value, { Key: { type: { type: 'string' }, required: true }, Value: { type: { type: 'string' } } });
      case 'ref':
        return this.object(path, value, this.schema.definitions[type.ref]?.properties ?? {});
      case 'array':
        if (!Array.isArray(value)) return this.typeError(path, 'JSONArray', value);
        return value.forEach((v, i) => this.value(`${path}/${i}`, v, type.element));
      case 'map':
        if (!isObject(value)) return this.typeError(path, 'JSONObject', value);
        return Object.entries(value).forEach(([k, v]) => this.value(`${path}/${k}`, v, type.element));
      case 'union': {
        const matches = type.types.filter((t) => {
          const trial = new PropertyValidator(this.schema);
          trial.value(path, value, t);
          return trial.messages.length === 0;
        });
        if (!matches.length) this.messages.push(`${path}: #: no subschema matched out of the total ${type.types.length} subschemas`);
      }
    }
  }

  private enumeration(path: string, value: string | number, allowed: Array<string | number> | undefined): void {
    if (allowed && !allowed.some((a) => String(a) === String(value))) this.messages.push(`${path}: failed validation constraint for keyword [enum]`);
  }

  private typeError(path: string, expected: string, value: unknown): void {
    this.messages.push(`${path}: expected type: ${expected}, found: ${found(value)}`);
  }
}

/** The schema problems of one created resource's properties, one per violation, in the validator's words. */
export function propertyProblems(stack: ResolvedStack, logicalId: string, schemas: CfnSchemas): SchemaProblem[] {
  const raw = stack.template.Resources?.[logicalId];
  if (!raw || isCustom(raw.Type)) return [];
  const schema = schemas.get(raw.Type);
  // AWS::CDK::Metadata and types the spec does not know are not judged.
  if (!schema) return [];
  const validator = new PropertyValidator(schema);
  const settled = settle(stack, raw.Properties ?? {});
  if (settled !== UNKNOWN) validator.object('#', settled ?? {}, schema.properties);
  return validator.messages.map((m) => ({
    logicalId,
    type: raw.Type,
    error: 'ValidationError',
    message: `Properties validation failed for resource ${logicalId} with message: ${m}`,
  }));
}
