/**
 * DynamoDB's item size, counted the way DynamoDB counts it, so a task can cut what it stores into items that
 * PutItem and BatchWriteItem accept. "The maximum item size in DynamoDB is 400 KB, which includes both attribute
 * name binary length (UTF-8 length) and attribute value lengths"
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html); the rules per type are
 * those of "DynamoDB item sizes and formats"
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html): strings their
 * UTF-8 bytes, numbers 1 byte per two significant digits plus 1, null and booleans 1 byte, a list or map 3 bytes
 * plus its elements plus 1 byte per element. Values are the plain JavaScript values the document client marshals
 * (undefined attributes are dropped, as the stores drop them).
 *
 * Written here rather than taken from npm: the one package that does this (dyno-item-size) has not been updated
 * since 2020 and counts AttributeValue JSON, not the plain values the tasks hold.
 */

/** DynamoDB's 400 KB item limit in bytes (DynamoDB's KB is 1,024 bytes). */
export const DYNAMODB_ITEM_LIMIT = 400 * 1024;

/** Bytes of one attribute value. */
export function valueSize(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const digits = String(value).replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    return Math.ceil(digits.length / 2) + 1;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((n: number, v) => n + valueSize(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + valueSize(v ?? null), 0);
  if (typeof value === 'object') {
    return 3 + Object.entries(value as Record<string, unknown>).reduce((n, [k, v]) => (v === undefined ? n : n + 1 + Buffer.byteLength(k) + valueSize(v)), 0);
  }
  return 0;
}

/** Bytes of an item: its attribute names plus their values. */
export function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((n, [k, v]) => (v === undefined ? n : n + Buffer.byteLength(k) + valueSize(v)), 0);
}

/**
 * Cuts `items` into consecutive pages whose elements' sizes (as list elements: `valueSize` + 1) add up to at most
 * `maxBytes`, and that hold at most `maxCount` elements. An element larger than `maxBytes` gets a page of its own
 * (the caller bounds its elements so that this cannot pass DynamoDB's limit).
 */
export function pagesByBytes<T>(items: readonly T[], maxBytes: number, maxCount = Infinity, size: (item: T) => number = valueSize): T[][] {
  const pages: T[][] = [];
  let page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item) + 1;
    if (page.length > 0 && (bytes + n > maxBytes || page.length >= maxCount)) {
      pages.push(page);
      page = [];
      bytes = 0;
    }
    page.push(item);
    bytes += n;
  }
  if (page.length > 0) pages.push(page);
  return pages;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, with a marker saying how much was cut, never splitting a character.
 * Reasons that come from AWS error messages go through this before they are stored.
 */
export function boundText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const marker = (cut: number) => ` ... (${cut} more bytes cut)`;
  const total = Buffer.byteLength(text);
  let keep = Buffer.from(text)
    .subarray(0, Math.max(0, maxBytes - Buffer.byteLength(marker(total))))
    .toString('utf8');
  // A cut through a multi-byte character decodes to U+FFFD: drop it.
  keep = keep.replace(/\uFFFD$/, '');
  return `${keep}${marker(total - Buffer.byteLength(keep))}`;
}
