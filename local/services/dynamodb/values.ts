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

/**
 * "DynamoDB supports nested attributes up to 32 levels deep."
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-attributes
 * The attribute itself is level 1, so a leaf inside 31 maps is the deepest DynamoDB stores; the wording is DynamoDB's
 * as recorded against it (items and ExpressionAttributeValues alike).
 */
export const MAX_NESTING = 32;
const TOO_DEEP = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';

/**
 * Checks shape, nesting and numbers, and canonicalizes numbers ("1.50" is stored and returned as "1.5", as
 * DynamoDB does). `level` is the value's nesting level (a top-level attribute is 1). Iterates no deeper than
 * DynamoDB stores, so a document nested thousands deep is refused rather than overflowing the stack.
 */
export function checkAV(av: AV, where: string, level = 1): AV {
  if (level > MAX_NESTING) throw invalid(TOO_DEEP);
  const keys = typeof av === 'object' && av !== null ? Object.keys(av) : [];
  if (keys.length !== 1 || !TYPES.includes(keys[0] as never)) {
    throw invalid(
      `One or more parameter values were invalid: Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes (${where})`,
    );
  }
  const t = keys[0] as (typeof TYPES)[number];
  switch (t) {
    case 'N':
      return { N: canonicalNumber(av.N!, where) };
    case 'SS':
    case 'NS':
    case 'BS': {
      const set = av[t]!;
      if (!Array.isArray(set)) throw invalid(`One or more parameter values were invalid: ${t} must be a list (${where})`);
      if (set.length === 0)
        throw invalid(`One or more parameter values were invalid: An ${t === 'SS' ? 'string' : t === 'NS' ? 'number' : 'binary'} set  may not be empty`);
      const values = t === 'NS' ? set.map((n) => canonicalNumber(n, where)) : t === 'BS' ? set.map(canonicalBinary) : set;
      if (new Set(values).size !== values.length)
        throw invalid(`One or more parameter values were invalid: Input collection ${JSON.stringify(set)} contains duplicates.`);
      return { [t]: values };
    }
    case 'B':
      return { B: canonicalBinary(av.B!) };
    case 'L':
      if (!Array.isArray(av.L)) throw invalid(`One or more parameter values were invalid: L must be a list (${where})`);
      return { L: av.L.map((v, i) => checkAV(v, `${where}[${i}]`, level + 1)) };
    case 'M':
      return { M: checkItem(av.M!, where, level + 1) };
    default:
      return av;
  }
}

/** `level`: the nesting level of the map's values (1 for an item's attributes). */
export function checkItem(item: Item, where = 'item', level = 1): Item {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`${where} must be a map of attribute values`);
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, checkAV(v, where === 'item' ? k : `${where}.${k}`, level)]));
}

/** Binary values are kept as canonical base64, so equal bytes are equal strings (set membership, keys). */
function canonicalBinary(b: string): string {
  return typeof b === 'string' ? Buffer.from(b, 'base64').toString('base64') : b;
}

// Exact decimal arithmetic (DynamoDB numbers have 38 digits; JS numbers do not).
interface Decimal {
  digits: bigint;
  scale: number;
}

/**
 * Numbers: "Numbers can have up to 38 digits of precision ... Positive range: 1E-130 to
 * 9.9999999999999999999999999999999999999E+125. Negative range: -9.9999999999999999999999999999999999999E+125 to
 * -1E-130." https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number
 * The limits are checked on the text before any digit is expanded, so `1e10000000` costs nothing; the messages are
 * DynamoDB's (dynalite's tests, recorded against DynamoDB: github.com/mhart/dynalite test/putItem.js).
 */
const MAX_DIGITS = 38;
const MAX_EXPONENT = 125;
const MIN_EXPONENT = -130;
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function parseDecimal(s: string): Decimal | undefined {
  const m = NUMBER.exec(s.trim());
  if (!m || (m[2] === '' && !m[3])) return undefined;
  const all = `${m[2]}${m[3] ?? ''}`;
  const significant = all.replace(/^0+/, '');
  if (significant === '') return { digits: 0n, scale: 0 };
  // Trailing zeros by hand: `/0+$/` is quadratic on a long run of zeros followed by another digit.
  let end = significant.length;
  while (significant.charCodeAt(end - 1) === 48) end--;
  const trimmed = significant.slice(0, end);
  if (trimmed.length > MAX_DIGITS) throw invalid('Attempting to store more than 38 significant digits in a Number');
  // The decimal exponent of the leading significant digit: 123.4 → 2, 0.05 → -2.
  const exponent = Number(m[4] ?? 0) + m[2].length - 1 - (all.length - significant.length);
  if (exponent > MAX_EXPONENT) throw invalid('Number overflow. Attempting to store a number with magnitude larger than supported range');
  if (exponent < MIN_EXPONENT) throw invalid('Number underflow. Attempting to store a number with magnitude smaller than supported range');
  // value = trimmed × 10^(exponent - (trimmed.length - 1))
  const power = exponent - (trimmed.length - 1);
  let digits = BigInt(`${m[1] === '-' ? '-' : ''}${trimmed}`);
  let scale = -power;
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

/** `a ± b`, exactly; a result DynamoDB cannot store is refused with its error. */
export function addNumbers(a: string, b: string, sign: 1n | -1n): string {
  const [x, y, scale] = align(parseDecimal(a)!, parseDecimal(b)!);
  return canonicalNumber(formatDecimal({ digits: x + sign * y, scale }), 'arithmetic');
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
      return a[t]!.length === b[t]!.length && a[t]!.every((v) => setOf(b).has(v));
    default:
      return a[t] === b[t];
  }
}

/**
 * Whether a set holds `value`. Stored and supplied values are canonical (numbers by canonicalNumber, binaries as
 * canonical base64), so membership is string equality: a hash lookup, not a scan that compares each element.
 */
export function setHas(set: AV, value: string): boolean {
  return setOf(set).has(value);
}

const setCache = new WeakMap<string[], Set<string>>();
export function setOf(set: AV): Set<string> {
  const list = set[typeOf(set) as 'SS' | 'NS' | 'BS']!;
  let members = setCache.get(list);
  if (!members) {
    members = new Set(list);
    setCache.set(list, members);
  }
  return members;
}
