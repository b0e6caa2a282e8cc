/** The `opsflow` CLI against a running runtime, as a person or a script uses it. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS } from '../../workflows';
import { startRuntime, type Harness } from './harness';

const exec = promisify(execFile);
let h: Harness;
const opsflowWith = async (env: Record<string, string>, ...args: string[]) => {
  const { stdout } = await exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
    env: { ...process.env, OPSFLOW_ENDPOINT: h.endpoint, OPSFLOW_STATE_DIR: h.stateDir, ...env },
  });
  return stdout;
};
const opsflow = (...args: string[]) => opsflowWith({}, ...args);

beforeAll(async () => {
  h = await startRuntime();
});
afterAll(() => h?.stop());

describe('opsflow CLI', () => {
  it('starts a workflow from a file and lists it with its history', async () => {
    const input = join(h.stateDir, 'input.json');
    writeFileSync(input, JSON.stringify({ title: 'From the CLI', approvers: ['lead@example.com'] }));
    const started = JSON.parse(await opsflow('start', 'Approval', input, '--name', 'cli-approval', '--json'));
    expect(started.executionArn).toMatch(/:execution:Opsflow-Approval:cli-approval$/);

    await h.mail((e) => e.subject.includes('From the CLI'));
    const executions = JSON.parse(await opsflow('executions', 'Approval', '--json'));
    expect(executions).toContainEqual(expect.objectContaining({ workflow: 'Approval', name: 'cli-approval', status: 'RUNNING' }));
    expect(await opsflow('executions')).toMatch(/Approval\s+cli-approval\s+RUNNING/);

    const history = JSON.parse(await opsflow('history', 'cli-approval', '--json'));
    expect(history.map((e: { type: string }) => e.type)).toContain('ActivityStarted');
  });

  it('shows the outbox and the fleet', async () => {
    // Prepare: an approval email in the outbox, sent for this test.
    await h.start('Approval', { title: 'For the outbox', approvers: ['lead@example.com'] });
    await h.mail((e) => e.subject.includes('For the outbox'));

    const outbox = JSON.parse(await opsflow('outbox', '--json'));
    expect(outbox.some((e: { links: string[] }) => e.links.some((l) => l.includes('/approvals/')))).toBe(true);
    expect(await opsflow('fleet')).toMatch(/i-0feed0000000000\d\d\s+\S+\s+(running|stopped)/);
  });

  it('fires a schedule by name and explains an unknown one', async () => {
    const [sweep] = h.rt.scheduler.list().filter((s) => s.name.includes('ApprovalSweep'));
    expect(await opsflow('fire', sweep.name)).toContain(`fired ${sweep.name}`);
    await expect(opsflow('fire', 'no-such-schedule')).rejects.toThrow(/no-such-schedule/);
  });

  it('has --help for every command, each with an example', async () => {
    const overview = await opsflow('--help');
    const commands = ['up', 'start', 'executions', 'history', 'stop', 'outbox', 'network', 'chat', 'fleet', 'schedules', 'fire', 'faults', 'reset'];
    for (const command of commands) expect(overview).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    // The overview ends with one example per command; `<command> --help` shows the same and explains the options.
    const examples = overview
      .slice(overview.indexOf('Examples:'))
      .split('\n')
      .filter((l) => /^ {2}(npx|npm)/.test(l));
    expect(examples).toHaveLength(commands.length);
    const help = await opsflow('faults', '--help');
    expect(help).toMatch(/^npx opsflow faults \[--set JSON\]/);
    expect(help).toMatch(/--set VALUE\s+a JSON object/);
    expect(help).toMatch(/^Examples:\n {2}npx opsflow faults\n {2}npx opsflow faults --set/m);
  });

  it("takes the workflows in its examples from the app's registry, so a new workflow needs no CLI edit", async () => {
    // The CLI's source names none of the app's workflows or schedules.
    const source = readFileSync('local/cli.ts', 'utf8');
    expect(WORKFLOWS.length).toBeGreaterThanOrEqual(3);
    for (const w of WORKFLOWS) expect(source).not.toContain(w.name);
    expect(source).not.toContain('office-hours');

    // Prepare: the app with one more workflow registered first; its synthesized template is all the CLI reads.
    const app = mkdtempSync(join(tmpdir(), 'opsflow-cli-app-'));
    cpSync('cdk.out/manifest.json', join(app, 'manifest.json'));
    const template = JSON.parse(readFileSync('cdk.out/Opsflow.template.json', 'utf8'));
    const inventory = {
      Type: 'AWS::StepFunctions::StateMachine',
      Metadata: {
        OpsflowLocal: { workflow: { name: 'Inventory', tryLocally: ['npx opsflow start Inventory workflows/examples/inventory.json   # the new one'] } },
      },
    };
    template.Resources = { InventoryStateMachine: inventory, ...template.Resources };
    writeFileSync(join(app, 'Opsflow.template.json'), JSON.stringify(template));

    // Act
    const startHelp = await opsflowWith({ OPSFLOW_CDK_OUT: app }, 'start', '--help');
    const executions = await opsflowWith({ OPSFLOW_CDK_OUT: app }, 'executions', '--help');

    // Assess: every registered workflow's start command is an example, the new one's too.
    const starts = WORKFLOWS.flatMap((w) => w.tryLocally)
      .filter((l) => l.startsWith('npx opsflow start '))
      .map((l) => l.replace(/\s+#.*$/, ''));
    expect(starts).toHaveLength(WORKFLOWS.length);
    for (const line of [...starts, 'npx opsflow start Inventory workflows/examples/inventory.json']) expect(startHelp).toContain(`\n  ${line}\n`);
    expect(executions).toContain('npx opsflow executions Inventory --status RUNNING');
  });

  it('names a runtime that is not running, with the fix, instead of ECONNREFUSED', async () => {
    const closed = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => done(port));
      });
    });
    const run = exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', 'executions', '--port', String(closed)], {
      env: { ...process.env, OPSFLOW_ENDPOINT: '' },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: `opsflow executions: no opsflow runtime at 127.0.0.1:${closed}: start it with \`npm start\`\n`,
    });
  });

  it('explains a wrong command line (exit code 2)', async () => {
    await expect(opsflow('start')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: npx opsflow start <workflow>') });
    await expect(opsflow('executions', '--bogus')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
  });

  it('prints every link whole, and the printed approval link opens the approval page', async () => {
    // Prepare: an approval whose links are longer than any column width.
    await h.start('Approval', { title: 'Whole links', approvers: ['lead@example.com'] });
    const [mail] = await h.mail((e) => e.subject.includes('Whole links'));
    const link = mail.links.find((l) => l.includes('/approvals/'))!;
    expect(link.length).toBeGreaterThan(80);

    // Act
    const printed = await opsflow('outbox');
    const wide = await opsflow('outbox', '--wide');

    // Assess: the exact link, on a line of its own and in the wide table, opens the page (a cut one answers 404).
    expect(printed.split('\n').map((l) => l.trim())).toContain(link);
    expect(wide).toContain(link);
    const shown = printed
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith(`${h.endpoint}/approvals/`) && printed.includes('Whole links'))!;
    expect((await fetch(shown)).status).toBe(200);
  });

  it('finds the workflow whatever the case, and suggests the nearest name for a typo', async () => {
    const input = join(h.stateDir, 'case.json');
    writeFileSync(input, JSON.stringify({ title: 'Any case', approvers: ['lead@example.com'] }));
    expect(await opsflow('start', 'approval', input)).toMatch(/^started arn:aws:states:us-east-1:000000000000:execution:Opsflow-Approval:/);
    await expect(opsflow('start', 'Aproval', input)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^opsflow start: no workflow named 'Aproval' \(did you mean Approval\?\)\. Workflows: Approval, .*Ec2Schedule.*TagPolicy/),
    });
  });

  it('names a missing input file, and gives the file, line and column of malformed JSON', async () => {
    const bad = join(h.stateDir, 'bad.json');
    writeFileSync(bad, '{\n  "title": "x",\n  "approvers": ["a@example.com"],\n}\n');
    await expect(opsflow('start', 'Approval', 'workflows/approval/examples/aproval.json')).rejects.toMatchObject({
      code: 1,
      stderr: 'opsflow start: input file workflows/approval/examples/aproval.json does not exist (did you mean workflows/approval/examples/approval.json?)\n',
    });
    await expect(opsflow('start', 'Approval', bad)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(new RegExp(`^opsflow start: ${bad}:4:1: not valid JSON: `)),
    });
  });

  it('finds the port of the running runtime in its state directory, and reports a port in use before synthesizing', async () => {
    // Act: no --port, no OPSFLOW_PORT, no OPSFLOW_ENDPOINT: the runtime recorded its (random) port in its state.
    const found = await opsflowWith({ OPSFLOW_ENDPOINT: '', OPSFLOW_PORT: '' }, 'executions', '--json');
    const link = await exec(process.execPath, [require.resolve('tsx/cli'), 'infra/control-link.ts', 'i-0feed000000000011', 'stop'], {
      env: { ...process.env, OPSFLOW_ENDPOINT: '', OPSFLOW_PORT: '', OPSFLOW_STATE_DIR: h.stateDir },
    });
    const up = exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', 'up', '--synth', '--port', new URL(h.endpoint).port], {
      env: { ...process.env, OPSFLOW_ENDPOINT: '', OPSFLOW_STATE_DIR: mkdtempSync(join(tmpdir(), 'opsflow-cli-up-')) },
    });

    // Assess
    expect(Array.isArray(JSON.parse(found))).toBe(true);
    expect(link.stdout).toMatch(new RegExp(`^${h.endpoint}/ec2/control/i-0feed000000000011/stop\\?token=`));
    const failed = await up.then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        new RegExp(
          `^opsflow up: port ${new URL(h.endpoint).port} on 127\\.0\\.0\\.1 is in use by another opsflow runtime \\(state in .*\\): stop it, or start on another port: npm start -- --port \\d+\n$`,
        ),
      ),
    });
    // Reported before synthesis: `cdk synth` never started.
    expect(failed!.stdout).not.toContain('cdk synth');
  });

  it('refuses to reset the state of a running runtime', async () => {
    await expect(opsflow('reset')).rejects.toThrow(/is in use by the opsflow runtime with pid \d+ .*stop it before resetting its state/);
  });
});
