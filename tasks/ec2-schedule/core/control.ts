/**
 * `GET|POST /ec2/control/{instanceId}/{action}?token=...`: a control link, for an EC2 instance or a resource of any
 * scheduled kind (the route's `{instanceId}` is the link's target: links.ts). GET shows the resource's state and
 * a button and never changes anything (mail scanners and link previews fetch URLs); POST (the button, or
 * `curl -X POST`) runs the workflow for that one resource and answers with the transition, or why there was none
 * (`stopped -> pending`, `not started: already running`), as plain text for `curl`, HTML for browsers, JSON for
 * `Accept: application/json`.
 * A wrong, expired or revoked token is a 401 with nothing done and nothing revealed.
 *
 * A link for a resource in another account or region of the organisation (links.ts: `@<account>:<region>`) acts
 * there with the member role (config `targets`, tasks/shared/targets.ts); the allow-list is checked on that account's
 * own Describe answer. A target this deployment does not reach is a 403 before any AssumeRole; one whose role cannot be
 * assumed now is a 502 with nothing done.
 */
import { escapeHtml as esc, html, json, text, type HttpRequest, type HttpResponse } from '../../shared/http';
import type { Log } from '../../shared/logger';
import { readForm } from './form';
import { isAllowed, type AllowRules } from './allow';
import type { Clients, Resource } from './kinds/kind';
import { checkLink, parseLinkTarget } from './links';
import { clientsFor, nounOf } from './resolve';
import { kindOf } from './kinds';
import type { Ec2Store } from './store';
import { describeOutcome, trigger, type TriggerDeps } from './trigger';
import type { Ec2Action, Kind, Where } from './types';
import { targetName, TargetUnreachable, type Reach } from '../../shared/targets';

export interface ControlDeps {
  store: Ec2Store;
  /** The hub's own account and region: a link without `@<account>:<region>`. */
  clients: Clients;
  /** With `TARGETS` (config `targets`): the clients of the organisation's other accounts and regions. */
  reach?: Reach<Clients>;
  /** The kinds this deployment schedules (`ec2Schedule.kinds`): a link for another kind is refused. */
  kinds: readonly Kind[];
  allow: AllowRules;
  trigger: Omit<TriggerDeps, 'clients' | 'store'>;
  nowMs: () => number;
  log: Log;
}

type Format = 'text' | 'html' | 'json';

/** What a control link request carries: the route's target (links.ts) and action, the token, and what the caller accepts. */
interface ControlRequest {
  method: string;
  instanceId: string;
  action: string;
  token?: string;
  accept: string;
}

export async function handleControl(request: HttpRequest, deps: ControlDeps): Promise<HttpResponse> {
  // A browser form posts the token in the query string of its action URL; a form field works too.
  const form = request.method === 'POST' ? readForm(request) : new URLSearchParams();
  if (!(form instanceof URLSearchParams)) return form;
  const req: ControlRequest = {
    method: request.method,
    instanceId: request.params.instanceId ?? '',
    action: request.params.action ?? '',
    token: request.query.token ?? form.get('token') ?? undefined,
    accept: request.headers.accept ?? '*/*',
  };
  const format = formatOf(req.accept);
  const target = parseLinkTarget(req.instanceId);
  if ((req.action !== 'start' && req.action !== 'stop') || !target || !deps.kinds.includes(target.kind)) return reply(format, 404, 'No such control link.');
  const action = req.action as Ec2Action;
  const secret = await deps.store.linkSecret();
  const check = secret ? checkLink(secret.secret, req.instanceId, action, req.token, deps.nowMs()) : ({ ok: false, reason: 'signature' } as const);
  if (!check.ok || (await deps.store.isRevoked(check.linkId))) {
    // The reason goes to the log only: a caller learns nothing about which part was wrong.
    deps.log.warn('control link refused', { instanceId: req.instanceId, action, reason: check.ok ? 'revoked' : check.reason });
    return reply(format, 401, 'This link is not valid: it may have been revoked or replaced.');
  }
  const where: Where = target.account ? { account: target.account, region: target.region } : {};
  const reach = await clientsFor(deps, where);
  if (!reach.ok) {
    deps.log.warn('control link for a target not reached', { instanceId: req.instanceId, linkId: check.linkId, reason: reach.reason });
    return reply(format, 403, `This link is for ${where.account}/${where.region}, which this deployment does not reach.`);
  }
  const clients = reach.clients;
  const what = target.kind === 'ec2' ? 'Instance' : 'Resource';
  let found: Resource | undefined;
  try {
    found = (await kindOf(target.kind).find(clients, [target.id])).find((r) => r.id === target.id);
  } catch (e) {
    if (!(e instanceof TargetUnreachable)) throw e;
    // The reason (the role, the member stack to deploy) is for the operators' log, not for whoever holds the link.
    deps.log.error('control link target unreachable', { instanceId: req.instanceId, linkId: check.linkId, reason: e.message });
    return reply(format, 502, `The hub cannot reach ${where.account}/${where.region} now; nothing was done.`);
  }
  if (!found) return reply(format, 404, `${what} ${target.id} no longer exists.`);
  const instance: Resource & Where = { ...found, ...where };
  if (!isAllowed(instance, deps.allow)) {
    deps.log.warn('control link for an instance no longer delegated', { instanceId: req.instanceId, linkId: check.linkId });
    return reply(format, 403, `${what} ${target.id} is no longer delegated.`);
  }
  if (req.method === 'GET') return page(format, instance, action, req.token ?? '');
  if (req.method !== 'POST') return reply(format, 405, 'Use GET to look, POST to act.');

  const done = await trigger({ ...deps.trigger, clients, store: deps.store }, instance, action, `control-link:${check.linkId}`);
  deps.log.info('control link used', {
    instanceId: req.instanceId,
    action,
    linkId: check.linkId,
    from: done.from,
    to: done.to,
    outcome: done.outcome,
    reason: done.reason,
    failure: done.failure,
  });
  const line = describeOutcome(done, action);
  if (format === 'json') {
    return json(200, {
      ...ids(instance),
      name: instance.name,
      action,
      from: done.from,
      to: done.to,
      outcome: done.outcome,
      executionArn: done.executionArn,
      ...(done.reason && { reason: done.reason }),
      ...(done.failure && { failure: done.failure }),
    });
  }
  if (format === 'html') {
    return htmlPage(
      200,
      `<h1>${esc(label(instance))}</h1><p class="transition">${esc(line)}</p><p>The workflow verifies the result and reports it. <a href="?token=${esc(encodeURIComponent(req.token ?? ''))}">Back</a></p>`,
    );
  }
  return text(200, line);
}

function page(format: Format, i: Resource & Where, action: Ec2Action, token: string): HttpResponse {
  if (format === 'json') return json(200, { ...ids(i), name: i.name, state: i.state, action });
  if (format === 'text') return text(200, `${label(i)}: ${i.state}`);
  const verb = action === 'start' ? 'Start' : 'Stop';
  return htmlPage(
    200,
    `<h1>${esc(label(i))}</h1><p>State: <strong class="state">${esc(i.state)}</strong></p>` +
      `<form method="post" action="?token=${esc(encodeURIComponent(token))}"><button type="submit">${verb} ${esc(i.name || i.id)}</button></form>`,
  );
}

/**
 * An instance as `name (i-...)`, as links always showed it; another kind led by its noun: `RDS DB instance db-1`;
 * one in another account or region followed by `in <account>/<region>`.
 */
const label = (r: Resource & Where) => {
  const named = r.name && r.name !== r.id ? `${r.name} (${r.id})` : r.id;
  const where = r.account && r.region ? ` in ${targetName({ account: r.account, region: r.region })}` : '';
  return `${r.kind === 'ec2' ? named : `${nounOf(r)} ${named}`}${where}`;
};

/** JSON answers name an instance `instanceId`, as they always did; another kind by `kind` and `id`; a spoke's with `account`, `region`. */
const ids = (r: Resource & Where) => ({
  ...(r.kind === 'ec2' ? { instanceId: r.id } : { kind: r.kind, id: r.id }),
  ...(r.account && { account: r.account, region: r.region }),
});

function formatOf(accept: string): Format {
  const a = accept.toLowerCase();
  if (a.includes('application/json')) return 'json';
  if (a.includes('text/html')) return 'html';
  return 'text';
}

function reply(format: Format, status: number, message: string): HttpResponse {
  if (format === 'json') return json(status, { message });
  if (format === 'html') return htmlPage(status, `<p>${esc(message)}</p>`);
  return text(status, message);
}

/** A control link's page: the kit's headers, a minimal layout; `content` is escaped where it is built. */
const htmlPage = (statusCode: number, content: string): HttpResponse =>
  html(
    statusCode,
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>opsflow instance control</title>` +
      `<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}button{font-size:1.2em;padding:.4em 1em}</style></head><body>${content}</body></html>`,
  );
