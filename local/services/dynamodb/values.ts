/**
 * DynamoDB attribute values (the AttributeValue wire shape): shape checks, number canonicalization and exact
 * decimal arithmetic (DynamoDB numbers have 38 digits; JS numbers do not), comparison and equality as
 * conditions and keys use them.
 */
import { AwsError } from '../../kernel';

/** A raw AttributeValue: exactly one of S, N, B, BOOL, NULL, L, M, SS, NS, BS. */
export type AV = { S?: string; N?: string; B?: string; BOOL?: boolean; NULL?: boolean; L?: AV[]; M?: Item; SS?: string[]; NS?: string[]; BS?: string[] };
export type Item = Record<string, AV>;

export const TYPES = ['S', 'N', 'B', 'BOOL', 'NULL', 'L', 'M', 'SS', 'NS', 'BS'] as const;

export function typeOf(av: AV): (typeof TYPES)[number] {
  return Object.keys(av)[0] as (typeof TYPES)[number];
}

export function invalid(message: string): AwsError {
  return new AwsError('ValidationException', message);
}

/** Checks shape and canonicalizes numbers ("1.50" is stored and returned as "1.5", as DynamoDB does). */
export function checkAV(av: AV, where: string): AV {
  const keys = Object.keys(av ?? {});
  if (keys.length !== 1 || !TYPES.includes(keys[0] as never)) {
    throw invalid(`One or more parameter values were invalid: Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes (${where})`);
  }
  const t = keys[0] as (typeof TYPES)[number];
  switch (t) {
    case 'N':
      return { N: canonicalNumber(av.N!, where) };
    case 'SS':
    case 'NS':
    case 'BS': {
      const set = av[t]!;
      if (set.length === 0) throw invalid(`One or more parameter values were invalid: An ${t === 'SS' ? 'string' : t === 'NS' ? 'number' : 'binary'} set  may not be empty`);
      const values = t === 'NS' ? set.map((n) => canonicalNumber(n, where)) : set;
      if (new Set(values).size !== values.length) throw invalid(`One or more parameter values were invalid: Input collection ${JSON.stringify(set)} contains duplicates.`);
      return { [t]: values };
    }
    case 'L':
      return { L: av.L!.map((v, i) => checkAV(v, `${where}[${i}]`)) };
    case 'M':
      return { M: checkItem(av.M!, where) };
    default:
      return av;
  }
}

export function checkItem(item: Item, where = 'item'): Item {
  if (typeof item !== 'object' || item === null) throw invalid(`${where} must be a map of attribute values`);
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, checkAV(v, where === 'item' ? k : `${where}.${k}`)]));
}

// Exact decimal arithmetic (DynamoDB numbers have 38 digits; JS numbers do not).
interface Decimal {
  digits: bigint;
  scale: number;
}

function parseDecimal(s: string): Decimal | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === '' && !m[3])) return undefined;
  let digits = BigInt(`${m[1] === '-' ? '-' : ''}${m[2] || '0'}${m[3] ?? ''}`);
  let scale = (m[3] ?? '').length - Number(m[4] ?? 0);
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.digits * 10n ** BigInt(scale - a.scale), b.digits * 10n ** BigInt(scale - b.scale), scale];
}

function formatDecimal({ digits, scale }: Decimal): string {
  const negative = digits < 0n;
  let text = (negative ? -digits : digits).toString().padStart(scale + 1, '0');
  if (scale > 0) text = `${text.slice(0, -scale)}.${text.slice(-scale)}`.replace(/\.?0+$/, '');
  return text === '0' ? '0' : `${negative ? '-' : ''}${text}`;
}

export function canonicalNumber(s: string, where: string): string {
  const d = typeof s === 'string' ? parseDecimal(s) : undefined;
  if (!d) throw invalid(`A value provided cannot be converted into a number (${where})`);
  return formatDecimal(d);
}

export function addNumbers(a: string, b: string, sign: 1n | -1n): string {
  const [x, y, scale] = align(parseDecimal(a)!, parseDecimal(b)!);
  return formatDecimal({ digits: x + sign * y, scale });
}

export function compareScalars(a: AV, b: AV): number | undefined {
  const t = typeOf(a);
  if (t !== typeOf(b)) return undefined;
  if (t === 'N') {
    const [x, y] = align(parseDecimal(a.N!)!, parseDecimal(b.N!)!);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (t === 'S') return Buffer.compare(Buffer.from(a.S!), Buffer.from(b.S!));
  if (t === 'B') return Buffer.compare(Buffer.from(a.B!, 'base64'), Buffer.from(b.B!, 'base64'));
  return undefined;
}

export function equalAV(a: AV | undefined, b: AV | undefined): boolean {
  if (!a || !b || typeOf(a) !== typeOf(b)) return false;
  const t = typeOf(a);
  switch (t) {
    case 'N':
    case 'S':
    case 'B':
      return compareScalars(a, b) === 0;
    case 'L':
      return a.L!.length === b.L!.length && a.L!.every((v, i) => equalAV(v, b.L![i]));
    case 'M': {
      const keys = Object.keys(a.M!);
      return keys.length === Object.keys(b.M!).length && keys.every((k) => equalAV(a.M![k], b.M![k]));
    }
    case 'SS':
    case 'NS':
    case 'BS':
      return a[t]!.length === b[t]!.length && a[t]!.every((v) => setHas(b, v));
    default:
      return a[t] === b[t];
  }
}

export function setHas(set: AV, value: string): boolean {
  const t = typeOf(set);
  const scalar = t === 'NS' ? 'N' : t === 'SS' ? 'S' : 'B';
  return set[t as 'SS' | 'NS' | 'BS']!.some((v) => compareScalars({ [scalar]: v }, { [scalar]: value }) === 0);
}

