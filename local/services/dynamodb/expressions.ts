/**
 * DynamoDB expressions (condition, filter, key condition, update, projection): tokens, AST and parser, with
 * the attribute names and values a request supplies and the check that every one of them was used.
 */
import type { AwsError } from '../../kernel';
import { checkItem, invalid, type AV, type Item } from './values';

export type PathElem = string | number;
export type Operand =
  | { k: 'path'; path: PathElem[] }
  | { k: 'value'; av: AV }
  | { k: 'size'; path: PathElem[] }
  | { k: 'if_not_exists'; path: PathElem[]; fallback: Operand }
  | { k: 'list_append'; a: Operand; b: Operand }
  | { k: 'arith'; op: '+' | '-'; a: Operand; b: Operand };
export type Cond =
  | { k: 'cmp'; op: string; a: Operand; b: Operand }
  | { k: 'between'; a: Operand; lo: Operand; hi: Operand }
  | { k: 'in'; a: Operand; list: Operand[] }
  | { k: 'and' | 'or'; l: Cond; r: Cond }
  | { k: 'not'; c: Cond }
  | { k: 'fn'; name: string; args: Operand[] };
export type UpdateAction =
  | { k: 'SET'; path: PathElem[]; value: Operand }
  | { k: 'REMOVE'; path: PathElem[] }
  | { k: 'ADD' | 'DELETE'; path: PathElem[]; value: Operand };

interface Token {
  t: 'alias' | 'value' | 'name' | 'num' | 'op' | 'eof';
  v: string;
  pos: number;
}

/** Names and values a request provides, and which of them its expressions used (AWS rejects unused ones). */
export class ExpressionContext {
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

/**
 * "The maximum length of any expression string is 4 KB ... The maximum number of operators or functions allowed in
 * an UpdateExpression is 300 ... The maximum number of operands for the IN comparator is 100."
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters
 * The messages are DynamoDB's as users and emulators recorded them ("Invalid FilterExpression: Expression size has
 * exceeded the maximum allowed size; expression size: 5872").
 */
export const MAX_EXPRESSION_BYTES = 4096;
export const MAX_UPDATE_OPERATORS = 300;
export const MAX_IN_OPERANDS = 100;

const BOOLEAN_FUNCTIONS: Record<string, number> = { attribute_exists: 1, attribute_not_exists: 1, attribute_type: 2, begins_with: 2, contains: 2 };

export class Parser {
  private readonly tokens: Token[] = [];
  private i = 0;
  /** Operators and functions seen (UpdateExpression's limit). */
  private operators = 0;

  constructor(
    private readonly text: string,
    private readonly label: string,
    private readonly ctx: ExpressionContext,
  ) {
    const size = Buffer.byteLength(text);
    if (size > MAX_EXPRESSION_BYTES) throw invalid(`Invalid ${label}: Expression size has exceeded the maximum allowed size; expression size: ${size}`);
    const re = /(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(<>|<=|>=|[=<>(),.[\]+-]))/y;
    const space = /\s*/y;
    let pos = 0;
    for (;;) {
      space.lastIndex = pos;
      space.exec(text);
      pos = space.lastIndex;
      if (pos >= text.length) break;
      re.lastIndex = pos;
      const m = re.exec(text);
      if (!m)
        throw invalid(`Invalid ${label}: Syntax error; token: "${text.slice(pos).trim()[0]}", near: "${text.slice(Math.max(0, pos - 5), pos + 5).trim()}"`);
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
      if (name === undefined)
        throw invalid(`Invalid ${this.label}: An expression attribute name used in the document path is not defined; attribute name: ${tok.v}`);
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
      if (update) this.countOperator();
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
      this.countOperator();
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
        throw invalid(
          `Invalid ${this.label}: Incorrect number of operands for operator or function; operator or function: ${tok.v}, number of operands: ${args.length}`,
        );
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
      if (list.length > MAX_IN_OPERANDS)
        throw invalid(`Invalid ${this.label}: The IN operator is provided with too many operands; number of operands: ${list.length}`);
      return { k: 'in', a, list };
    }
    const op = this.peek();
    if (op.t === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(op.v)) {
      this.i++;
      return { k: 'cmp', op: op.v, a, b: this.operand() };
    }
    throw this.syntaxError();
  }

  private countOperator(): void {
    if (++this.operators > MAX_UPDATE_OPERATORS)
      throw invalid(`Invalid ${this.label}: The expression contains too many operators; operator count: ${this.operators}`);
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

export function parseCondition(text: string, label: string, ctx: ExpressionContext): Cond {
  const p = new Parser(text, label, ctx);
  const cond = p.condition();
  p.end();
  return cond;
}

export function parseProjection(text: string, ctx: ExpressionContext): PathElem[][] {
  const p = new Parser(text, 'ProjectionExpression', ctx);
  const paths = p.projection();
  p.end();
  return paths;
}

export function pathText(path: PathElem[]): string {
  return path.map((e, i) => (typeof e === 'number' ? `[${e}]` : i ? `.${e}` : e)).join('');
}
