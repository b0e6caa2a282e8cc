/** Synthesizes the opsflow app once per test file, without esbuild (templates do not depend on bundles). */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import type { OpsflowStack } from '../../infra/opsflow-stack';

let cached: { stack: OpsflowStack; template: Template; json: any } | undefined;

export function synthOpsflow(): { stack: OpsflowStack; template: Template; json: any } {
  if (!cached) {
    const { stack } = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    const template = Template.fromStack(stack);
    cached = { stack, template, json: template.toJSON() };
  }
  return cached;
}

/** Every IAM statement in the template with the logical id of the policy that holds it. */
export function statements(json: any): Array<{ policy: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string }> {
  return Object.entries(json.Resources as Record<string, any>)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([id, r]) => (r.Properties.PolicyDocument.Statement as any[]).map((s) => ({ policy: id, ...s })));
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
