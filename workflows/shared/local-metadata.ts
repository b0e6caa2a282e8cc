/**
 * Local runtime metadata: what an app tells a local runtime (README "Local runtime metadata") about itself, in its
 * template, so that the runtime's console and CLI can show the app's workflows, their example inputs and how to try
 * them, and the fleet's tags that matter, without knowing the app. CloudFormation stores `Metadata` and ignores it
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/metadata-section-structure.html: "CloudFormation
 * does not transform, modify, or redact any information you include in the Metadata section"; for a resource's,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-metadata.html: "AWS CloudFormation
 * doesn't validate the syntax within the metadata attribute").
 *
 * Two places, both under the key `OpsflowLocal`:
 * - on a state machine's resource, `workflow`: its name, examples and run hints (`declareWorkflow`);
 * - on the template, the app-wide facts (`declareLocalApp`): the tags the fleet views show as columns, the fleet
 *   file to seed, the SES identities to verify; on the member stack's template, `member: true`.
 * Record panels (workflows/shared/record-panel.ts) are a third: on a table's resource, `records`.
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { CfnResource, Stack } from 'aws-cdk-lib';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';

export const METADATA_KEY = 'OpsflowLocal';

export interface WorkflowExample {
  /** How the console's example list names it, e.g. `approval.json`. */
  readonly name: string;
  /** The execution input as JSON text, as the Start form prefills it. */
  readonly input: string;
}

/** Resource metadata `OpsflowLocal.workflow` on an `AWS::StepFunctions::StateMachine`. */
export interface WorkflowMetadata {
  /** The name the console and the CLI show and take (the state machine's own name is an alias). */
  readonly name: string;
  /** Example inputs; the console's Start form offers exactly these, the first prefilled. @default none */
  readonly examples?: readonly WorkflowExample[];
  /** Commands that try the workflow on the local runtime; `opsflow up` and `opsflow <command> --help` show them. @default none */
  readonly tryLocally?: readonly string[];
}

/** Template metadata `OpsflowLocal`: facts about the whole app. */
export interface LocalAppMetadata {
  /**
   * This template is the member stack (infra/member-stack.ts): the runtime deploys it into every simulated member account
   * of the organisation, not as an app of its own. @default false
   */
  readonly member?: boolean;
  /**
   * A member stack's parameters that take the hub's account id and region (the StackSet passes the hub stack's own);
   * the runtime fills them with its hub's. @default none
   */
  readonly hubParameters?: { readonly account: string; readonly region: string };
  /** EC2 tag keys the fleet views (console, `opsflow fleet`) show as columns, in this order. @default none */
  readonly interestingTags?: readonly string[];
  /** The EC2 fleet to simulate: a JSON file, relative to the app's directory (the parent of cdk.out). @default none */
  readonly fleet?: string;
  /** SES identities (domains, addresses) verified in the local runtime's account. @default none */
  readonly sesIdentities?: readonly string[];
  /** A simulated AWS Organization (local/org/organization.ts `OrganizationSpec`): accounts, regions, fleets. @default none */
  readonly organization?: unknown;
  /** The local chat server's workspace: Mattermost hosts, channels, people. @default one channel, one person */
  readonly chat?: {
    readonly mattermostHosts?: readonly string[];
    readonly channels?: readonly string[];
    readonly people?: ReadonlyArray<{ readonly name: string; readonly email: string }>;
  };
}

/** Declares `workflow` on the state machine's CloudFormation resource. */
export function declareWorkflow(stateMachine: IStateMachine, workflow: WorkflowMetadata): void {
  const resource = stateMachine.node.defaultChild as CfnResource | undefined;
  if (!resource?.addMetadata) throw new Error(`${workflow.name}: only a state machine defined in this app can declare local runtime metadata`);
  const examples = workflow.examples ?? [];
  const dup = examples.find((e, i) => examples.findIndex((o) => o.name === e.name) !== i);
  if (dup) throw new Error(`${workflow.name}: two examples are named ${dup.name}`);
  resource.addMetadata(METADATA_KEY, {
    ...(resource.getMetadata(METADATA_KEY) ?? {}),
    workflow: { name: workflow.name, examples, tryLocally: workflow.tryLocally ?? [] },
  });
}

/** Declares the app-wide facts on the stack's template. */
export function declareLocalApp(stack: Stack, app: LocalAppMetadata): void {
  const { metadata } = stack.templateOptions;
  stack.templateOptions.metadata = { ...metadata, [METADATA_KEY]: { ...(metadata?.[METADATA_KEY] ?? {}), ...app } };
}

/**
 * Example inputs read from files (paths from the project root), named by their file name: each must be JSON, so a
 * broken example fails `cdk synth` naming the file instead of prefilling a form that cannot start.
 */
export function readExamples(paths: readonly string[]): WorkflowExample[] {
  return paths.map((path) => {
    let input: string;
    try {
      input = readFileSync(resolve(__dirname, '..', '..', path), 'utf8');
      JSON.parse(input);
    } catch (err) {
      throw new Error(`example ${path}: ${(err as Error).message}`);
    }
    return { name: basename(path), input };
  });
}
