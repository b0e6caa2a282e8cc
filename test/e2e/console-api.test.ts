/** The `/_opsflow/` API through its typed client, as the CLI and the console call it. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS } from '../../workflows';
import { readExamples } from '../../workflows/shared/local-metadata';
import { ApiClient, ApiError } from '../../local/console/api';
import { startRuntime, type Harness } from './harness';

let h: Harness;
let api: ApiClient;

beforeAll(async () => {
  h = await startRuntime();
  api = new ApiClient(h.endpoint);
});
afterAll(() => h?.stop());

describe('/_opsflow/ API', () => {
  it('lists every deployed workflow with its definition and exactly the example inputs its registration declares', async () => {
    const workflows = await api.workflows();
    // A registered workflow by its registered name; a state machine the app declares nothing about (Ec2Schedule's
    // wave) by its own name.
    const declared = new Map(WORKFLOWS.map((w) => [h.arnOf(w.name), w.name]));
    expect(workflows.map((w) => w.name).sort()).toEqual(h.rt.deployed.stateMachines.map((s) => declared.get(s.arn) ?? s.name).sort());
    const approval = workflows.find((w) => w.name === 'Approval')!;
    expect(approval.definition.StartAt).toBe('ValidateInput');
    expect(JSON.parse(approval.examples[0].input)).toHaveProperty('title');
    for (const w of WORKFLOWS) expect(workflows.find((x) => x.name === w.name)!.examples).toEqual(readExamples(w.examples));
    expect(workflows.find((w) => w.name === 'Ec2Schedule')!.examples.map((e) => e.name)).toContain('ec2-stop-office-hours-dry-run.json');
    // Child workflows started by others declare none.
    expect(workflows.filter((w) => !declared.has(w.arn)).flatMap((w) => w.examples)).toEqual([]);
  });

  it('starts an execution, finds it by name, pages and filters the list, and stops it', async () => {
    const started = await api.start({ workflow: 'Approval', input: JSON.stringify({ title: 'API run', approvers: ['lead@example.com'] }), name: 'api-run' });
    expect(started.executionArn).toMatch(/:execution:Opsflow-Approval:api-run$/);
    await h.mail((e) => e.subject.includes('API run'));

    const detail = await api.execution('api-run');
    expect(detail).toMatchObject({ name: 'api-run', workflow: 'Approval', status: 'RUNNING', output: null });
    expect(detail.events[0]).toMatchObject({ id: 1, type: 'ExecutionStarted' });
    expect(detail.events.map((e) => e.type)).toContain('ActivityStarted');
    // The Approval table's record panel (template metadata) shows the request, open, waiting on its approver.
    expect(detail.records).toHaveLength(1);
    expect(detail.records[0]).toMatchObject({
      panel: 'Approval',
      title: 'API run',
      status: 'pending',
      open: true,
      reason: null,
      waitingOn: [{ who: 'lead@example.com' }],
    });
    expect(detail.records[0].list!.rows.map((r) => r[0])).toEqual(['lead@example.com']);
    expect((await api.waiting()).find((g) => g.panel === 'Approval')!.items.map((i) => i.execution)).toContain('api-run');

    const running = await api.executions({ workflow: 'Approval', status: 'RUNNING', limit: 1 });
    expect(running.items).toHaveLength(1);
    expect(running.total).toBeGreaterThanOrEqual(1);
    expect(running.counts.RUNNING).toBe(running.total);

    await api.stop(started.executionArn, { cause: 'stopped from the API test' });
    const stopped = await api.execution(started.executionArn);
    expect(stopped).toMatchObject({ status: 'ABORTED', cause: 'stopped from the API test' });
    // The record still says pending; its execution says otherwise, and the console believes the execution.
    expect(stopped.records[0]).toMatchObject({
      status: 'closed',
      open: false,
      reason: 'its execution was stopped (ABORTED): stopped from the API test',
      waitingOn: [],
    });
    expect((await api.waiting()).find((g) => g.panel === 'Approval')!.items.map((i) => i.execution)).not.toContain('api-run');
    expect((await api.executions({ status: 'ABORTED' })).items.map((e) => e.name)).toContain('api-run');
  });

  it('answers errors with a name and a message', async () => {
    await expect(api.start({ workflow: 'Approval', input: '{not json' })).rejects.toMatchObject({ error: 'InvalidExecutionInput', status: 400 });
    await expect(api.start({ workflow: 'Nope', input: '{}' })).rejects.toMatchObject({ error: 'StateMachineDoesNotExist', status: 404 });
    await expect(api.execution('no-such-run')).rejects.toBeInstanceOf(ApiError);
    await expect(api.fire('no-such-schedule')).rejects.toMatchObject({ error: 'ScheduleNotFound', message: expect.stringContaining('known schedules') });
    await expect(api.setFaults({ ec2ThrottleRate: 2 })).rejects.toMatchObject({
      error: 'ValidationException',
      message: expect.stringContaining('ec2ThrottleRate'),
    });
  });

  it('shows schedules with their zone, fires one, and edits faults', async () => {
    const schedules = await api.schedules();
    expect(schedules.length).toBeGreaterThan(0);
    expect(schedules.every((s) => typeof s.timezone === 'string')).toBe(true);
    const sweep = schedules.find((s) => s.name.includes('ApprovalSweep'))!;
    expect(await api.fire(sweep.name)).toEqual({ fired: sweep.name });

    expect(await api.setFaults({ sesFailRate: 0.25 })).toMatchObject({ sesFailRate: 0.25 });
    expect((await api.faults()).sesFailRate).toBe(0.25);
    await api.setFaults({ sesFailRate: 0 });
    expect((await api.fleet()).length).toBeGreaterThan(0);
  });
});

describe('record panel metadata', () => {
  it('refuses at deploy a table whose record panel is malformed, naming the table and the field', async () => {
    const cdkOut = join(mkdtempSync(join(tmpdir(), 'opsflow-panel-')), 'cdk.out');
    cpSync(process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', cdkOut, { recursive: true });
    const file = join(cdkOut, 'Opsflow.template.json');
    const template = JSON.parse(readFileSync(file, 'utf8'));
    const [id, table] = Object.entries<any>(template.Resources).find(([, r]) => r.Metadata?.OpsflowLocal?.records)!;
    table.Metadata.OpsflowLocal.records.title = 'title &';
    writeFileSync(file, JSON.stringify(template));
    await expect(startRuntime({ cdkOut, seedFleet: false })).rejects.toThrow(
      new RegExp(`Opsflow table ${id}: OpsflowLocal\\.records is not a valid record panel: title: not valid JSONata`),
    );
  }, 60_000);
});
