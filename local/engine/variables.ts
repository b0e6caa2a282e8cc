/**
 * Workflow variables (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html): a Map
 * iteration or Parallel branch reads its parents' and assigns its own, within AWS's size limits.
 */
import { StatesError } from './errors';

/** Limits of https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html#variable-size-limits */
export const VARIABLE_MAX_BYTES = 256 * 1024;
export const ASSIGN_MAX_BYTES = 256 * 1024;
export const EXECUTION_VARIABLES_MAX_BYTES = 10 * 1024 * 1024;

/** Workflow variables: a Map iteration or Parallel branch reads its parents' and assigns its own. */
export class Variables {
  private readonly own = new Map<string, unknown>();
  constructor(
    private readonly parent?: Variables,
    private readonly budget: { bytes: number } = parent?.budget ?? { bytes: 0 },
  ) {}

  get(name: string): { found: boolean; value?: unknown } {
    if (this.own.has(name)) return { found: true, value: this.own.get(name) };
    return this.parent ? this.parent.get(name) : { found: false };
  }

  all(): Record<string, unknown> {
    return { ...(this.parent?.all() ?? {}), ...Object.fromEntries(this.own) };
  }

  /** Puts back variables saved from an earlier attempt (RedriveExecution); they passed the limits when assigned. */
  restore(values: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(values)) {
      this.own.set(name, value);
      this.budget.bytes += Buffer.byteLength(JSON.stringify(value ?? null));
    }
  }

  assign(values: Record<string, unknown>): void {
    let total = 0;
    for (const [name, value] of Object.entries(values)) {
      const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
      if (bytes > VARIABLE_MAX_BYTES)
        throw new StatesError(
          'States.DataLimitExceeded',
          `The variable '${name}' has a size of ${bytes} bytes, which exceeds the maximum of ${VARIABLE_MAX_BYTES} bytes.`,
        );
      total += bytes;
    }
    if (total > ASSIGN_MAX_BYTES)
      throw new StatesError(
        'States.DataLimitExceeded',
        `The assigned variables have a combined size of ${total} bytes, which exceeds the maximum of ${ASSIGN_MAX_BYTES} bytes.`,
      );
    for (const [name, value] of Object.entries(values)) {
      const before = this.own.has(name) ? Buffer.byteLength(JSON.stringify(this.own.get(name) ?? null)) : 0;
      this.budget.bytes += Buffer.byteLength(JSON.stringify(value ?? null)) - before;
      this.own.set(name, value);
    }
    if (this.budget.bytes > EXECUTION_VARIABLES_MAX_BYTES) {
      throw new StatesError(
        'States.DataLimitExceeded',
        `The variables of this execution have a combined size of ${this.budget.bytes} bytes, which exceeds the maximum of ${EXECUTION_VARIABLES_MAX_BYTES} bytes.`,
      );
    }
  }
}
