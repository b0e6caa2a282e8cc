/**
 * The local RDS as the real AWS CLI v2 sees it (`aws rds ...`): the demo fleet's DB instance and Aurora cluster
 * described, stopped and started on the virtual clock, a refusal with RDS's error code, and DescribeEvents. Without AWS
 * CLI v2 these tests are skipped with one line saying how to get it (a failure under OPSFLOW_REQUIRE_TOOLS=1).
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadFleetSeed } from '../../local/services/fleet';
import { RdsService } from '../../local/services/rds';
import { RDS_TRANSITION_MS } from '../../local/services/rds-world';
import { awsCliEnv, findAwsCliV2, toolAvailable } from '../tools';
import { serveOne } from './one-service';

const run = promisify(execFile);
const cli = findAwsCliV2();
const enabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');
const s = serveOne({
  prefix: 'rds-cli',
  service: (state, clock) => {
    const service = new RdsService({ clock, state });
    service.world.seed(loadFleetSeed('workflows/fleet.json').rds!);
    return { handler: service, close: async () => service.close() };
  },
  client: (config) => new RDSClient(config),
});

/** `aws rds <args>` as JSON; a failure as `{ error: stderr }`. */
async function aws(...args: string[]): Promise<any> {
  const env = awsCliEnv(s.dir, { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' });
  try {
    const { stdout } = await run(cli!, ['--endpoint-url', s.endpoint, '--output', 'json', 'rds', ...args], { env });
    return stdout.trim() ? JSON.parse(stdout) : {};
  } catch (err) {
    return { error: String((err as { stderr?: string }).stderr ?? err).trim() };
  }
}

// Each CLI call starts a Python process, seconds on a loaded machine: a generous limit, not a timing goal.
const CLI_TEST_MS = 240_000;

describe.skipIf(!enabled)('AWS CLI v2 against the local RDS', () => {
  it(
    'describes, stops and starts a DB instance',
    async () => {
      // Act
      const before = await aws('describe-db-instances', '--db-instance-identifier', 'billing-db');
      const stop = await aws('stop-db-instance', '--db-instance-identifier', 'billing-db');
      await s.clock.advance(RDS_TRANSITION_MS.instanceStop);
      const stopped = await aws('describe-db-instances', '--filters', 'Name=db-instance-id,Values=billing-db');
      const start = await aws('start-db-instance', '--db-instance-identifier', 'billing-db');
      await s.clock.advance(RDS_TRANSITION_MS.instanceStart);
      const after = await aws('describe-db-instances', '--db-instance-identifier', 'billing-db', '--query', 'DBInstances[0].DBInstanceStatus');
      const events = await aws('describe-events', '--source-type', 'db-instance', '--source-identifier', 'billing-db', '--duration', '60');

      // Assess
      expect(before.DBInstances[0]).toMatchObject({ DBInstanceIdentifier: 'billing-db', DBInstanceStatus: 'available', Engine: 'postgres' });
      expect(before.DBInstances[0].TagList).toContainEqual({ Key: 'Schedule', Value: 'office-hours' });
      expect(stop.DBInstance.DBInstanceStatus).toBe('stopping');
      expect([stopped.DBInstances[0].DBInstanceStatus, typeof stopped.DBInstances[0].AutomaticRestartTime]).toEqual(['stopped', 'string']);
      expect(start.DBInstance.DBInstanceStatus).toBe('starting');
      expect(after).toBe('available');
      expect(events.Events.map((e: { Message: string }) => e.Message)).toEqual(['DB instance stopped', 'DB instance started']);
    },
    CLI_TEST_MS,
  );

  it(
    'describes, stops and starts an Aurora cluster, and refuses to stop one of its instances',
    async () => {
      // Act
      const before = await aws('describe-db-clusters', '--db-cluster-identifier', 'orders-aurora');
      const member = await aws('stop-db-instance', '--db-instance-identifier', 'orders-aurora-1');
      const stop = await aws('stop-db-cluster', '--db-cluster-identifier', 'orders-aurora');
      await s.clock.advance(RDS_TRANSITION_MS.clusterStop);
      const stopped = await aws('describe-db-clusters', '--db-cluster-identifier', 'orders-aurora', '--query', 'DBClusters[0].Status');
      const start = await aws('start-db-cluster', '--db-cluster-identifier', 'orders-aurora');
      await s.clock.advance(RDS_TRANSITION_MS.clusterStart);
      const after = await aws('describe-db-clusters', '--query', 'DBClusters[?DBClusterIdentifier==`orders-aurora`].Status | [0]');

      // Assess
      expect(before.DBClusters[0].DBClusterMembers.map((m: { DBInstanceIdentifier: string }) => m.DBInstanceIdentifier)).toEqual([
        'orders-aurora-1',
        'orders-aurora-2',
      ]);
      expect(member.error).toBe(
        'An error occurred (InvalidParameterCombination) when calling the StopDBInstance operation: aurora-postgresql DB instances are not eligible for stopping and starting.',
      );
      expect([stop.DBCluster.Status, stopped, start.DBCluster.Status, after]).toEqual(['stopping', 'stopped', 'starting', 'available']);
    },
    CLI_TEST_MS,
  );
});
