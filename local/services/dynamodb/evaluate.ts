/**
 * Evaluates parsed DynamoDB expressions against an item: operands, conditions, update actions (every
 * right-hand side reads the item as it was before the update) and projections.
 */
import { type Cond, type Operand, type PathElem, type UpdateAction, pathText } from './expressions';
import { addNumbers, checkAV, compareScalars, equalAV, invalid, setHas, typeOf, TYPES, type AV, type Item } from './values';

export function resolve(item: Item, path: PathElem[]): AV | undefined {
  let current: AV | undefined = item[path[0] as string];
  for (const e of path.slice(1)) {
    if (!current) return undefined;
    current = typeof e === 'number' ? current.L?.[e] : current.M?.[e];
  }
  return current;
}

export function evalOperand(item: Item, op: Operand): AV | undefined {
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
      if (!a?.L || !b?.L)
        throw invalid(
          `Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: ${a?.L ? typeOf(b ?? {}) : typeOf(a ?? {})}`,
        );
      return { L: [...a.L, ...b.L] };
    }
    case 'arith': {
      const [a, b] = [evalOperand(item, op.a), evalOperand(item, op.b)];
      if (!a || !b) throw invalid('The provided expression refers to an attribute that does not exist in the item');
      if (a.N === undefined || b.N === undefined)
        throw invalid(
          `Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ${op.op}, operand type: ${a.N === undefined ? typeOf(a) : typeOf(b)}`,
        );
      return { N: addNumbers(a.N, b.N, op.op === '+' ? 1n : -1n) };
    }
  }
}

export function evalCond(item: Item, c: Cond): boolean {
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
          if (!arg?.S || !TYPES.includes(arg.S as never))
            throw invalid(`Invalid ConditionExpression: Invalid attribute type name found; type: ${arg?.S}, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}`);
          return v !== undefined && typeOf(v) === arg.S;
        case 'begins_with':
          if (!v || !arg) return false;
          if (v.S !== undefined && arg.S !== undefined) return v.S.startsWith(arg.S);
          if (v.B !== undefined && arg.B !== undefined)
            return Buffer.from(v.B, 'base64').subarray(0, Buffer.from(arg.B, 'base64').length).equals(Buffer.from(arg.B, 'base64'));
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

export function clone<T>(v: T): T {
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

export function applyUpdate(old: Item, actions: UpdateAction[]): Item {
  // Every right-hand side reads the item as it was before the update, as in DynamoDB.
  const values = actions.map((a) => (a.k === 'REMOVE' ? undefined : evalOperand(old, a.value)));
  const item = clone(old);
  actions.forEach((a, i) => {
    const value = values[i];
    if (a.k === 'SET') {
      if (!value) throw invalid('The provided expression refers to an attribute that does not exist in the item');
      setPath(item, a.path, checkAV(value, pathText(a.path)));
    } else if (a.k === 'REMOVE') removePath(item, a.path);
    else {
      const current = resolve(item, a.path);
      const t = typeOf(value!);
      if (a.k === 'ADD') {
        if (t !== 'N' && t !== 'SS' && t !== 'NS' && t !== 'BS')
          throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${t}`);
        if (!current) setPath(item, a.path, clone(value!));
        else if (t === 'N' && current.N !== undefined) setPath(item, a.path, { N: addNumbers(current.N, value!.N!, 1n) });
        else if (t !== 'N' && typeOf(current) === t) {
          const merged = [...current[t]!];
          for (const v of value![t]!) if (!setHas(current, v)) merged.push(v);
          setPath(item, a.path, { [t]: merged });
        } else throw invalid('An operand in the update expression has an incorrect data type');
      } else {
        if (t !== 'SS' && t !== 'NS' && t !== 'BS')
          throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: ${t}`);
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

export function project(item: Item, paths: PathElem[][] | undefined): Item {
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
