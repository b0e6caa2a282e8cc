/** How the approval pages and emails show values to people (HTML escaping is the kit's: tasks/shared/http.ts). */

/** A deadline or timestamp for people: minute precision, always UTC, unambiguous. */
export function formatUtc(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** Details as readable text: strings as given, objects as indented JSON. */
export function detailsText(details: string | Record<string, unknown> | null): string | null {
  if (details === null) return null;
  return typeof details === 'string' ? details : JSON.stringify(details, null, 2);
}
