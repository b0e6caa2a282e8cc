/**
 * A DynamoDB subset over AWS JSON 1.0 (`DynamoDB_20120810.<Op>`): the tables the template declares, items
 * kept as raw AttributeValue maps, expressions (condition, filter, key condition, update, projection)
 * parsed and evaluated here, and the same error codes and messages AWS uses where the SDKs depend on them.
 *
 * Ops: DescribeTable, DescribeTimeToLive, ListTables, GetItem, PutItem, DeleteItem, UpdateItem, Query, Scan,
 * BatchGetItem, BatchWriteItem. Tables persist in StateDir 'dynamodb' after each write.
 *
 * Local choices: items whose TTL attribute is in the past (virtual clock) are removed as soon as the table is
 * next touched (AWS takes up to a few days); Query and Scan order partitions by key value (AWS by hash);
 * reserved words are not rejected; capacity, streams and transactions are not emulated.
 */
import { AwsError, arn, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir } from '../kernel';

// ---------------------------------------------------------------------------------------------------------
// Attribute values

/** A raw AttributeValue: exactly one of S, N, B, BOOL, NULL, L, M, SS, NS, BS. */
export type AV = { S?: string; N?: string; B?: string; BOOL?: boolean; NULL?: boolean; L?: AV[]; M?: Item; SS?: string[]; NS?: string[]; BS?: string[] };
export type Item = Record<string, AV>;

const TYPES = ['S', 'N', 'B', 'BOOL', 'NULL', 'L', 'M', 'SS', 'NS', 'BS'] as const;

function typeOf(av: AV): (typeof TYPES)[number] {
  return Object.keys(av)[0] as (typeof TYPES)[number];
}

function invalid(message: string): AwsError {
  return new AwsError('ValidationException', message);
}

/** Checks shape and canonicalizes numbers ("1.50" is stored and returned as "1.5", as DynamoDB does). */
function checkAV(av: AV, where: string): AV {
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

function checkItem(item: Item, where = 'item'): Item {
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

function canonicalNumber(s: string, where: string): string {
  const d = typeof s === 'string' ? parseDecimal(s) : undefined;
  if (!d) throw invalid(`A value provided cannot be converted into a number (${where})`);
  return formatDecimal(d);
}

function addNumbers(a: string, b: string, sign: 1n | -1n): string {
  const [x, y, scale] = align(parseDecimal(a)!, parseDecimal(b)!);
  return formatDecimal({ digits: x + sign * y, scale });
}

function compareScalars(a: AV, b: AV): number | undefined {
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

function equalAV(a: AV | undefined, b: AV | undefined): boolean {
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

function setHas(set: AV, value: string): boolean {
  const t = typeOf(set);
  const scalar = t === 'NS' ? 'N' : t === 'SS' ? 'S' : 'B';
  return set[t as 'SS' | 'NS' | 'BS']!.some((v) => compareScalars({ [scalar]: v }, { [scalar]: value }) === 0);
}

// ---------------------------------------------------------------------------------------------------------
// Expressions: tokens, AST, parser

type PathElem = string | number;
type Operand =
  | { k: 'path'; path: PathElem[] }
  | { k: 'value'; av: AV }
  | { k: 'size'; path: PathElem[] }
  | { k: 'if_not_exists'; path: PathElem[]; fallback: Operand }
  | { k: 'list_append'; a: Operand; b: Operand }
  | { k: 'arith'; op: '+' | '-'; a: Operand; b: Operand };
type Cond =
  | { k: 'cmp'; op: string; a: Operand; b: Operand }
  | { k: 'between'; a: Operand; lo: Operand; hi: Operand }
  | { k: 'in'; a: Operand; list: Operand[] }
  | { k: 'and' | 'or'; l: Cond; r: Cond }
  | { k: 'not'; c: Cond }
  | { k: 'fn'; name: string; args: Operand[] };
type UpdateAction =
  | { k: 'SET'; path: PathElem[]; value: Operand }
  | { k: 'REMOVE'; path: PathElem[] }
  | { k: 'ADD' | 'DELETE'; path: PathElem[]; value: Operand };

interface Token {
  t: 'alias' | 'value' | 'name' | 'num' | 'op' | 'eof';
  v: string;
  pos: number;
}

/** Names and values a request provides, and which of them its expressions used (AWS rejects unused ones). */
class ExpressionContext {
  readonly usedNames = new Set<string>();
  readonly usedValues = new Set<string>();
  readonly values: Item;
  constructor(
    readonly names: Record<string, string> = {},
    values: Item = {},
  ) {
    this.values = checkItem(values, 'ExpressionAttributeValues');
  }

  checkAllUsed(): void {
    const unusedValues = Object.keys(this.values).filter((k) => !this.usedValues.has(k));
    if (unusedValues.length) throw invalid(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
    const unusedNames = Object.keys(this.names).filter((k) => !this.usedNames.has(k));
    if (unusedNames.length) throw invalid(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
  }
}

const BOOLEAN_FUNCTIONS: Record<string, number> = { attribute_exists: 1, attribute_not_exists: 1, attribute_type: 2, begins_with: 2, contains: 2 };

class Parser {
  private readonly tokens: Token[] = [];
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly label: string,
    private readonly ctx: ExpressionContext,
  ) {
    const re = /\s*(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(<>|<=|>=|[=<>(),.[\]+-]))/y;
    let pos = 0;
    while (pos < text.length) {
      if (/^\s*$/.test(text.slice(pos))) break;
      re.lastIndex = pos;
      const m = re.exec(text);
      if (!m) throw invalid(`Invalid ${label}: Syntax error; token: "${text.slice(pos).trim()[0]}", near: "${text.slice(Math.max(0, pos - 5), pos + 5).trim()}"`);
      const t = m[1] ? 'alias' : m[2] ? 'value' : m[3] ? 'name' : m[4] ? 'num' : 'op';
      this.tokens.push({ t, v: m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5], pos: re.lastIndex - (m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]).length });
      pos = re.lastIndex;
    }
    this.tokens.push({ t: 'eof', v: '<EOF>', pos: text.length });
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    return this.tokens[Math.min(this.i++, this.tokens.length - 1)];
  }

  private isKeyword(word: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.t === 'name' && tok.v.toUpperCase() === word;
  }

  private isOp(op: string): boolean {
    return this.peek().t === 'op' && this.peek().v === op;
  }

  private syntaxError(): AwsError {
    const tok = this.peek();
    const near = this.text.slice(Math.max(0, tok.pos - 10), tok.pos + tok.v.length).trim();
    return invalid(`Invalid ${this.label}: Syntax error; token: "${tok.v}", near: "${near}"`);
  }

  private expectOp(op: string): void {
    if (!this.isOp(op)) throw this.syntaxError();
    this.i++;
  }

  end(): void {
    if (this.peek().t !== 'eof') throw this.syntaxError();
  }

  path(): PathElem[] {
    const first = this.next();
    const path: PathElem[] = [this.attributeName(first)];
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        path.push(this.attributeName(this.next()));
      } else if (this.isOp('[')) {
        this.i++;
        const n = this.next();
        if (n.t !== 'num') throw this.syntaxError();
        this.expectOp(']');
        path.push(Number(n.v));
      } else return path;
    }
  }

  private attributeName(tok: Token): string {
    if (tok.t === 'name') return tok.v;
    if (tok.t === 'alias') {
      const name = this.ctx.names[tok.v];
      if (name === undefined) throw invalid(`Invalid ${this.label}: An expression attribute name used in the document path is not defined; attribute name: ${tok.v}`);
      this.ctx.usedNames.add(tok.v);
      return name;
    }
    this.i--;
    throw this.syntaxError();
  }

  operand(update = false): Operand {
    const tok = this.peek();
    if (tok.t === 'value') {
      this.i++;
      const av = this.ctx.values[tok.v];
      if (av === undefined) throw invalid(`Invalid ${this.label}: An expression attribute value used in expression is not defined; attribute value: ${tok.v}`);
      this.ctx.usedValues.add(tok.v);
      return { k: 'value', av };
    }
    if (tok.t === 'name' && this.peek(1).v === '(' && this.peek(1).t === 'op') {
      const name = tok.v;
      this.i += 2;
      let result: Operand;
      if (name === 'size') result = { k: 'size', path: this.path() };
      else if (update && name === 'if_not_exists') {
        const path = this.path();
        this.expectOp(',');
        result = { k: 'if_not_exists', path, fallback: this.operand(true) };
      } else if (update && name === 'list_append') {
        const a = this.operand(true);
        this.expectOp(',');
        result = { k: 'list_append', a, b: this.operand(true) };
      } else throw invalid(`Invalid ${this.label}: Invalid function name; function: ${name}`);
      this.expectOp(')');
      return result;
    }
    return { k: 'path', path: this.path() };
  }

  /** SET right-hand side: operand, or operand + operand, or operand - operand. */
  setValue(): Operand {
    const a = this.operand(true);
    if (this.isOp('+') || this.isOp('-')) {
      const op = this.next().v as '+' | '-';
      return { k: 'arith', op, a, b: this.operand(true) };
    }
    return a;
  }

  condition(): Cond {
    let left = this.conjunction();
    while (this.isKeyword('OR')) {
      this.i++;
      left = { k: 'or', l: left, r: this.conjunction() };
    }
    return left;
  }

  private conjunction(): Cond {
    let left = this.negation();
    while (this.isKeyword('AND')) {
      this.i++;
      left = { k: 'and', l: left, r: this.negation() };
    }
    return left;
  }

  private negation(): Cond {
    if (this.isKeyword('NOT')) {
      this.i++;
      return { k: 'not', c: this.negation() };
    }
    return this.primary();
  }

  private primary(): Cond {
    if (this.isOp('(')) {
      this.i++;
      const inner = this.condition();
      this.expectOp(')');
      return inner;
    }
    const tok = this.peek();
    if (tok.t === 'name' && tok.v in BOOLEAN_FUNCTIONS && this.peek(1).v === '(') {
      this.i += 2;
      const args: Operand[] = [this.operand()];
      while (this.isOp(',')) {
        this.i++;
        args.push(this.operand());
      }
      this.expectOp(')');
      if (args.length !== BOOLEAN_FUNCTIONS[tok.v] || args[0].k !== 'path') {
        throw invalid(`Invalid ${this.label}: Incorrect number of operands for operator or function; operator or function: ${tok.v}, number of operands: ${args.length}`);
      }
      return { k: 'fn', name: tok.v, args };
    }
    const a = this.operand();
    if (this.isKeyword('BETWEEN')) {
      this.i++;
      const lo = this.operand();
      if (!this.isKeyword('AND')) throw this.syntaxError();
      this.i++;
      return { k: 'between', a, lo, hi: this.operand() };
    }
    if (this.isKeyword('IN')) {
      this.i++;
      this.expectOp('(');
      const list = [this.operand()];
      while (this.isOp(',')) {
        this.i++;
        list.push(this.operand());
      }
      this.expectOp(')');
      return { k: 'in', a, list };
    }
    const op = this.peek();
    if (op.t === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(op.v)) {
      this.i++;
      return { k: 'cmp', op: op.v, a, b: this.operand() };
    }
    throw this.syntaxError();
  }

  projection(): PathElem[][] {
    const paths = [this.path()];
    while (this.isOp(',')) {
      this.i++;
      paths.push(this.path());
    }
    return paths;
  }

  update(): UpdateAction[] {
    const actions: UpdateAction[] = [];
    const seen = new Set<string>();
    while (this.peek().t !== 'eof') {
      const clause = this.next();
      const kind = clause.v.toUpperCase();
      if (clause.t !== 'name' || !['SET', 'REMOVE', 'ADD', 'DELETE'].includes(kind)) {
        this.i--;
        throw this.syntaxError();
      }
      if (seen.has(kind)) throw invalid(`Invalid ${this.label}: The "${kind}" section can only be used once in an update expression;`);
      seen.add(kind);
      for (;;) {
        const path = this.path();
        if (kind === 'SET') {
          this.expectOp('=');
          actions.push({ k: 'SET', path, value: this.setValue() });
        } else if (kind === 'REMOVE') actions.push({ k: 'REMOVE', path });
        else actions.push({ k: kind as 'ADD' | 'DELETE', path, value: this.operand() });
        if (!this.isOp(',')) break;
        this.i++;
      }
    }
    if (!actions.length) throw this.syntaxError();
    return actions;
  }
}

function parseCondition(text: string, label: string, ctx: ExpressionContext): Cond {
  const p = new Parser(text, label, ctx);
  const cond = p.condition();
  p.end();
  return cond;
}

function parseProjection(text: string, ctx: ExpressionContext): PathElem[][] {
  const p = new Parser(text, 'ProjectionExpression', ctx);
  const paths = p.projection();
  p.end();
  return paths;
}

function pathText(path: PathElem[]): string {
  return path.map((e, i) => (typeof e === 'number' ? `[${e}]` : i ? `.${e}` : e)).join('');
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

function resolve(item: Item, path: PathElem[]): AV | undefined {
  let current: AV | undefined = item[path[0] as string];
  for (const e of path.slice(1)) {
    if (!current) return undefined;
    current = typeof e === 'number' ? current.L?.[e] : current.M?.[e];
  }
  return current;
}

function evalOperand(item: Item, op: Operand): AV | undefined {
  switch (op.k) {
    case 'value':
      return op.av;
    case 'path':
      return resolve(item, op.path);
    case 'size': {
      const v = resolve(item, op.path);
      if (!v) return undefined;
      const sizes: Partial<Record<ReturnType<typeof typeOf>, () => number>> = {
        S: () => Buffer.byteLength(v.S!),
        B: () => Buffer.from(v.B!, 'base64').length,
        L: () => v.L!.length,
        M: () => Object.keys(v.M!).length,
        SS: () => v.SS!.length,
        NS: () => v.NS!.length,
        BS: () => v.BS!.length,
      };
      const size = sizes[typeOf(v)];
      return size ? { N: String(size()) } : undefined;
    }
    case 'if_not_exists':
      return resolve(item, op.path) ?? evalOperand(item, op.fallback);
    case 'list_append': {
      const [a, b] = [evalOperand(item, op.a), evalOperand(item, op.b)];
      if (!a?.L || !b?.L) throw invalid('Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: ' + (a?.L ? typeOf(b ?? {}) : typeOf(a ?? {})));
      return { L: [...a.L, ...b.L] };
    }
    case 'arith': {
      const [a, b] = [evalOperand(item, op.a), evalOperand(item, op.b)];
      if (!a || !b) throw invalid('The provided expression refers to an attribute that does not exist in the item');
      if (a.N === undefined || b.N === undefined) throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ${op.op}, operand type: ${a.N === undefined ? typeOf(a) : typeOf(b)}`);
      return { N: addNumbers(a.N, b.N, op.op === '+' ? 1n : -1n) };
    }
  }
}

function evalCond(item: Item, c: Cond): boolean {
  switch (c.k) {
    case 'and':
      return evalCond(item, c.l) && evalCond(item, c.r);
    case 'or':
      return evalCond(item, c.l) || evalCond(item, c.r);
    case 'not':
      return !evalCond(item, c.c);
    case 'cmp': {
      const [a, b] = [evalOperand(item, c.a), evalOperand(item, c.b)];
      if (c.op === '=') return equalAV(a, b);
      // A missing attribute is "not equal" to anything, but is neither smaller nor greater.
      if (c.op === '<>') return !equalAV(a, b);
      const order = a && b ? compareScalars(a, b) : undefined;
      if (order === undefined) return false;
      return { '<': order < 0, '<=': order <= 0, '>': order > 0, '>=': order >= 0 }[c.op]!;
    }
    case 'between': {
      const [a, lo, hi] = [evalOperand(item, c.a), evalOperand(item, c.lo), evalOperand(item, c.hi)];
      if (!a || !lo || !hi) return false;
      const [x, y] = [compareScalars(a, lo), compareScalars(a, hi)];
      return x !== undefined && y !== undefined && x >= 0 && y <= 0;
    }
    case 'in': {
      const a = evalOperand(item, c.a);
      return c.list.some((o) => equalAV(a, evalOperand(item, o)));
    }
    case 'fn': {
      const path = (c.args[0] as { path: PathElem[] }).path;
      const v = resolve(item, path);
      const arg = c.args[1] ? evalOperand(item, c.args[1]) : undefined;
      switch (c.name) {
        case 'attribute_exists':
          return v !== undefined;
        case 'attribute_not_exists':
          return v === undefined;
        case 'attribute_type':
          if (!arg?.S || !TYPES.includes(arg.S as never)) throw invalid(`Invalid ConditionExpression: Invalid attribute type name found; type: ${arg?.S}, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}`);
          return v !== undefined && typeOf(v) === arg.S;
        case 'begins_with':
          if (!v || !arg) return false;
          if (v.S !== undefined && arg.S !== undefined) return v.S.startsWith(arg.S);
          if (v.B !== undefined && arg.B !== undefined) return Buffer.from(v.B, 'base64').subarray(0, Buffer.from(arg.B, 'base64').length).equals(Buffer.from(arg.B, 'base64'));
          return false;
        case 'contains':
          if (!v || !arg) return false;
          if (v.S !== undefined && arg.S !== undefined) return v.S.includes(arg.S);
          if (v.L) return v.L.some((e) => equalAV(e, arg));
          if (v.SS && arg.S !== undefined) return setHas(v, arg.S);
          if (v.NS && arg.N !== undefined) return setHas(v, arg.N);
          if (v.BS && arg.B !== undefined) return setHas(v, arg.B);
          return false;
      }
    }
  }
  return false;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function setPath(item: Item, path: PathElem[], value: AV): void {
  if (path.length === 1) {
    item[path[0] as string] = value;
    return;
  }
  const parent = resolve(item, path.slice(0, -1));
  const last = path[path.length - 1];
  if (typeof last === 'number' && parent?.L) {
    if (last >= parent.L.length) parent.L.push(value);
    else parent.L[last] = value;
  } else if (typeof last === 'string' && parent?.M) {
    parent.M[last] = value;
  } else {
    throw invalid('The document path provided in the update expression is invalid for update');
  }
}

function removePath(item: Item, path: PathElem[]): void {
  if (path.length === 1) {
    delete item[path[0] as string];
    return;
  }
  const parent = resolve(item, path.slice(0, -1));
  const last = path[path.length - 1];
  if (typeof last === 'number' && parent?.L) parent.L.splice(last, 1);
  else if (typeof last === 'string' && parent?.M) delete parent.M[last];
}

function applyUpdate(old: Item, actions: UpdateAction[]): Item {
  // Every right-hand side reads the item as it was before the update, as in DynamoDB.
  const values = actions.map((a) => (a.k === 'REMOVE' ? undefined : evalOperand(old, a.value)));
  const item = clone(old);
  actions.forEach((a, i) => {
    const value = values[i];
    if (a.k === 'SET') {
      if (!value) throw invalid('The provided expression refers to an attribute that does not exist in the item');
      setPath(item, a.path, checkAV(value, pathText(a.path)));
    }
    else if (a.k === 'REMOVE') removePath(item, a.path);
    else {
      const current = resolve(item, a.path);
      const t = typeOf(value!);
      if (a.k === 'ADD') {
        if (t !== 'N' && t !== 'SS' && t !== 'NS' && t !== 'BS') throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${t}`);
        if (!current) setPath(item, a.path, clone(value!));
        else if (t === 'N' && current.N !== undefined) setPath(item, a.path, { N: addNumbers(current.N, value!.N!, 1n) });
        else if (t !== 'N' && typeOf(current) === t) {
          const merged = [...current[t]!];
          for (const v of value![t]!) if (!setHas(current, v)) merged.push(v);
          setPath(item, a.path, { [t]: merged });
        } else throw invalid('An operand in the update expression has an incorrect data type');
      } else {
        if (t !== 'SS' && t !== 'NS' && t !== 'BS') throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: ${t}`);
        if (!current) return;
        if (typeOf(current) !== t) throw invalid('An operand in the update expression has an incorrect data type');
        const remaining = current[t]!.filter((v) => !setHas(value!, v));
        if (remaining.length) setPath(item, a.path, { [t]: remaining });
        else removePath(item, a.path);
      }
    }
  });
  return item;
}

function project(item: Item, paths: PathElem[][] | undefined): Item {
  if (!paths) return item;
  const out: Item = {};
  for (const path of paths) {
    const value = resolve(item, path);
    if (value === undefined) continue;
    // Rebuild the containers along the path; projected list elements keep their relative order.
    let target: Item | AV[] = out;
    for (let i = 0; i < path.length; i++) {
      const e = path[i];
      const isLast = i === path.length - 1;
      const nextIsIndex = typeof path[i + 1] === 'number';
      if (Array.isArray(target)) {
        if (isLast) target.push(clone(value));
        else {
          const container: AV = nextIsIndex ? { L: [] } : { M: {} };
          target.push(container);
          target = container.L ?? container.M!;
        }
      } else {
        const key = e as string;
        if (isLast) target[key] = clone(value);
        else {
          target[key] ??= nextIsIndex ? { L: [] } : { M: {} };
          target = target[key].L ?? target[key].M!;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Tables

export interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}

export interface Projection {
  /** @default 'ALL' */
  ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  NonKeyAttributes?: string[];
}

export interface TableDefinition {
  name: string;
  keySchema: KeySchemaElement[];
  attributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  globalSecondaryIndexes?: { IndexName: string; KeySchema: KeySchemaElement[]; Projection: Projection }[];
  timeToLiveAttribute?: string;
}

interface Table {
  def: TableDefinition;
  items: Map<string, Item>;
  createdAt: number;
}

interface KeyView {
  hash: string;
  range?: string;
}

function keyView(schema: KeySchemaElement[]): KeyView {
  return { hash: schema.find((k) => k.KeyType === 'HASH')!.AttributeName, range: schema.find((k) => k.KeyType === 'RANGE')?.AttributeName };
}

interface Persisted {
  tables: Record<string, { items: Item[] }>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';

export class DynamoDbService implements ServiceHandler {
  readonly services = ['dynamodb'] as const;
  private readonly state: StateDir;
  private readonly clock?: Clock;
  private readonly tables = new Map<string, Table>();
  private readonly persisted: Persisted;

  /** `clock` (optional) drives TTL expiry and DescribeTable's creation time. */
  constructor(opts: { state: StateDir; clock?: Clock }) {
    this.state = opts.state;
    this.clock = opts.clock;
    this.persisted = this.state.read<Persisted>('dynamodb') ?? { tables: {} };
  }

  addTable(def: TableDefinition): void {
    const defined = new Map(def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    for (const schema of [def.keySchema, ...(def.globalSecondaryIndexes ?? []).map((g) => g.KeySchema)]) {
      if (!schema.some((k) => k.KeyType === 'HASH')) throw new Error(`table ${def.name}: every key schema needs a HASH key`);
      for (const k of schema) if (!defined.has(k.AttributeName)) throw new Error(`table ${def.name}: key attribute ${k.AttributeName} is missing from attributeDefinitions`);
    }
    const table: Table = { def, items: new Map(), createdAt: this.now() };
    for (const item of this.persisted.tables[def.name]?.items ?? []) table.items.set(this.keyString(table, item), item);
    this.tables.set(def.name, table);
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const op = req.target?.startsWith(TARGET_PREFIX) ? req.target.slice(TARGET_PREFIX.length) : '';
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(req.body.toString('utf8') || '{}');
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON');
      }
      return ok(this.dispatch(op, input));
    } catch (err) {
      return errorResponse(err);
    }
  }

  private dispatch(op: string, input: Record<string, unknown>): unknown {
    for (const legacy of ['Expected', 'AttributeUpdates', 'KeyConditions', 'QueryFilter', 'ScanFilter', 'AttributesToGet']) {
      if (input[legacy] !== undefined) throw invalid(`The legacy parameter ${legacy} is not supported by the opsflow local runtime; use expressions`);
    }
    switch (op) {
      case 'ListTables':
        return this.listTables(input as { ExclusiveStartTableName?: string; Limit?: number });
      case 'DescribeTable':
        return { Table: this.describe(this.table(input.TableName)) };
      case 'DescribeTimeToLive': {
        const attr = this.table(input.TableName).def.timeToLiveAttribute;
        return { TimeToLiveDescription: attr ? { TimeToLiveStatus: 'ENABLED', AttributeName: attr } : { TimeToLiveStatus: 'DISABLED' } };
      }
      case 'GetItem':
        return this.getItem(input as unknown as GetItemInput);
      case 'PutItem':
        return this.putItem(input as unknown as PutItemInput);
      case 'DeleteItem':
        return this.deleteItem(input as unknown as DeleteItemInput);
      case 'UpdateItem':
        return this.updateItem(input as unknown as UpdateItemInput);
      case 'Query':
        return this.read(input as unknown as ReadInput, true);
      case 'Scan':
        return this.read(input as unknown as ReadInput, false);
      case 'BatchGetItem':
        return this.batchGet(input as { RequestItems?: Record<string, { Keys: Item[]; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> });
      case 'BatchWriteItem':
        return this.batchWrite(input as { RequestItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> });
      default:
        throw new AwsError('UnknownOperationException', `DynamoDB operation '${op || '(missing X-Amz-Target)'}' is not emulated by the opsflow local runtime`);
    }
  }

  // -- operations ---------------------------------------------------------------------------------------

  private listTables(input: { ExclusiveStartTableName?: string; Limit?: number }) {
    const names = [...this.tables.keys()].sort().filter((n) => !input.ExclusiveStartTableName || n > input.ExclusiveStartTableName);
    const limit = input.Limit ?? 100;
    const page = names.slice(0, limit);
    return { TableNames: page, ...(names.length > limit ? { LastEvaluatedTableName: page[page.length - 1] } : {}) };
  }

  private getItem(input: GetItemInput) {
    const table = this.table(input.TableName);
    const ctx = new ExpressionContext(input.ExpressionAttributeNames);
    const projection = input.ProjectionExpression ? parseProjection(input.ProjectionExpression, ctx) : undefined;
    ctx.checkAllUsed();
    const item = table.items.get(this.keyString(table, this.checkKey(table, input.Key)));
    return item ? { Item: project(item, projection) } : {};
  }

  private putItem(input: PutItemInput) {
    const table = this.table(input.TableName);
    const item = checkItem(input.Item ?? {});
    this.checkItemKeys(table, item);
    const key = this.keyString(table, item);
    const old = table.items.get(key);
    this.checkCondition(input, old);
    table.items.set(key, item);
    this.save();
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD'], old, item, []);
  }

  private deleteItem(input: DeleteItemInput) {
    const table = this.table(input.TableName);
    const key = this.keyString(table, this.checkKey(table, input.Key));
    const old = table.items.get(key);
    this.checkCondition(input, old);
    if (old) {
      table.items.delete(key);
      this.save();
    }
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD'], old, undefined, []);
  }

  private updateItem(input: UpdateItemInput) {
    const table = this.table(input.TableName);
    const keyItem = this.checkKey(table, input.Key);
    const key = this.keyString(table, keyItem);
    const old = table.items.get(key);
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    if (!input.UpdateExpression) throw invalid('UpdateExpression is required (AttributeUpdates is not supported)');
    const actions = new Parser(input.UpdateExpression, 'UpdateExpression', ctx).update();
    const condition = input.ConditionExpression ? parseCondition(input.ConditionExpression, 'ConditionExpression', ctx) : undefined;
    ctx.checkAllUsed();
    for (const a of actions) {
      if (table.def.keySchema.some((k) => k.AttributeName === a.path[0])) {
        throw invalid(`One or more parameter values were invalid: Cannot update attribute ${a.path[0]}. This attribute is part of the key`);
      }
    }
    if (condition && !evalCond(old ?? {}, condition)) throw conditionFailed(input, old);
    const updated = applyUpdate(old ?? clone(keyItem), actions);
    this.checkItemKeys(table, updated);
    table.items.set(key, updated);
    this.save();
    const touched = [...new Set(actions.map((a) => a.path[0] as string))];
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW'], old, updated, touched);
  }

  /** Query and Scan share paging, filtering and projection; only the candidate set differs. */
  private read(input: ReadInput, isQuery: boolean) {
    const table = this.table(input.TableName);
    const index = input.IndexName ? table.def.globalSecondaryIndexes?.find((g) => g.IndexName === input.IndexName) : undefined;
    if (input.IndexName && !index) throw invalid(`The table does not have the specified index: ${input.IndexName}`);
    if (index && input.ConsistentRead) throw invalid('Consistent reads are not supported on global secondary indexes');
    if (input.Limit !== undefined && !(Number.isInteger(input.Limit) && input.Limit > 0)) throw invalid('Limit must be a positive integer');
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const tableKeys = keyView(table.def.keySchema);
    const keys = index ? keyView(index.KeySchema) : tableKeys;
    let keyCondition: Cond | undefined;
    if (isQuery) {
      if (!input.KeyConditionExpression) throw invalid('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
      keyCondition = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ctx);
      checkKeyCondition(keyCondition, keys);
    }
    const filter = input.FilterExpression ? parseCondition(input.FilterExpression, 'FilterExpression', ctx) : undefined;
    const projection = input.ProjectionExpression ? parseProjection(input.ProjectionExpression, ctx) : undefined;
    ctx.checkAllUsed();

    // Index entries exist only for items that carry the index key attributes with the declared types (sparse).
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const inIndex = (item: Item) => [keys.hash, keys.range].every((k) => !k || (item[k] !== undefined && typeOf(item[k]) === types.get(k)));
    const order = [keys.hash, keys.range, ...(index ? [tableKeys.hash, tableKeys.range] : [])].filter((k): k is string => !!k);
    const compare = (a: Item, b: Item) => {
      for (const k of order) {
        const c = a[k] && b[k] ? compareScalars(a[k], b[k]) ?? 0 : 0;
        if (c) return c;
      }
      return 0;
    };
    let candidates = [...table.items.values()].filter((item) => inIndex(item) && (!keyCondition || evalCond(item, keyCondition)));
    candidates.sort(compare);
    if (isQuery && input.ScanIndexForward === false) candidates.reverse();
    if (input.ExclusiveStartKey) {
      const start = checkItem(input.ExclusiveStartKey, 'ExclusiveStartKey');
      const direction = isQuery && input.ScanIndexForward === false ? -1 : 1;
      candidates = candidates.filter((item) => compare(item, start) * direction > 0);
    }
    const evaluated = input.Limit !== undefined ? candidates.slice(0, input.Limit) : candidates;
    const last = evaluated.length < candidates.length ? evaluated[evaluated.length - 1] : undefined;
    const matched = filter ? evaluated.filter((item) => evalCond(item, filter)) : evaluated;
    const visible = index ? matched.map((item) => indexProjection(item, index.Projection, order)) : matched;
    return {
      ...(input.Select === 'COUNT' ? {} : { Items: visible.map((item) => project(item, projection)) }),
      Count: matched.length,
      ScannedCount: evaluated.length,
      ...(last ? { LastEvaluatedKey: Object.fromEntries(order.map((k) => [k, last[k]])) } : {}),
    };
  }

  private batchGet(input: { RequestItems?: Record<string, { Keys: Item[]; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> }) {
    const responses: Record<string, Item[]> = {};
    for (const [name, request] of Object.entries(input.RequestItems ?? {})) {
      responses[name] = request.Keys.map((Key) => this.getItem({ TableName: name, Key, ProjectionExpression: request.ProjectionExpression, ExpressionAttributeNames: request.ExpressionAttributeNames }).Item).filter(
        (i): i is Item => !!i,
      );
    }
    return { Responses: responses, UnprocessedKeys: {} };
  }

  private batchWrite(input: { RequestItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> }) {
    const requests = Object.entries(input.RequestItems ?? {}).flatMap(([name, list]) => list.map((r) => [name, r] as const));
    if (requests.length === 0 || requests.length > 25) throw invalid('BatchWriteItem takes between 1 and 25 requests');
    // Validate everything first so a bad request leaves no partial write behind.
    for (const [name, r] of requests) {
      const table = this.table(name);
      if (r.PutRequest) this.checkItemKeys(table, checkItem(r.PutRequest.Item));
      else if (r.DeleteRequest) this.checkKey(table, r.DeleteRequest.Key);
      else throw invalid('Each write request needs PutRequest or DeleteRequest');
    }
    for (const [name, r] of requests) {
      if (r.PutRequest) this.putItem({ TableName: name, Item: r.PutRequest.Item });
      else this.deleteItem({ TableName: name, Key: r.DeleteRequest!.Key });
    }
    return { UnprocessedItems: {} };
  }

  // -- helpers ------------------------------------------------------------------------------------------

  private table(name: unknown): Table {
    if (typeof name !== 'string' || !name) throw invalid('1 validation error detected: Value null at \'tableName\' failed to satisfy constraint: Member must not be null');
    const table = this.tables.get(name);
    if (!table) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
    this.expire(table);
    return table;
  }

  private expire(table: Table): void {
    const attr = table.def.timeToLiveAttribute;
    if (!attr || !this.clock) return;
    const nowSeconds = this.clock.nowMs() / 1000;
    let removed = false;
    for (const [key, item] of table.items) {
      const ttl = item[attr]?.N;
      if (ttl !== undefined && Number(ttl) < nowSeconds) {
        table.items.delete(key);
        removed = true;
      }
    }
    if (removed) this.save();
  }

  private describe(table: Table) {
    const { def } = table;
    const types = new Map(def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const bytes = [...table.items.values()].reduce((n, i) => n + Buffer.byteLength(JSON.stringify(i)), 0);
    return {
      TableName: def.name,
      TableArn: arn.table(def.name),
      TableStatus: 'ACTIVE',
      KeySchema: def.keySchema,
      AttributeDefinitions: def.attributeDefinitions,
      ItemCount: table.items.size,
      TableSizeBytes: bytes,
      CreationDateTime: table.createdAt / 1000,
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
      ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0, NumberOfDecreasesToday: 0 },
      ...(def.globalSecondaryIndexes?.length
        ? {
            GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((g) => ({
              IndexName: g.IndexName,
              IndexArn: `${arn.table(def.name)}/index/${g.IndexName}`,
              KeySchema: g.KeySchema,
              Projection: g.Projection,
              IndexStatus: 'ACTIVE',
              ItemCount: [...table.items.values()].filter((i) => g.KeySchema.every((k) => i[k.AttributeName] && typeOf(i[k.AttributeName]) === types.get(k.AttributeName))).length,
            })),
          }
        : {}),
    };
  }

  /** A Key parameter must hold exactly the table's key attributes, with the declared types. */
  private checkKey(table: Table, key: Item | undefined): Item {
    const checked = checkItem(key ?? {}, 'Key');
    const names = table.def.keySchema.map((k) => k.AttributeName);
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const ok = Object.keys(checked).length === names.length && names.every((n) => checked[n] !== undefined && typeOf(checked[n]) === types.get(n));
    if (!ok) throw invalid('The provided key element does not match the schema');
    return checked;
  }

  /** Items must carry the table key, and any index key they carry must have the declared type. */
  private checkItemKeys(table: Table, item: Item): void {
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    for (const k of table.def.keySchema) {
      const v = item[k.AttributeName];
      if (v === undefined) throw invalid(`One or more parameter values were invalid: Missing the key ${k.AttributeName} in the item`);
      if (typeOf(v) !== types.get(k.AttributeName)) {
        throw invalid(`One or more parameter values were invalid: Type mismatch for key ${k.AttributeName} expected: ${types.get(k.AttributeName)} actual: ${typeOf(v)}`);
      }
      if ((v.S ?? v.B) === '') throw invalid(`One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${k.AttributeName}`);
    }
    for (const g of table.def.globalSecondaryIndexes ?? []) {
      for (const k of g.KeySchema) {
        const v = item[k.AttributeName];
        if (v !== undefined && typeOf(v) !== types.get(k.AttributeName)) {
          throw invalid(`One or more parameter values were invalid: Type mismatch for Index Key ${k.AttributeName} Expected: ${types.get(k.AttributeName)} Actual: ${typeOf(v)} IndexName: ${g.IndexName}`);
        }
      }
    }
  }

  private checkCondition(input: ConditionalInput, old: Item | undefined): void {
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const condition = input.ConditionExpression ? parseCondition(input.ConditionExpression, 'ConditionExpression', ctx) : undefined;
    ctx.checkAllUsed();
    if (condition && !evalCond(old ?? {}, condition)) throw conditionFailed(input, old);
  }

  private keyString(table: Table, item: Item): string {
    return JSON.stringify(table.def.keySchema.map((k) => item[k.AttributeName]));
  }

  private now(): number {
    return this.clock?.nowMs() ?? Date.now();
  }

  private save(): void {
    const tables: Persisted['tables'] = { ...this.persisted.tables };
    for (const [name, t] of this.tables) tables[name] = { items: [...t.items.values()] };
    this.persisted.tables = tables;
    this.state.write('dynamodb', this.persisted);
  }
}

/** A Query key condition: equality on the partition key, optionally AND one sort key condition. */
function checkKeyCondition(cond: Cond, keys: KeyView): void {
  const parts: Cond[] = [];
  const flatten = (c: Cond) => {
    if (c.k === 'and') {
      flatten(c.l);
      flatten(c.r);
    } else if (c.k === 'or' || c.k === 'not') throw invalid(`Invalid operator used in KeyConditionExpression: ${c.k.toUpperCase()}`);
    else parts.push(c);
  };
  flatten(cond);
  const attributeOf = (c: Cond): string | undefined => {
    const a = c.k === 'fn' ? c.args[0] : c.k === 'cmp' || c.k === 'between' || c.k === 'in' ? c.a : undefined;
    return a?.k === 'path' && a.path.length === 1 ? (a.path[0] as string) : undefined;
  };
  const isValue = (o: Operand) => o.k === 'value';
  const sortConditionOk = (c: Cond) =>
    (c.k === 'cmp' && c.op !== '<>' && isValue(c.b)) || (c.k === 'between' && isValue(c.lo) && isValue(c.hi)) || (c.k === 'fn' && c.name === 'begins_with' && isValue(c.args[1]));
  let hashSeen = false;
  let rangeSeen = false;
  for (const c of parts) {
    const attr = attributeOf(c);
    if (attr === keys.hash && !hashSeen && c.k === 'cmp' && c.op === '=' && isValue(c.b)) hashSeen = true;
    else if (attr !== undefined && attr === keys.range && !rangeSeen && sortConditionOk(c)) rangeSeen = true;
    else if (attr !== undefined && attr !== keys.hash && attr !== keys.range) throw invalid(`Query key condition not supported: ${attr} is not a key attribute`);
    else throw invalid('Query key condition not supported');
  }
  if (!hashSeen) throw invalid(`Query condition missed key schema element: ${keys.hash}`);
}

function indexProjection(item: Item, projection: Projection, keys: string[]): Item {
  const type = projection.ProjectionType ?? 'ALL';
  if (type === 'ALL') return item;
  const keep = new Set([...keys, ...(type === 'INCLUDE' ? projection.NonKeyAttributes ?? [] : [])]);
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k)));
}

function returnValues(mode: string | undefined, allowed: string[], old: Item | undefined, updated: Item | undefined, touched: string[]) {
  const m = mode ?? 'NONE';
  if (!allowed.includes(m)) throw invalid(`ReturnValues can only be ${allowed.join(', ')} for this operation, got ${m}`);
  const pick = (item: Item | undefined) => (item ? Object.fromEntries(touched.filter((k) => item[k] !== undefined).map((k) => [k, item[k]])) : undefined);
  const attributes = { NONE: undefined, ALL_OLD: old, ALL_NEW: updated, UPDATED_OLD: pick(old), UPDATED_NEW: pick(updated) }[m];
  return attributes && Object.keys(attributes).length ? { Attributes: attributes } : {};
}

class ConditionalCheckFailed extends AwsError {
  constructor(readonly item: Item | undefined) {
    super('ConditionalCheckFailedException', 'The conditional request failed');
  }
}

function conditionFailed(input: ConditionalInput, old: Item | undefined): AwsError {
  return new ConditionalCheckFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
}

function errorResponse(err: unknown): AwsResponse {
  const error = err instanceof AwsError ? err : new AwsError('InternalServerError', (err as Error).message, 500);
  const namespace =
    error.code === 'ValidationException' ? 'com.amazon.coral.validate' : error.code === 'UnknownOperationException' || error.code === 'SerializationException' ? 'com.amazon.coral.service' : 'com.amazonaws.dynamodb.v20120810';
  const body: Record<string, unknown> = { __type: `${namespace}#${error.code}`, message: error.message };
  if (err instanceof ConditionalCheckFailed && err.item) body.Item = err.item;
  return { status: error.status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) };
}

function ok(body: unknown): AwsResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) };
}

interface ConditionalInput {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' | 'NONE';
}

interface GetItemInput {
  TableName: string;
  Key: Item;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
}

interface PutItemInput extends ConditionalInput {
  TableName: string;
  Item: Item;
  ReturnValues?: string;
}

interface DeleteItemInput extends ConditionalInput {
  TableName: string;
  Key: Item;
  ReturnValues?: string;
}

interface UpdateItemInput extends ConditionalInput {
  TableName: string;
  Key: Item;
  UpdateExpression?: string;
  ReturnValues?: string;
}

interface ReadInput {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression?: string;
  FilterExpression?: string;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  Limit?: number;
  ExclusiveStartKey?: Item;
  ScanIndexForward?: boolean;
  ConsistentRead?: boolean;
  Select?: string;
}
