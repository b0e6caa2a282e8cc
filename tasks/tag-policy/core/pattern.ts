/**
 * Policy patterns are RE2 syntax (https://github.com/google/re2/wiki/Syntax), matched by re2js, a pure
 * JavaScript port of RE2: matching takes time linear in the tag value, so no pattern and no tag value can keep a
 * scan busy (with JavaScript's backtracking RegExp, `(a+)+$` against 40 `a`s and a `!` ran for minutes).
 * RE2 has no backreferences and no lookaround; a pattern using them is refused when the policy is validated.
 * The whole value must match (anchors are implied).
 */
import { RE2JS } from 're2js';

const cache = new Map<string, RE2JS>();

/** The compiled, anchored pattern; throws RE2's syntax error for a pattern RE2 does not accept. */
export function compilePattern(pattern: string, ignoreCase: boolean): RE2JS {
  const key = `${ignoreCase ? 'i' : 's'}:${pattern}`;
  let re = cache.get(key);
  if (!re) {
    re = RE2JS.compile(`^(?:${pattern})$`, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
    cache.set(key, re);
  }
  return re;
}

/** Whether the whole value matches, in time linear in its length. */
export function matchesPattern(value: string, pattern: string, ignoreCase: boolean): boolean {
  return compilePattern(pattern, ignoreCase).matches(value);
}

/** Why RE2 refuses the pattern, or undefined when it compiles. */
export function patternProblem(pattern: string): string | undefined {
  try {
    // The pattern itself first, so the message quotes what the user wrote, then as it is used (anchored).
    RE2JS.compile(pattern);
    compilePattern(pattern, false);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
