/**
 * An IAM policy evaluator for one account, written to AWS's documented evaluation logic.
 *
 * Why not a library: `@cloud-copilot/iam-simulate` is AGPL (the project is Apache-2.0); `pbac` (MIT) checks only
 * the first key of each condition operator, matches actions case-sensitively and treats a missing context key
 * as the key's own name, so it would allow and deny differently from AWS in the app's own policies (the
 * tag-policy Act role's `Null` block has two keys).
 *
 * Evaluation (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * an explicit Deny in any applicable policy wins; otherwise, within one account, an Allow in the principal's
 * identity-based policies OR in the resource-based policy allows; otherwise the request is implicitly denied.
 * SCPs, RCPs, permissions boundaries and session policies are not modelled (the app sets none).
 *
 * Conditions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html):
 * operators AND, keys within an operator AND, values of one key OR (NOR for negated operators). A key absent
 * from the request context makes a condition false, except that a negated operator is then true, `...IfExists`
 * is true, and `Null` tests presence. `ForAllValues` is true for an absent or empty key; `ForAnyValue` is false.
 */
import { GlobCache, globMatches, withUnits } from '../glob';

export type ContextValue = string | string[] | boolean | number;
/** Request context keys (case-insensitive names, as AWS treats them). */
export type RequestContext = Record<string, ContextValue | undefined>;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: '*' | Record<string, string | string[]>;
  NotPrincipal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

/** Who is asking. For an assumed role `arn` is the role ARN; `sessionArn` is the STS assumed-role ARN. */
export interface PrincipalRef {
  /** `AWS` (an account, user or role) or `Service` (e.g. `events.amazonaws.com`). */
  type: 'AWS' | 'Service';
  /** Role ARN, user ARN, `arn:aws:iam::<account>:root`, or the service principal name. */
  id: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>` for role sessions. */
  sessionArn?: string;
  /**
   * The principal's account, when a policy naming the account (`arn:aws:iam::<account>:root` or the bare id) is to
   * match it: a trust policy does so ("delegates ... to the account",
   * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts).
   */
  account?: string;
}

export interface AuthorizationRequest {
  principal: PrincipalRef;
  /** `service:Action`, e.g. `ec2:StopInstances`. */
  action: string;
  /** One resource ARN, or `*` for actions without resource-level permissions. */
  resource: string;
  context: RequestContext;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface Evaluation {
  decision: Decision;
  /** Where the deciding statement was (`identity-based`, `resource-based`), for AWS's message. */
  policyType?: 'identity-based' | 'resource-based';
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Stand-ins for `${*}` and `${?}`: a literal `*` or `?` that must not act as a wildcard. */
const LITERAL_STAR = '\u0002';
const LITERAL_QM = '\u0001';

/**
 * `*` any run of characters, `?` any one character; everything else literal
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String).
 * Matched in linear time (local/glob.ts): a policy's pattern against a request's value never backtracks.
 */
const GLOBS = { s: new GlobCache({ star: '*', one: '?' }), i: new GlobCache({ star: '*', one: '?', caseInsensitive: true }) };
const UNESCAPE: Record<string, string> = { [LITERAL_STAR]: '*', [LITERAL_QM]: '?' };
export function globMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const glob = GLOBS[caseInsensitive ? 'i' : 's'].get(pattern);
  // `${*}` and `${?}` were substituted by stand-ins: they match the literal character.
  const escaped =
    pattern.includes(LITERAL_STAR) || pattern.includes(LITERAL_QM)
      ? withUnits(
          glob,
          glob.units.map((u) => (typeof u === 'string' ? (UNESCAPE[u] ?? u) : u)),
        )
      : glob;
  return globMatches(escaped, value);
}

/** Action names are case-insensitive: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html */
function actionMatches(pattern: string, action: string): boolean {
  return pattern === '*' || globMatch(pattern, action, true);
}

/**
 * ARNs match segment by segment (partition, service, region, account, resource); wildcards in the resource
 * segment may span colons and slashes. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
 */
export function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.startsWith('arn:') || !arn.startsWith('arn:')) return globMatch(pattern, arn);
  const p = splitArn(pattern);
  const a = splitArn(arn);
  if (!p || !a) return globMatch(pattern, arn);
  for (let i = 0; i < 5; i++) if (!globMatch(p[i], a[i])) return false;
  return true;
}

function splitArn(arn: string): [string, string, string, string, string] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [parts[1], parts[2], parts[3], parts[4], parts.slice(5).join(':')];
}

/** Context lookups ignore the case of key names, as IAM does for condition keys. */
function lookup(context: RequestContext, key: string): ContextValue | undefined {
  if (key in context) return context[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * Policy variables `${aws:username}`, `${aws:ResourceTag/x}`, and the escapes `${*}`, `${?}`, `${$}`.
 * An unresolvable variable without a default makes the element not match (returns undefined).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 */
function substitute(text: string, context: RequestContext): string | undefined {
  if (!text.includes('${')) return text;
  let unresolved = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, inner: string) => {
    if (inner === '*') return LITERAL_STAR;
    if (inner === '?') return LITERAL_QM;
    if (inner === '$') return '$';
    const [name, fallback] = inner.split(/\s*,\s*/);
    const value = lookup(context, name.trim());
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    const def = fallback ? /^'(.*)'$/.exec(fallback)?.[1] : undefined;
    if (def !== undefined) return def;
    unresolved = true;
    return '';
  });
  return unresolved ? undefined : out;
}

function patternMatches(pattern: string, value: string, context: RequestContext, match: (p: string, v: string) => boolean): boolean {
  const resolved = substitute(pattern, context);
  return resolved !== undefined && match(resolved, value);
}

const literal = (s: string | undefined) => s?.replace(/\u0002/g, '*').replace(/\u0001/g, '?');

type Compare = (policyValue: string, contextValue: string, context: RequestContext) => boolean;

const num = (v: string) => (/^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN);
const date = (v: string) => (/^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));
const ipv4 = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
function inCidr(cidr: string, ip: string): boolean {
  const [base, bits = '32'] = cidr.split('/');
  if (base.includes(':') || ip.includes(':')) return base === ip;
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (ipv4(base) & mask) >>> 0 === (ipv4(ip) & mask) >>> 0;
}

/** Positive base operators; each negated operator is the NOR of its positive one. */
const BASE: Record<string, Compare> = {
  StringEquals: (p, v, c) => literal(substitute(p, c)) === v,
  StringEqualsIgnoreCase: (p, v, c) => literal(substitute(p, c))?.toLowerCase() === v.toLowerCase(),
  StringLike: (p, v, c) => patternMatches(p, v, c, (a, b) => globMatch(a, b)),
  NumericEquals: (p, v) => num(p) === num(v),
  NumericLessThan: (p, v) => num(v) < num(p),
  NumericLessThanEquals: (p, v) => num(v) <= num(p),
  NumericGreaterThan: (p, v) => num(v) > num(p),
  NumericGreaterThanEquals: (p, v) => num(v) >= num(p),
  DateEquals: (p, v) => date(p) === date(v),
  DateLessThan: (p, v) => date(v) < date(p),
  DateLessThanEquals: (p, v) => date(v) <= date(p),
  DateGreaterThan: (p, v) => date(v) > date(p),
  DateGreaterThanEquals: (p, v) => date(v) >= date(p),
  Bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
  BinaryEquals: (p, v) => p === v,
  IpAddress: (p, v) => inCidr(p, v),
  ArnEquals: (p, v, c) => patternMatches(p, v, c, arnMatches),
  ArnLike: (p, v, c) => patternMatches(p, v, c, arnMatches),
};
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

/** Thrown for a condition operator IAM does not have: CloudFormation would refuse such a policy. */
export class PolicySyntaxError extends Error {}

function asStrings(v: ContextValue): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

export function conditionHolds(condition: Statement['Condition'], context: RequestContext): boolean {
  if (!condition) return true;
  for (const [rawOperator, block] of Object.entries(condition)) {
    for (const [key, raw] of Object.entries(block ?? {})) {
      if (!operatorHolds(rawOperator, key, list(raw as unknown).map(String), context)) return false;
    }
  }
  return true;
}

function operatorHolds(rawOperator: string, key: string, values: string[], context: RequestContext): boolean {
  let operator = rawOperator;
  let set: 'ForAllValues' | 'ForAnyValue' | undefined;
  const qualified = /^(ForAllValues|ForAnyValue):(.+)$/.exec(operator);
  if (qualified) {
    set = qualified[1] as typeof set;
    operator = qualified[2];
  }
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -'IfExists'.length);
  const actual = lookup(context, key);
  const present = actual !== undefined && !(Array.isArray(actual) && actual.length === 0 && !set);

  if (operator === 'Null') {
    // "true": the key must be absent (or empty); "false": it must be present and not null.
    const absent = actual === undefined || (Array.isArray(actual) && actual.length === 0);
    return values.some((v) => (v.toLowerCase() === 'true') === absent);
  }
  const negatedOf = NEGATED[operator];
  const compare = BASE[negatedOf ?? operator];
  if (!compare) throw new PolicySyntaxError(`Unknown condition operator ${rawOperator}`);
  const matchesAny = (v: string) => values.some((p) => compare(p, v, context));
  const holds = (v: string) => (negatedOf ? !matchesAny(v) : matchesAny(v));

  if (set === 'ForAllValues') {
    // True when the key is absent or empty: every one of zero values matches.
    if (actual === undefined) return true;
    return asStrings(actual).every(holds);
  }
  if (set === 'ForAnyValue') {
    if (actual === undefined) return false;
    return asStrings(actual).some(holds);
  }
  if (!present) return ifExists || Boolean(negatedOf);
  // A single-valued operator on a multivalued key: any value may satisfy it (negated: none may match).
  const actuals = asStrings(actual!);
  return negatedOf ? actuals.every(holds) : actuals.some(holds);
}

function principalMatches(element: Statement['Principal'], principal: PrincipalRef): boolean {
  if (element === undefined) return false;
  if (element === '*') return true;
  for (const [type, raw] of Object.entries(element)) {
    for (const id of list(raw)) {
      if (id === '*' && type === 'AWS') return principal.type === 'AWS';
      if (type !== principal.type) continue;
      if (type === 'Service' && id === principal.id) return true;
      // A role ARN names every session of the role; an assumed-role ARN names one session.
      if (type === 'AWS' && (id === principal.id || id === principal.sessionArn)) return true;
      if (type === 'AWS' && principal.account && (id === principal.account || id === `arn:aws:iam::${principal.account}:root`)) return true;
    }
  }
  return false;
}

function statementApplies(s: Statement, req: AuthorizationRequest, withPrincipal: boolean): boolean {
  if (withPrincipal) {
    if (s.Principal !== undefined && !principalMatches(s.Principal, req.principal)) return false;
    if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, req.principal)) return false;
  }
  if (s.Action !== undefined && !list(s.Action).some((a) => actionMatches(a, req.action))) return false;
  if (s.NotAction !== undefined && list(s.NotAction).some((a) => actionMatches(a, req.action))) return false;
  const resourceMatches = (pattern: string) => {
    const resolved = substitute(pattern, req.context);
    return resolved !== undefined && arnMatches(resolved, req.resource);
  };
  if (s.Resource !== undefined && !list(s.Resource).some(resourceMatches)) return false;
  if (s.NotResource !== undefined && list(s.NotResource).some(resourceMatches)) return false;
  return conditionHolds(s.Condition, req.context);
}

export function statements(doc: PolicyDocument | undefined): Statement[] {
  return doc ? list(doc.Statement) : [];
}

/**
 * Decides one request. `identity` holds the policies attached to the principal (empty for service principals);
 * `resource` is the resource-based policy of the resource, if it has one.
 */
export function evaluate(req: AuthorizationRequest, identity: PolicyDocument[], resource?: PolicyDocument): Evaluation {
  const id = identity.flatMap(statements);
  const res = statements(resource);
  const idHits = id.filter((s) => statementApplies(s, req, false));
  const resHits = res.filter((s) => statementApplies(s, req, true));
  if (idHits.some((s) => s.Effect === 'Deny')) return { decision: 'ExplicitDeny', policyType: 'identity-based' };
  if (resHits.some((s) => s.Effect === 'Deny')) return { decision: 'ExplicitDeny', policyType: 'resource-based' };
  if (idHits.some((s) => s.Effect === 'Allow')) return { decision: 'Allow', policyType: 'identity-based' };
  if (resHits.some((s) => s.Effect === 'Allow')) return { decision: 'Allow', policyType: 'resource-based' };
  return { decision: 'ImplicitDeny', policyType: req.principal.type === 'Service' ? 'resource-based' : 'identity-based' };
}

/**
 * AWS's access-denied wording (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html):
 * "User: <principal> is not authorized to perform: <action> on resource: <resource> because no identity-based
 * policy allows the <action> action" / "... with an explicit deny in an identity-based policy".
 */
export function deniedMessage(principalArn: string, action: string, resource: string, evaluation: Evaluation): string {
  const head = `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource}`;
  return evaluation.decision === 'ExplicitDeny'
    ? `${head} with an explicit deny in ${evaluation.policyType === 'identity-based' ? 'an' : 'a'} ${evaluation.policyType} policy`
    : `${head} because no ${evaluation.policyType} policy allows the ${action} action`;
}

/** The account's root principal as a key policy names it: `arn:aws:iam::<account>:root` or the bare account id. */
function namesAccountRoot(element: Statement['Principal'], account: string): boolean {
  if (element === undefined || element === '*') return false;
  return list(element.AWS).some(
    (id) => id === account || id === `arn:aws:iam::${account}:root` || /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(id)?.[1] === account,
  );
}

/**
 * Decides a request on a KMS key, where the key policy is required
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): "Unless the key policy explicitly
 * allows it, you cannot use IAM policies to allow access to a KMS key. Without permission from the key policy,
 * IAM policies that allow permissions have no effect. (You can use an IAM policy to deny a permission to a KMS
 * key without permission from a key policy.)" A key policy statement that allows the account (its root
 * principal) enables IAM policies for that action
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam);
 * otherwise only statements naming the principal itself allow.
 */
export function evaluateKeyPolicy(req: AuthorizationRequest, identity: PolicyDocument[], keyPolicy: PolicyDocument, account: string): Evaluation {
  const id = identity.flatMap(statements).filter((s) => statementApplies(s, req, false));
  const key = statements(keyPolicy);
  const keyHits = key.filter((s) => statementApplies(s, req, true));
  if (id.some((s) => s.Effect === 'Deny')) return { decision: 'ExplicitDeny', policyType: 'identity-based' };
  if (keyHits.some((s) => s.Effect === 'Deny')) return { decision: 'ExplicitDeny', policyType: 'resource-based' };
  if (keyHits.some((s) => s.Effect === 'Allow')) return { decision: 'Allow', policyType: 'resource-based' };
  const iamEnabled =
    req.principal.type === 'AWS' &&
    key.some((s) => s.Effect === 'Allow' && namesAccountRoot(s.Principal, account) && statementApplies({ ...s, Principal: undefined }, req, false));
  if (!iamEnabled) return { decision: 'ImplicitDeny', policyType: 'resource-based' };
  return id.some((s) => s.Effect === 'Allow')
    ? { decision: 'Allow', policyType: 'identity-based' }
    : { decision: 'ImplicitDeny', policyType: 'identity-based' };
}
