/**
 * Microsoft Teams, as an app sees it: incoming webhooks receive cards, and an outgoing webhook sends what people
 * @mention to the app.
 *
 * - Incoming webhooks (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook):
 *   a connector URL on `<tenant>.webhook.office.com` takes a JSON POST of a MessageCard or of a message with an
 *   Adaptive Card attachment (`contentType: "application/vnd.microsoft.card.adaptive"`); "Although Outgoing Webhooks
 *   can use cards, they can't use any card actions except for openURL", and the same holds for webhook cards, so
 *   their buttons are links. A Workflows (Power Automate) URL on `*.logic.azure.com`
 *   (https://support.microsoft.com/en-us/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498)
 *   takes the Adaptive Card message and answers 202 Accepted; its URL carries a `sig` query parameter.
 * - Outgoing webhooks (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook):
 *   Teams POSTs the message that @mentions the webhook, a Bot Framework activity, to the callback URL, with
 *   `Authorization: HMAC <base64 HMAC-SHA256 of the body>` keyed with the base64-decoded security token ("The
 *   security token ... generate the HMAC", Microsoft's sample AuthProvider.cs / app.js); the answer's
 *   `{type: "message", text}` is posted as the reply.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { OutboundRequest, OutboundResponse } from '../../network/internet';
import { isObject, json, parseJson, text } from './wire';
import type { Button, ChatUser, Workspace } from './workspace';

export const TEAMS_TENANT = '00000000-0000-0000-0000-0000000000aa';
export const TEAMS_TEAM = { id: '19:local-team@thread.tacv2', name: 'opsflow-local' };
export const TEAMS_BOT = { id: '28:opsflow-outgoing-webhook', name: 'opsflow' };
const ADAPTIVE = 'application/vnd.microsoft.card.adaptive';

export function servesTeams(host: string): boolean {
  return host.endsWith('.webhook.office.com') || host.endsWith('.logic.azure.com');
}

export function handleTeams(ws: Workspace, req: OutboundRequest): OutboundResponse {
  const workflow = req.url.hostname.endsWith('.logic.azure.com');
  if (req.method !== 'POST') return text(405, 'Method Not Allowed');
  if (workflow && !req.url.searchParams.get('sig'))
    return json(401, { error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated only by Shared Access scheme.' } });
  if (!workflow && !/^\/webhookb2\/[\w@.-]+\/IncomingWebhook\/\w+\/[\w-]+/.test(req.url.pathname)) return text(404, 'Not Found');
  const card = parseJson(req.body.toString('utf8'));
  if (!isObject(card)) return text(400, 'Bad payload received by generic incoming webhook.');
  const isMessageCard = card['@type'] === 'MessageCard' || card.sections !== undefined || card.summary !== undefined;
  const adaptive = Array.isArray(card.attachments) && card.attachments.some((a) => isObject(a) && a.contentType === ADAPTIVE);
  if (!isMessageCard && !adaptive && typeof card.text !== 'string') return text(400, 'Bad payload received by generic incoming webhook.');
  if (isMessageCard && !card.text && !card.summary && !card.title) return text(400, 'Summary or Text is required.');
  const name = `webhook-${(workflow ? req.url.pathname.split('/')[2] : req.url.pathname.split('/')[4]) ?? 'teams'}`.slice(0, 40);
  ws.add({
    platform: 'teams',
    via: 'webhook',
    channel: ws.channel(name) ?? { name, slackId: '', mattermostId: '' },
    author: workflow ? 'Workflows' : 'incoming-webhook',
    payload: card,
    platformId: randomUUID(),
    from: { functionName: req.from.functionName, sourceIp: req.from.sourceIp },
  });
  // The connector answers 200 with the body "1"; a workflow accepts the run, 202 with no body.
  return workflow ? { status: 202, headers: {}, body: '' } : text(200, '1');
}

/** The body of a card: MessageCard or the Adaptive Card of a message attachment. */
function adaptiveContent(payload: Record<string, unknown>): Record<string, unknown> | undefined {
  const a = Array.isArray(payload.attachments) ? payload.attachments.find((x) => isObject(x) && x.contentType === ADAPTIVE) : undefined;
  return isObject(a) && isObject(a.content) ? a.content : payload.type === 'AdaptiveCard' ? payload : undefined;
}

export function teamsLines(payload: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const adaptive = adaptiveContent(payload);
  const walk = (elements: unknown): void => {
    for (const e of Array.isArray(elements) ? elements.filter(isObject) : []) {
      if (e.type === 'TextBlock' && typeof e.text === 'string') lines.push(e.text);
      if (e.type === 'FactSet') for (const f of Array.isArray(e.facts) ? e.facts.filter(isObject) : []) lines.push(`${f.title ?? ''}: ${f.value ?? ''}`);
      walk(e.items);
      for (const c of Array.isArray(e.columns) ? e.columns.filter(isObject) : []) walk(c.items);
    }
  };
  if (adaptive) walk(adaptive.body);
  else {
    for (const k of ['title', 'text'] as const) if (typeof payload[k] === 'string') lines.push(payload[k] as string);
    if (!payload.title && !payload.text && typeof payload.summary === 'string') lines.push(payload.summary);
    for (const s of Array.isArray(payload.sections) ? payload.sections.filter(isObject) : []) {
      for (const k of ['activityTitle', 'activitySubtitle', 'text'] as const) if (typeof s[k] === 'string') lines.push(s[k] as string);
      for (const f of Array.isArray(s.facts) ? s.facts.filter(isObject) : []) lines.push(`${f.name ?? ''}: ${f.value ?? ''}`);
    }
  }
  return lines;
}

/** Link buttons: Adaptive `Action.OpenUrl`, MessageCard `OpenUri` (their only actions in webhook cards). */
export function teamsButtons(payload: Record<string, unknown>): Button[] {
  const adaptive = adaptiveContent(payload);
  const out: Button[] = [];
  if (adaptive) {
    for (const [i, a] of (Array.isArray(adaptive.actions) ? adaptive.actions.filter(isObject) : []).entries())
      if (a.type === 'Action.OpenUrl' && typeof a.url === 'string')
        out.push({ id: String(a.id ?? `action-${i + 1}`), label: String(a.title ?? ''), url: a.url });
  } else {
    for (const [i, a] of (Array.isArray(payload.potentialAction) ? payload.potentialAction.filter(isObject) : []).entries()) {
      const uri = Array.isArray(a.targets) ? a.targets.find((t) => isObject(t) && typeof t.uri === 'string') : undefined;
      if (a['@type'] === 'OpenUri' && isObject(uri)) out.push({ id: String(a['@id'] ?? `action-${i + 1}`), label: String(a.name ?? ''), url: String(uri.uri) });
    }
  }
  return out;
}

/** The activity Teams sends to an outgoing webhook when `user` posts `text` mentioning it in `channel`. */
export function outgoingActivity(user: ChatUser, channel: string, said: string, nowMs: number): Record<string, unknown> {
  const mention = `<at>${TEAMS_BOT.name}</at>`;
  const conversation = `19:${randomBytes(8).toString('hex')}@thread.tacv2;messageid=${nowMs}`;
  return {
    type: 'message',
    id: String(nowMs),
    timestamp: new Date(nowMs).toISOString(),
    localTimestamp: new Date(nowMs).toISOString(),
    serviceUrl: 'https://smba.trafficmanager.net/amer/',
    channelId: 'msteams',
    from: { id: user.teamsId, name: user.name, aadObjectId: randomUUID() },
    conversation: { isGroup: true, id: conversation, name: channel, conversationType: 'channel', tenantId: TEAMS_TENANT },
    recipient: null,
    textFormat: 'plain',
    text: `${mention} ${said}`,
    attachments: [{ contentType: 'text/html', content: `<div>${mention} ${escapeHtml(said)}</div>` }],
    entities: [{ type: 'mention', mentioned: { id: TEAMS_BOT.id, name: TEAMS_BOT.name }, text: mention }],
    channelData: {
      teamsChannelId: conversation.split(';')[0],
      teamsTeamId: TEAMS_TEAM.id,
      channel: { id: conversation.split(';')[0] },
      team: { id: TEAMS_TEAM.id },
      tenant: { id: TEAMS_TENANT },
    },
  };
}

/** `Authorization: HMAC <base64>` over the body, keyed with the base64-decoded security token. */
export function teamsAuthorization(hmacKeyBase64: string, body: string): string {
  return `HMAC ${createHmac('sha256', Buffer.from(hmacKeyBase64, 'base64')).update(body, 'utf8').digest('base64')}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
