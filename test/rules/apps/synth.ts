/**
 * Small CDK apps that each break one of AWS's rules, synthesized in-process into a temporary cloud assembly
 * that `opsflow up --cdk-out` (or Runtime.start) deploys. Lambda code is a plain asset directory, so no
 * bundling happens and a synth takes a fraction of a second.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ECHO_CODE = join(__dirname, 'echo');

/** Synthesizes one app with one stack per entry of `stacks`; returns the cdk.out directory. */
export function synthApp(stacks: Record<string, (stack: Stack) => void>): string {
  const outdir = mkdtempSync(join(tmpdir(), 'opsflow-rule-app-'));
  // CDK's built-in template linter (a WebAssembly cfn-lint, warnings only) takes seconds per synth; what these
  // apps test is the runtime's own refusals (local/rules/deploy.ts), so it is off here.
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  for (const [name, build] of Object.entries(stacks)) build(new Stack(app, name, { env: { account: '000000000000', region: 'us-east-1' } }));
  app.synth();
  return outdir;
}

/** A Node.js function whose handler echoes its event. */
export function echoFunction(stack: Stack, id: string, props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromAsset(ECHO_CODE), ...props });
}
