/**
 * `GET|POST /ec2/control/{instanceId}/{action}?token=...`: a control link. GET shows the instance's state and
 * a button and never changes anything (mail scanners and link previews fetch URLs); POST (the button, or
 * `curl -X POST`) runs the workflow for that one instance and answers with the transition, or why there was none
 * (`stopped -> pending`, `not started: already running`), as plain text for `curl`, HTML for browsers, JSON for
 * `Accept: application/json`.
 * A wrong, expired or revoked token is a 401 with nothing done and nothing revealed.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { escapeHtml as esc, html, json, text, type HttpRequest, type HttpResponse } from '../../shared/http';
import { INSTANCE_ID } from '../../shared/instance-id';
import type { Log } from '../../shared/logger';
import { readForm } from './form';
import { isAllowed, type AllowRules } from './allow';
import { checkLink } from './links';
import type { Ec2Store } from './store';
import { describeOne, describeOutcome, trigger, type TriggerDeps } from './trigger';
import type { Ec2Action, InstanceFacts } from './types';

export interface ControlDeps {
  store: Ec2Store;
  ec2: EC2Client;
  allow: AllowRules;
  trigger: Omit<TriggerDeps, 'ec2' | 'store'>;
  nowMs: () => number;
  log: Log;
}

type Format = 'text' | 'html' | 'json';

/** What a control link request carries: the route's instance and action, the token, and what the caller accepts. */
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
  if ((req.action !== 'start' && req.action !== 'stop') || !INSTANCE_ID.test(req.instanceId)) return reply(format, 404, 'No such control link.');
  const action = req.action as Ec2Action;
  const secret = await deps.store.linkSecret();
  const check = secret ? checkLink(secret.secret, req.instanceId, action, req.token, deps.nowMs()) : ({ ok: false, reason: 'signature' } as const);
  if (!check.ok || (await deps.store.isRevoked(check.linkId))) {
    // The reason goes to the log only: a caller learns nothing about which part was wrong.
    deps.log.warn('control link refused', { instanceId: req.instanceId, action, reason: check.ok ? 'revoked' : check.reason });
    return reply(format, 401, 'This link is not valid: it may have been revoked or replaced.');
  }
  const instance = await describeOne(deps.ec2, req.instanceId);
  if (!instance) return reply(format, 404, `Instance ${req.instanceId} no longer exists.`);
  if (!isAllowed(instance, deps.allow)) {
    deps.log.warn('control link for an instance no longer delegated', { instanceId: req.instanceId, linkId: check.linkId });
    return reply(format, 403, `Instance ${req.instanceId} is no longer delegated.`);
  }
  if (req.method === 'GET') return page(format, instance, action, req.token ?? '');
  if (req.method !== 'POST') return reply(format, 405, 'Use GET to look, POST to act.');

  const done = await trigger({ ...deps.trigger, ec2: deps.ec2, store: deps.store }, instance, action, `control-link:${check.linkId}`);
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
      instanceId: instance.instanceId,
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

function page(format: Format, i: InstanceFacts, action: Ec2Action, token: string): HttpResponse {
  if (format === 'json') return json(200, { instanceId: i.instanceId, name: i.name, state: i.state, action });
  if (format === 'text') return text(200, `${label(i)}: ${i.state}`);
  const verb = action === 'start' ? 'Start' : 'Stop';
  return htmlPage(
    200,
    `<h1>${esc(label(i))}</h1><p>State: <strong class="state">${esc(i.state)}</strong></p>` +
      `<form method="post" action="?token=${esc(encodeURIComponent(token))}"><button type="submit">${verb} ${esc(i.name || i.instanceId)}</button></form>`,
  );
}

const label = (i: InstanceFacts) => (i.name ? `${i.name} (${i.instanceId})` : i.instanceId);

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
