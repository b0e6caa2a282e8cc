/**
 * The local chat server: one stand-in (local/network/internet.ts `InternetHost`) for Slack (slack.com,
 * hooks.slack.com), Mattermost (the hosts the app's config names) and Microsoft Teams (incoming webhook and Workflows
 * URLs), so that a function's chat calls reach something that answers as the platform does, and people (simulated
 * users) can click what it posted. A click sends the interactive callback exactly as the platform would, signed
 * with the local app's secrets: Slack `block_actions` / `view_submission`, Mattermost's integration request and
 * dialog submission, a Teams outgoing-webhook activity. The app learns those secrets as it would from an install:
 * the runtime writes them into the deployment's chat secret (runtime.ts).
 *
 * Every platform's wire format is cited in its module: slack.ts, mattermost.ts, teams.ts.
 */
import type { InternetHost, OutboundRequest, OutboundResponse } from '../../network/internet';
import { actionRequest, applyActionResponse, dialogInputs, dialogSubmission, handleMattermost, mattermostButtons, mattermostLines } from './mattermost';
import { blockActions, handleSlack, servesSlack, slackButtons, slackLines, slackSignedHeaders, viewInputs, viewSubmission } from './slack';
import { handleTeams, outgoingActivity, servesTeams, teamsAuthorization, teamsButtons, teamsLines } from './teams';
import { isObject, parseJson } from './wire';
import { Workspace, type Button, type ChatMessage, type ChatUser, type OpenView, type Platform } from './workspace';
import type { Clock, StateDir } from '../../kernel';

export { PLATFORMS, type ChatInstall, type Platform } from './workspace';

/** What the app's template says about its chat (`Metadata.OpsflowLocal.chat`, README "Local runtime metadata"). */
export interface ChatSetup {
  mattermostHosts?: string[];
  channels?: string[];
  people?: Array<{ name: string; email: string }>;
}

export const DEFAULT_SETUP: Required<ChatSetup> = {
  mattermostHosts: ['mattermost.example.com'],
  channels: ['general'],
  people: [{ name: 'Visitor', email: 'visitor@example.com' }],
};

/** A request the chat server sends to the app (a click's callback), and the answer. */
export interface Delivery {
  url: string;
  headers: Record<string, string>;
  body: string;
}
export type Deliver = (request: Delivery) => Promise<{ status: number; body: string }>;

/** A refusal the console and the CLI show as it is: `code` names it, `message` says what to do. */
export class ChatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** A message as the console and the CLI show it. */
export interface MessageView {
  id: string;
  platform: Platform;
  via: ChatMessage['via'];
  channel: string;
  author: string;
  lines: string[];
  buttons: Button[];
  /** The user (name) who alone sees it. */
  visibleTo?: string;
  postedAt: string;
  updatedAt?: string;
  edits: number;
  from?: { functionName: string; sourceIp: string };
  /** The payload as posted (Slack blocks, Mattermost props, the Teams card). */
  payload: Record<string, unknown>;
}

export interface ViewSummary {
  id: string;
  platform: 'slack' | 'mattermost';
  user: string;
  message: string;
  title: string;
  inputs: Array<{ label: string; multiline: boolean; optional: boolean }>;
}

export interface ClickResult {
  message: string;
  button: string;
  user: string;
  /** A link button opens its URL; nothing is sent to the app. */
  opened?: string;
  /** Where the callback went and what the app answered. */
  callback?: { url: string; status: number };
  /** What the clicker alone was shown (Mattermost `ephemeral_text`). */
  reply?: string;
  /** A modal or dialog the app opened in answer. */
  view?: ViewSummary;
  /** The submission of that view, when values were given with the click. */
  submitted?: SubmitResult;
}

export interface SubmitResult {
  view: string;
  callback: { url: string; status: number };
  /** The app refused the input (Slack `response_action: "errors"`, Mattermost `errors`), by input. */
  errors?: Record<string, string>;
}

export class ChatServer implements InternetHost {
  readonly ws: Workspace;
  private mattermostHosts: string[] = DEFAULT_SETUP.mattermostHosts;

  constructor(
    opts: { state: StateDir; clock: Clock },
    private readonly app: { callbackUrls: () => string[]; deliver: Deliver },
  ) {
    this.ws = new Workspace(opts.state, opts.clock);
    this.configure({});
  }

  /** The workspace the app's template describes (merged over every stack), defaults for what it does not say. */
  configure(setup: ChatSetup): void {
    this.mattermostHosts = (setup.mattermostHosts?.length ? setup.mattermostHosts : DEFAULT_SETUP.mattermostHosts).map((h) => h.toLowerCase());
    this.ws.setChannels([...DEFAULT_SETUP.channels, ...(setup.channels ?? [])]);
    this.ws.setPeople(setup.people?.length ? setup.people : DEFAULT_SETUP.people);
  }

  install() {
    return this.ws.install();
  }

  users(): ChatUser[] {
    return this.ws.users;
  }

  serves(host: string): boolean {
    return servesSlack(host) || servesTeams(host) || this.mattermostHosts.includes(host);
  }

  async handle(request: OutboundRequest): Promise<OutboundResponse> {
    const host = request.url.hostname.toLowerCase();
    const answer = servesSlack(host) ? handleSlack(this.ws, request) : servesTeams(host) ? handleTeams(this.ws, request) : handleMattermost(this.ws, request);
    await this.ws.state.commit();
    return answer;
  }

  list(): MessageView[] {
    return this.ws.list().map((m) => this.view(m));
  }

  /** The modals and dialogs waiting for someone's input. */
  openViews(): ViewSummary[] {
    return [...this.ws.views.values()].filter((v) => !v.closed).map((v) => this.summary(v));
  }

  /**
   * `user` clicks `buttonRef` (its id or label) on message `ref`: the platform's callback goes to the app, signed as the
   * platform signs it. With `values` (a Reject comment), a modal or dialog the app opens in answer is submitted with them.
   */
  async click(ref: string, buttonRef: string, userRef: string, values?: string[]): Promise<ClickResult> {
    const m = this.message(ref);
    const user = this.user(userRef);
    if (m.visibleTo && m.visibleTo !== idOn(m.platform, user))
      throw new ChatError('NotVisible', `${ref} is shown to ${this.nameOf(m.visibleTo)} alone; ${user.name} cannot click it`);
    const buttons = this.buttonsOf(m);
    const wanted = buttonRef.toLowerCase();
    const button = buttons.find((b) => b.id.toLowerCase() === wanted) ?? buttons.find((b) => b.label.toLowerCase() === wanted);
    if (!button)
      throw new ChatError(
        'NoSuchButton',
        `${ref} has no button ${JSON.stringify(buttonRef)}; its buttons: ${buttons.map((b) => `${b.id} (${b.label})`).join(', ') || 'none'}`,
      );
    const result: ClickResult = { message: m.id, button: button.id, user: user.name };
    if (button.url && m.platform !== 'mattermost') return { ...result, opened: button.url };
    const viewsBefore = new Set(this.ws.views.keys());
    if (m.platform === 'slack') {
      const raw = slackButtons(m.payload).find((b) => b.id === button.id)!;
      const body = `payload=${encodeURIComponent(JSON.stringify(blockActions(this.ws, m, raw, user)))}`;
      result.callback = await this.send(this.callbackUrl('Slack'), slackSignedHeaders(this.ws.install().slackSigningSecret, this.ws.clock.nowMs(), body), body);
    } else if (m.platform === 'mattermost') {
      const raw = mattermostButtons(m.payload).find((b) => b.id === button.id)!;
      const integration = raw.integration;
      if (!integration?.url) throw new ChatError('NoIntegration', `button ${button.id} of ${ref} has no integration URL to call`);
      const body = JSON.stringify(actionRequest(this.ws, m, raw, user));
      const answer = await this.app.deliver(delivery(integration.url, { 'content-type': 'application/json' }, body));
      result.callback = { url: integration.url, status: answer.status };
      if (answer.status === 200) result.reply = applyActionResponse(this.ws, m, user, parseJson(answer.body));
    } else {
      throw new ChatError('NotInteractive', `Teams webhook cards have link buttons only; use \`opsflow chat mention\` to talk to the app's outgoing webhook`);
    }
    const opened = [...this.ws.views.values()].find((v) => !viewsBefore.has(v.id) && !v.closed);
    if (opened) {
      result.view = this.summary(opened);
      if (values?.length) result.submitted = await this.submit(opened.id, userRef, values);
    } else if (values?.length) {
      throw new ChatError('NoModal', `the app answered the click without asking for input; ${values.length} value(s) were not used`);
    }
    await this.ws.state.commit();
    return result;
  }

  /** Submits a modal (Slack) or dialog (Mattermost) the app opened for `userRef`, one value per input in order. */
  async submit(viewId: string, userRef: string, values: string[]): Promise<SubmitResult> {
    const view = this.ws.views.get(viewId);
    if (!view || view.closed) throw new ChatError('NoSuchView', `no open modal or dialog ${viewId}`, 404);
    const user = this.user(userRef);
    if (view.user !== idOn(view.platform, user)) throw new ChatError('NotVisible', `${viewId} was opened for ${this.nameOf(view.user)}, not ${user.name}`);
    const inputs = view.platform === 'slack' ? viewInputs(view.definition) : dialogInputs(view.definition);
    const missing = inputs.filter((input, i) => !input.optional && !values[i]?.trim());
    if (missing.length) throw new ChatError('InputRequired', `${missing.map((i) => i.label).join(', ')} is required`);
    let callback: { url: string; status: number };
    let answer: unknown;
    if (view.platform === 'slack') {
      const body = `payload=${encodeURIComponent(JSON.stringify(viewSubmission(this.ws, view, user, values)))}`;
      const url = this.callbackUrl('Slack');
      const res = await this.app.deliver(delivery(url, slackSignedHeaders(this.ws.install().slackSigningSecret, this.ws.clock.nowMs(), body), body));
      callback = { url, status: res.status };
      answer = parseJson(res.body);
    } else {
      const url = String(view.definition.url);
      const body = JSON.stringify(dialogSubmission(this.ws.messages.get(view.messageId), view.definition, user, values));
      const res = await this.app.deliver(delivery(url, { 'content-type': 'application/json' }, body));
      callback = { url, status: res.status };
      answer = parseJson(res.body);
    }
    const errors =
      isObject(answer) && (answer.response_action === 'errors' || view.platform === 'mattermost') && isObject(answer.errors)
        ? (answer.errors as Record<string, string>)
        : undefined;
    // Slack closes the modal on an empty 200; Mattermost closes the dialog unless the answer holds errors.
    if (callback.status === 200 && !errors) this.ws.views.put(view.id, { ...view, closed: true });
    await this.ws.state.commit();
    return { view: view.id, callback, ...(errors && { errors }) };
  }

  /** `userRef` posts `said` mentioning the app's Teams outgoing webhook; the app's answer is posted as the reply. */
  async mention(userRef: string, said: string, channel = DEFAULT_SETUP.channels[0]): Promise<{ callback: { url: string; status: number }; reply?: string }> {
    const user = this.user(userRef);
    const body = JSON.stringify(outgoingActivity(user, channel, said, this.ws.clock.nowMs()));
    const url = this.callbackUrl('Teams');
    const res = await this.app.deliver(
      delivery(url, { 'content-type': 'application/json; charset=utf-8', authorization: teamsAuthorization(this.ws.install().teamsHmacKey, body) }, body),
    );
    const answer = parseJson(res.body);
    const reply = isObject(answer) && typeof answer.text === 'string' ? answer.text : undefined;
    if (reply !== undefined) {
      const ch = this.ws.channel(channel) ?? { name: channel, slackId: '', mattermostId: '' };
      this.ws.add({
        platform: 'teams',
        via: 'outgoing_webhook',
        channel: ch,
        author: 'opsflow',
        payload: answer as Record<string, unknown>,
        platformId: String(this.ws.clock.nowMs()),
      });
    }
    await this.ws.state.commit();
    return { callback: { url, status: res.status }, ...(reply !== undefined && { reply }) };
  }

  private async send(url: string, headers: Record<string, string>, body: string): Promise<{ url: string; status: number }> {
    const res = await this.app.deliver(delivery(url, headers, body));
    return { url, status: res.status };
  }

  private callbackUrl(platform: string): string {
    const urls = this.app.callbackUrls();
    if (!urls.length)
      throw new ChatError(
        'NoRequestUrl',
        `no ${platform} Request URL: the app has no stack output whose key ends in ChatCallbackUrl (see README "The local chat server")`,
        409,
      );
    return urls[0];
  }

  private message(ref: string): ChatMessage {
    const m = this.ws.messages.get(ref) ?? this.ws.list().find((x) => x.platformId === ref);
    if (!m || m.deleted) throw new ChatError('NoSuchMessage', `no chat message ${ref}: \`opsflow chat list\` shows them`, 404);
    return m;
  }

  private user(ref: string): ChatUser {
    const u = this.ws.user(ref);
    if (!u)
      throw new ChatError(
        'NoSuchUser',
        `no chat user ${JSON.stringify(ref)}; the local workspace has: ${this.ws.users.map((x) => `${x.name} <${x.email}>`).join(', ')}`,
      );
    return u;
  }

  private nameOf(platformUserId: string): string {
    return this.ws.user(platformUserId)?.name ?? platformUserId;
  }

  private buttonsOf(m: ChatMessage): Button[] {
    const all = m.platform === 'slack' ? slackButtons(m.payload) : m.platform === 'mattermost' ? mattermostButtons(m.payload) : teamsButtons(m.payload);
    return all.map((b) => ({ id: b.id, label: b.label, ...(b.style && { style: b.style }), ...(b.url && { url: b.url }) }));
  }

  private view(m: ChatMessage): MessageView {
    const lines = m.platform === 'slack' ? slackLines(m.payload) : m.platform === 'mattermost' ? mattermostLines(m.payload) : teamsLines(m.payload);
    return {
      id: m.id,
      platform: m.platform,
      via: m.via,
      channel: m.channel.name,
      author: m.author,
      lines,
      buttons: this.buttonsOf(m),
      ...(m.visibleTo && { visibleTo: this.nameOf(m.visibleTo) }),
      postedAt: m.postedAt,
      ...(m.updatedAt && { updatedAt: m.updatedAt }),
      edits: m.edits,
      ...(m.from && { from: m.from }),
      payload: m.payload,
    };
  }

  private summary(v: OpenView): ViewSummary {
    const title = v.platform === 'slack' ? (isObject(v.definition.title) ? String(v.definition.title.text ?? '') : '') : String(v.definition.title ?? '');
    return {
      id: v.id,
      platform: v.platform,
      user: this.nameOf(v.user),
      message: v.messageId,
      title,
      inputs: v.platform === 'slack' ? viewInputs(v.definition) : dialogInputs(v.definition),
    };
  }
}

function delivery(url: string, headers: Record<string, string>, body: string): Delivery {
  return { url, headers, body };
}

function idOn(platform: Platform, user: ChatUser): string {
  return platform === 'slack' ? user.slackId : platform === 'mattermost' ? user.mattermostId : user.teamsId;
}

/**
 * Where the local Slack app's Request URL (and the Teams outgoing webhook's callback URL) points: the stack outputs
 * whose key ends in `ChatCallbackUrl` (the approval workflow's `ApprovalChatCallbackUrl`), in key order. One small
 * function, so that the rule is easy to find and change.
 */
export function chatCallbackUrls(outputs: Record<string, unknown>): string[] {
  return Object.keys(outputs)
    .filter((k) => k.endsWith('ChatCallbackUrl') && typeof outputs[k] === 'string')
    .sort()
    .map((k) => outputs[k] as string);
}

/** The deployment's chat secrets: the stack outputs whose key ends in `ChatSecretArn`. */
export function chatSecretArns(outputs: Record<string, unknown>): string[] {
  return Object.keys(outputs)
    .filter((k) => k.endsWith('ChatSecretArn') && typeof outputs[k] === 'string')
    .map((k) => outputs[k] as string);
}
