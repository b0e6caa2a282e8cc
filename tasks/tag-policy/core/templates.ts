/**
 * Default-value templates of the `tag` action: `${today}` (UTC date of the run), `${creator}` (who launched
 * the instance, from CloudTrail) and `${launchTime}` (EC2 LaunchTime, ISO UTC). Everything is UTC so a value
 * never depends on where the task happens to run.
 */
export const TEMPLATE_VARIABLES = ['today', 'creator', 'launchTime'] as const;

const VARIABLE = /\$\{([^}]*)\}/g;

/** The variable names used in `text`, in order, known or not. */
export function templateVariables(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1]);
}

export interface TemplateValues {
  now: Date;
  launchTime?: string;
  /** Undefined when unknown: expansion then fails rather than writing an empty or made-up creator. */
  creator?: string;
}

/** The expanded value, or undefined when a variable it needs has no value. EC2 values stop at 256 characters. */
export function expandTemplate(text: string, values: TemplateValues): string | undefined {
  let missing = false;
  const out = text.replace(VARIABLE, (_, name: string) => {
    const v =
      name === 'today' ? values.now.toISOString().slice(0, 10) : name === 'creator' ? values.creator : name === 'launchTime' ? values.launchTime : undefined;
    if (v === undefined || v === '') missing = true;
    return v ?? '';
  });
  return missing ? undefined : out.slice(0, 256);
}
