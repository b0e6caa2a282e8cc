/** What one rule check says about one instance: compliant, or a violation with a message a person can act on. */
export type Verdict = { ok: true } | { ok: false; message: string /** `case: normalize`: the allowed spelling to rewrite to. */; normalized?: string };

export const OK: Verdict = { ok: true };
