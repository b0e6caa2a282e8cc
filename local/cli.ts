/**
 * `opsflow`: the local runtime's command line. `up` runs the runtime (what `npm start` does); every other
 * command talks to a running one through the `/_opsflow/` API (local/console/api.ts), the same API the
 * browser console at http://127.0.0.1:4566/ uses. `opsflow --help` lists the commands, `opsflow <command>
 * --help` explains one with an example.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';
import { awsCliCredentials, clientEndpoint, DEFAULT_PORT, parsePort, PortError, stateDirPath } from './client';
import { ApiClient, EXECUTION_STATUSES, type ExecutionStatus } from './console/api';
import { eventSummary } from './console/app/status';
import { declaredWorkflows } from './console/metadata';
import { flagValue } from './rules/settings';
import { resetStateDir } from './storage';
import { DEFAULT_CONFIG, synthNeeded } from './synth';
import { NETWORK_CALLS_PATH, type OutboundCall } from './network/egress';
import { loadAssembly } from './template';

type Options = Record<string, NonNullable<ParseArgsConfig['options']>[string] & { description: string }>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  /** `opsflow <usage>`. */
  usage: string;
  summary: string;
  /** Shown by `opsflow <command> --help`. */
  details?: string;
  /** The first is the overview's example; the app's own names come from `app` (its template), never from here. */
  examples: string[] | ((app: AppHints) => string[]);
  options?: Options;
  /** Names of the positional arguments, `?` for optional ones. */
  positionals?: string[];
  run(ctx: Context): Promise<void>;
}

interface Context {
  values: Values;
  args: string[];
  api: ApiClient;
  endpoint: string;
  port: number;
  print(data: unknown, human: () => string): void;
}

/**
 * What the help's examples name: the app's workflows and their `tryLocally` commands, as the app declares them in
 * its template (README "Local runtime metadata"), and its schedules. The CLI names no workflow of its own: a new
 * workflow shows up here without a CLI edit. Without a cdk.out: placeholders.
 */
interface AppHints {
  workflows: string[];
  /** `tryLocally` lines, comments removed. */
  tryLocally: string[];
  schedules: string[];
}

function appHints(): AppHints {
  try {
    const stacks = loadAssembly(process.env.OPSFLOW_CDK_OUT || 'cdk.out').stacks;
    const workflows = stacks.flatMap((s) => declaredWorkflows(s.template, s.stackName));
    const schedules = stacks
      .flatMap((s) =>
        Object.values(s.template.Resources ?? {})
          .filter((r) => r.Type === 'AWS::Scheduler::Schedule')
          .map((r) => r.Properties?.Name),
      )
      .filter((n): n is string => typeof n === 'string');
    return {
      workflows: workflows.map((w) => w.name),
      tryLocally: workflows.flatMap((w) => w.tryLocally).map((l) => l.replace(/\s+#.*$/, '').trim()),
      schedules,
    };
  } catch {
    return { workflows: [], tryLocally: [], schedules: [] };
  }
}

const examplesOf = (c: Command, app: AppHints) => (typeof c.examples === 'function' ? c.examples(app) : c.examples);

const COMMON: Options = {
  port: {
    type: 'string',
    description: "the runtime's port (default OPSFLOW_PORT, else the port the running runtime recorded in its state directory, else 4566)",
  },
  json: { type: 'boolean', description: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const commands: Record<string, Command> = {
  up: {
    usage:
      'up [--port N] [--time-scale N] [--cdk-out DIR] [--host ADDR] [--synth [--config FILE]] [--iam off] [--quotas off] [--deploy-checks off] [--rates off]',
    summary: 'run the local runtime over the synthesized app until Ctrl-C',
    details: [
      "Deploys cdk.out onto the local AWS services and serves them, the app's HTTP routes and the console on one",
      'port. It listens on 127.0.0.1 only; --host ADDR (or OPSFLOW_HOST) listens on ADDR, for a VM or a container,',
      'and answers requests addressed to ADDR:PORT, 127.0.0.1:PORT or localhost:PORT (any other Host is refused).',
      '--synth runs `cdk synth` first and shows its output only when it fails (what `npm start` does); with --config FILE',
      'it synthesizes the app from that config file (`cdk synth -c config=FILE`), e.g. opsflow.org.config.json.',
      "AWS's rules (IAM, quotas, deploy-time refusals, API rates) are all on; --iam off, --quotas off, --deploy-checks off",
      'and --rates off (or OPSFLOW_IAM=off, OPSFLOW_QUOTAS=off, ...) relax one, and the startup lines say so.',
      'Every AWS request must be signed (SigV4) with credentials the runtime knows: test / test unless',
      'OPSFLOW_CREDENTIALS=KEY:SECRET[,KEY:SECRET...] says otherwise; a wrong signature is refused as AWS refuses it.',
    ].join('\n'),
    examples: ['npm start', 'npx opsflow up --time-scale 60 --port 4599'],
    options: {
      'time-scale': { type: 'string', description: 'virtual time runs N times faster (default 1)' },
      'cdk-out': { type: 'string', description: 'the cloud assembly to run (default cdk.out, or OPSFLOW_CDK_OUT)' },
      host: { type: 'string', description: 'the address to listen on (default 127.0.0.1, or OPSFLOW_HOST)' },
      synth: { type: 'boolean', description: 'run `cdk synth --quiet` first' },
      config: { type: 'string', description: 'with --synth: the config file to synthesize from (default opsflow.config.json)' },
      iam: { type: 'string', description: "off: do not enforce the template's IAM policies (default on, or OPSFLOW_IAM)" },
      quotas: { type: 'string', description: "off: do not enforce AWS's size and history quotas (default on, or OPSFLOW_QUOTAS)" },
      'deploy-checks': { type: 'string', description: 'off: deploy what CloudFormation would refuse (default on, or OPSFLOW_DEPLOY_CHECKS)' },
      rates: { type: 'string', description: 'off: no API request rates or Lambda concurrency limit (default on, or OPSFLOW_RATES)' },
    },
    run: up,
  },
  start: {
    usage: 'start <workflow> [input.json|-] [--name NAME]',
    summary: 'start an execution (input from a file, from stdin with -, or {})',
    examples: (app) => {
      const starts = app.tryLocally.filter((l) => l.startsWith('npx opsflow start '));
      if (starts.length === 0) return ['npx opsflow start <workflow> input.json', 'npx opsflow start <workflow> - --name my-run < input.json'];
      const [, , , workflow, file] = starts[0].split(/\s+/);
      return [...starts, `npx opsflow start ${workflow} - --name my-run < ${file}`];
    },
    positionals: ['workflow', 'input?'],
    options: { name: { type: 'string', description: 'the execution name (default a UUID)' } },
    async run({ args, values, api, print }) {
      const [typed, file] = args;
      const input = file === '-' ? checkedJson(readFileSync(0, 'utf8'), '<stdin>') : file ? readInputFile(file) : '{}';
      const workflow = resolveName(
        typed,
        (await api.workflows()).map((w) => w.name),
        'workflow',
      );
      const out = await api.start({ workflow, input, name: values.name as string | undefined });
      print(out, () => `started ${out.executionArn}`);
    },
  },
  executions: {
    usage: 'executions [workflow] [--status STATUS] [--limit N]',
    summary: 'list executions, newest first',
    examples: (app) => ['npx opsflow executions', `npx opsflow executions ${app.workflows[0] ?? '<workflow>'} --status RUNNING`],
    positionals: ['workflow?'],
    options: {
      status: { type: 'string', description: EXECUTION_STATUSES.join(', ') },
      limit: { type: 'string', description: 'how many (default 100, at most 1000)' },
    },
    async run({ args, values, api, print }) {
      const status = values.status as ExecutionStatus | undefined;
      if (status !== undefined && !EXECUTION_STATUSES.includes(status))
        throw new UsageError(`--status must be one of ${EXECUTION_STATUSES.join(', ')}, got '${status}'`);
      const workflow =
        args[0] === undefined
          ? undefined
          : resolveName(
              args[0],
              (await api.workflows()).map((w) => w.name),
              'workflow',
            );
      const page = await api.executions({ workflow, status, limit: Number(values.limit ?? 100) });
      const rows = page.items.map((e) => ({ workflow: e.workflow, name: e.name, status: e.status, started: e.startDate, stopped: e.stopDate ?? '' }));
      print(
        page.items,
        () =>
          `${table(rows, ['workflow', 'name', 'status', 'started', 'stopped'])}${page.total > rows.length ? `\n(${rows.length} of ${page.total}; --limit shows more)` : ''}`,
      );
    },
  },
  history: {
    usage: 'history <execution>',
    summary: "an execution's events, as GetExecutionHistory returns them (ARN or name)",
    examples: ['npx opsflow history 6d1f0c9e-…', 'npx opsflow history arn:aws:states:us-east-1:000000000000:execution:<state machine>:my-run --json'],
    positionals: ['execution'],
    async run({ args, api, print }) {
      const detail = await api.execution(args[0]);
      const rows = detail.events.map((e) => ({ id: e.id, time: e.timestamp, type: e.type, detail: eventSummary(e) }));
      print(detail.events, () => table(rows, ['id', 'time', 'type', 'detail']));
    },
  },
  stop: {
    usage: 'stop <execution> [--error ERROR] [--cause CAUSE]',
    summary: 'stop a running execution (StopExecution)',
    examples: ['npx opsflow stop my-run --cause "wrong instances"'],
    positionals: ['execution'],
    options: { error: { type: 'string', description: 'error name recorded' }, cause: { type: 'string', description: 'cause recorded' } },
    async run({ args, values, api, print }) {
      const out = await api.stop(args[0], { error: values.error as string | undefined, cause: values.cause as string | undefined });
      print(out, () => `stopped ${args[0]} at ${out.stopDate}`);
    },
  },
  outbox: {
    usage: 'outbox [--wide]',
    summary: 'emails and notifications sent, each with its link into the app, printed whole',
    details: [
      'One message a paragraph: when, to whom, the subject, and the link into the app (the first link to this runtime),',
      'whole, to open in a browser. --wide prints one line a message instead. Every message is also an .eml file',
      "under .opsflow/outbox/; the console's Outbox view renders them.",
    ].join('\n'),
    examples: ['npx opsflow outbox', "npx opsflow outbox --json | jq -r '.[-1].links[0]'"],
    options: { wide: { type: 'boolean', description: 'one line a message (long lines are not cut)' } },
    async run({ api, endpoint, values, print }) {
      const entries = await api.outbox();
      // The link worth showing is the one into the app (a page the runtime serves), not one quoted in details.
      const appLink = (links: string[]) => links.find((l) => l.startsWith(endpoint)) ?? links[0] ?? '';
      const rows = entries.map((e) => ({ ...e, to: e.to.join(', '), link: appLink(e.links) }));
      print(entries, () =>
        values.wide
          ? table(rows, ['id', 'sentAt', 'service', 'to', 'subject', 'link'])
          : rows.map((r) => [`${r.sentAt}  ${r.service}  ${r.id}  to ${r.to}`, `  ${r.subject}`, ...(r.link ? [`  ${r.link}`] : [])].join('\n')).join('\n\n') ||
            '(none)',
      );
    },
  },
  network: {
    usage: 'network',
    summary: "the functions' outbound calls: to which URL, from which address, and what came of them",
    details: [
      'One line a call, oldest first: when (virtual time), the function, the method and URL (query values left out),',
      'the address it left from (a NAT gateway\'s Elastic IP, or "a changing AWS address" outside a VPC) and the status;',
      'a call the function\'s VPC gives no way out shows "timed out" and why. README "Static egress".',
    ].join('\n'),
    examples: ['npx opsflow network', "npx opsflow network --json | jq -r '.[].sourceIp' | sort -u"],
    async run({ endpoint, print }) {
      const { calls } = (await (await fetch(`${endpoint}${NETWORK_CALLS_PATH}`)).json()) as { calls: OutboundCall[] };
      print(calls, () =>
        table(
          calls.map((c) => ({ ...c, call: `${c.method} ${c.url}`, from: c.sourceIp ?? '-', status: c.reason ? `${c.status}: ${c.reason}` : String(c.status) })),
          ['at', 'functionName', 'call', 'from', 'status'],
        ),
      );
    },
  },
  chat: {
    usage: 'chat [list] | chat click <message> <button> --as <person> [--comment TEXT] | chat mention --as <person> <text>',
    summary: 'the local chat server (Slack, Mattermost, Teams): list messages, click their buttons, talk to the app',
    details: [
      '`chat list` shows every message the app posted, newest last, with its buttons. `chat click` clicks one as a person',
      "of the local workspace: the platform's callback goes to the app signed exactly as Slack (v0 signature) or",
      'Mattermost sends it. When the app answers with a modal or dialog (Reject asks why), --comment fills it in and',
      "submits it; without --comment the console's Chat view shows it. `chat mention` @mentions the app in Teams: the",
      "outgoing webhook's request, signed HMAC, goes to the app and its answer is the reply. The people are the app's",
      'approvers and one person who approves nothing (README "The local chat server").',
    ].join('\n'),
    examples: [
      'npx opsflow chat list',
      'npx opsflow chat click chat-000001 Approve --as approver@example.com',
      'npx opsflow chat click chat-000001 Reject --as approver@example.com --comment "not during the freeze"',
    ],
    positionals: ['action?', 'message?', 'button?'],
    options: {
      as: { type: 'string', description: 'who clicks or speaks: a name or email of the local workspace' },
      comment: { type: 'string', description: 'the answer to the modal or dialog the app opens after the click (a Reject comment)' },
    },
    async run({ args, values, api, print }) {
      const [action = 'list', ...rest] = args;
      const who = () => {
        if (typeof values.as !== 'string' || !values.as)
          throw new UsageError(`chat ${action} needs --as <person> (a name or email; \`opsflow chat list\` names them)`);
        return values.as;
      };
      if (action === 'list') {
        const state = await api.chat();
        const rows = state.messages.map((m) => ({
          id: m.id,
          posted: m.postedAt,
          where: `${m.platform} #${m.channel}${m.visibleTo ? ` (to ${m.visibleTo})` : ''}`,
          from: m.author,
          text: (m.lines[0] ?? '') + (m.lines.length > 1 ? ' …' : '') + (m.edits ? ' (edited)' : ''),
          buttons: m.buttons.map((b) => b.label).join(' | '),
        }));
        const waiting = state.views.map(
          (v) => `  ${v.id}: "${v.title}" for ${v.user} (after a click on ${v.message}) asks: ${v.inputs.map((i) => i.label).join(', ')}`,
        );
        print(state, () =>
          [
            table(rows, ['id', 'posted', 'where', 'from', 'text', 'buttons']),
            ...(waiting.length ? ['', 'Waiting for input (opsflow chat click … --comment, or the console):', ...waiting] : []),
            '',
            `People: ${state.users.map((u) => `${u.name} <${u.email}>`).join(', ')}`,
          ].join('\n'),
        );
        return;
      }
      if (action === 'click') {
        const [message, button] = rest;
        if (!message || !button) throw new UsageError('usage: opsflow chat click <message> <button> --as <person> [--comment TEXT]');
        const comment = values.comment as string | undefined;
        const out = await api.chatClick(message, { button, as: who(), ...(comment !== undefined && { values: [comment] }) });
        print(out, () => {
          if (out.opened) return `${out.button} is a link: ${out.opened}`;
          const lines = [`${out.user} clicked ${out.button} on ${out.message}: the app answered ${out.callback?.status} (${out.callback?.url})`];
          if (out.reply) lines.push(`shown to ${out.user} only: ${out.reply}`);
          if (out.view && !out.submitted)
            lines.push(
              `the app opened "${out.view.title}" (${out.view.id}) asking: ${out.view.inputs.map((i) => i.label).join(', ')}; click again with --comment, or answer it in the console`,
            );
          if (out.submitted)
            lines.push(
              `submitted "${out.view?.title}": the app answered ${out.submitted.callback.status}${out.submitted.errors ? `, refusing: ${Object.values(out.submitted.errors).join('; ')}` : ''}`,
            );
          return lines.join('\n');
        });
        return;
      }
      if (action === 'mention') {
        const said = rest.join(' ');
        if (!said) throw new UsageError('usage: opsflow chat mention --as <person> <text>');
        const out = await api.chatMention({ as: who(), text: said });
        print(out, () => `the app answered ${out.callback.status} (${out.callback.url})${out.reply !== undefined ? `: ${out.reply}` : ''}`);
        return;
      }
      throw new UsageError(`unknown chat action '${action}': list, click or mention`);
    },
  },
  fleet: {
    usage: 'fleet',
    summary: 'the simulated EC2 fleet, with a column for each tag the app names',
    details:
      'With a simulated organization (README "A simulated organization"), every account\'s fleet in every region, with account and region columns; --account and --region keep one.',
    examples: ['npx opsflow fleet', 'npx opsflow fleet --json', 'npx opsflow fleet --account 111111111111 --region eu-west-1'],
    options: {
      account: { type: 'string', description: 'only this account (twelve digits)' },
      region: { type: 'string', description: 'only this region (eu-west-1)' },
    },
    async run({ api, print, values }) {
      // The tag columns are the ones the app names in its template (README "Local runtime metadata").
      const filter = { account: values.account as string | undefined, region: values.region as string | undefined };
      const [fleet, { interestingTags, organization }] = await Promise.all([api.fleet(filter), api.deployed()]);
      const where = organization ? ['account', 'region'] : [];
      const fixed = [...where, 'id', 'type', 'state'];
      const columns = [...fixed, ...interestingTags.filter((k) => !fixed.includes(k))];
      const tag = (i: (typeof fleet)[number], k: string) => i.tags.find((t) => t.Key === k)?.Value ?? '';
      print(fleet, () =>
        table(
          fleet.map((i) => ({
            ...Object.fromEntries(interestingTags.map((k) => [k, tag(i, k)])),
            ...(organization && { account: i.account, region: i.region }),
            id: i.instanceId,
            type: i.instanceType,
            state: i.state,
          })),
          columns,
        ),
      );
    },
  },
  schedules: {
    usage: 'schedules',
    summary: 'the EventBridge Scheduler schedules and their next fire, in their own time zone',
    examples: ['npx opsflow schedules'],
    async run({ api, print }) {
      const schedules = await api.schedules();
      print(schedules, () =>
        table(
          schedules.map((s) => ({ ...s, next: s.next ? `${inZone(s.next, s.timezone)} ${s.timezone}` : '(none)' })),
          ['name', 'expression', 'next', 'state'],
        ),
      );
    },
  },
  fire: {
    usage: 'fire <schedule>',
    summary: 'fire a schedule now, as EventBridge Scheduler would',
    examples: (app) => [app.tryLocally.find((l) => l.startsWith('npx opsflow fire ')) ?? `npx opsflow fire ${app.schedules[0] ?? '<schedule>'}`],
    positionals: ['schedule'],
    async run({ args, api, print }) {
      const out = await api.fire(args[0]);
      print(out, () => `fired ${out.fired}`);
    },
  },
  faults: {
    usage: 'faults [--set JSON]',
    summary: 'show or change fault injection (throttling, capacity errors, SES failures, crashing Lambdas)',
    examples: ['npx opsflow faults', 'npx opsflow faults --set \'{"ec2ThrottleRate":0.2,"sesFailRate":0.5}\''],
    options: { set: { type: 'string', description: 'a JSON object with the fields to change' } },
    async run({ values, api, print }) {
      let patch: object | undefined;
      if (values.set !== undefined) {
        try {
          patch = JSON.parse(values.set as string);
        } catch {
          throw new Error('--set must be a JSON object, e.g. --set \'{"sesFailRate":0.5}\'');
        }
      }
      const faults = patch ? await api.setFaults(patch) : await api.faults();
      print(faults, () => JSON.stringify(faults, null, 2));
    },
  },
  reset: {
    usage: 'reset',
    summary: 'delete the local state (.opsflow/); the runtime must be stopped',
    examples: ['npm run reset'],
    async run({ print }) {
      // Deletes only a directory the runtime marked as its own, and refuses while a runtime holds its lock: "in
      // use" is the directory's lock, not whatever answers on the port (a runtime there may use another directory).
      const cleared = resetStateDir(stateDir());
      print({ reset: stateDir(), cleared }, () => (cleared ? `cleared ${stateDir()}` : `${stateDir()} does not exist: nothing to clear`));
    },
  },
};

const stateDir = stateDirPath;

async function up({ values, port, print }: Context): Promise<void> {
  const log = values.json ? undefined : (line: string) => console.log(`… ${line}`);
  const host = (values.host as string | undefined) ?? process.env.OPSFLOW_HOST ?? '127.0.0.1';
  // Before `cdk synth`, which takes half a minute: a port in use is known at once.
  await portAvailable(host, port);
  const config = values.config as string | undefined;
  if (config !== undefined && !values.synth) throw new UsageError('--config FILE needs --synth: it says what to synthesize (npm start passes --synth)');
  if (config !== undefined && !existsSync(config)) throw new UsageError(`--config: ${config} does not exist`);
  if (values.synth) await synth(config ?? DEFAULT_CONFIG, log);
  const started = Date.now();
  // Loaded here, not at the top: every other command starts in a fraction of the time without the runtime's modules.
  const { Runtime } = require('./runtime') as typeof import('./runtime');
  const rt = await Runtime.start({
    cdkOut: (values['cdk-out'] as string | undefined) ?? process.env.OPSFLOW_CDK_OUT,
    port,
    host,
    timeScale: values['time-scale'] !== undefined ? Number(values['time-scale']) : undefined,
    stateDir: stateDir(),
    log,
    rules: {
      iam: flagValue('--iam', values.iam as string | undefined),
      quotas: flagValue('--quotas', values.quotas as string | undefined),
      deployChecks: flagValue('--deploy-checks', values['deploy-checks'] as string | undefined),
      rates: flagValue('--rates', values.rates as string | undefined),
    },
  });
  await rt.console.prepare();
  const d = rt.deployed;
  const ready = { endpoint: rt.endpoint, console: `${rt.endpoint}/`, readyMs: Date.now() - started, ...d, fleet: rt.ec2.fleet.list().length };
  print(ready, () =>
    [
      `opsflow local runtime ready in ${ready.readyMs} ms at ${rt.endpoint}  (time scale ${rt.clock.scale}, state in ${stateDir()})`,
      '',
      `  Console: ${rt.endpoint}/`,
      '',
      // The app's workflows as its template declares them; a template that declares none: its state machines.
      table(
        (d.workflows.length ? d.workflows : d.stateMachines).map((w) => ({ workflow: w.name, arn: w.arn })),
        ['workflow', 'arn'],
      ),
      '',
      `activities: ${d.activities.join(', ') || 'none'}   functions: ${d.functions.length}   tables: ${d.tables.length}   topics: ${d.topics.length}`,
      `schedules: ${d.schedules.join(', ') || 'none'}   rules: ${d.rules.length}   HTTP routes: ${d.routes.join(', ') || 'none'}`,
      `simulated fleet: ${ready.fleet} EC2 instances (opsflow fleet)`,
      Object.keys(d.notRun).length
        ? `NOT RUN locally: ${Object.entries(d.notRun)
            .map(([t, n]) => `${t} ×${n}`)
            .join(', ')}`
        : 'every resource type in the template runs locally',
      `accepted with no local effect (not enforced locally): ${Object.entries(d.noLocalEffect)
        .map(([t, n]) => `${t} ×${n}`)
        .join(', ')}`,
      '',
      'Try it (in another terminal, or in the console):',
      // The app's own hints, from its template (README "Local runtime metadata").
      ...d.workflows.flatMap((w) => w.tryLocally.map((line) => `  ${line}`)),
      `  ${awsCliCredentials()} aws --region us-east-1 --endpoint-url ${rt.endpoint} stepfunctions list-state-machines`,
      '  npx opsflow --help                                                          # every command, with examples',
      '',
      // Clients on this machine find this port in the state directory (local/client.ts): the hints above need no --port.
      ...(port === DEFAULT_PORT ? [] : [`On port ${port}: npx opsflow finds it by itself (it is recorded in ${stateDir()}).`]),
      `Ctrl-C stops it; state survives in ${stateDir()} (npm run reset clears it).`,
    ].join('\n'),
  );
  const stop = async () => {
    await rt.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * `cdk synth --quiet`, with its output shown only when it fails, unless cdk.out is newer than every source of the
 * app (local/synth.ts): a second `npm start` starts in seconds. On success the CLI prints one line the user cannot
 * act on here: the count of unconfigured feature flags (aws-cdk-cli#913 asks for a way to turn it off; there is
 * none), so it is dropped.
 */
function synth(config: string, log?: (line: string) => void): Promise<void> {
  const reason = synthNeeded(process.cwd(), undefined, config);
  if (!reason) {
    log?.("cdk synth: nothing to do, cdk.out is newer than the app's sources (cdk.json watch.include)");
    return Promise.resolve();
  }
  log?.(`cdk synth (${reason})`);
  const cdk = resolve(__dirname, '..', 'node_modules', '.bin', 'cdk');
  return new Promise((done, fail) => {
    execFile(
      cdk,
      ['synth', '--quiet', ...(config === DEFAULT_CONFIG ? [] : ['-c', `config=${config}`])],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`
          .split('\n')
          .filter((l) => !/feature flags are not configured/.test(l))
          .join('\n')
          .trim();
        if (err) return fail(new Error(`cdk synth failed:\n${output}`));
        done();
      },
    );
  });
}

function inZone(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso));
}

/**
 * Columns padded to their widest cell. Nothing is ever cut: a link, an ARN or an id printed short would be a
 * different one (an approval link cut to 80 characters answers 404). A line wider than the terminal wraps there.
 */
function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/** Resolves after checking that `host:port` can be listened on; otherwise explains why, with the fix. */
async function portAvailable(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
    const probe = createServer();
    probe.once('error', (err) => done(err));
    probe.listen(port, host, () => probe.close(() => done(undefined)));
  });
  if (!problem) return;
  if (problem.code !== 'EADDRINUSE') throw (require('./runtime') as typeof import('./runtime')).listenError(problem, host, port);
  // Another opsflow runtime answers its health check: say so, and where its state is.
  const health = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/_opsflow/health`, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.json() as Promise<{ endpoint?: string; storage?: { stateDir?: string } }>)
    .catch(() => undefined);
  const free = await freePortAfter(host, port);
  const who = health?.endpoint ? `another opsflow runtime${health.storage?.stateDir ? ` (state in ${health.storage.stateDir})` : ''}` : 'another program';
  throw new Error(`port ${port} on ${host} is in use by ${who}: stop it, or start on another port: npm start -- --port ${free}`);
}

/** The first port after `port` that can be listened on (for the hint), or port + 1. */
async function freePortAfter(host: string, port: number): Promise<number> {
  for (let p = port + 1; p <= Math.min(65535, port + 20); p++) {
    const ok = await new Promise<boolean>((done) => {
      const probe = createServer();
      probe.once('error', () => done(false));
      probe.listen(p, host, () => probe.close(() => done(true)));
    });
    if (ok) return p;
  }
  return port + 1;
}

/** An input file's text, or an error naming the file (and a near name beside it, for a typo). */
function readInputFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      let near: string | undefined;
      try {
        const names = readdirSync(dirname(file)).filter((n) => n.endsWith('.json'));
        const best = names.length ? closest(basename(file), names) : undefined;
        if (best && distance(best, basename(file)) <= Math.max(2, basename(file).length / 4)) near = join(dirname(file), best);
      } catch {
        // the directory is missing too
      }
      throw new Error(`input file ${file} does not exist${near ? ` (did you mean ${near}?)` : ''}`);
    }
    if (code === 'EISDIR') throw new Error(`input file ${file} is a directory: give a JSON file, or - to read stdin`);
    throw new Error(`cannot read input file ${file}: ${(err as Error).message}`);
  }
  return checkedJson(text, file);
}

/** `text` when it is JSON; otherwise an error with the file, line and column, as an editor shows them. */
function checkedJson(text: string, file: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch (err) {
    // V8 names the offset ("... at position 42", Node 20) or nothing ("Unexpected end of JSON input": the end).
    const message = (err as Error).message.replace(/\s*\(line \d+ column \d+\)$/, '');
    const at = Number(/at position (\d+)/.exec(message)?.[1] ?? text.length);
    const before = text.slice(0, at).split('\n');
    const line = before.length;
    const column = before[before.length - 1].length + 1;
    throw new Error(`${file}:${line}:${column}: not valid JSON: ${message.replace(/ in JSON at position \d+/, '')}`);
  }
}

/**
 * The name the user meant, among `names`: an exact match, else the one that differs only in case.
 * Otherwise an error that lists the names as they can be typed, with the nearest first when it is close.
 */
function resolveName(typed: string, names: string[], what: string): string {
  if (names.includes(typed)) return typed;
  const folded = names.filter((n) => n.toLowerCase() === typed.toLowerCase());
  if (folded.length === 1) return folded[0];
  const best = names.length
    ? closest(
        typed.toLowerCase(),
        names.map((n) => n.toLowerCase()),
      )
    : undefined;
  const near =
    best !== undefined && distance(best, typed.toLowerCase()) <= Math.max(2, Math.floor(typed.length / 3))
      ? names.find((n) => n.toLowerCase() === best)
      : undefined;
  throw new Error(
    `no ${what} named '${typed}'${near ? ` (did you mean ${near}?)` : ''}. ${what[0].toUpperCase()}${what.slice(1)}s: ${names.join(', ') || 'none'}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Help

function overview(app: AppHints): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [
    "opsflow: a local AWS runtime that runs a CDK app's cdk.out, and a client for it.",
    '',
    'Usage: npx opsflow <command> [arguments] [--port N] [--json]',
    '',
    'Commands:',
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Examples:',
    ...Object.values(commands).map((c) => `  ${examplesOf(c, app)[0]}`),
    '',
    "`npx opsflow <command> --help` explains one command. The console, at the runtime's address (http://127.0.0.1:4566/",
    "unless started with --port), shows the same. Without --port, commands find the running runtime's port by themselves.",
  ].join('\n');
}

function commandHelp(c: Command, app: AppHints): string {
  const examples = examplesOf(c, app);
  const options = { ...(c.options ?? {}), ...COMMON };
  const flag = (k: string, o: Options[string]) => `--${k}${o.type === 'string' ? ' VALUE' : ''}${o.short ? `, -${o.short}` : ''}`;
  const width = Math.max(...Object.entries(options).map(([k, o]) => flag(k, o).length));
  return [
    `npx opsflow ${c.usage}`,
    '',
    `${c.summary[0].toUpperCase()}${c.summary.slice(1)}.`,
    ...(c.details ? ['', c.details] : []),
    '',
    'Options:',
    ...Object.entries(options).map(([k, o]) => `  ${flag(k, o).padEnd(width)}  ${o.description}`),
    '',
    examples.length > 1 ? 'Examples:' : 'Example:',
    ...examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const name = argv[0];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? argv[1] : undefined;
    console.log(topic && commands[topic] ? commandHelp(commands[topic], appHints()) : overview(appHints()));
    return;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')}. Try: npx opsflow --help`);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv.slice(1), options: { ...(command.options ?? {}), ...COMMON }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: npx opsflow ${command.usage}   (npx opsflow ${name} --help)`);
  }
  if (parsed.values.help) {
    console.log(commandHelp(command, appHints()));
    return;
  }
  const wanted = command.positionals ?? [];
  const required = wanted.filter((p) => !p.endsWith('?')).length;
  if (parsed.positionals.length < required || parsed.positionals.length > wanted.length) {
    throw new UsageError(
      `expected ${wanted.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ') || 'no arguments'}\nusage: npx opsflow ${command.usage}   (npx opsflow ${name} --help)`,
    );
  }
  let port: number;
  let endpoint: string;
  try {
    // `up` listens where it is told; every other command talks to the runtime that is running (client.ts).
    port =
      name === 'up'
        ? parsed.values.port !== undefined
          ? parsePort(String(parsed.values.port), '--port')
          : process.env.OPSFLOW_PORT
            ? parsePort(process.env.OPSFLOW_PORT, 'OPSFLOW_PORT')
            : DEFAULT_PORT
        : Number(new URL(clientEndpoint({ port: parsed.values.port as string | undefined, stateDir: stateDir() })).port || 80);
    endpoint = name === 'up' ? `http://127.0.0.1:${port}` : clientEndpoint({ port: parsed.values.port as string | undefined, stateDir: stateDir() });
  } catch (err) {
    if (err instanceof PortError) throw new UsageError(err.message);
    throw err;
  }
  const asJson = Boolean(parsed.values.json);
  await command.run({
    values: parsed.values,
    args: parsed.positionals,
    api: new ApiClient(endpoint),
    endpoint,
    port,
    print: (data, human) => console.log(asJson ? JSON.stringify(data, null, 2) : human()),
  });
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`opsflow ${process.argv[2] ?? ''}: ${err.message}`.replace(/^opsflow : /, 'opsflow: '));
  process.exit(err instanceof UsageError ? 2 : 1);
});
