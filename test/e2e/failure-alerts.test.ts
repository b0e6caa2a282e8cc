/**
 * Failure alerts end to end on the local runtime, with every rule of AWS's on (IAM, the topic's KMS key): a failed, a
 * timed-out and an aborted execution each reach the failure topic's subscriber (the outbox) as a message a person can
 * read — a subject naming the workflow, the outcome and the error, the cause formatted, when it ended and the
 * execution's console link (here the local console, which opens the execution) — and a rejected approval, a decision,
 * does not. A key or topic policy that names the rule (aws:SourceArn), which AWS does not support for EventBridge,
 * would lose every alert (test/rules/eventbridge-sns.test.ts).
 */
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../local/kernel';
import { startRuntime, type Harness } from './harness';

const SUBSCRIBER = 'ops-alerts@example.com';
const consoleLink = (h: Harness, arn: string) => `${h.endpoint}/states/home?region=us-east-1#/v2/executions/details/${arn}`;
/** The failure alert about one execution (its ARN is in the body). */
const alertFor = (h: Harness, arn: string) => h.mail((e) => e.service === 'sns' && e.to.includes(SUBSCRIBER) && e.text.includes(arn)).then(([m]) => m);

/** The body's lines, checked as a person reads them. */
function expectReadable(alert: OutboxEntry, h: Harness, arn: string, outcome: string) {
  const name = arn.split(':').pop()!;
  const lines = alert.text.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^Execution ${name} of Opsflow-Approval ${outcome} at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(started \\S+, ran [^)]+\\)\\.$`));
  expect(lines).toContain(`Console: ${consoleLink(h, arn)}`);
  expect(lines).toContain(`Execution: ${arn}`);
  // Not an escaped JSON string, as the EventBridge SNS target sent it.
  expect(alert.text.startsWith('"')).toBe(false);
  expect(alert.text).not.toContain('\\n');
}

describe('failure alerts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRuntime({ seedFleet: false });
  });
  afterAll(() => h?.stop());

  it('a failed execution: subject with workflow, outcome and error; the cause; when; a console link that opens it', async () => {
    // Act: an input the Approval workflow refuses before any side effect.
    const arn = await h.start('Approval', { title: '', approvers: ['not-an-address'] });
    expect((await h.finished(arn)).status).toBe('FAILED');

    // Assess
    const alert = await alertFor(h, arn);
    expect(alert.subject).toBe('Opsflow-Approval failed: Input.Invalid');
    expectReadable(alert, h, arn, 'failed');
    expect(alert.text).toContain('\nError: Input.Invalid\nCause:\n  ');
    // The console link opens the local console (the path redirects to it; the browser keeps the #/v2/executions/... part).
    const page = await fetch(consoleLink(h, arn));
    expect(page.status).toBe(200);
    expect(page.redirected && page.url).toBe(`${h.endpoint}/`);
    expect(await page.text()).toContain('opsflow local console');
  });

  it('an aborted execution: the error and cause given to StopExecution', async () => {
    const arn = await h.start('Approval', { title: 'To be aborted', approvers: ['lead@example.com'] });
    await h.sfn.send(new StopExecutionCommand({ executionArn: arn, error: 'Operator.Stop', cause: '{"by":"oncall","why":"wrong change"}' }));

    const alert = await alertFor(h, arn);
    expect(alert.subject).toBe('Opsflow-Approval aborted: Operator.Stop');
    expectReadable(alert, h, arn, 'aborted');
    // A JSON cause is pretty-printed.
    expect(alert.text).toContain('\nError: Operator.Stop\nCause:\n  {\n    "by": "oncall",\n    "why": "wrong change"\n  }\n');
  });

  it('a rejected approval is a decision, not a failure: no alert', async () => {
    // Prepare
    const arn = await h.start('Approval', { title: 'Drop the payments table', approvers: ['dba@example.com'] });
    const [mail] = await h.mail((e) => e.service === 'ses' && e.subject.includes('Drop the payments table'));
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];

    // Act
    const res = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=reject&comment=not+today',
    });
    expect(res.status).toBe(200);
    expect(await h.finished(arn)).toMatchObject({ status: 'FAILED', error: 'Approval.Rejected' });

    // Assess: the rule invoked the function, which decided not to publish (its log says so); nothing reached the topic.
    const fn = h.rt.deployed.functions.find((f) => f.includes('FailureAlertsNotifyFn'))!;
    const log = join(h.stateDir, 'logs', `${fn}.log`);
    await h.until(
      'the alert function to decide',
      () =>
        (existsSync(log) &&
          readFileSync(log, 'utf8').includes(`"reason":"Approval.Rejected is a decision, not a failure"`) &&
          readFileSync(log, 'utf8').includes(arn)) ||
        undefined,
    );
    expect((await h.outbox()).filter((e) => e.service === 'sns' && e.text.includes(arn))).toEqual([]);
    expect(h.rt.events.listRules().find((r) => r.name === 'Opsflow-FailureAlerts')!.metrics.failedInvocations).toBe(0);
  });
});

describe('failure alerts of a timed-out execution', () => {
  it('say "timed out" with States.Timeout', async () => {
    // Prepare: the app with the Approval state machine's TimeoutSeconds (7 days and 1 hour) cut to 60 s, so that the
    // execution times out before its approval deadline; everything else is the synthesized app.
    const cdkOut = join(mkdtempSync(join(tmpdir(), 'opsflow-timeout-')), 'cdk.out');
    cpSync(process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', cdkOut, { recursive: true });
    const file = join(cdkOut, 'Opsflow.template.json');
    const template = JSON.parse(readFileSync(file, 'utf8'));
    const [approval] = Object.entries(
      template.Resources as Record<string, { Type: string; Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } } }>,
    ).filter(([id, r]) => id.startsWith('ApprovalStateMachine') && r.Type === 'AWS::StepFunctions::StateMachine');
    const parts = approval[1].Properties.DefinitionString['Fn::Join'][1];
    const at = parts.findIndex((p) => typeof p === 'string' && p.includes('"TimeoutSeconds":608400,"Comment"'));
    parts[at] = (parts[at] as string).replace('"TimeoutSeconds":608400,"Comment"', '"TimeoutSeconds":60,"Comment"');
    writeFileSync(file, JSON.stringify(template));
    const h = await startRuntime({ cdkOut, seedFleet: false, timeScale: 60 });
    try {
      // Act
      const arn = await h.start('Approval', { title: 'Nobody answers', approvers: ['lead@example.com'], timeoutSeconds: 3600 });
      expect((await h.finished(arn)).status).toBe('TIMED_OUT');

      // Assess
      const alert = await alertFor(h, arn);
      expect(alert.subject).toBe('Opsflow-Approval timed out: States.Timeout');
      expectReadable(alert, h, arn, 'timed out');
      expect(alert.text).toMatch(/ran 1 min \d+ s\)\./);
    } finally {
      await h.stop();
    }
  });
});
