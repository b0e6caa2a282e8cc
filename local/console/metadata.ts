/**
 * What an app says about itself to the console and the CLI (README "Local runtime metadata"): per state machine
 * resource, `Metadata.OpsflowLocal.workflow` (its name, example inputs, run hints); on the template,
 * `Metadata.OpsflowLocal.interestingTags` (the fleet views' tag columns). The runtime knows no workflow, example or
 * tag of its own: an app that declares nothing gets its state machines by their names, no examples, no tag columns.
 *
 * Read from the raw template, so the CLI's help (which reads cdk.out, no runtime running) and the runtime agree.
 * A malformed declaration fails `opsflow up`, naming the stack, the resource and every bad field.
 */
import type { WorkflowExample } from './api';

export interface DeclaredWorkflow {
  /** The state machine's logical id. */
  logicalId: string;
  name: string;
  examples: WorkflowExample[];
  tryLocally: string[];
}

interface RawTemplate {
  Metadata?: Record<string, unknown>;
  Resources?: Record<string, { Type?: string; Metadata?: Record<string, unknown> }>;
}

const KEY = 'OpsflowLocal';
/** Step Functions' name rule (1-80 letters, digits, `-`, `_`): a declared name is a name the API takes. */
const NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** The workflows a template declares, in the template's resource order. Throws naming every bad field. */
export function declaredWorkflows(template: RawTemplate, stackName: string): DeclaredWorkflow[] {
  const out: DeclaredWorkflow[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
    const raw = (r.Metadata?.[KEY] as { workflow?: unknown } | undefined)?.workflow;
    if (raw === undefined) continue;
    const where = `${stackName} ${r.Type === 'AWS::StepFunctions::StateMachine' ? 'state machine' : r.Type} ${logicalId}: ${KEY}.workflow`;
    if (r.Type !== 'AWS::StepFunctions::StateMachine')
      throw new Error(`${where} is declared on a ${r.Type}; it belongs on an AWS::StepFunctions::StateMachine`);
    out.push(parseWorkflow(raw, logicalId, where));
  }
  const names = out.map((w) => w.name.toLowerCase());
  const twice = out.find((w, i) => names.indexOf(w.name.toLowerCase()) !== i);
  if (twice) throw new Error(`${stackName}: two state machines declare the workflow name '${twice.name}'`);
  return out;
}

function parseWorkflow(raw: unknown, logicalId: string, where: string): DeclaredWorkflow {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where} must be an object { name, examples?, tryLocally? }`);
  const w = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof w.name !== 'string' || !NAME.test(w.name)) problems.push(`name: must be 1-80 letters, digits, '-' or '_', got ${JSON.stringify(w.name)}`);
  const examples: WorkflowExample[] = [];
  if (w.examples !== undefined && !Array.isArray(w.examples)) problems.push('examples: must be a list of { name, input }');
  for (const [i, e] of (Array.isArray(w.examples) ? w.examples : []).entries()) {
    const ex = (e ?? {}) as Record<string, unknown>;
    if (typeof ex.name !== 'string' || !ex.name) problems.push(`examples[${i}].name: must be a non-empty string`);
    else if (examples.some((o) => o.name === ex.name)) problems.push(`examples[${i}].name: '${ex.name}' is there twice`);
    if (typeof ex.input !== 'string') problems.push(`examples[${i}].input: must be the input as JSON text (a string)`);
    else {
      try {
        JSON.parse(ex.input);
      } catch (err) {
        problems.push(`examples[${i}].input: not JSON (${(err as Error).message})`);
      }
    }
    if (typeof ex.name === 'string' && typeof ex.input === 'string') examples.push({ name: ex.name, input: ex.input });
  }
  const tryLocally = w.tryLocally ?? [];
  if (!Array.isArray(tryLocally) || !tryLocally.every((l) => typeof l === 'string')) problems.push('tryLocally: must be a list of strings');
  if (problems.length) throw new Error(`${where} is not valid: ${problems.join('; ')}`);
  return { logicalId, name: w.name as string, examples, tryLocally: [...(tryLocally as string[])] };
}

/** The tag keys the template's app asks the fleet views to show as columns. */
export function interestingTags(template: RawTemplate, stackName: string): string[] {
  const tags = (template.Metadata?.[KEY] as { interestingTags?: unknown } | undefined)?.interestingTags;
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new Error(`${stackName}: ${KEY}.interestingTags must be a list of tag keys (non-empty strings), got ${JSON.stringify(tags).slice(0, 200)}`);
  }
  return tags;
}
