/**
 * AWS Secrets Manager over AWS JSON 1.1 (`X-Amz-Target: secretsmanager.<Action>`), as
 * @aws-sdk/client-secrets-manager and the AWS CLI speak it: CreateSecret, PutSecretValue, GetSecretValue,
 * DescribeSecret, UpdateSecret. Secrets are durable (state store 'secretsmanager', one record per secret, key: ARN).
 * The stack's AWS::SecretsManager::Secret resources are created at deploy (runtime.ts); a secret that already
 * exists keeps its versions, as a CloudFormation update that leaves the value's properties alone does.
 *
 * Versions and staging labels, per https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html:
 * "If you don't include VersionStages, then Secrets Manager automatically moves the staging label AWSCURRENT to this
 * version", and when AWSCURRENT moves, "Secrets Manager also moves the staging label AWSPREVIOUS to the version that
 * AWSCURRENT was removed from". A ClientRequestToken is the version id: repeated with the same value "the request is
 * ignored"; with a different value it fails, "you cannot modify an existing version" (ResourceExistsException).
 * Versions left without a label are deprecated, still readable by id; past 100 the oldest are dropped (MAX_VERSIONS).
 *
 * Local differences: values are held in the state directory in plain text (0600 files, like every record), not
 * encrypted; a KmsKeyId is recorded and returned, and its key policy is not checked.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ACCOUNT, AwsError, REGION, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir, type Store } from '../kernel';
import { jsonError } from '../wire/errors';
import { jsonRequest } from '../wire/decode';

const TARGET_PREFIX = 'secretsmanager.';
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
/**
 * "Secrets Manager removes unlabeled versions when there are more than 100, but it does not remove versions created
 * less than 24 hours ago" (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html); the
 * runtime drops the oldest unlabeled ones past 100 whatever their age.
 */
const MAX_VERSIONS = 100;
/** "SecretString ... Length Constraints: Maximum length of 65536" (API_CreateSecret.html). */
const MAX_SECRET_BYTES = 65_536;

interface Version {
  id: string;
  string?: string;
  /** Base64, as the wire carries it. */
  binary?: string;
  stages: string[];
  created: number;
}

export interface SecretRecord {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  created: number;
  changed: number;
  versions: Version[];
}

export class SecretsManagerService implements ServiceHandler {
  readonly services = ['secretsmanager'] as const;
  private readonly clock: Clock;
  private readonly secrets: Store<SecretRecord>;

  constructor(opts: { state: StateDir; clock: Clock }) {
    this.clock = opts.clock;
    this.secrets = opts.state.store<SecretRecord>('secretsmanager');
  }

  /**
   * A template's secret: created once with its ARN (local/template.ts) and, when the template gives one, its value
   * (SecretString, or a generated string for GenerateSecretString); left as it is when it exists already.
   */
  deploy(secret: { arn: string; name: string; description?: string; kmsKeyId?: string; value?: string }): void {
    if (this.secrets.has(secret.arn)) return;
    const now = this.clock.nowMs();
    const record: SecretRecord = {
      arn: secret.arn,
      name: secret.name,
      description: secret.description,
      kmsKeyId: secret.kmsKeyId,
      created: now,
      changed: now,
      versions: [],
    };
    if (secret.value !== undefined) this.addVersion(record, { id: randomUUID(), string: secret.value }, undefined);
    this.secrets.put(record.arn, record);
  }

  /** The AWSCURRENT string of a secret, for the runtime's own use (installing the local chat app). */
  currentString(secretId: string): string | undefined {
    return this.find(secretId)?.versions.find((v) => v.stages.includes(CURRENT))?.string;
  }

  /** A new AWSCURRENT version, as PutSecretValue makes it, for the runtime's own use. */
  putString(secretId: string, value: string): void {
    this.putValue({ SecretId: secretId, SecretString: value });
  }

  /** The ARN a SecretId (name or ARN) names, or undefined: IAM authorizes requests on it (local/iam/requests.ts). */
  arnOf(secretId: string): string | undefined {
    return this.find(secretId)?.arn;
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const { op, input } = jsonRequest(req, TARGET_PREFIX);
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(this.dispatch(op, input)) };
    } catch (err) {
      return jsonError(err instanceof AwsError ? err : new AwsError('InternalServiceError', (err as Error).message, 500));
    }
  }

  private dispatch(op: string, input: Record<string, unknown>): unknown {
    switch (op) {
      case 'CreateSecret':
        return this.create(input);
      case 'PutSecretValue':
        return this.putValue(input);
      case 'GetSecretValue':
        return this.getValue(input);
      case 'DescribeSecret':
        return this.describe(this.secret(input.SecretId));
      case 'UpdateSecret':
        return this.update(input);
      default:
        throw new AwsError('UnknownOperationException', `The action ${op || '(none)'} is not served by the opsflow local runtime's Secrets Manager`);
    }
  }

  private create(input: Record<string, unknown>): unknown {
    const name = str(input.Name, 'Name');
    // "The secret name can contain ASCII letters, numbers, and the following characters: /_+=.@-" (API_CreateSecret.html, Name).
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name))
      throw invalidParameter('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    const value = secretValue(input, false);
    const existing = this.find(name);
    const token = optionalStr(input.ClientRequestToken, 'ClientRequestToken');
    if (existing) {
      // The same request again (same token, same value) is ignored (API_CreateSecret.html, ClientRequestToken).
      const same = token && existing.versions.find((v) => v.id === token);
      if (same && same.string === value?.string && same.binary === value?.binary) return { ARN: existing.arn, Name: existing.name, VersionId: same.id };
      // "The operation failed because the secret ... already exists" (ResourceExistsException, API_CreateSecret.html Errors).
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const now = this.clock.nowMs();
    const record: SecretRecord = {
      // "The ARN includes the name of the secret followed by six random characters" (API_CreateSecret.html, ARN).
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomSuffix()}`,
      name,
      description: optionalStr(input.Description, 'Description'),
      kmsKeyId: optionalStr(input.KmsKeyId, 'KmsKeyId'),
      created: now,
      changed: now,
      versions: [],
    };
    const versionId = value ? this.addVersion(record, { id: token ?? randomUUID(), ...value }, undefined) : undefined;
    this.secrets.put(record.arn, record);
    return { ARN: record.arn, Name: record.name, ...(versionId && { VersionId: versionId }) };
  }

  private putValue(input: Record<string, unknown>): unknown {
    const record = this.secret(input.SecretId);
    const value = secretValue(input, true)!;
    const token = optionalStr(input.ClientRequestToken, 'ClientRequestToken') ?? randomUUID();
    const existing = record.versions.find((v) => v.id === token);
    if (existing) {
      if (existing.string === value.string && existing.binary === value.binary)
        return { ARN: record.arn, Name: record.name, VersionId: existing.id, VersionStages: existing.stages };
      throw new AwsError('ResourceExistsException', `You can't modify an existing version, you can only create a new version. VersionId: ${token}`);
    }
    const stages = input.VersionStages === undefined ? undefined : stringList(input.VersionStages, 'VersionStages');
    this.addVersion(record, { id: token, ...value }, stages);
    record.changed = this.clock.nowMs();
    this.secrets.put(record.arn, record);
    const version = record.versions.find((v) => v.id === token)!;
    return { ARN: record.arn, Name: record.name, VersionId: version.id, VersionStages: version.stages };
  }

  private getValue(input: Record<string, unknown>): unknown {
    const record = this.secret(input.SecretId);
    const versionId = optionalStr(input.VersionId, 'VersionId');
    const stage = optionalStr(input.VersionStage, 'VersionStage');
    const byId = versionId ? record.versions.find((v) => v.id === versionId) : undefined;
    const byStage = record.versions.find((v) => v.stages.includes(stage ?? CURRENT));
    // The message AWS answers for a secret without a value (recorded: moto's test of "a secret that has no value",
    // getmoto/moto tests/test_secretsmanager/test_secretsmanager.py, and ECS task failures quoting it).
    if (versionId && !byId) throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
    if ((stage || !versionId) && !byStage) throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${stage ?? CURRENT}`);
    if (byId && stage && byId !== byStage) throw invalidParameter('The VersionId and VersionStage parameters refer to different versions of the secret.');
    const v = (byId ?? byStage)!;
    return {
      ARN: record.arn,
      Name: record.name,
      VersionId: v.id,
      ...(v.string !== undefined && { SecretString: v.string }),
      ...(v.binary !== undefined && { SecretBinary: v.binary }),
      VersionStages: v.stages,
      CreatedDate: v.created / 1000,
    };
  }

  private update(input: Record<string, unknown>): unknown {
    const record = this.secret(input.SecretId);
    if (input.Description !== undefined) record.description = optionalStr(input.Description, 'Description');
    if (input.KmsKeyId !== undefined) record.kmsKeyId = optionalStr(input.KmsKeyId, 'KmsKeyId');
    const value = secretValue(input, false);
    // "If you include SecretString or SecretBinary to create a new secret version, Secrets Manager automatically moves
    // the staging label AWSCURRENT to the new version" (API_UpdateSecret.html).
    const versionId = value
      ? this.addVersion(record, { id: optionalStr(input.ClientRequestToken, 'ClientRequestToken') ?? randomUUID(), ...value }, undefined)
      : undefined;
    record.changed = this.clock.nowMs();
    this.secrets.put(record.arn, record);
    return { ARN: record.arn, Name: record.name, ...(versionId && { VersionId: versionId }) };
  }

  private describe(record: SecretRecord): unknown {
    return {
      ARN: record.arn,
      Name: record.name,
      ...(record.description !== undefined && { Description: record.description }),
      ...(record.kmsKeyId !== undefined && { KmsKeyId: record.kmsKeyId }),
      CreatedDate: record.created / 1000,
      LastChangedDate: record.changed / 1000,
      VersionIdsToStages: Object.fromEntries(record.versions.filter((v) => v.stages.length).map((v) => [v.id, v.stages])),
    };
  }

  /** Adds a version with its labels (AWSCURRENT when none are given), moving each label off the version that had it. */
  private addVersion(record: SecretRecord, value: { id: string; string?: string; binary?: string }, stages: string[] | undefined): string {
    const labels = stages ?? [CURRENT];
    const oldCurrent = labels.includes(CURRENT) ? record.versions.find((v) => v.stages.includes(CURRENT)) : undefined;
    for (const v of record.versions) v.stages = v.stages.filter((s) => !labels.includes(s) && !(oldCurrent && s === PREVIOUS));
    if (oldCurrent) oldCurrent.stages.push(PREVIOUS);
    record.versions.push({ ...value, stages: [...labels], created: this.clock.nowMs() });
    const deprecated = record.versions.filter((v) => v.stages.length === 0);
    const drop = new Set(deprecated.slice(0, Math.max(0, record.versions.length - MAX_VERSIONS)));
    record.versions = record.versions.filter((v) => !drop.has(v));
    return value.id;
  }

  private find(secretId: string): SecretRecord | undefined {
    if (secretId.startsWith('arn:')) return this.secrets.get(secretId);
    for (const s of this.secrets.values()) if (s.name === secretId) return s;
    return undefined;
  }

  private secret(secretId: unknown): SecretRecord {
    const record = this.find(str(secretId, 'SecretId'));
    // "Secrets Manager can't find the resource that you asked for" (ResourceNotFoundException, API_GetSecretValue.html Errors).
    if (!record) throw notFound("Secrets Manager can't find the specified secret.");
    return record;
  }
}

function secretValue(input: Record<string, unknown>, required: boolean): { string?: string; binary?: string } | undefined {
  const string = optionalStr(input.SecretString, 'SecretString');
  const binary = optionalStr(input.SecretBinary, 'SecretBinary');
  // "You must include SecretBinary or SecretString, but not both" (API_PutSecretValue.html, SecretBinary).
  if (string !== undefined && binary !== undefined)
    throw invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.");
  if (string === undefined && binary === undefined) {
    if (required) throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    return undefined;
  }
  if (Buffer.byteLength(string ?? '') > MAX_SECRET_BYTES || Buffer.from(binary ?? '', 'base64').length > MAX_SECRET_BYTES)
    throw invalidParameter(`The secret value is larger than ${MAX_SECRET_BYTES} bytes.`);
  return string !== undefined ? { string } : { binary };
}

function str(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw invalidParameter(`${name} is required.`);
  return value;
}

function optionalStr(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`${name} must be a string.`);
  return value;
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v === ''))
    throw invalidParameter(`${name} must be a list of staging labels.`);
  return [...new Set(value as string[])];
}

const notFound = (message: string) => new AwsError('ResourceNotFoundException', message);
const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message);

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * A generated value for a template's GenerateSecretString: 32 characters of letters, digits and punctuation by
 * default ("PasswordLength ... The default length is 32 characters", AWS::SecretsManager::Secret
 * GenerateSecretString), placed at GenerateStringKey of SecretStringTemplate when both are given.
 */
export function generateSecretString(spec: {
  PasswordLength?: number;
  ExcludeCharacters?: string;
  ExcludePunctuation?: boolean;
  SecretStringTemplate?: string;
  GenerateStringKey?: string;
}): string {
  const punctuation = spec.ExcludePunctuation ? '' : '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
  const alphabet = [...`ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${punctuation}`].filter(
    (c) => !(spec.ExcludeCharacters ?? '').includes(c),
  );
  const password = [...randomBytes(spec.PasswordLength ?? 32)].map((b) => alphabet[b % alphabet.length]).join('');
  if (spec.SecretStringTemplate && spec.GenerateStringKey)
    return JSON.stringify({ ...JSON.parse(spec.SecretStringTemplate), [spec.GenerateStringKey]: password });
  return password;
}
