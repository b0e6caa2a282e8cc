/**
 * State machines, their versions and aliases, and tags: the control plane of
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html with AWS's validation
 * errors. Machines from cdk.out are redeployed at every start; machines created through the API are
 * persisted (`snapshot`/`restore`, written by the service with the rest of its state).
 *
 * Versions (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-state-machine-version.html) are
 * numbered from 1 per machine and are immutable; an alias
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-state-machine-alias.html) routes to one or two
 * versions by weight.
 */
import { createHash } from 'node:crypto';
import { AwsError, arn, type Clock } from '../kernel';
import {
  DefinitionRefusedError,
  diagnose,
  expressProblems,
  invalidDefinitionMessage,
  prepareDefinition,
  type Diagnostic,
  type PreparedDefinition,
} from './preprocess';

type Obj = Record<string, any>;

export interface Revision {
  revisionId: string;
  definition: string;
  roleArn: string;
  date: number;
}

export interface Version {
  arn: string;
  number: number;
  revisionId: string;
  description?: string;
  creationDate: number;
}

export interface Alias {
  arn: string;
  name: string;
  description?: string;
  routing: { stateMachineVersionArn: string; weight: number }[];
  creationDate: number;
  updateDate: number;
}

export interface MachineRecord {
  arn: string;
  name: string;
  type: string;
  origin: 'cdk' | 'api';
  creationDate: number;
  /** Current revision. */
  revisionId: string;
  revisions: Record<string, Revision>;
  versions: Version[];
  aliases: Alias[];
  loggingConfiguration?: Obj;
  tracingConfiguration?: Obj;
  description?: string;
}

/** What an execution runs: a machine at a revision, possibly through a version or alias. */
export interface Resolved {
  machine: MachineRecord;
  revision: Revision;
  prepared: PreparedDefinition;
  versionArn?: string;
  aliasArn?: string;
}

export interface RegistrySnapshot {
  machines: MachineRecord[];
  tags: Record<string, Record<string, string>>;
}

/** https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html#StepFunctions-CreateStateMachine-request-name */
const NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/.+$/;
const MAX_TAGS = 50;

export class Registry {
  private readonly machines = new Map<string, MachineRecord>();
  private readonly prepared = new Map<string, PreparedDefinition>();
  private readonly tags = new Map<string, Record<string, string>>();

  constructor(
    private readonly clock: Clock,
    private readonly changed: () => void,
  ) {}

  restore(snapshot: RegistrySnapshot | undefined): void {
    for (const m of snapshot?.machines ?? []) this.machines.set(m.arn, m);
    for (const [resource, tags] of Object.entries(snapshot?.tags ?? {})) this.tags.set(resource, tags);
  }

  /** API-created machines and all tags (cdk.out machines come back from the assembly). */
  snapshot(): RegistrySnapshot {
    return { machines: [...this.machines.values()].filter((m) => m.origin === 'api'), tags: Object.fromEntries(this.tags) };
  }

  all(): MachineRecord[] {
    return [...this.machines.values()];
  }

  /** A cdk.out deployment; throws DefinitionRefusedError for a definition AWS would refuse. */
  deploy(sm: { arn: string; name: string; definition: object; roleArn: string; type?: string }): void {
    const definition = JSON.stringify(sm.definition);
    const prepared = prepareDefinition(sm.definition);
    if (sm.type === 'EXPRESS') {
      const problems = expressProblems(sm.definition);
      if (problems.length) throw new DefinitionRefusedError(invalidDefinitionMessage(problems), problems);
    }
    const previous = this.machines.get(sm.arn);
    const revision = this.revision(definition, sm.roleArn);
    this.prepared.set(revision.revisionId, prepared);
    this.machines.set(sm.arn, {
      arn: sm.arn,
      name: sm.name,
      type: sm.type ?? 'STANDARD',
      origin: 'cdk',
      creationDate: previous?.creationDate ?? this.clock.nowMs(),
      revisionId: revision.revisionId,
      revisions: { ...(previous?.revisions ?? {}), [revision.revisionId]: revision },
      versions: previous?.versions ?? [],
      aliases: previous?.aliases ?? [],
    });
  }

  // ---- lookups ----------------------------------------------------------------------------------------

  machine(stateMachineArn: string): MachineRecord {
    const m = this.machines.get(stateMachineArn);
    if (!m) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return m;
  }

  /** A machine ARN, a version ARN (`...:stateMachine:name:3`) or an alias ARN (`...:stateMachine:name:prod`). */
  resolve(target: string): Resolved {
    const base = /^(arn:[^:]+:states:[^:]+:\d+:stateMachine:[^:]+)(?::([^:]+))?$/.exec(target);
    if (!base) throw new AwsError('InvalidArn', `Invalid Arn: '${target}'`);
    const machine = this.machines.get(base[1]);
    if (!machine) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${target}'`);
    const qualifier = base[2];
    if (qualifier === undefined) return this.at(machine, machine.revisionId);
    if (/^\d+$/.test(qualifier)) {
      const version = machine.versions.find((v) => v.number === Number(qualifier));
      if (!version) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${target}'`);
      return { ...this.at(machine, version.revisionId), versionArn: version.arn };
    }
    const alias = machine.aliases.find((a) => a.name === qualifier);
    if (!alias) throw new AwsError('ResourceNotFound', `Resource not found: '${target}'`);
    // Weighted routing: pick a version by weight.
    let pick = Math.random() * 100;
    const route = alias.routing.find((r) => (pick -= r.weight) < 0) ?? alias.routing[0];
    const resolved = this.resolve(route.stateMachineVersionArn);
    return { ...resolved, aliasArn: alias.arn };
  }

  revisionOf(machineArn: string, revisionId: string): Revision | undefined {
    return this.machines.get(machineArn)?.revisions[revisionId];
  }

  preparedOf(revision: Revision): PreparedDefinition {
    let prepared = this.prepared.get(revision.revisionId);
    if (!prepared) {
      // Restored revisions were valid when stored; skip the slow schema pass.
      prepared = prepareDefinition(JSON.parse(revision.definition), { schema: false });
      this.prepared.set(revision.revisionId, prepared);
    }
    return prepared;
  }

  private at(machine: MachineRecord, revisionId: string): Resolved {
    const revision = machine.revisions[revisionId];
    return { machine, revision, prepared: this.preparedOf(revision) };
  }

  private revision(definition: string, roleArn: string): Revision {
    const revisionId = createHash('sha256').update(`${roleArn}\n${definition}`).digest('hex').slice(0, 32);
    return { revisionId, definition, roleArn, date: this.clock.nowMs() };
  }

  // ---- API --------------------------------------------------------------------------------------------

  create(b: Obj): Obj {
    const name = requiredString(b, 'name');
    const definitionText = requiredString(b, 'definition');
    const roleArn = requiredString(b, 'roleArn');
    if (!NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    if (!ROLE_ARN.test(roleArn)) throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${roleArn}'`);
    const type = b.type ?? 'STANDARD';
    if (type !== 'STANDARD' && type !== 'EXPRESS')
      throw validation(`Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]`);
    const prepared = this.validDefinition(definitionText, type);
    const smArn = arn.stateMachine(name);
    const revision = this.revision(JSON.stringify(JSON.parse(definitionText)), roleArn);
    revision.definition = definitionText;
    const existing = this.machines.get(smArn);
    if (existing) {
      // Idempotent when everything matches; otherwise the name is taken.
      const current = existing.revisions[existing.revisionId];
      if (current.definition === definitionText && current.roleArn === roleArn && existing.type === type && !b.publish)
        return { stateMachineArn: smArn, creationDate: existing.creationDate / 1000 };
      throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${smArn}'`);
    }
    this.checkTags(b.tags);
    this.prepared.set(revision.revisionId, prepared);
    const machine: MachineRecord = {
      arn: smArn,
      name,
      type,
      origin: 'api',
      creationDate: this.clock.nowMs(),
      revisionId: revision.revisionId,
      revisions: { [revision.revisionId]: revision },
      versions: [],
      aliases: [],
      loggingConfiguration: b.loggingConfiguration,
      tracingConfiguration: b.tracingConfiguration,
    };
    this.machines.set(smArn, machine);
    if (Array.isArray(b.tags) && b.tags.length) this.tag(smArn, b.tags);
    const out: Obj = { stateMachineArn: smArn, creationDate: machine.creationDate / 1000 };
    if (b.publish) out.stateMachineVersionArn = this.publishVersion(machine, b.versionDescription).arn;
    this.changed();
    return out;
  }

  update(b: Obj): Obj {
    const machine = this.machine(requiredString(b, 'stateMachineArn'));
    if (b.definition === undefined && b.roleArn === undefined && b.loggingConfiguration === undefined && b.tracingConfiguration === undefined) {
      throw new AwsError(
        'MissingRequiredParameter',
        'Either the definition, the roleArn, the loggingConfiguration or the tracingConfiguration must be specified',
      );
    }
    const current = machine.revisions[machine.revisionId];
    const definitionText = b.definition ?? current.definition;
    const roleArn = b.roleArn ?? current.roleArn;
    if (!ROLE_ARN.test(roleArn)) throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${roleArn}'`);
    const prepared = this.validDefinition(definitionText, machine.type);
    const revision = this.revision(JSON.stringify(JSON.parse(definitionText)), roleArn);
    revision.definition = definitionText;
    this.prepared.set(revision.revisionId, prepared);
    machine.revisions[revision.revisionId] ??= revision;
    machine.revisionId = revision.revisionId;
    if (b.loggingConfiguration) machine.loggingConfiguration = b.loggingConfiguration;
    if (b.tracingConfiguration) machine.tracingConfiguration = b.tracingConfiguration;
    const out: Obj = { updateDate: this.clock.nowMs() / 1000, revisionId: revision.revisionId };
    if (b.publish) out.stateMachineVersionArn = this.publishVersion(machine, b.versionDescription).arn;
    this.changed();
    return out;
  }

  delete(b: Obj): Obj {
    const smArn = requiredString(b, 'stateMachineArn');
    // Deleting a version or an alias through DeleteStateMachine is allowed by AWS too.
    const qualified = /^(arn:.*:stateMachine:[^:]+):([^:]+)$/.exec(smArn);
    if (qualified) {
      if (/^\d+$/.test(qualified[2])) return this.deleteVersion({ stateMachineVersionArn: smArn });
      return this.deleteAlias({ stateMachineAliasArn: smArn });
    }
    if (this.machines.delete(smArn)) {
      this.tags.delete(smArn);
      this.changed();
    }
    return {};
  }

  describe(b: Obj): Obj {
    const target = requiredString(b, 'stateMachineArn');
    const { machine, revision, versionArn } = this.resolve(target);
    const out: Obj = {
      stateMachineArn: versionArn ?? machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: revision.definition,
      roleArn: revision.roleArn,
      type: machine.type,
      creationDate: (versionArn ? machine.versions.find((v) => v.arn === versionArn)!.creationDate : machine.creationDate) / 1000,
      loggingConfiguration: machine.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: machine.tracingConfiguration ?? { enabled: false },
      revisionId: revision.revisionId,
    };
    if (versionArn) out.description = machine.versions.find((v) => v.arn === versionArn)!.description;
    return out;
  }

  list(): Obj[] {
    return this.all().map((m) => ({ stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: m.creationDate / 1000 }));
  }

  publish(b: Obj): Obj {
    const machine = this.machine(requiredString(b, 'stateMachineArn'));
    if (b.revisionId !== undefined && b.revisionId !== machine.revisionId) {
      throw new AwsError(
        'ConflictException',
        `Failed to publish the State Machine version for revision ${b.revisionId}. The current State Machine revision is ${machine.revisionId}.`,
      );
    }
    const version = this.publishVersion(machine, b.description);
    this.changed();
    return { creationDate: version.creationDate / 1000, stateMachineVersionArn: version.arn };
  }

  private publishVersion(machine: MachineRecord, description?: string): Version {
    // Publishing the same revision twice returns the existing version.
    const latest = machine.versions.at(-1);
    if (latest && latest.revisionId === machine.revisionId) return latest;
    const number = (latest?.number ?? 0) + 1;
    const version: Version = { arn: `${machine.arn}:${number}`, number, revisionId: machine.revisionId, description, creationDate: this.clock.nowMs() };
    machine.versions.push(version);
    return version;
  }

  listVersions(b: Obj): Obj[] {
    const machine = this.machine(requiredString(b, 'stateMachineArn'));
    return [...machine.versions].reverse().map((v) => ({ stateMachineVersionArn: v.arn, creationDate: v.creationDate / 1000 }));
  }

  deleteVersion(b: Obj): Obj {
    const versionArn = requiredString(b, 'stateMachineVersionArn');
    const m = /^(.*):(\d+)$/.exec(versionArn);
    const machine = m ? this.machines.get(m[1]) : undefined;
    if (!machine) return {};
    const used = machine.aliases.find((a) => a.routing.some((r) => r.stateMachineVersionArn === versionArn));
    if (used) throw new AwsError('ConflictException', `Version ${versionArn} is referenced by alias ${used.arn}; update or delete the alias first.`);
    machine.versions = machine.versions.filter((v) => v.arn !== versionArn);
    this.changed();
    return {};
  }

  createAlias(b: Obj): Obj {
    const name = requiredString(b, 'name');
    if (!/^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}$/.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const routing = this.routing(b.routingConfiguration);
    const machine = this.machines.get(routing[0].stateMachineVersionArn.replace(/:\d+$/, ''))!;
    const aliasArn = `${machine.arn}:${name}`;
    const existing = machine.aliases.find((a) => a.name === name);
    if (existing) {
      if (JSON.stringify(existing.routing) === JSON.stringify(routing) && existing.description === b.description)
        return { stateMachineAliasArn: aliasArn, creationDate: existing.creationDate / 1000 };
      throw new AwsError('ConflictException', `Alias ${aliasArn} already exists with a different configuration`);
    }
    const now = this.clock.nowMs();
    machine.aliases.push({ arn: aliasArn, name, description: b.description, routing, creationDate: now, updateDate: now });
    this.changed();
    return { stateMachineAliasArn: aliasArn, creationDate: now / 1000 };
  }

  describeAlias(b: Obj): Obj {
    const alias = this.alias(requiredString(b, 'stateMachineAliasArn'));
    return {
      stateMachineAliasArn: alias.arn,
      name: alias.name,
      description: alias.description,
      routingConfiguration: alias.routing,
      creationDate: alias.creationDate / 1000,
      updateDate: alias.updateDate / 1000,
    };
  }

  updateAlias(b: Obj): Obj {
    const alias = this.alias(requiredString(b, 'stateMachineAliasArn'));
    if (b.routingConfiguration === undefined && b.description === undefined) throw validation('Either routingConfiguration or description must be specified');
    if (b.routingConfiguration !== undefined) alias.routing = this.routing(b.routingConfiguration);
    if (b.description !== undefined) alias.description = b.description;
    alias.updateDate = this.clock.nowMs();
    this.changed();
    return { updateDate: alias.updateDate / 1000 };
  }

  deleteAlias(b: Obj): Obj {
    const aliasArn = requiredString(b, 'stateMachineAliasArn');
    const machine = this.machines.get(aliasArn.replace(/:[^:]+$/, ''));
    if (!machine?.aliases.some((a) => a.arn === aliasArn)) throw new AwsError('ResourceNotFound', `Resource not found: '${aliasArn}'`);
    machine.aliases = machine.aliases.filter((a) => a.arn !== aliasArn);
    this.changed();
    return {};
  }

  listAliases(b: Obj): Obj[] {
    const machine = this.machine(requiredString(b, 'stateMachineArn'));
    return machine.aliases.map((a) => ({ stateMachineAliasArn: a.arn, creationDate: a.creationDate / 1000 }));
  }

  private alias(aliasArn: string): Alias {
    const machine = this.machines.get(aliasArn.replace(/:[^:]+$/, ''));
    const alias = machine?.aliases.find((a) => a.arn === aliasArn);
    if (!alias) throw new AwsError('ResourceNotFound', `Resource not found: '${aliasArn}'`);
    return alias;
  }

  /** https://docs.aws.amazon.com/step-functions/latest/apireference/API_RoutingConfigurationListItem.html: one or two versions of one machine, weights summing to 100. */
  private routing(config: unknown): Alias['routing'] {
    if (!Array.isArray(config) || config.length < 1 || config.length > 2)
      throw validation("Value at 'routingConfiguration' failed to satisfy constraint: Member must have length between 1 and 2");
    const routing = config.map((r: Obj) => ({ stateMachineVersionArn: String(r?.stateMachineVersionArn ?? ''), weight: Number(r?.weight) }));
    const machines = new Set(routing.map((r) => r.stateMachineVersionArn.replace(/:\d+$/, '')));
    if (machines.size !== 1) throw validation('All versions in routingConfiguration must belong to the same state machine');
    for (const r of routing) {
      if (!Number.isInteger(r.weight) || r.weight < 0 || r.weight > 100)
        throw validation(`Value '${r.weight}' at 'weight' failed to satisfy constraint: Member must have value between 0 and 100`);
      this.resolve(r.stateMachineVersionArn);
      if (!/:\d+$/.test(r.stateMachineVersionArn))
        throw new AwsError('InvalidArn', `Invalid Arn: '${r.stateMachineVersionArn}' is not a state machine version ARN`);
    }
    if (routing.reduce((s, r) => s + r.weight, 0) !== 100) throw validation('The weights in routingConfiguration must add up to 100');
    if (routing.length === 2 && routing[0].stateMachineVersionArn === routing[1].stateMachineVersionArn)
      throw validation('routingConfiguration must name two different versions');
    return routing;
  }

  // ---- tags -------------------------------------------------------------------------------------------

  tag(resourceArn: string, tags: unknown): void {
    this.checkTags(tags);
    const current = this.tags.get(resourceArn) ?? {};
    for (const t of tags as { key: string; value: string }[]) current[t.key] = t.value;
    if (Object.keys(current).length > MAX_TAGS) throw new AwsError('TooManyTags', `Too many tags: a resource can have at most ${MAX_TAGS} tags`);
    this.tags.set(resourceArn, current);
    this.changed();
  }

  untag(resourceArn: string, keys: unknown): void {
    if (!Array.isArray(keys)) throw validation("Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    const current = this.tags.get(resourceArn) ?? {};
    for (const k of keys) delete current[String(k)];
    this.tags.set(resourceArn, current);
    this.changed();
  }

  listTags(resourceArn: string): { key: string; value: string }[] {
    return Object.entries(this.tags.get(resourceArn) ?? {}).map(([key, value]) => ({ key, value }));
  }

  /** https://docs.aws.amazon.com/step-functions/latest/apireference/API_Tag.html: keys 1-128, values 0-256 characters. */
  private checkTags(tags: unknown): void {
    if (tags === undefined) return;
    if (!Array.isArray(tags)) throw validation("Value at 'tags' failed to satisfy constraint: Member must be a list");
    for (const t of tags as Obj[]) {
      if (typeof t?.key !== 'string' || t.key.length < 1 || t.key.length > 128)
        throw validation("Value at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128");
      if (t.value !== undefined && (typeof t.value !== 'string' || t.value.length > 256))
        throw validation("Value at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256");
    }
  }

  // ---- validation -------------------------------------------------------------------------------------

  private validDefinition(text: string, type: string): PreparedDefinition {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ${(err as Error).message}'`);
    }
    const problems = diagnose(parsed).filter((d) => d.severity === 'ERROR');
    if (type === 'EXPRESS') problems.push(...expressProblems(parsed));
    if (problems.length) throw new AwsError('InvalidDefinition', invalidDefinitionMessage(problems));
    return prepareDefinition(parsed, { schema: false });
  }

  /** ValidateStateMachineDefinition's answer. */
  static validate(b: Obj): Obj {
    const text = requiredString(b, 'definition');
    let diagnostics: Diagnostic[];
    try {
      diagnostics = diagnose(JSON.parse(text));
    } catch (err) {
      diagnostics = [{ severity: 'ERROR', code: 'INVALID_JSON_DESCRIPTION', message: (err as Error).message }];
    }
    const severity = b.severity ?? 'ERROR';
    const shown = diagnostics.filter((d) => severity === 'WARNING' || d.severity === 'ERROR');
    const max = b.maxResults && b.maxResults > 0 ? b.maxResults : 100;
    return {
      result: diagnostics.some((d) => d.severity === 'ERROR') ? 'FAIL' : 'OK',
      diagnostics: shown.slice(0, max),
      truncated: shown.length > max,
    };
  }
}

function requiredString(body: Obj, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || !value) throw validation(`Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function validation(message: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${message}`);
}
