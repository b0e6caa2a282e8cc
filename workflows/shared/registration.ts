/**
 * A workflow's registration: everything the app needs to know about one workflow, declared in its folder
 * (`workflows/<name>/index.ts`): its name, its config section (parser, defaults, validation naming the field), how
 * to build it, its example inputs, how to try it locally and its row in the README. The registry
 * (`workflows/index.ts`) lists the registrations; `infra/` loops over the registry and knows no workflow by name.
 *
 * One name per workflow: `name` is the construct id, the state machine's name and the CLI's and console's; its config
 * key is the same name in camelCase (`configKey`), its folders in `workflows/` and `tasks/` the same in kebab-case.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { MemberAccess, TargetsConfig, TargetsOverride } from './targets';

/** The project root: what example paths, policy files and task entries are relative to. */
export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface BuiltWorkflow {
  readonly construct: Construct;
  readonly stateMachine: IStateMachine;
  /** Stack outputs besides `<name>StateMachineArn`, by output id. @default none */
  readonly outputs?: Record<string, string>;
  /** With `targets` configured: what the member role must allow, and which hub roles it trusts. @default none (acts in the hub only) */
  readonly member?: MemberAccess;
}

export interface BuildContext {
  /** The stack name (config `stackName`), for names that must be unique per deployment. */
  readonly stackName: string;
  /** The workflows registered before this one, by name. */
  readonly built: ReadonlyMap<string, BuiltWorkflow>;
  /** The accounts and regions of the organisation to act in (config `targets`). @default none: the hub's own account and region */
  readonly targets?: TargetsConfig;
}

export interface WorkflowRegistration<N extends string = string, C = unknown> {
  /** PascalCase; see the header. */
  readonly name: N;
  /** Parses the workflow's config section (`undefined`: the section is absent, so the defaults). Every problem is pushed with the field's full path, e.g. `approval.timeoutSeconds ...`. */
  readonly parseConfig: (raw: unknown, problems: string[]) => C;
  readonly build: (scope: Construct, config: C, context: BuildContext) => BuiltWorkflow;
  /** What it does, in one line: its row in the README's table of workflows. */
  readonly summary: string;
  /** Example inputs, as paths from the project root (`examplesIn(__dirname)`). */
  readonly examples: readonly string[];
  /** Commands that try the workflow on the local runtime; `opsflow up` prints them. */
  readonly tryLocally: readonly string[];
  /** EC2 tag keys the workflow acts on, shown as columns in the local runtime's fleet views. @default none */
  readonly interestingTags?: readonly string[];
  /** SES identities the workflow sends from, to verify in the local runtime's account. @default none */
  readonly sesIdentities?: (config: C) => string[];
  /**
   * The tasks whose roles act in member accounts when `targets` is set: their roles get fixed names
   * (`hubRoleName`, workflows/shared/targets.ts) that the member role trusts. @default none
   */
  readonly actingTasks?: readonly string[];
  /** The section's own `targets` (per schedule, per policy), each with its field path, checked against the top-level `targets`. @default none */
  readonly targetOverrides?: (config: C) => Array<{ field: string; override: TargetsOverride }>;
}

/** Types a registration; nothing more. */
export const defineWorkflow = <N extends string, C>(registration: WorkflowRegistration<N, C>) => registration;

/** `Ec2Schedule` → `ec2Schedule`: the workflow's config key. */
export const configKey = <N extends string>(name: N) => (name.charAt(0).toLowerCase() + name.slice(1)) as Uncapitalize<N>;

/** `Ec2Schedule` → `ec2-schedule`: the workflow's folder in `workflows/` and in `tasks/`. */
export const folderName = (name: string) => name.replace(/(?<=[a-z0-9])([A-Z])/g, '-$1').toLowerCase();

/** The `*.json` files in `<dir>/examples`, as paths from the project root, sorted. */
export function examplesIn(dir: string): string[] {
  const examples = join(dir, 'examples');
  if (!existsSync(examples)) return [];
  return readdirSync(examples)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => relative(PROJECT_ROOT, join(examples, f)));
}
