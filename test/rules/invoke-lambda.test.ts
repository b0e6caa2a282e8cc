/**
 * Services invoking Lambda for the app, each authorized as on AWS, on small CDK apps deployed as
 * `opsflow up --cdk-out` does (Runtime.start over the synthesized assembly):
 * - EventBridge rules and API Gateway routes need the function's resource policy (`AWS::Lambda::Permission`)
 *   to allow the service principal with `aws:SourceArn` the rule or the route
 *   (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html,
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions,
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 * - EventBridge Scheduler uses no resource policy: it assumes the schedule's execution role (whose trust policy
 *   must allow scheduler.amazonaws.com) and invokes with the role's permissions
 *   (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runtime } from '../../local/runtime';
import { echoFunction, synthApp } from './apps/synth';

const ACCOUNT = '000000000000';
const fnArn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;

/** Three rules on one function: one the function's resource policy allows, one it does not name, one with another rule's SourceArn. */
function eventBridgeApp(stack: Stack) {
  const fn = echoFunction(stack, 'Fn', { functionName: 'eb-target', timeout: Duration.seconds(5) });
  new events.Rule(stack, 'Allowed', { ruleName: 'eb-allowed', eventPattern: { source: ['test.allowed'] }, targets: [new targets.LambdaFunction(fn)] });
  new events.CfnRule(stack, 'NoPermission', {
    name: 'eb-no-permission',
    eventPattern: { source: ['test.none'] },
    targets: [{ id: 'fn', arn: fn.functionArn }],
  });
  new events.CfnRule(stack, 'WrongSource', { name: 'eb-wrong-source', eventPattern: { source: ['test.wrong'] }, targets: [{ id: 'fn', arn: fn.functionArn }] });
  new lambda.CfnPermission(stack, 'OtherRulePermission', {
    action: 'lambda:InvokeFunction',
    functionName: fn.functionName,
    principal: 'events.amazonaws.com',
    sourceArn: `arn:aws:events:us-east-1:${ACCOUNT}:rule/eb-some-other-rule`,
  });
}

/** An HTTP API with one route the permission covers, one with no permission, one whose permission names another path. */
function apiGatewayApp(stack: Stack) {
  const fn = echoFunction(stack, 'Fn', { functionName: 'api-target', timeout: Duration.seconds(5) });
  const api = new apigw.HttpApi(stack, 'Api');
  api.addRoutes({ path: '/allowed', methods: [apigw.HttpMethod.GET], integration: new HttpLambdaIntegration('Allowed', fn) });
  const raw = new apigw.CfnIntegration(stack, 'RawIntegration', {
    apiId: api.apiId,
    integrationType: 'AWS_PROXY',
    integrationUri: fn.functionArn,
    payloadFormatVersion: '2.0',
  });
  new apigw.CfnRoute(stack, 'NoPermission', { apiId: api.apiId, routeKey: 'GET /no-permission', target: `integrations/${raw.ref}` });
  new apigw.CfnRoute(stack, 'WrongSource', { apiId: api.apiId, routeKey: 'GET /wrong-source', target: `integrations/${raw.ref}` });
  new lambda.CfnPermission(stack, 'OtherPathPermission', {
    action: 'lambda:InvokeFunction',
    functionName: fn.functionArn,
    principal: 'apigateway.amazonaws.com',
    sourceArn: `arn:aws:execute-api:us-east-1:${ACCOUNT}:${api.apiId}/*/*/elsewhere`,
  });
}

/** Schedules whose execution role may invoke the function, may not, or does not trust Scheduler. */
function schedulerApp(stack: Stack) {
  const fn = echoFunction(stack, 'Fn', { functionName: 'sched-target', timeout: Duration.seconds(5) });
  const trusted = () =>
    new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule-group/default` } },
    });
  const invoker = new iam.Role(stack, 'Invoker', { assumedBy: trusted() });
  fn.grantInvoke(invoker);
  const bare = new iam.Role(stack, 'Bare', { assumedBy: trusted() });
  const untrusted = new iam.Role(stack, 'Untrusted', { assumedBy: new iam.ServicePrincipal('events.amazonaws.com') });
  fn.grantInvoke(untrusted);
  // A function permission does not help Scheduler: it never calls with its own identity.
  fn.addPermission('SchedulerPrincipal', { principal: new iam.ServicePrincipal('scheduler.amazonaws.com') });
  const schedule = (id: string, name: string, role: iam.Role) =>
    new scheduler.CfnSchedule(stack, id, {
      name,
      scheduleExpression: 'rate(1 day)',
      flexibleTimeWindow: { mode: 'OFF' },
      target: { arn: fn.functionArn, roleArn: role.roleArn, input: '{"from":"scheduler"}' },
    });
  schedule('Allowed', 'sched-allowed', invoker);
  schedule('NoInvoke', 'sched-no-invoke', bare);
  schedule('NotTrusted', 'sched-not-trusted', untrusted);
}

describe('services invoking Lambda are authorized as on AWS', () => {
  let rt: Runtime;
  let invoked: string[];
  let failures: string[];

  beforeAll(async () => {
    const cdkOut = synthApp({ EventBridgeInvoke: eventBridgeApp, ApiGatewayInvoke: apiGatewayApp, SchedulerInvoke: schedulerApp });
    rt = await Runtime.start({ cdkOut, port: 0, stateDir: mkdtempSync(join(tmpdir(), 'opsflow-invoke-')), seedFleet: false });
    // The function runs only if the service was allowed to invoke it; a refused delivery is reported as the
    // runtime reports every failed delivery (EventBridge and Scheduler retry nothing on missing permissions).
    const invoke = rt.lambdas.invoke.bind(rt.lambdas);
    vi.spyOn(rt.lambdas, 'invoke').mockImplementation((fn, payload) => {
      invoked.push(fn);
      return invoke(fn, payload);
    });
    vi.spyOn(console, 'error').mockImplementation((line: string) => void failures.push(line));
  });
  afterEach(() => {
    invoked = [];
    failures = [];
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await rt?.stop();
  });
  invoked = [];
  failures = [];

  const refusal = (principal: string, fn: string, policy: 'resource-based' | 'identity-based') =>
    `User: ${principal} is not authorized to perform: lambda:InvokeFunction on resource: ${fnArn(fn)} because no ${policy} policy allows the lambda:InvokeFunction action`;

  describe('EventBridge (the function resource policy, aws:SourceArn the rule)', () => {
    const put = (source: string) => rt.events.put({ source, 'detail-type': 'test', detail: {} } as never);

    it('invokes the function its permission names the rule for', async () => {
      await put('test.allowed');
      expect(invoked).toEqual([fnArn('eb-target')]);
      expect(failures).toEqual([]);
    });

    it('refuses a rule the resource policy does not name (AccessDeniedException)', async () => {
      await put('test.none');
      expect(invoked).toEqual([]);
      expect(failures).toEqual([
        expect.stringContaining(
          `rule eb-no-permission target fn (${fnArn('eb-target')}) failed: ${refusal('events.amazonaws.com', 'eb-target', 'resource-based')}`,
        ),
      ]);
    });

    it('refuses a rule when the permission names another rule as SourceArn', async () => {
      await put('test.wrong');
      expect(invoked).toEqual([]);
      expect(failures).toEqual([expect.stringContaining(refusal('events.amazonaws.com', 'eb-target', 'resource-based'))]);
    });
  });

  describe('API Gateway (the function resource policy, aws:SourceArn the route)', () => {
    const get = (path: string) => fetch(`${rt.endpoint}${path}`);

    it('invokes the function for the route its permission covers', async () => {
      const res = await get('/allowed');
      expect(res.status).toBe(200);
      expect(invoked).toEqual([fnArn('api-target')]);
    });

    it.each(['/no-permission', '/wrong-source'])('answers 500 Internal Server Error without invoking for %s, as API Gateway does', async (path) => {
      const res = await get(path);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Internal Server Error' });
      expect(invoked).toEqual([]);
    });
  });

  describe('Scheduler (the execution role, not a resource policy)', () => {
    it('invokes with an execution role that Scheduler may assume and that allows lambda:InvokeFunction', async () => {
      await rt.scheduler.fire('sched-allowed');
      expect(invoked).toEqual([fnArn('sched-target')]);
      expect(failures).toEqual([]);
    });

    it('refuses when the role lacks lambda:InvokeFunction, whatever the function resource policy says', async () => {
      await rt.scheduler.fire('sched-no-invoke');
      expect(invoked).toEqual([]);
      expect(failures).toEqual([
        expect.stringMatching(
          new RegExp(
            `schedule sched-no-invoke failed to invoke .*User: arn:aws:sts::${ACCOUNT}:assumed-role/[^/]+/scheduler is not authorized to perform: lambda:InvokeFunction on resource: ${fnArn('sched-target')} because no identity-based policy allows the lambda:InvokeFunction action`,
          ),
        ),
      ]);
    });

    it('refuses when the role does not trust scheduler.amazonaws.com (sts:AssumeRole)', async () => {
      await rt.scheduler.fire('sched-not-trusted');
      expect(invoked).toEqual([]);
      expect(failures).toEqual([
        expect.stringMatching(
          /schedule sched-not-trusted failed to invoke .*User: scheduler\.amazonaws\.com is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role\/\S+ because no resource-based policy allows the sts:AssumeRole action/,
        ),
      ]);
    });
  });
});
