/**
 * Wildcard matching for every pattern a request or a file brings (EC2 filter values, EventBridge `wildcard`,
 * IAM actions, resources and StringLike/ArnLike, Step Functions `StringMatches`), without a backtracking RegExp.
 *
 * A glob compiled to a JavaScript RegExp (`*` → `.*`) backtracks: `*a*a*a*a*b` against 5,000 `a`s takes
 * O(n^stars) steps, and one such EC2 filter froze every route of the runtime for minutes. Here a pattern is a
 * list of units (literal, any-one, any-run) matched by the two-pointer algorithm: on a mismatch it only
 * resumes after the last `*` seen, one character further on, so each step advances the text or the restart
 * point. The work is at most (text length + 1) × (pattern length + 1) steps, whatever the pattern, and a
 * pattern needing more characters than the text holds is refused before any step.
 */

/** One unit of a compiled pattern: a literal character, `?` (exactly one character) or `*` (any run). */
export type GlobUnit = string | typeof ANY_ONE | typeof ANY_RUN;
export const ANY_ONE = 1;
export const ANY_RUN = 2;

export interface Glob {
  readonly units: readonly GlobUnit[];
  /** The units as code points (ANY_ONE and ANY_RUN as -1 and -2), what the matcher reads. */
  readonly codes: Int32Array;
  /** How many characters a matching text holds at least (its literals and `?`s). */
  readonly minLength: number;
  readonly caseInsensitive: boolean;
}

export interface GlobDialect {
  /** Characters that mean "any run" (`*`); none when the dialect has no such wildcard. */
  star?: string;
  /** Characters that mean "exactly one" (`?`). */
  one?: string;
  /**
   * `backslash`: `\` makes the next character literal (EC2: `\*amazon\?\\` is the literal `*amazon?\`);
   * `backslash-star`: only `\*` and `\\` are escapes (Step Functions StringMatches, EventBridge wildcard);
   * `none`: every character other than a wildcard is literal.
   */
  escape?: 'backslash' | 'backslash-star' | 'none';
  caseInsensitive?: boolean;
}

/** Compiles `pattern` (code points, so `?` is one character as the services count them). */
export function compileGlob(pattern: string, dialect: GlobDialect): Glob {
  const units: GlobUnit[] = [];
  const chars = Array.from(pattern);
  const fold = (c: string) => (dialect.caseInsensitive ? c.toLowerCase() : c);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const next = chars[i + 1];
    if (c === '\\' && next !== undefined && (dialect.escape === 'backslash' || (dialect.escape === 'backslash-star' && (next === '*' || next === '\\')))) {
      units.push(fold(next));
      i++;
    } else if (dialect.star?.includes(c)) {
      // A run of stars matches what one star matches.
      if (units.at(-1) !== ANY_RUN) units.push(ANY_RUN);
    } else if (dialect.one?.includes(c)) units.push(ANY_ONE);
    else units.push(fold(c));
  }
  return { units, codes: codesOf(units), minLength: units.filter((u) => u !== ANY_RUN).length, caseInsensitive: !!dialect.caseInsensitive };
}

/** Rebuilds a glob whose units were rewritten (IAM's `${*}` stand-ins). */
export function withUnits(glob: Glob, units: GlobUnit[]): Glob {
  return { ...glob, units, codes: codesOf(units) };
}

function codesOf(units: readonly GlobUnit[]): Int32Array {
  return Int32Array.from(units, (u) => (u === ANY_ONE ? -1 : u === ANY_RUN ? -2 : u.codePointAt(0)!));
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** The text as code points: its UTF-16 units when it has no surrogate pair (the common case, no copy). */
function codePoints(text: string): { length: number; at: (i: number) => number } {
  if (!SURROGATE.test(text)) return { length: text.length, at: (i) => text.charCodeAt(i) };
  const points = Int32Array.from(text, (c) => c.codePointAt(0)!);
  return { length: points.length, at: (i) => points[i] };
}

/**
 * Whether `text` matches `glob`. `counter`, when given, receives the number of steps taken (tests assert the
 * bound structurally with it; nothing else reads it).
 */
export function globMatches(glob: Glob, text: string, counter?: { steps: number }): boolean {
  const { codes } = glob;
  const chars = codePoints(glob.caseInsensitive ? text.toLowerCase() : text);
  const n = chars.length;
  const m = codes.length;
  if (n < glob.minLength) return false;
  let t = 0;
  let p = 0;
  // Where to resume after a mismatch: just past the last `*`, with that `*` taking one more character.
  let starP = -1;
  let starT = 0;
  let steps = 0;
  try {
    while (t < n) {
      steps++;
      const u = p < m ? codes[p] : -3;
      if (u === -1 || (u >= 0 && u === chars.at(t))) {
        p++;
        t++;
      } else if (u === -2) {
        starP = p++;
        starT = t;
      } else if (starP >= 0) {
        p = starP + 1;
        t = ++starT;
      } else return false;
    }
    while (p < m && codes[p] === -2) {
      steps++;
      p++;
    }
    return p === m;
  } finally {
    if (counter) counter.steps += steps;
  }
}

/** A compiled-pattern cache for patterns that repeat (policies, rules); bounded so requests cannot grow it. */
export class GlobCache {
  private readonly map = new Map<string, Glob>();
  constructor(
    private readonly dialect: GlobDialect,
    private readonly max = 10_000,
  ) {}

  get(pattern: string): Glob {
    let glob = this.map.get(pattern);
    if (!glob) {
      glob = compileGlob(pattern, this.dialect);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(pattern, glob);
    }
    return glob;
  }

  matches(pattern: string, text: string): boolean {
    return globMatches(this.get(pattern), text);
  }
}
