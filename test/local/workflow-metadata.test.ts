/**
 * Workflows, their examples and the fleet's tag columns come from what the template declares (README "Local runtime
 * metadata"), never from file or state machine names: two workflows whose names start alike (Ec2Schedule, Ec2Patch)
 * each get exactly the examples declared for them. A malformed declaration fails naming the resource and the field.
 */
import { App, Stack } from 'aws-cdk-lib';
import { DefinitionBody, Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../local/console/api';
import { declaredWorkflows, interestingTags } from '../../local/console/metadata';
import { declareLocalApp, declareWorkflow, readExamples } from '../../workflows/shared/local-metadata';
import { startRuntime, type Harness } from '../e2e/harness';

const SCHEDULE_EXAMPLES = [
  { name: 'ec2-stop.json', input: '{"action":"stop"}' },
  { name: 'ec2-start.json', input: '{"action":"start"}' },
];
const PATCH_EXAMPLES = [{ name: 'ec2-patch-now.json', input: '{"patch":"now"}' }];

function machine(stack: Stack, name: string): StateMachine {
  return new StateMachine(stack, name, { stateMachineName: `Fleet-${name}`, definitionBody: DefinitionBody.fromChainable(new Pass(stack, `${name}Pass`)) });
}

describe('workflows declared in the template', () => {
  let dir: string;
  let h: Harness;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsflow-workflow-metadata-'));
    const app = new App({ outdir: join(dir, 'cdk.out'), builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Fleet', { env: { account: '000000000000', region: 'us-east-1' } });
    declareWorkflow(machine(stack, 'Ec2Schedule'), { name: 'Ec2Schedule', examples: SCHEDULE_EXAMPLES });
    declareWorkflow(machine(stack, 'Ec2Patch'), { name: 'Ec2Patch', examples: PATCH_EXAMPLES });
    machine(stack, 'Helper'); // declares nothing: shown by its state machine name, with no examples
    declareLocalApp(stack, { interestingTags: ['Team'] });
    app.synth();
    h = await startRuntime({ cdkOut: join(dir, 'cdk.out'), stateDir: join(dir, 'state'), seedFleet: false });
  });
  afterAll(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives each workflow exactly its declared examples, whatever the names have in common', async () => {
    const workflows = await new ApiClient(h.endpoint).workflows();
    expect(Object.fromEntries(workflows.map((w) => [w.name, w.examples]))).toEqual({
      Ec2Schedule: SCHEDULE_EXAMPLES,
      Ec2Patch: PATCH_EXAMPLES,
      'Fleet-Helper': [],
    });
    expect(h.rt.deployed.interestingTags).toEqual(['Team']);
  });

  it('starts a workflow by its declared name or its state machine name, and lists it by the declared one', async () => {
    const api = new ApiClient(h.endpoint);
    await api.start({ workflow: 'Ec2Patch', input: '{}', name: 'by-workflow' });
    await api.start({ workflow: 'Fleet-Ec2Patch', input: '{}', name: 'by-machine' });
    const page = await api.executions({ workflow: 'Ec2Patch' });
    expect(page.items.map((e) => [e.workflow, e.name]).sort()).toEqual([
      ['Ec2Patch', 'by-machine'],
      ['Ec2Patch', 'by-workflow'],
    ]);
  });
});

describe('malformed declarations', () => {
  const template = (workflow: unknown, type = 'AWS::StepFunctions::StateMachine') => ({
    Resources: { Machine: { Type: type, Metadata: { OpsflowLocal: { workflow } } } },
  });

  it('names the stack, the resource and every bad field', () => {
    expect(() => declaredWorkflows(template({ name: 'has space', examples: [{ name: '', input: '{' }], tryLocally: 'npx' }), 'S')).toThrow(
      /^S state machine Machine: OpsflowLocal\.workflow is not valid: name: must be 1-80 letters.*; examples\[0\]\.name: must be a non-empty string; examples\[0\]\.input: not JSON .*; tryLocally: must be a list of strings$/,
    );
    expect(() => declaredWorkflows(template({ name: 'Bars' }, 'AWS::DynamoDB::Table'), 'S')).toThrow('it belongs on an AWS::StepFunctions::StateMachine');
    expect(() => interestingTags({ Metadata: { OpsflowLocal: { interestingTags: 'Owner' } } }, 'S')).toThrow(
      'S: OpsflowLocal.interestingTags must be a list of tag keys',
    );
  });

  it('refuses two state machines declaring one name', () => {
    const twice = { Resources: { A: template({ name: 'Bars' }).Resources.Machine, B: template({ name: 'bars' }).Resources.Machine } };
    expect(() => declaredWorkflows(twice, 'S')).toThrow("S: two state machines declare the workflow name 'bars'");
  });

  it('fails synth on an example file that is missing or not JSON, naming it', () => {
    expect(() => readExamples(['workflows/approval/examples/no-such.json'])).toThrow(/^example workflows\/approval\/examples\/no-such\.json: ENOENT/);
    expect(() => readExamples(['test/fixtures/other-app/count/index.js'])).toThrow(/^example test\/fixtures\/other-app\/count\/index\.js: .*JSON/);
  });
});
