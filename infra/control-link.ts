/**
 * Control links and the chat secrets, from the command line (`npm run control-link -- ...`):
 *
 *   control-link <target> <start|stop> [--days N]       print a signed link (expires after N days; default never);
 *       <target>: an EC2 instance id, or <kind>:<id> for another scheduled kind (rds-instance:db-1, ecs-service:c/s),
 *       followed by @<account>/<region> for one in another account or region of the organisation (config `targets`)
 *   control-link rotate                                 new signing secret: every link handed out stops working
 *   control-link revoke <linkId>                        one link stops working (the id is printed with each link)
 *   control-link chat-secret <field> <value>            set one field of the deployment's chat secret, e.g.
 *       slackSigningSecret, slackBotToken, mattermostToken, mattermostBotToken, teamsHmacKey, teamsWebhooks.<channel>
 *       (`slack` and `mattermost` are kept as names of slackSigningSecret and mattermostToken)
 *
 * The chat secrets live in the deployment's one Secrets Manager secret (workflows/shared/chat.ts, one JSON value
 * holding every field); setting one keeps the others, and takes effect on the next chat request or message, without a
 * redeploy (tasks/shared/chat-secrets.ts).
 *
 * Locally (the default) it talks to the runtime of `npm start` (OPSFLOW_ENDPOINT, OPSFLOW_PORT, else the port that
 * runtime recorded in its state directory, else 4566) and finds the table and the secret itself. Against AWS:
 * `--aws --table <Ec2ScheduleTableName> --base-url <Ec2ControlApiUrl>` for links, `--aws --secret <ChatSecretArn>`
 * for chat secrets (the stack outputs), with the usual AWS credentials.
 */
import { parseArgs as parseCommandLine } from 'node:util';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientCredentials, clientEndpoint } from '../local/client';
import { linkTarget, linkUrl, newLinkId, newSecret, signLink } from '../tasks/ec2-schedule/core/links';
import { parseName } from '../tasks/ec2-schedule/core/resolve';
import { KINDS } from '../tasks/ec2-schedule/core/types';
import { INSTANCE_ID } from '../tasks/shared/instance-id';
import { Ec2Store } from '../tasks/ec2-schedule/core/store';
import type { ChatSecrets } from '../tasks/shared/chat-auth';
import { CHAT_SECRET_FIELDS, CHAT_SECRET_MAPS, parseChatSecrets } from '../tasks/shared/chat-secrets';

export interface CliOptions {
  /** Local runtime endpoint; ignored with --aws. */
  endpoint?: string;
  now?: () => Date;
}

export type Command =
  | { kind: 'link'; target: string; action: 'start' | 'stop'; days?: number }
  | { kind: 'rotate' }
  | { kind: 'revoke'; linkId: string }
  /** `key`: the entry of a map field (`teamsWebhooks.<key>`). */
  | { kind: 'chat-secret'; field: keyof ChatSecrets; key?: string; value: string };

export interface Parsed {
  command: Command;
  aws: boolean;
  table?: string;
  baseUrl?: string;
  secret?: string;
}

export const USAGE = `usage:
  npm run control-link -- <instanceId | kind:id>[@<account>/<region>] <start|stop> [--days N]
  npm run control-link -- rotate
  npm run control-link -- revoke <linkId>
  npm run control-link -- chat-secret <field> <value>
    fields: ${CHAT_SECRET_FIELDS.map((f) => (CHAT_SECRET_MAPS.includes(f) ? `${f}.<channel>` : f)).join(', ')}
    (slack = slackSigningSecret, mattermost = mattermostToken)
options: --aws --table <name> --base-url <url> --secret <arn>   (against AWS instead of the local runtime)`;

/** Longest a link may live. Much longer expiries overflow the signed 32-bit expiry or JavaScript's dates. */
export const MAX_LINK_DAYS = 3650;
/** Link ids are base64url (newLinkId() makes 12 characters); anything else, the empty id included, matches nothing. */
const LINK_ID = /^[A-Za-z0-9_-]+$/;

export function parseArgs(argv: string[]): Parsed {
  // Link ids and tokens are base64url and may start with '-': only '--name' is an option here, as before.
  const hide = (v: string) => (/^-[^-]/.test(v) ? `\u0000${v}` : v);
  const show = (v: string) => (v.startsWith('\u0000') ? v.slice(1) : v);
  let values: { days?: string; table?: string; 'base-url'?: string; secret?: string; aws?: boolean };
  let args: string[];
  try {
    ({ values, positionals: args } = parseCommandLine({
      args: argv.map(hide),
      allowPositionals: true,
      options: { days: { type: 'string' }, table: { type: 'string' }, 'base-url': { type: 'string' }, secret: { type: 'string' }, aws: { type: 'boolean' } },
    }));
  } catch (err) {
    // node:util names the option it refuses (ERR_PARSE_ARGS_UNKNOWN_OPTION, ..._INVALID_OPTION_VALUE).
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  args = args.map(show);
  values = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? show(v) : v]));
  const flags = new Map(Object.entries(values).map(([k, v]) => [`--${k}`, v]));
  const str = (k: string) => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
  const common = { aws: values.aws === true, table: values.table, baseUrl: values['base-url'], secret: values.secret };
  const [first, second, third] = args;
  if (first === 'chat-secret') {
    if (args.length !== 3 || !third) throw new Error(USAGE);
    const target = chatSecretField(second);
    if (common.aws && !common.secret) throw new Error('--aws needs --secret <ChatSecretArn> (a stack output)');
    return { ...common, command: { kind: 'chat-secret', ...target, value: third } };
  }
  if (common.aws && !common.table) throw new Error('--aws needs --table <Ec2ScheduleTableName> (a stack output)');
  if (first === 'rotate' && args.length === 1) return { ...common, command: { kind: 'rotate' } };
  if (first === 'revoke' && args.length === 2) {
    if (!LINK_ID.test(second)) throw new Error(`nothing revoked: '${second}' is not a link id (base64url characters, printed with each link)`);
    return { ...common, command: { kind: 'revoke', linkId: second } };
  }
  // A link names its kind (links.ts): a bare id only for EC2.
  const named = args.length === 2 ? parseName(first, KINDS) : undefined;
  const where = named?.account ? { account: named.account, region: named.region } : {};
  const resource =
    named &&
    (named.kind ? { kind: named.kind, id: named.id, ...where } : INSTANCE_ID.test(named.id) ? { kind: 'ec2' as const, id: named.id, ...where } : undefined);
  if (resource && (second === 'start' || second === 'stop')) {
    let days: number | undefined;
    if (flags.has('--days')) {
      days = Number(str('--days'));
      if (!Number.isInteger(days) || days < 1 || days > MAX_LINK_DAYS) {
        throw new Error(`--days must be a whole number of days from 1 to ${MAX_LINK_DAYS} (ten years), got ${str('--days')}`);
      }
    }
    if (common.aws && !common.baseUrl) throw new Error('--aws needs --base-url <Ec2ControlApiUrl> to print links (a stack output)');
    return { ...common, command: { kind: 'link', target: linkTarget(resource), action: second, days } };
  }
  throw new Error(USAGE);
}

/** Runs one command and returns what to print. */
export async function run(argv: string[], options: CliOptions = {}): Promise<string> {
  const parsed = parseArgs(argv);
  const now = options.now ?? (() => new Date());
  // The runtime this machine runs (its recorded port, local/client.ts), with the credentials it verifies.
  const endpoint = options.endpoint ?? clientEndpoint();
  const config: DynamoDBClientConfig = parsed.aws ? {} : { endpoint, region: 'us-east-1', credentials: clientCredentials() };
  if (parsed.command.kind === 'chat-secret') {
    const secretId = parsed.secret ?? (await localDeployed(endpoint, 'secrets', 'ChatSecret'));
    return setChatSecret(new SecretsManagerClient(config), secretId, parsed.command);
  }
  const table = parsed.table ?? (await localDeployed(endpoint, 'tables', 'Ec2Schedule'));
  const store = new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient(config)), table, now);
  const c = parsed.command;
  switch (c.kind) {
    case 'rotate': {
      const version = ((await store.linkSecret())?.version ?? 0) + 1;
      await store.putLinkSecret({ secret: newSecret(), version, rotatedAt: now().toISOString() });
      return `link secret rotated (version ${version}): every link handed out before now is revoked`;
    }
    case 'revoke':
      if (!(await store.wasIssued(c.linkId))) return `nothing revoked: no link with id ${c.linkId} was handed out (rotate revokes every link)`;
      await store.revoke(c.linkId);
      return `link ${c.linkId} revoked`;
    case 'link': {
      let secret = await store.linkSecret();
      if (!secret) {
        secret = { secret: newSecret(), version: 1, rotatedAt: now().toISOString() };
        await store.putLinkSecret(secret);
      }
      const claims = {
        target: c.target,
        action: c.action,
        linkId: newLinkId(),
        expiresAt: c.days ? Math.floor(now().getTime() / 1000) + c.days * 86_400 : 0,
      };
      await store.recordIssued(claims.linkId, claims.expiresAt);
      const url = linkUrl(parsed.baseUrl ?? endpoint, claims, signLink(secret.secret, claims));
      const expiry = claims.expiresAt ? `expires ${new Date(claims.expiresAt * 1000).toISOString()}` : 'does not expire';
      return `${url}\n(link id ${claims.linkId}, ${expiry}; open it to see the resource, POST to it (or press the button) to ${c.action})`;
    }
  }
}

/** `slackBotToken` → that field; `teamsWebhooks.ops` → the `ops` entry of the map; the old platform names still work. */
function chatSecretField(name: string): { field: keyof ChatSecrets; key?: string } {
  const alias: Record<string, keyof ChatSecrets> = { slack: 'slackSigningSecret', mattermost: 'mattermostToken' };
  const [field, key, ...more] = name.split('.');
  const known = (alias[field] ?? CHAT_SECRET_FIELDS.find((f) => f === field)) as keyof ChatSecrets | undefined;
  const isMap = known !== undefined && CHAT_SECRET_MAPS.includes(known);
  if (!known || more.length || (isMap ? !key || !/^[A-Za-z0-9_.-]{1,64}$/.test(key) : key !== undefined)) {
    throw new Error(`chat-secret: unknown field '${name}'\n${USAGE}`);
  }
  return isMap ? { field: known, key } : { field: known };
}

/**
 * Sets one field of the chat secret, keeping the others: a new version of the secret's value, which Secrets Manager
 * makes AWSCURRENT (the previous value becomes AWSPREVIOUS), so the chat functions pick it up on their next request.
 */
async function setChatSecret(client: SecretsManagerClient, secretId: string, c: { field: keyof ChatSecrets; key?: string; value: string }): Promise<string> {
  let current: ChatSecrets = {};
  try {
    current = parseChatSecrets((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString);
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err; // no value yet: the stack creates the secret empty
  }
  const value = c.key === undefined ? c.value : { ...((current[c.field] as Record<string, string> | undefined) ?? {}), [c.key]: c.value };
  const next: ChatSecrets = { ...current, [c.field]: value };
  const out = await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }));
  const name = c.key === undefined ? c.field : `${c.field}.${c.key}`;
  const known: Record<string, string> = { slackSigningSecret: 'Slack signing secret', mattermostToken: 'Mattermost token' };
  return `${known[name] ?? name} set (secret version ${out.VersionId}); chat uses it from its next request`;
}

/** A table or secret of the local runtime whose name contains `part`, from its deployment summary. */
async function localDeployed(endpoint: string, kind: 'tables' | 'secrets', part: string): Promise<string> {
  let deployed: Record<typeof kind, string[] | undefined>;
  try {
    deployed = (await (await fetch(`${endpoint}/_opsflow/deployed`)).json()) as typeof deployed;
  } catch {
    throw new Error(`no local runtime at ${endpoint}: run \`npm start\` first, or pass --aws --table ... --base-url ... (--secret ... for chat-secret)`);
  }
  const found = (deployed[kind] ?? []).find((t) => t.includes(part));
  if (!found)
    throw new Error(
      `the runtime at ${endpoint} has no ${part} ${kind === 'tables' ? 'table' : 'secret'} (${kind}: ${(deployed[kind] ?? []).join(', ') || 'none'})`,
    );
  return found;
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (out) => console.log(out),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
