/**
 * The shipped app synthesized with a changed config, for tests that need another configuration. The template comes
 * from that config; the functions' code does not depend on it (settings travel in the environment), so the bundles
 * `npm test` built into cdk.out are reused instead of bundling every function again. CDK's built-in template linter
 * (seconds per synth, warnings only) is off: `npm test`'s synth of the shipped app runs it, and the runtime's deploy
 * checks run on this template.
 */
import { App } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp } from '../../infra/app';

/** Returns a fresh directory holding the config and its `cdk.out` (a place for the runtime's `state` too). */
export function synthWithConfig(prefix: string, change: (config: any) => void): { dir: string; cdkOut: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = JSON.parse(readFileSync('opsflow.config.json', 'utf8'));
  change(config);
  writeFileSync(join(dir, 'opsflow.config.json'), JSON.stringify(config));
  const cdkOut = join(dir, 'cdk.out');
  buildApp(
    new App({ outdir: cdkOut, builtinCloudFormationValidation: false, context: { config: join(dir, 'opsflow.config.json'), 'aws:cdk:bundling-stacks': [] } }),
  ).app.synth();
  const built = resolve(process.env.OPSFLOW_CDK_OUT ?? 'cdk.out');
  const bundled = JSON.parse(readFileSync(join(built, `${config.stackName}.template.json`), 'utf8'));
  const templateFile = join(cdkOut, `${config.stackName}.template.json`);
  const template = JSON.parse(readFileSync(templateFile, 'utf8'));
  for (const [id, r] of Object.entries<any>(template.Resources)) {
    if (r.Type === 'AWS::Lambda::Function') r.Metadata['aws:asset:path'] = join(built, bundled.Resources[id].Metadata['aws:asset:path']);
  }
  writeFileSync(templateFile, JSON.stringify(template));
  return { dir, cdkOut };
}
