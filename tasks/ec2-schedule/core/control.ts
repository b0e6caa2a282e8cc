/**
 * `GET|POST /ec2/control/{instanceId}/{action}?token=...`: a control link, for an EC2 instance or a resource of any
 * scheduled kind (the route's `{instanceId}` is the link's target: links.ts). GET shows the resource's state and
 * a button and never changes anything (mail scanners and link previews fetch URLs); POST (the button, or
 * `curl -X POST`) runs the workflow for that one resource and answers with the transition, or why there was none
 * (`stopped -> pending`, `not started: already running`), as plain text for `curl`, HTML for browsers, JSON for
 * `Accept: application/json`.
 * A wrong, expired or revoked token is a 401 with nothing done and nothing revealed.
 */
import { escapeHtml as esc, html, json, text, type HttpRequest, type HttpResponse } from '../../shared/http';
import type { Log } from '../../shared/logger';
import { readForm } from './form';
import { isAllowed, type AllowRules } from './allow';
import type { Clients, Resource } from './kinds/kind';
import { checkLink, parseLinkTarget } from './links';
import { nounOf } from './resolve';
import { kindOf } from './kinds';
import type { Ec2Store } from './store';
import { describeOutcome, trigger, type TriggerDeps } from './trigger';
import type { Ec2Action, Kind } from './types';

export interface ControlDeps {
  store: Ec2Store;
  clients: Clients;
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
  const what = target.kind === 'ec2' ? 'Instance' : 'Resource';
  const instance = (await kindOf(target.kind).find(deps.clients, [target.id])).find((r) => r.id === target.id);
  if (!instance) return reply(format, 404, `${what} ${target.id} no longer exists.`);
  if (!isAllowed(instance, deps.allow)) {
    deps.log.warn('control link for an instance no longer delegated', { instanceId: req.instanceId, linkId: check.linkId });
    return reply(format, 403, `${what} ${target.id} is no longer delegated.`);
  }
  if (req.method === 'GET') return page(format, instance, action, req.token ?? '');
  if (req.method !== 'POST') return reply(format, 405, 'Use GET to look, POST to act.');

  const done = await trigger({ ...deps.trigger, clients: deps.clients, store: deps.store }, instance, action, `control-link:${check.linkId}`);
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

function page(format: Format, i: Resource, action: Ec2Action, token: string): HttpResponse {
  if (format === 'json') return json(200, { ...ids(i), name: i.name, state: i.state, action });
  if (format === 'text') return text(200, `${label(i)}: ${i.state}`);
  const verb = action === 'start' ? 'Start' : 'Stop';
  return htmlPage(
    200,
    `<h1>${esc(label(i))}</h1><p>State: <strong class="state">${esc(i.state)}</strong></p>` +
      `<form method="post" action="?token=${esc(encodeURIComponent(token))}"><button type="submit">${verb} ${esc(i.name || i.id)}</button></form>`,
  );
}

/** An instance as `name (i-...)`, as links always showed it; another kind led by its noun: `RDS DB instance db-1`. */
const label = (r: Resource) => {
  const named = r.name && r.name !== r.id ? `${r.name} (${r.id})` : r.id;
  return r.kind === 'ec2' ? named : `${nounOf(r)} ${named}`;
};

/** JSON answers name an instance `instanceId`, as they always did; another kind by `kind` and `id`. */
const ids = (r: Resource) => (r.kind === 'ec2' ? { instanceId: r.id } : { kind: r.kind, id: r.id });

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
