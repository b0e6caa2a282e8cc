/**
 * The local RDS inside the whole runtime (`npm start`): the endpoint routes RDS's signed Query requests, the demo
 * fleet's `rds` section is seeded, IAM is enforced on a role session (RDS's AccessDenied), and the databases' state
 * survives a restart of the runtime.
 */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentials, startRuntime } from './harness';

describe('RDS in the runtime', () => {
  it('serves the demo databases, enforces IAM on role sessions, and keeps state across a restart', async () => {
    // Prepare
    const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-rds-runtime-'));
    const first = await startRuntime({ stateDir });
    const admin = new RDSClient({ endpoint: first.endpoint, region: 'us-east-1', credentials });
    const nobody = new RDSClient({
      endpoint: first.endpoint,
      region: 'us-east-1',
      credentials: first.rt.gate.iam!.model.credentialsFor('arn:aws:iam::000000000000:role/not-in-the-app', 'someone'),
      maxAttempts: 1,
    });

    try {
      // Act
      const instances = (await admin.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((i) => i.DBInstanceIdentifier);
      const clusters = (await admin.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier);
      const denied = await nobody.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' })).catch((e: Error & { Code?: string }) => e.Code);
      const stopped = await admin.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
      await first.stop();
      const second = await startRuntime({ stateDir });
      const again = new RDSClient({ endpoint: second.endpoint, region: 'us-east-1', credentials });
      const after = (await again.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'billing-db' }))).DBInstances![0].DBInstanceStatus;
      again.destroy();
      await second.stop();

      // Assess
      expect(instances).toEqual(expect.arrayContaining(['billing-db', 'crm-db', 'orders-aurora-1', 'reports-db-replica']));
      expect(clusters).toEqual(['events-serverless', 'orders-aurora']);
      expect(denied).toBe('AccessDenied');
      expect(stopped.DBInstance?.DBInstanceStatus).toBe('stopping');
      // Stopping takes 5 virtual minutes: still stopping, or stopped if the restart took that long.
      expect(['stopping', 'stopped']).toContain(after);
    } finally {
      await first.stop(); // again if the test failed before stopping it: stopping is idempotent
      admin.destroy();
      nobody.destroy();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
