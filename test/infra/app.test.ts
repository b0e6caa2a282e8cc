/**
 * App-wide checks, over every workflow in the registry (workflows/index.ts): a workflow added there is checked here
 * without this file naming it, and the layering of the code. Each workflow's own test file checks its exact ASL and
 * IAM.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import aslValidator from 'asl-validator';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { stateMachines } from '../../infra/asl';
import { parseConfig } from '../../infra/config';
import { WORKFLOWS } from '../../workflows';
import { configKey, folderName, type WorkflowRegistration } from '../../workflows/shared/registration';
import { asList, statements, synthOpsflow } from './synth';

type State = {
  Type: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Branches?: Array<{ States: Record<string, State> }>;
  ItemProcessor?: { States: Record<string, State> };
  Iterator?: { States: Record<string, State> };
};

function tasks(states: Record<string, State>): Array<[string, State]> {
  return Object.entries(states).flatMap(([name, s]) => [
    ...(s.Type === 'Task' ? [[name, s] as [string, State]] : []),
    ...(s.Branches ?? []).flatMap((b) => tasks(b.States)),
    ...[s.ItemProcessor, s.Iterator].flatMap((p) => (p ? tasks(p.States) : [])),
  ]);
}

const registry = WORKFLOWS as readonly WorkflowRegistration[];
const { json, stack } = synthOpsflow();
const machines = stateMachines(json);
const resources = Object.values(json.Resources as Record<string, any>);

describe('the registry', () => {
  it("holds the app's workflows, each with one name: its folders, config key and state machine", () => {
    expect(registry.length).toBeGreaterThanOrEqual(3);
    for (const w of registry) {
      expect(w.name, w.name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      expect(existsSync(`workflows/${folderName(w.name)}/index.ts`), `workflows/${folderName(w.name)}/`).toBe(true);
      expect(existsSync(`tasks/${folderName(w.name)}`), `tasks/${folderName(w.name)}/`).toBe(true);
      expect(
        machines.map((m) => m.workflow),
        w.name,
      ).toContain(w.name);
      expect(Object.keys(parseConfig({})), w.name).toContain(configKey(w.name));
    }
    // Every state machine belongs to a registered workflow (Ec2ScheduleWave is Ec2Schedule's inner machine).
    for (const m of machines)
      expect(
        registry.some((w) => m.workflow.startsWith(w.name)),
        m.workflow,
      ).toBe(true);
  });

  it('gives each workflow example inputs that exist and parse, and a start command naming one', () => {
    for (const w of registry) {
      expect(w.examples.length, w.name).toBeGreaterThan(0);
      for (const file of w.examples) {
        expect(file.startsWith(`workflows/${folderName(w.name)}/examples/`), file).toBe(true);
        expect(() => JSON.parse(readFileSync(file, 'utf8')), file).not.toThrow();
      }
      const start = w.tryLocally.find((l) => l.startsWith(`npx opsflow start ${w.name} `));
      expect(w.examples, `${w.name}: ${start}`).toContain(start?.split(/\s+/)[4]);
    }
  });

  it("is what the README's table of workflows lists, row by row", () => {
    const readme = readFileSync('README.md', 'utf8');
    const rows = [...readme.matchAll(/^\| `([A-Za-z0-9]+)` \| (.+?) \| \w+ \|$/gm)].map(([, name, summary]) => ({ name, summary }));
    expect(rows).toEqual(registry.map((w) => ({ name: w.name, summary: w.summary })));
  });

  it('tells the local runtime about every workflow through the template', () => {
    const declared = resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine').map((r) => r.Metadata?.OpsflowLocal?.workflow);
    expect(
      declared.filter(Boolean).map((w) => ({ name: w.name, examples: w.examples.map((e: { name: string }) => e.name), tryLocally: w.tryLocally })),
    ).toEqual(registry.map((w) => ({ name: w.name, examples: w.examples.map((e) => e.split('/').pop()), tryLocally: w.tryLocally })));
  });
});

describe('every state machine', () => {
  it('is valid ASL', () => {
    for (const m of machines) {
      const { isValid, errors } = aslValidator(m.definition as never);
      expect(errors, m.name).toEqual([]);
      expect(isValid).toBe(true);
    }
  });

  it('gives every Task state an explicit timeout', () => {
    for (const m of machines) {
      for (const [name, s] of tasks(m.definition.States as Record<string, State>)) {
        expect(s.TimeoutSeconds ?? s.TimeoutSecondsPath, `${m.name}.${name}`).toBeDefined();
      }
    }
  });

  it('keeps execution data out of its logs, and is traced', () => {
    const sms = resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(sms.length).toBe(machines.length);
    for (const sm of sms) {
      expect(sm.Properties.LoggingConfiguration, sm.Properties.StateMachineName).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
      expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
  });

  it('of a registered workflow reports its failed, timed-out and aborted executions (test/infra/failure-alerts.test.ts)', () => {
    const rule = resources.find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.source?.[0] === 'aws.states');
    expect(rule.Properties.EventPattern.detail.status).toEqual(['FAILED', 'TIMED_OUT', 'ABORTED']);
    const watched = JSON.stringify(rule.Properties.EventPattern.detail.stateMachineArn);
    for (const w of registry) expect(watched, w.name).toMatch(new RegExp(`"Ref":"${w.name}StateMachine[0-9A-F]{8}"`));
  });
});

describe('IAM', () => {
  const all = statements(json);

  it('never grants a wildcard action', () => {
    for (const s of all) for (const a of asList(s.Action)) expect(a, s.policy).not.toMatch(/(^\*$|:\*$)/);
  });

  // The reads the Service Authorization Reference lists with no resource type (rds:DescribeEvents,
  // autoscaling:DescribeAutoScalingGroups, ecs:ListClusters, ecs:ListServices): the demo config schedules every kind.
  it("uses Resource * only for actions that cannot be scoped (X-Ray, log delivery, EC2 Describe*, CloudTrail lookups, SendTask*, the kinds' list reads)", () => {
    const unscoped = all.filter((s) => asList(s.Resource as string).includes('*')).flatMap((s) => asList(s.Action));
    for (const a of unscoped)
      expect(a).toMatch(
        /^(xray:|ec2:Describe|cloudtrail:LookupEvents$|states:SendTask(Success|Failure|Heartbeat)$|rds:DescribeEvents$|autoscaling:DescribeAutoScalingGroups$|ecs:List(Clusters|Services)$|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))/,
      );
  });
});

describe('task functions', () => {
  it('run on Node.js 22 on arm64 with tracing and their own log groups', () => {
    const fns = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fns.length).toBeGreaterThanOrEqual(registry.length);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
      });
    }
  });
});

describe('cdk-nag', () => {
  it('finds no unsuppressed AwsSolutions errors or warnings', () => {
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`)).toEqual([]);
  });
});

describe('npm run asl', () => {
  // One child process synthesizing the app: seconds alone, a minute or more on a loaded 2-core machine.
  it('writes each state machine as plain ASL with readable placeholder ARNs', { timeout: 240_000 }, async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [require.resolve('tsx/cli'), 'infra/asl-export.ts'], { stdio: 'pipe' });
    for (const m of machines) {
      const text = readFileSync(`dist/asl/${m.workflow}.asl.json`, 'utf8');
      expect(text, m.workflow).not.toMatch(/Fn::|"Ref"/);
      expect(aslValidator(JSON.parse(text)).isValid, m.workflow).toBe(true);
    }
    const approval = readFileSync('dist/asl/Approval.asl.json', 'utf8');
    expect(approval).toContain('arn:aws:states:us-east-1:123456789012:activity:ApprovalActivity');
    expect(approval).toContain('arn:aws:lambda:us-east-1:123456789012:function:ApprovalWorkerFn');
  });
});

/**
 * Layering, checked on the import statements: constructs do not depend on the app's config, tasks do not depend
 * on the CDK app, cores build no SDK clients and see no Lambda event types, and the runtime knows nothing of the app;
 * within local/, the layers of .dependency-cruiser.cjs.
 */
const ROOT = join(__dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports, resolved to a repository path when relative (`infra/config`). */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map(([, spec]) =>
    spec.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', spec)) : spec,
  );
}

const offending = (dir: string, bad: (spec: string, file: string) => boolean) =>
  files(dir).flatMap((f) =>
    imports(f)
      .filter((spec) => bad(spec, f))
      .map((spec) => `${f} imports ${spec}`),
  );

describe('layering', () => {
  it('finds the files it checks', () => {
    expect(files('workflows').length).toBeGreaterThanOrEqual(8);
    expect(files('tasks').length).toBeGreaterThanOrEqual(60);
    expect(files('local').length).toBeGreaterThanOrEqual(25);
    expect(imports('workflows/ec2-schedule/construct.ts')).toContain('tasks/shared/errors');
  });

  it('keeps constructs independent of the app and its config', () => {
    expect(offending('workflows', (spec) => spec.startsWith('infra/') || spec.startsWith('local/'))).toEqual([]);
  });

  it('keeps tasks independent of the CDK app and the runtime', () => {
    expect(offending('tasks', (spec) => /^(infra|workflows|local)\//.test(spec) || spec.startsWith('aws-cdk-lib'))).toEqual([]);
  });

  it('keeps cores pure: no Lambda event types, no SDK clients built', () => {
    const cores = files('tasks').filter((f) => f.includes('/core/'));
    expect(offending('tasks', (spec, f) => f.includes('/core/') && spec === 'aws-lambda')).toEqual([]);
    const building = cores.filter(
      (f) => /new \w+Client\(/.test(readFileSync(join(ROOT, f), 'utf8')) || /DynamoDBDocumentClient\.from\(/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(building).toEqual([]);
  });

  it('keeps the runtime free of the app: no imports of infra/, workflows/ or tasks/', () => {
    expect(offending('local', (spec) => /^(infra|workflows|tasks)\//.test(spec))).toEqual([]);
  });

  it('has no import circle and no import running up a layer of local/ (.dependency-cruiser.cjs; `npm run deps` prints the report)', async () => {
    // dependency-cruiser is ESM only; this file is CommonJS.
    const { cruise, format } = await import('dependency-cruiser');
    const { default: extractOptions } = await import('dependency-cruiser/config-utl/extract-depcruise-options');
    const { default: extractTsConfig } = await import('dependency-cruiser/config-utl/extract-ts-config');
    const options = { ...(await extractOptions(join(ROOT, '.dependency-cruiser.cjs'))), baseDir: ROOT };
    const result = await cruise(['local', 'tasks', 'workflows', 'infra'], options, undefined, { tsConfig: extractTsConfig(join(ROOT, 'tsconfig.json')) });
    if (typeof result.output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
    const report = (await format(result.output, { outputType: 'err' })).output;
    expect(result.output.summary.violations, String(report)).toEqual([]);
    // The rules looked at the whole runtime, not an empty selection.
    expect(result.output.modules.filter((m) => m.source.startsWith('local/')).length).toBeGreaterThan(50);
  }, 180_000);
});
