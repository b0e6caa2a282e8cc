/**
 * `opsflow`: the local runtime's command line. `up` runs the runtime (what `npm start` does); every other
 * command talks to a running one through the `/_opsflow/` API (local/console/api.ts), the same API the
 * browser console at http://127.0.0.1:4566/ uses. `opsflow --help` lists the commands, `opsflow <command>
 * --help` explains one with an example.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiClient, EXECUTION_STATUSES, type ExecutionStatus } from './console/api';
import { eventSummary } from './console/app/status';
import { flagValue } from './rules/settings';
import { Runtime } from './runtime';
import { resetStateDir } from './storage';
import { loadAssembly } from './template';

// Node 20 is this machine's runtime on purpose (the brief); the SDK's notice about Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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
 * What the help's examples name: the app's workflows and their `tryLocally` commands, as the app's registry
 * (infra/workflows.ts) writes them into the template (`Metadata.OpsflowLocal`), and its schedules. The CLI names
 * no workflow of its own: a new workflow shows up here without a CLI edit. Without a cdk.out: placeholders.
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
    const workflows = stacks.flatMap((s) => ((s.template.Metadata?.OpsflowLocal as { workflows?: Array<{ name: string; tryLocally?: string[] }> } | undefined)?.workflows ?? []));
    const schedules = stacks.flatMap((s) => Object.values(s.template.Resources ?? {}).filter((r) => r.Type === 'AWS::Scheduler::Schedule').map((r) => r.Properties?.Name)).filter((n): n is string => typeof n === 'string');
    return { workflows: workflows.map((w) => w.name), tryLocally: workflows.flatMap((w) => w.tryLocally ?? []).map((l) => l.replace(/\s+#.*$/, '').trim()), schedules };
  } catch {
    return { workflows: [], tryLocally: [], schedules: [] };
  }
}

const examplesOf = (c: Command, app: AppHints) => (typeof c.examples === 'function' ? c.examples(app) : c.examples);

const COMMON: Options = {
  port: { type: 'string', description: 'the runtime\'s port (default OPSFLOW_PORT or 4566)' },
  json: { type: 'boolean', description: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const commands: Record<string, Command> = {
  up: {
    usage: 'up [--port N] [--time-scale N] [--cdk-out DIR] [--host ADDR] [--synth] [--iam off] [--quotas off] [--deploy-checks off] [--rates off]',
    summary: 'run the local runtime over the synthesized app until Ctrl-C',
    details: [
      'Deploys cdk.out onto the local AWS services and serves them, the app\'s HTTP routes and the console on one',
      'port. It listens on 127.0.0.1 only; --host ADDR (or OPSFLOW_HOST) listens on ADDR, for a VM or a container,',
      'and answers requests addressed to ADDR:PORT, 127.0.0.1:PORT or localhost:PORT (any other Host is refused).',
      '--synth runs `cdk synth` first and shows its output only when it fails (what `npm start` does).',
      'AWS\'s rules (IAM, quotas, deploy-time refusals, API rates) are all on; --iam off, --quotas off, --deploy-checks off',
      'and --rates off (or OPSFLOW_IAM=off, OPSFLOW_QUOTAS=off, ...) relax one, and the startup lines say so.',
    ].join('\n'),
    examples: ['npm start', 'npx opsflow up --time-scale 60 --port 4599'],
    options: {
      'time-scale': { type: 'string', description: 'virtual time runs N times faster (default 1)' },
      'cdk-out': { type: 'string', description: 'the cloud assembly to run (default cdk.out, or OPSFLOW_CDK_OUT)' },
      host: { type: 'string', description: 'the address to listen on (default 127.0.0.1, or OPSFLOW_HOST)' },
      synth: { type: 'boolean', description: 'run `cdk synth --quiet` first' },
      iam: { type: 'string', description: 'off: do not enforce the template\'s IAM policies (default on, or OPSFLOW_IAM)' },
      quotas: { type: 'string', description: 'off: do not enforce AWS\'s size and history quotas (default on, or OPSFLOW_QUOTAS)' },
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
      const [workflow, file] = args;
      const input = file === '-' ? readFileSync(0, 'utf8') : file ? readFileSync(file, 'utf8') : '{}';
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
      const page = await api.executions({ workflow: args[0], status, limit: Number(values.limit ?? 100) });
      const rows = page.items.map((e) => ({ workflow: e.workflow, name: e.name, status: e.status, started: e.startDate, stopped: e.stopDate ?? '' }));
      print(page.items, () => `${table(rows, ['workflow', 'name', 'status', 'started', 'stopped'])}${page.total > rows.length ? `\n(${rows.length} of ${page.total}; --limit shows more)` : ''}`);
    },
  },
  history: {
    usage: 'history <execution>',
    summary: 'an execution\'s events, as GetExecutionHistory returns them (ARN or name)',
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
    usage: 'outbox',
    summary: 'emails and notifications sent (with the link into the app)',
    details: 'Every message is also an .eml file under .opsflow/outbox/; the console\'s Outbox view renders them.',
    examples: ['npx opsflow outbox', 'npx opsflow outbox --json | jq -r \'.[-1].links[0]\''],
    async run({ api, endpoint, print }) {
      const entries = await api.outbox();
      // The link worth showing is the one into the app (an approval or control page), not one quoted in details.
      const appLink = (links: string[]) => links.find((l) => l.startsWith(endpoint)) ?? links[0] ?? '';
      print(entries, () => table(entries.map((e) => ({ ...e, to: e.to.join(','), link: appLink(e.links) })), ['id', 'sentAt', 'service', 'to', 'subject', 'link']));
    },
  },
  fleet: {
    usage: 'fleet',
    summary: 'the simulated EC2 fleet',
    examples: ['npx opsflow fleet', 'npx opsflow fleet --json'],
    async run({ api, print }) {
      const fleet = await api.fleet();
      const tag = (i: (typeof fleet)[number], k: string) => i.tags.find((t) => t.Key === k)?.Value ?? '';
      print(fleet, () => table(fleet.map((i) => ({ id: i.instanceId, type: i.instanceType, state: i.state, name: tag(i, 'Name'), schedule: tag(i, 'Schedule'), owner: tag(i, 'Owner') })), ['id', 'type', 'state', 'name', 'schedule', 'owner']));
    },
  },
  schedules: {
    usage: 'schedules',
    summary: 'the EventBridge Scheduler schedules and their next fire, in their own time zone',
    examples: ['npx opsflow schedules'],
    async run({ api, print }) {
      const schedules = await api.schedules();
      print(schedules, () => table(schedules.map((s) => ({ ...s, next: s.next ? `${inZone(s.next, s.timezone)} ${s.timezone}` : '(none)' })), ['name', 'expression', 'next', 'state']));
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

const stateDir = () => resolve(process.env.OPSFLOW_STATE_DIR ?? '.opsflow');

async function up({ values, port, print }: Context): Promise<void> {
  const log = values.json ? undefined : (line: string) => console.log(`… ${line}`);
  if (values.synth) await synth(log);
  const started = Date.now();
  const rt = await Runtime.start({
    cdkOut: (values['cdk-out'] as string | undefined) ?? process.env.OPSFLOW_CDK_OUT,
    port,
    host: (values.host as string | undefined) ?? process.env.OPSFLOW_HOST,
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
  print(ready, () => [
    `opsflow local runtime ready in ${ready.readyMs} ms at ${rt.endpoint}  (time scale ${rt.clock.scale}, state in ${stateDir()})`,
    '',
    `  Console: ${rt.endpoint}/`,
    '',
    // The app's workflows as its template lists them; a template without that list: its state machines.
    table((d.workflows.length ? d.workflows : d.stateMachines).map((w) => ({ workflow: w.name, arn: w.arn ?? '(no state machine)' })), ['workflow', 'arn']),
    '',
    `activities: ${d.activities.join(', ') || 'none'}   functions: ${d.functions.length}   tables: ${d.tables.length}   topics: ${d.topics.length}`,
    `schedules: ${d.schedules.join(', ') || 'none'}   rules: ${d.rules.length}   HTTP routes: ${d.routes.join(', ') || 'none'}`,
    `simulated fleet: ${ready.fleet} EC2 instances (opsflow fleet)`,
    Object.keys(d.notRun).length ? `NOT RUN locally: ${Object.entries(d.notRun).map(([t, n]) => `${t} ×${n}`).join(', ')}` : 'every resource type in the template runs locally',
    `accepted with no local effect (not enforced locally): ${Object.entries(d.noLocalEffect).map(([t, n]) => `${t} ×${n}`).join(', ')}`,
    '',
    'Try it (in another terminal, or in the console):',
    // The app's own hints, from its workflow registry (infra/workflows.ts) by way of the template.
    ...d.workflows.flatMap((w) => w.tryLocally.map((line) => `  ${line}`)),
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region us-east-1 --endpoint-url ${rt.endpoint} stepfunctions list-state-machines`,
    '  npx opsflow --help                                                          # every command, with examples',
    '',
    'Ctrl-C stops it; state survives in .opsflow/ (npm run reset clears it).',
  ].join('\n'));
  const stop = async () => {
    await rt.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * `cdk synth --quiet`, with its output shown only when it fails. On success the CLI prints one line the
 * user cannot act on here: the count of unconfigured feature flags (aws-cdk-cli#913 asks for a way to turn
 * it off; there is none), so it is dropped.
 */
function synth(log?: (line: string) => void): Promise<void> {
  log?.('cdk synth');
  const cdk = resolve(__dirname, '..', 'node_modules', '.bin', 'cdk');
  return new Promise((done, fail) => {
    execFile(cdk, ['synth', '--quiet'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.split('\n').filter((l) => !/feature flags are not configured/.test(l)).join('\n').trim();
      if (err) return fail(new Error(`cdk synth failed:\n${output}`));
      done();
    });
  });
}

function inZone(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const widths = columns.map((c) => Math.min(80, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (vals: string[]) => vals.map((v, i) => v.slice(0, widths[i]).padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Help

function overview(app: AppHints): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [
    'opsflow: the local AWS runtime for the opsflow workflows, and a client for it.',
    '',
    'Usage: npx opsflow <command> [arguments] [--port N] [--json]',
    '',
    'Commands:',
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Examples:',
    ...Object.values(commands).map((c) => `  ${examplesOf(c, app)[0]}`),
    '',
    '`npx opsflow <command> --help` explains one command. The console at http://127.0.0.1:4566/ shows the same.',
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
    throw new UsageError(`expected ${wanted.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ') || 'no arguments'}\nusage: npx opsflow ${command.usage}   (npx opsflow ${name} --help)`);
  }
  const port = Number(parsed.values.port ?? process.env.OPSFLOW_PORT ?? 4566);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got '${parsed.values.port}'`);
  const endpoint = process.env.OPSFLOW_ENDPOINT || `http://127.0.0.1:${port}`;
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
