/** `npm run asl`: writes dist/asl/<workflow>.asl.json for every state machine of the app (`Opsflow-Approval` → Approval). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from './app';
import { stateMachines } from './asl';

// The ASL does not depend on the Lambda bundles, so skip esbuild for speed.
const { app, stack } = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
const template = app.synth().getStackByName(stack.stackName).template;
const out = join(__dirname, '..', 'dist', 'asl');
mkdirSync(out, { recursive: true });
for (const sm of stateMachines(template)) {
  const file = join(out, `${sm.workflow}.asl.json`);
  writeFileSync(file, `${JSON.stringify(sm.definition, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
