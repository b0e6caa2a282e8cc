/**
 * `GET|POST /ec2/control/{instanceId}/{action}?token=...`: a control link. GET shows the instance's state and
 * a button and never changes anything (mail scanners and link previews fetch URLs); POST (the button, or
 * `curl -X POST`) runs the workflow for that one instance and answers with the transition, or why there was none
 * (`stopped -> pending`, `not started: already running`), as plain text for `curl`, HTML for browsers, JSON for
 * `Accept: application/json`.
 * A wrong, expired or revoked token is a 401 with nothing done and nothing revealed.
 */
import escapeHtml from 'escape-html';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { INSTANCE_ID } from '../../shared/instance-id';
import type { Log } from '../../shared/logger';
import { isAllowed, type AllowRules } from './allow';
import { checkLink } from './links';
import type { Ec2Store } from './store';
import { describeOne, describeOutcome, trigger, type TriggerDeps } from './trigger';
import type { Ec2Action, InstanceFacts } from './types';

export interface ControlRequest {
  method: string;
  instanceId: string;
  action: string;
  token?: string;
  accept: string;
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ControlDeps {
  store: Ec2Store;
  ec2: EC2Client;
  allow: AllowRules;
  trigger: Omit<TriggerDeps, 'ec2' | 'store'>;
  nowMs: () => number;
  log: Log;
}

type Format = 'text' | 'html' | 'json';

export async function handleControl(req: ControlRequest, deps: ControlDeps): Promise<HttpResult> {
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
  deps.log.info('control link used', { instanceId: req.instanceId, action, linkId: check.linkId, from: done.from, to: done.to, outcome: done.outcome, reason: done.reason, failure: done.failure });
  const line = describeOutcome(done, action);
  if (format === 'json') {
    return json(200, {
      instanceId: instance.instanceId, name: instance.name, action, from: done.from, to: done.to, outcome: done.outcome, executionArn: done.executionArn,
      ...(done.reason && { reason: done.reason }), ...(done.failure && { failure: done.failure }),
    });
  }
  if (format === 'html') {
    return html(200, `<h1>${esc(label(instance))}</h1><p class="transition">${esc(line)}</p><p>The workflow verifies the result and reports it. <a href="?token=${esc(encodeURIComponent(req.token ?? ''))}">Back</a></p>`);
  }
  return text(200, line);
}

function page(format: Format, i: InstanceFacts, action: Ec2Action, token: string): HttpResult {
  if (format === 'json') return json(200, { instanceId: i.instanceId, name: i.name, state: i.state, action });
  if (format === 'text') return text(200, `${label(i)}: ${i.state}`);
  const verb = action === 'start' ? 'Start' : 'Stop';
  return html(
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

function reply(format: Format, status: number, message: string): HttpResult {
  if (format === 'json') return json(status, { message });
  if (format === 'html') return html(status, `<p>${esc(message)}</p>`);
  return text(status, message);
}

const SECURITY = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' };

const text = (statusCode: number, body: string): HttpResult => ({ statusCode, headers: { 'content-type': 'text/plain; charset=utf-8', ...SECURITY }, body });
const json = (statusCode: number, body: unknown): HttpResult => ({ statusCode, headers: { 'content-type': 'application/json', ...SECURITY }, body: JSON.stringify(body) });
const html = (statusCode: number, content: string): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", ...SECURITY },
  body: `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>opsflow instance control</title>` +
    `<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}button{font-size:1.2em;padding:.4em 1em}</style></head><body>${content}</body></html>`,
});

const esc = escapeHtml;
