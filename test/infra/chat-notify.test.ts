/**
 * Chat notifications in the template: the functions that post (failure alerts, the TagPolicy and Ec2Schedule report
 * functions) get where to post, the chat secret's ARN and the execution ARN prefix, and may read that one secret;
 * nothing changes without chat config; cdk-nag stays clean.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../infra/config';
import { OpsflowStack } from '../../infra/opsflow-stack';
import { asList, statements, synthOpsflow } from './synth';

const MM = 'abcdefghijklmnopqrstuvwxyz';
const shipped = JSON.parse(JSON.stringify(loadConfig()));
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
Aspects.of(app).add(new AwsSolutionsChecks());
const stack = new OpsflowStack(app, 'Opsflow', {
  config: parseConfig({
    approval: { sender: shipped.approval.sender, approvers: shipped.approval.approvers },
    alerts: { emails: ['ops@example.com'], chat: { slack: 'C0123ABCD' } },
    tagPolicy: { reportChat: { teams: 'ops' } },
    ec2Schedule: { reportChat: { mattermost: MM, mattermostUrl: 'https://chat.example.com' } },
  }),
});
const json = Template.fromStack(stack).toJSON();
const resources = Object.entries(json.Resources as Record<string, any>);
const fn = (prefix: string) => resources.find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix))!;
const secretId = resources.find(([id, r]) => r.Type === 'AWS::SecretsManager::Secret' && id.startsWith('ChatSecret'))![0];
const prefixOf = (machine: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:execution:${machine}`]],
});

describe('chat notifications in the template', () => {
  it.each([
    ['FailureAlertsNotifyFn', { CHAT_TARGETS: '{"slack":"C0123ABCD"}' }],
    ['TagPolicyReportFn', { CHAT_TARGETS: '{"teams":"ops"}', EXECUTION_ARN_PREFIX: prefixOf('Opsflow-TagPolicy') }],
    [
      'Ec2ScheduleReportFn',
      { CHAT_TARGETS: `{"mattermost":"${MM}"}`, MATTERMOST_URL: 'https://chat.example.com', EXECUTION_ARN_PREFIX: prefixOf('Opsflow-Ec2Schedule') },
    ],
  ])('%s is told where to post and which secret to read (its ARN, not its value)', (prefix, env) => {
    const [, f] = fn(prefix);
    expect(f.Properties.Environment.Variables).toMatchObject({ ...env, CHAT_SECRET_ARN: { Ref: secretId } });
    // The only Secrets Manager permission the function has: GetSecretValue on the chat secret.
    const role = f.Properties.Role['Fn::GetAtt'][0];
    const mine = statements(json).filter((s) => json.Resources[s.policy].Properties.Roles.some((r: any) => r.Ref === role));
    const sm = mine.filter((s) => asList(s.Action).some((a) => a.startsWith('secretsmanager:')));
    expect(sm.map((s) => [s.Action, s.Resource])).toEqual([['secretsmanager:GetSecretValue', { Ref: secretId }]]);
  });

  it('stays cdk-nag clean', () => {
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => f.entry.data)).toEqual([]);
  });

  it('changes nothing without chat config: no chat environment, no secret read', () => {
    const { json: plain } = synthOpsflow();
    for (const prefix of ['FailureAlertsNotifyFn', 'TagPolicyReportFn', 'Ec2ScheduleReportFn']) {
      const [, f] = Object.entries(plain.Resources as Record<string, any>).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix))!;
      const vars = Object.keys(f.Properties.Environment.Variables);
      for (const v of ['CHAT_TARGETS', 'CHAT_SECRET_ARN', 'EXECUTION_ARN_PREFIX', 'MATTERMOST_URL']) expect(vars).not.toContain(v);
    }
  });
});
