/**
 * Email address validation shared by the approval tasks (execution input, environment) and the CDK config,
 * so an address accepted at synth is accepted at run time and vice versa.
 *
 * Deliberately pragmatic rather than RFC 5322 complete: one `@`, a dot-atom local part, a domain of
 * LDH labels with at least one dot, and SMTP's length limits. Quoted local parts and IP literals are
 * refused; nobody routes approvals to them and they are a common vector for header tricks.
 */
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

export function isValidEmail(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 254) return false;
  const at = value.lastIndexOf('@');
  if (at <= 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((label) => label.length <= 63 && DOMAIN_LABEL.test(label));
}

/** Addresses are compared case-insensitively everywhere (dedup, vote counting), so store them lower-cased. */
export function normalizeEmail(value: string): string {
  return value.trim().toLowerCase();
}
