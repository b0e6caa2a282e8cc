/**
 * The one rule for a tag that holds "valid until" (the tag policy's exemption tag, Ec2Schedule's `opsflow:override`):
 * - a date `2025-06-30` means through that day, UTC: valid until 2025-07-01T00:00:00Z;
 * - a timestamp `2025-06-30T12:00:00Z` or `2025-06-30T14:00:00+02:00` means until that instant; it must say `Z` or
 *   an offset, so no machine's local time zone ever decides (`2025-06-30T12:00` is refused);
 * - anything else, including an impossible date such as `2025-02-30`, is not a deadline: `undefined`.
 */
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;

/** The end of validity in epoch ms, or undefined when `value` is not a date or a zoned timestamp. */
export function validUntil(value: string): number | undefined {
  const v = value.trim();
  if (DATE.test(v)) {
    const start = Date.parse(`${v}T00:00:00Z`);
    // Date.parse rolls 2025-02-30 over to March; a date that does not round-trip does not exist.
    return Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== v ? undefined : start + DAY_MS;
  }
  if (TIMESTAMP.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
