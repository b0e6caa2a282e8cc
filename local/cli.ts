/**
 * `opsflow`: the local runtime's command line. `up` runs the runtime (what `npm start` does); the other
 * commands talk to a running one over its endpoint, like any AWS client would.
 *
 *   opsflow up [--port N] [--time-scale N] [--cdk-out DIR]   synth output → local AWS, until Ctrl-C
 *   opsflow start <workflow> [input.json|-]      start an execution (input from a file, stdin or '{}')
 *   opsflow executions [workflow]                list executions
 *   opsflow history <execution>                  an execution's events (ARN or name)
 *   opsflow outbox                               emails and notifications sent
 *   opsflow fleet                                the simulated EC2 fleet
 *   opsflow fire <schedule>                      fire a schedule now
 *   opsflow reset                                delete the local state (.opsflow/)
 * Add --json for machine-readable output.
 */
import { GetExecutionHistoryCommand, ListExecutionsCommand, ListStateMachinesCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Runtime } from './runtime';

// Node 20 is this machine's runtime on purpose (the brief); the SDK's notice about Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const argv = process.argv.slice(2);
const flags = new Map<string, string | true>();
const args: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('--')) args.push(a);
  else if (['--port', '--time-scale', '--name', '--cdk-out'].includes(a)) flags.set(a, argv[++i] ?? '');
  else flags.set(a, true);
}
const asJson = flags.has('--json');
const port = Number(flags.get('--port') ?? process.env.OPSFLOW_PORT ?? 4566);
const endpoint = process.env.OPSFLOW_ENDPOINT ?? `http://127.0.0.1:${port}`;
const stateDir = resolve(process.env.OPSFLOW_STATE_DIR ?? '.opsflow');
const sfn = () => new SFNClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDOPSFLOWCLI', secretAccessKey: 'local' } });

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const widths = columns.map((c) => Math.min(80, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (vals: string[]) => vals.map((v, i) => v.slice(0, widths[i]).padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

function print(data: unknown, human: () => string): void {
  console.log(asJson ? JSON.stringify(data, null, 2) : human());
}

async function local(path: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${endpoint}${path}`, init);
  } catch {
    throw new Error(`nothing answers at ${endpoint}: start the runtime with \`npm start\` (or \`opsflow up\`)`);
  }
  const body = await res.json();
  if (!res.ok) throw new Error((body as { message?: string }).message ?? `HTTP ${res.status}`);
  return body;
}

async function stateMachineArn(name: string): Promise<string> {
  const { stateMachines = [] } = await sfn().send(new ListStateMachinesCommand({}));
  const match = stateMachines.find((s) => s.name === name || s.stateMachineArn === name);
  if (!match) throw new Error(`no workflow named '${name}'; deployed: ${stateMachines.map((s) => s.name).join(', ')}`);
  return match.stateMachineArn!;
}

async function executionArn(ref: string): Promise<string> {
  if (ref.startsWith('arn:')) return ref;
  const { stateMachines = [] } = await sfn().send(new ListStateMachinesCommand({}));
  for (const sm of stateMachines) {
    const { executions = [] } = await sfn().send(new ListExecutionsCommand({ stateMachineArn: sm.stateMachineArn }));
    const hit = executions.find((e) => e.name === ref);
    if (hit) return hit.executionArn!;
  }
  throw new Error(`no execution named '${ref}'`);
}

const commands: Record<string, () => Promise<void>> = {
  async up() {
    const started = Date.now();
    const rt = await Runtime.start({
      cdkOut: (flags.get('--cdk-out') as string | undefined) ?? process.env.OPSFLOW_CDK_OUT,
      port,
      timeScale: flags.has('--time-scale') ? Number(flags.get('--time-scale')) : undefined,
      stateDir,
      log: asJson ? undefined : (line) => console.log(`… ${line}`),
    });
    const d = rt.deployed;
    const ready = { endpoint: rt.endpoint, readyMs: Date.now() - started, ...d, fleet: rt.ec2.fleet.list().length };
    print(ready, () => [
      `opsflow local runtime ready in ${ready.readyMs} ms at ${rt.endpoint}  (time scale ${rt.clock.scale}, state in ${stateDir})`,
      '',
      table(d.stateMachines.map((s) => ({ workflow: s.name, arn: s.arn })), ['workflow', 'arn']),
      '',
      `activities: ${d.activities.join(', ') || 'none'}   functions: ${d.functions.length}   tables: ${d.tables.length}   topics: ${d.topics.length}`,
      `schedules: ${d.schedules.join(', ') || 'none'}   rules: ${d.rules.length}   HTTP routes: ${d.routes.join(', ') || 'none'}`,
      `simulated fleet: ${ready.fleet} EC2 instances (opsflow fleet)`,
      Object.keys(d.notRun).length ? `NOT RUN locally: ${Object.entries(d.notRun).map(([t, n]) => `${t} ×${n}`).join(', ')}` : 'every resource type in the template runs locally',
      `accepted with no local effect (not enforced locally): ${Object.entries(d.noLocalEffect).map(([t, n]) => `${t} ×${n}`).join(', ')}`,
      '',
      'Try it (in another terminal):',
      '  npx opsflow start Approval workflows/examples/approval.json                  # then open the link from: npx opsflow outbox',
      '  npx opsflow start Ec2Schedule workflows/examples/ec2-stop-office-hours-dry-run.json',
      '  npx opsflow fire opsflow-office-hours-start-0                               # as EventBridge Scheduler would at 07:00 Berlin',
      '  npx opsflow start TagPolicy workflows/examples/tag-policy-scan-dry-run.json',
      '  npm run control-link -- i-0feed000000000011 start                           # a delegated start link',
      `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region us-east-1 --endpoint-url ${rt.endpoint} stepfunctions list-state-machines`,
      '',
      'Ctrl-C stops it; state survives in .opsflow/ (npm run reset clears it).',
    ].join('\n'));
    const stop = async () => {
      await rt.stop();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },

  async start() {
    const [workflow, file] = args.slice(1);
    if (!workflow) throw new Error('usage: opsflow start <workflow> [input.json|-]');
    const input = file === '-' ? readFileSync(0, 'utf8') : file ? readFileSync(file, 'utf8') : '{}';
    const out = await sfn().send(new StartExecutionCommand({ stateMachineArn: await stateMachineArn(workflow), input, name: flags.get('--name') as string | undefined }));
    print({ executionArn: out.executionArn, startDate: out.startDate }, () => `started ${out.executionArn}`);
  },

  async executions() {
    const { stateMachines = [] } = await sfn().send(new ListStateMachinesCommand({}));
    const rows: Array<Record<string, unknown>> = [];
    for (const sm of stateMachines.filter((s) => !args[1] || s.name === args[1])) {
      const { executions = [] } = await sfn().send(new ListExecutionsCommand({ stateMachineArn: sm.stateMachineArn }));
      rows.push(...executions.map((e) => ({ workflow: sm.name, name: e.name, status: e.status, started: e.startDate?.toISOString(), stopped: e.stopDate?.toISOString() ?? '' })));
    }
    print(rows, () => table(rows, ['workflow', 'name', 'status', 'started', 'stopped']));
  },

  async history() {
    if (!args[1]) throw new Error('usage: opsflow history <execution ARN or name>');
    const { events = [] } = await sfn().send(new GetExecutionHistoryCommand({ executionArn: await executionArn(args[1]), maxResults: 1000 }));
    const rows = events.map((e) => {
      const details = Object.entries(e).find(([k]) => k.endsWith('EventDetails'))?.[1] as Record<string, unknown> | undefined;
      return { id: e.id, time: e.timestamp?.toISOString(), type: e.type, detail: details?.name ?? details?.error ?? details?.resource ?? '' };
    });
    print(events, () => table(rows, ['id', 'time', 'type', 'detail']));
  },

  async outbox() {
    const entries = (await local('/_opsflow/outbox')) as Array<Record<string, unknown>>;
    // The link worth showing is the one into the app (an approval or control page), not one quoted in details.
    const appLink = (links: string[]) => links.find((l) => l.startsWith(endpoint)) ?? links[0] ?? '';
    print(entries, () => table(entries.map((e) => ({ ...e, to: (e.to as string[]).join(','), link: appLink(e.links as string[]) })), ['id', 'sentAt', 'service', 'to', 'subject', 'link']));
  },

  async fleet() {
    const fleet = (await local('/_opsflow/fleet')) as Array<{ instanceId: string; instanceType: string; state: string; tags: Array<{ Key: string; Value: string }> }>;
    const tag = (i: (typeof fleet)[number], k: string) => i.tags.find((t) => t.Key === k)?.Value ?? '';
    print(fleet, () => table(fleet.map((i) => ({ id: i.instanceId, type: i.instanceType, state: i.state, name: tag(i, 'Name'), schedule: tag(i, 'Schedule'), owner: tag(i, 'Owner') })), ['id', 'type', 'state', 'name', 'schedule', 'owner']));
  },

  async fire() {
    if (!args[1]) throw new Error('usage: opsflow fire <schedule>');
    const out = await local(`/_opsflow/schedules/${encodeURIComponent(args[1])}/fire`, { method: 'POST' });
    print(out, () => `fired ${args[1]}`);
  },

  async reset() {
    const running = await fetch(`${endpoint}/_opsflow/health`).then(() => true, () => false);
    if (running) throw new Error(`the runtime at ${endpoint} is running: stop it before resetting its state`);
    if (existsSync(stateDir)) rmSync(stateDir, { recursive: true, force: true });
    print({ reset: stateDir }, () => `cleared ${stateDir}`);
  },
};

const command = commands[args[0] ?? ''];
if (!command) {
  console.error(`usage: opsflow <${Object.keys(commands).join('|')}> [--json]`);
  process.exit(2);
}
command().catch((err: Error) => {
  console.error(`opsflow ${args[0]}: ${err.message}`);
  process.exit(1);
});
