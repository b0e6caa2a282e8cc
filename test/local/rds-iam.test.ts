/**
 * IAM and API rates on the local RDS, through the runtime's gate and the real @aws-sdk/client-rds signed with a role
 * session's credentials: rds:StopDBInstance and rds:StopDBCluster allowed only on databases with the Schedule tag
 * (aws:ResourceTag/Schedule, rds:cluster-tag/Schedule), refused on the others with RDS's AccessDenied; and RDS's
 * documented rate, 300 requests in a burst and 12 a second, refused with Throttling.
 */
import { DescribeDBInstancesCommand, RDSClient, StopDBClusterCommand, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { IamEnforcer } from '../../local/iam/enforcer';
import { IamModel } from '../../local/iam/model';
import { Gate } from '../../local/rules/gate';
import { RDS_RATE, RateLimits } from '../../local/rules/rates';
import { resolveRules } from '../../local/rules/settings';
import { loadFleetSeed } from '../../local/services/fleet';
import { RdsService } from '../../local/services/rds';
import { ResolvedStack, defaultResourcePolicy } from '../../local/template';
import { serveOne } from './one-service';

const ROLE = 'arn:aws:iam::000000000000:role/db-scheduler';
const scheduled = { StringEquals: { 'aws:ResourceTag/Schedule': 'office-hours' } };
const template = {
  Resources: {
    Scheduler: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'db-scheduler',
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: 'rds',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'], Resource: '*' },
                {
                  Effect: 'Allow',
                  Action: ['rds:StopDBInstance', 'rds:StartDBInstance'],
                  Resource: 'arn:aws:rds:us-east-1:000000000000:db:*',
                  Condition: scheduled,
                },
                {
                  Effect: 'Allow',
                  Action: ['rds:StopDBCluster', 'rds:StartDBCluster'],
                  Resource: 'arn:aws:rds:us-east-1:000000000000:cluster:*',
                  Condition: { StringEquals: { 'rds:cluster-tag/Schedule': 'office-hours' } },
                },
              ],
            },
          },
        ],
      },
    },
  },
};

let gate: Gate;
const s = serveOne({
  prefix: 'rds-iam',
  service: (state, clock) => {
    const service = new RdsService({ clock, state });
    service.world.seed(loadFleetSeed('workflows/fleet.json').rds!);
    const rules = resolveRules({ iam: true, rates: true, quotas: false, deployChecks: false }, {});
    const stack = new ResolvedStack(template as never, { stackName: 'Db', policy: defaultResourcePolicy({ stackName: 'Db', endpoint: 'http://127.0.0.1' }) });
    gate = new Gate(rules);
    gate.iam = new IamEnforcer(
      IamModel.fromStacks([stack]),
      { instanceTags: () => undefined, resourceTags: () => undefined, rdsTags: (arn) => service.world.tagsOf(arn) },
      clock,
    );
    gate.use(new RateLimits(clock, rules).check);
    return { handler: gate.wrap(service), close: async () => service.close() };
  },
  client: (config) => new RDSClient(config),
});

const asRole = () =>
  new RDSClient({ endpoint: s.endpoint, region: 'us-east-1', credentials: gate.iam!.model.credentialsFor(ROLE, 'scheduler'), maxAttempts: 1 });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { Code?: string; $metadata?: { httpStatusCode?: number } }) => ({ code: e.Code, status: e.$metadata?.httpStatusCode, message: e.message }),
  );

describe('local RDS: IAM', () => {
  it('allows stopping a DB instance with the Schedule tag and refuses one without it (aws:ResourceTag)', async () => {
    // Prepare
    const rds = asRole();

    // Act
    const tagged = await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
    const untagged = await failure(rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'ledger-prod-db' })));

    // Assess
    expect(tagged.DBInstance?.DBInstanceStatus).toBe('stopping');
    expect(untagged).toEqual({
      code: 'AccessDenied',
      status: 403,
      message: expect.stringMatching(
        /^User: arn:aws:sts::000000000000:assumed-role\/db-scheduler\/scheduler is not authorized to perform: rds:StopDBInstance on resource: arn:aws:rds:us-east-1:000000000000:db:ledger-prod-db because no identity-based policy allows the rds:StopDBInstance action/,
      ),
    });
    rds.destroy();
  });

  it('authorizes clusters on their ARN with rds:cluster-tag, and Describe on db:* without tags', async () => {
    // Prepare
    const rds = asRole();

    // Act
    const tagged = await rds.send(new StopDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' }));
    const described = await rds.send(new DescribeDBInstancesCommand({}));

    // Assess
    expect(tagged.DBCluster?.Status).toBe('stopping');
    expect(described.DBInstances!.length).toBeGreaterThan(5);
    rds.destroy();
  });
});

describe('local RDS: API rates', () => {
  it('allows a burst of 300 requests, then refuses with Throttling until the bucket refills at 12 a second', async () => {
    // Prepare: calls from outside the app (not a role session) are not IAM's to decide; the rate counts every call.
    const rds = new RDSClient({ endpoint: s.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDOUTSIDE', secretAccessKey: 'x' }, maxAttempts: 1 });
    const call = () => failure(rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'billing-db' })));
    await s.clock.advance(60_000);

    // Act
    const burst: unknown[] = [];
    for (let i = 0; i < RDS_RATE.burst; i++) burst.push(await call());
    const over = await call();
    await s.clock.advance(1_000);
    const refilled: unknown[] = [];
    for (let i = 0; i < RDS_RATE.perSecond + 1; i++) refilled.push(await call());

    // Assess
    expect(burst.filter((r) => r !== undefined)).toEqual([]);
    expect(over).toEqual({ code: 'Throttling', status: 400, message: 'Rate exceeded' });
    expect(refilled.map((r) => r === undefined)).toEqual([...Array(RDS_RATE.perSecond).fill(true), false]);
    rds.destroy();
  });
});
