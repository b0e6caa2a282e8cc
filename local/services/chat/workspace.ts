/**
 * The local chat server's durable state: the installed app's secrets, the simulated people, the channels, every
 * message posted (Slack, Mattermost, Teams), the modals and dialogs an app opened, and the one-time handles Slack and
 * Mattermost give an app (trigger ids, response URLs). Kept in the runtime's state directory (stores `chat.*`), so a
 * restart keeps the conversation and the secrets the deployment's chat secret holds.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock, StateDir, Store } from '../../kernel';

export type Platform = 'slack' | 'mattermost' | 'teams';
export const PLATFORMS: readonly Platform[] = ['slack', 'mattermost', 'teams'];

/** A person of the local workspace, the same on every platform (ids derived from the email). */
export interface ChatUser {
  name: string;
  email: string;
  slackId: string;
  mattermostId: string;
  teamsId: string;
}

/** What "installing the app" hands the deployment: the fields of its chat secret (tasks/shared/chat-secrets.ts). */
export interface ChatInstall {
  slackSigningSecret: string;
  slackBotToken: string;
  /** Slack's deprecated verification token stays unused; Mattermost's slash-command token is what `mattermostToken` holds. */
  mattermostToken: string;
  mattermostBotToken: string;
  /** Base64, as Teams shows the outgoing webhook's security token. */
  teamsHmacKey: string;
}

export interface Channel {
  /** Without `#`. */
  name: string;
  /** Slack's `C…` id. */
  slackId: string;
  /** Mattermost's 26-character id. */
  mattermostId: string;
}

/** A button as the console and the CLI offer it; `id` is what `opsflow chat click` takes. */
export interface Button {
  id: string;
  label: string;
  style?: string;
  /** A link button (Slack `url`, Teams `Action.OpenUrl`): clicking opens it, no callback. */
  url?: string;
}

export interface ChatMessage {
  /** `chat-000001`: the id the console, the CLI and `opsflow outbox` show. */
  id: string;
  platform: Platform;
  /** How it arrived: the platform's API, an incoming webhook, a response URL / integration answer, a reply. */
  via: 'api' | 'webhook' | 'response_url' | 'action_response' | 'outgoing_webhook';
  channel: Channel;
  /** The app (bot) or webhook that posted it. */
  author: string;
  /** The payload as posted, platform-shaped: Slack `{text, blocks, attachments}`, Mattermost post, Teams card. */
  payload: Record<string, unknown>;
  /** Slack `ts`, Mattermost post id, Teams: our id. */
  platformId: string;
  /** Only this user sees it (Slack postEphemeral, response_url ephemeral, Mattermost ephemeral post / ephemeral_text). */
  visibleTo?: string;
  postedAt: string;
  updatedAt?: string;
  edits: number;
  /** The function that sent it and the address it left from (local/network). */
  from?: { functionName: string; sourceIp: string };
  /** Slack: the response URLs handed out with clicks on this message. */
  deleted?: boolean;
}

/** A Slack modal or a Mattermost interactive dialog an app opened for one user after a click. */
export interface OpenView {
  id: string;
  platform: 'slack' | 'mattermost';
  user: string;
  /** The message whose click opened it. */
  messageId: string;
  /** The definition as the app sent it (Slack `view`, Mattermost `dialog` plus `url`). */
  definition: Record<string, unknown>;
  openedAt: string;
  closed?: boolean;
}

/** A trigger id or response URL handed out with a click: what it may do, for whom, until when. */
export interface Handle {
  kind: 'trigger' | 'response_url';
  platform: 'slack' | 'mattermost';
  user: string;
  messageId: string;
  issuedAt: number;
  uses: number;
}

export class Workspace {
  readonly messages: Store<ChatMessage>;
  readonly views: Store<OpenView>;
  readonly handles: Store<Handle>;
  private readonly meta: Store<unknown>;
  private counter = 0;
  users: ChatUser[] = [];
  /** The channels of the local workspace, by name (without `#`). */
  readonly channels = new Map<string, Channel>();

  constructor(
    readonly state: StateDir,
    readonly clock: Clock,
  ) {
    this.messages = state.store<ChatMessage>('chat.messages');
    this.views = state.store<OpenView>('chat.views');
    this.handles = state.store<Handle>('chat.handles');
    this.meta = state.store<unknown>('chat.install');
    for (const m of this.messages.values()) this.counter = Math.max(this.counter, Number(/^chat-(\d+)$/.exec(m.id)?.[1] ?? 0));
  }

  /** The app's secrets, made once and kept: the deployment's chat secret holds them across restarts. */
  install(): ChatInstall {
    const saved = this.meta.get('install') as ChatInstall | undefined;
    if (saved) return saved;
    const made: ChatInstall = {
      // Slack shows a 32-hex-digit signing secret and `xoxb-` bot tokens (https://api.slack.com/authentication/token-types#bot).
      slackSigningSecret: randomBytes(16).toString('hex'),
      slackBotToken: `xoxb-${digits(12)}-${digits(13)}-${randomBytes(12).toString('base64url')}`,
      mattermostToken: mattermostId(randomBytes(16).toString('hex')),
      mattermostBotToken: mattermostId(randomBytes(16).toString('hex')),
      // "The security token ... a valid 256 bit base64 encoded string" (Teams outgoing webhook sample, AuthProvider.cs).
      teamsHmacKey: randomBytes(32).toString('base64'),
    };
    this.meta.put('install', made);
    return made;
  }

  setPeople(people: Array<{ name: string; email: string }>): void {
    this.users = people.map((p) => ({
      name: p.name,
      email: p.email,
      slackId: `U${idOf(`slack-user:${p.email}`, 10)}`,
      mattermostId: mattermostId(`user:${p.email}`),
      teamsId: `29:${idOf(`teams-user:${p.email}`, 24)}`,
    }));
  }

  setChannels(names: string[]): void {
    this.channels.clear();
    for (const raw of names) {
      const name = raw.replace(/^#/, '');
      // A Mattermost channel id in the app's config (26 characters) names a channel of that id.
      if (name)
        this.channels.set(name, {
          name,
          slackId: `C${idOf(`slack-channel:${name}`, 10)}`,
          mattermostId: MM_ID.test(name) ? name : mattermostId(`channel:${name}`),
        });
    }
  }

  /** A channel by name (with or without `#`) or by either platform's id. */
  channel(ref: string): Channel | undefined {
    const r = ref.replace(/^#/, '');
    return this.channels.get(r) ?? [...this.channels.values()].find((c) => c.slackId === r || c.mattermostId === r);
  }

  /** A user by name, email or any of their platform ids. */
  user(ref: string): ChatUser | undefined {
    const r = ref.toLowerCase();
    return this.users.find((u) => [u.name, u.email, u.slackId, u.mattermostId, u.teamsId].some((v) => v.toLowerCase() === r));
  }

  nextId(): string {
    this.counter += 1;
    return `chat-${String(this.counter).padStart(6, '0')}`;
  }

  add(message: Omit<ChatMessage, 'id' | 'postedAt' | 'edits'>): ChatMessage {
    const stored: ChatMessage = { ...message, id: this.nextId(), postedAt: this.clock.now().toISOString(), edits: 0 };
    this.messages.put(stored.id, stored);
    return stored;
  }

  update(message: ChatMessage, payload: Record<string, unknown>): ChatMessage {
    const updated = { ...message, payload, updatedAt: this.clock.now().toISOString(), edits: message.edits + 1 };
    this.messages.put(message.id, updated);
    return updated;
  }

  find(platform: Platform, platformId: string): ChatMessage | undefined {
    for (const m of this.messages.values()) if (m.platform === platform && m.platformId === platformId && !m.deleted) return m;
    return undefined;
  }

  /** Oldest first. */
  list(): ChatMessage[] {
    return [...this.messages.values()].filter((m) => !m.deleted);
  }

  /** A new trigger id or response URL token: `format` makes it look like the platform's; the result is the handle's key. */
  issue(kind: Handle['kind'], platform: Handle['platform'], user: string, messageId: string, format: (token: string) => string = (t) => t): string {
    const key = format(randomBytes(12).toString('hex'));
    this.handles.put(key, { kind, platform, user, messageId, issuedAt: this.clock.nowMs(), uses: 0 });
    return key;
  }
}

const MM_ID = /^[a-z0-9]{26}$/;

/** Mattermost ids: 26 lower-case letters and digits. */
export function mattermostId(seed: string): string {
  return idOf(`mm:${seed}`, 26).toLowerCase();
}

/** A stable id of `length` upper-case base-32 characters derived from `seed`. */
function idOf(seed: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[bytes[i % bytes.length] % 32];
  return out;
}

function digits(n: number): string {
  return Array.from(randomBytes(n), (b) => String(b % 10)).join('');
}
