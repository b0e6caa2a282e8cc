/**
 * README "Adding a workflow", done as the guide says, in a copy of the project: a fourth workflow (`Hello`) is one
 * folder in `workflows/`, one in `tasks/`, one entry in the registry (and its import) and one README row. Then, with
 * nothing else edited: `cdk synth` builds it, a bad value in its config section fails synth naming the field, the local
 * runtime runs its example, and the app-wide test (test/infra/app.test.ts) checks it along with the others.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRuntime } from './harness';
import { copyProject } from './project-copy';

/** Beside the project: the app-wide test and what it needs. */
const TEST_FILES = ['vitest.config.ts', '.dependency-cruiser.cjs', 'test/setup.ts', 'test/temp-dir.ts', 'test/infra/app.test.ts', 'test/infra/synth.ts'];

/** The new workflow's files, as a developer following the guide writes them. */
const HELLO: Record<string, string> = {
  'workflows/hello/config.ts': `
import { asObject, str, unknownKeys } from '../shared/config';

export interface HelloConfig {
  /** @default 'Hello' */
  readonly greeting: string;
}

export function parseHello(raw: unknown, problems: string[]): HelloConfig {
  const h = asObject(raw ?? {}, 'hello', problems);
  unknownKeys(h, ['greeting'], 'hello', problems);
  return { greeting: str(h.greeting ?? 'Hello', 'hello.greeting', problems) };
}
`,
  'workflows/hello/construct.ts': `
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { LambdaStep } from '../shared/steps';
import { TaskFunction } from '../shared/task-function';
import { WorkflowStateMachine, workflowStateMachineName } from '../shared/workflow-state-machine';

export class Hello extends Construct {
  readonly stateMachine: WorkflowStateMachine;

  constructor(scope: Construct, id: string, props: { greeting: string }) {
    super(scope, id);
    const greet = new TaskFunction(this, 'GreetFn', { entry: 'tasks/hello/greet.ts', description: 'Greets by name', environment: { GREETING: props.greeting } });
    this.stateMachine = new WorkflowStateMachine(this, 'StateMachine', {
      stateMachineName: workflowStateMachineName(this, 'Hello'),
      comment: 'Greets whoever the input names.',
      definition: new LambdaStep(this, 'Greet', greet),
      timeout: Duration.minutes(5),
    });
  }
}
`,
  'workflows/hello/index.ts': `
import { defineWorkflow, examplesIn } from '../shared/registration';
import { parseHello } from './config';
import { Hello } from './construct';

export const hello = defineWorkflow({
  name: 'Hello',
  summary: 'greets whoever the input names',
  parseConfig: parseHello,
  build: (scope, config) => {
    const w = new Hello(scope, 'Hello', config);
    return { construct: w, stateMachine: w.stateMachine };
  },
  examples: examplesIn(__dirname),
  tryLocally: ['npx opsflow start Hello workflows/hello/examples/hello.json'],
});
`,
  'workflows/hello/examples/hello.json': '{ "name": "Ada" }\n',
  'tasks/hello/core/greet.ts': `
export function greet(input: { name?: unknown }, greeting: string): { message: string } {
  if (typeof input.name !== 'string' || !input.name) throw new Error('name must be a non-empty string');
  return { message: \`\${greeting}, \${input.name}!\` };
}
`,
  'tasks/hello/greet.ts': `
import { lambdaHandler } from '../shared/handler';
import { greet } from './core/greet';

const greeting = process.env.GREETING ?? 'Hello';
export const handler = lambdaHandler(async (event: { name?: unknown }) => greet(event, greeting));
`,
};

function run(cwd: string, command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: { ...process.env, NO_COLOR: '1' }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('adding a workflow, as README "Adding a workflow" says', () => {
  const project = mkdtempSync(join(tmpdir(), 'opsflow-add-workflow-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('is one folder in workflows/, one in tasks/, a registry entry and a README row: it synthesizes, validates its config, runs, and the app-wide checks cover it', {
    timeout: 900_000,
  }, async () => {
    copyProject(project, TEST_FILES);
    for (const [file, text] of Object.entries(HELLO)) {
      mkdirSync(dirname(join(project, file)), { recursive: true });
      writeFileSync(join(project, file), text.trimStart());
    }
    const registry = join(project, 'workflows/index.ts');
    const before = readFileSync(registry, 'utf8');
    const after = before
      .replace(/^(import .*\n)(?!import)/m, "$1import { hello } from './hello';\n")
      .replace(/(export const WORKFLOWS = \[.*?)\]/, '$1, hello]');
    expect(after.split('\n').length - before.split('\n').length).toBe(1);
    writeFileSync(registry, after);
    const readme = join(project, 'README.md');
    writeFileSync(readme, readFileSync(readme, 'utf8').replace(/^(\| `TagPolicy` \|.*\n)/m, '$1| `Hello` | greets whoever the input names | ready |\n'));

    // A bad value in the new section fails synth, naming the field.
    writeFileSync(join(project, 'bad.json'), JSON.stringify({ ...JSON.parse(readFileSync('opsflow.config.json', 'utf8')), hello: { greeting: 5 } }));
    const bad = await run(project, 'npx', ['cdk', 'synth', '--quiet', '-c', 'config=bad.json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('opsflow config: hello.greeting must be a non-empty string');

    writeFileSync(
      join(project, 'opsflow.config.json'),
      JSON.stringify({ ...JSON.parse(readFileSync('opsflow.config.json', 'utf8')), hello: { greeting: 'Good morning' } }),
    );
    const synth = await run(project, 'npx', ['cdk', 'synth', '--quiet']);
    expect(synth.code, synth.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(project, 'cdk.out', 'Opsflow.template.json'), 'utf8'));
    const declared = Object.values<any>(template.Resources).flatMap((r) => r.Metadata?.OpsflowLocal?.workflow ?? []);
    expect(declared.map((w) => w.name)).toEqual(['Approval', 'Ec2Schedule', 'TagPolicy', 'Hello']);
    expect(declared[3].examples).toEqual([{ name: 'hello.json', input: HELLO['workflows/hello/examples/hello.json'] }]);
    expect(template.Outputs.HelloStateMachineArn).toBeDefined();

    const h = await startRuntime({ cdkOut: join(project, 'cdk.out'), seedFleet: false });
    try {
      const arn = await h.start('Hello', JSON.parse(readFileSync(join(project, 'workflows/hello/examples/hello.json'), 'utf8')));
      const done = await h.finished(arn);
      expect(done.status, done.cause).toBe('SUCCEEDED');
      expect(JSON.parse(done.output!)).toEqual({ message: 'Good morning, Ada!' });
    } finally {
      await h.stop();
    }

    const appWide = await run(project, 'npx', ['vitest', 'run', 'test/infra/app.test.ts']);
    expect(appWide.code, appWide.stdout + appWide.stderr).toBe(0);
    expect(appWide.stdout).toMatch(/Tests\s+\d+ passed/);
  });
});
