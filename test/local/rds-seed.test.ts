/**
 * The fleet file's `rds` section (local/services/rds-world.ts `RdsSeed`): a bad entry fails loading with the file, the
 * field's path and what was found, as the EC2 part does (test/local/fleet-file.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFleetSeed } from '../../local/services/fleet';

const dir = mkdtempSync(join(tmpdir(), 'opsflow-rds-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cluster = { id: 'orders', engine: 'aurora-postgresql', engineVersion: '16.4', status: 'available', createdDaysAgo: 3, tags: {} };
const db = {
  id: 'billing-db',
  engine: 'postgres',
  engineVersion: '16.4',
  instanceClass: 'db.t4g.micro',
  status: 'available',
  createdDaysAgo: 3,
  tags: { Schedule: 'x' },
};
const withRds = (rds: unknown) => {
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify({ instances: [], rds }));
  return path;
};

describe('loadFleetSeed: the rds section', () => {
  it('reads a valid section', () => {
    const seed = loadFleetSeed(
      withRds({ dbClusters: [cluster], dbInstances: [db, { ...db, id: 'orders-1', engine: 'aurora-postgresql', cluster: 'orders' }] }),
    );
    expect(seed.rds?.dbInstances?.map((i) => i.id)).toEqual(['billing-db', 'orders-1']);
  });

  it.each([
    [{ dbInstances: [{ ...db, id: 'Billing_DB' }] }, 'rds.dbInstances[0].id: must be an RDS identifier'],
    [{ dbInstances: [{ ...db, id: 'a--b' }] }, 'rds.dbInstances[0].id: must be an RDS identifier'],
    [{ dbInstances: [db, db] }, 'rds.dbInstances[1].id: billing-db is also another instance'],
    [{ dbInstances: [{ ...db, status: 'starting' }] }, 'rds.dbInstances[0].status: must be "available" or "stopped", got "starting"'],
    [{ dbInstances: [{ ...db, status: 'stopped', stoppedDaysAgo: 7 }] }, 'rds.dbInstances[0].stoppedDaysAgo: must be a number from 0 to under 7'],
    [{ dbInstances: [{ ...db, instanceClass: 't3.micro' }] }, 'rds.dbInstances[0].instanceClass: must be a DB instance class (db.*), got "t3.micro"'],
    [{ dbInstances: [{ ...db, engine: 'aurora-mysql' }] }, 'rds.dbInstances[0].cluster: an aurora-mysql instance belongs to a cluster'],
    [{ dbInstances: [{ ...db, cluster: 'nowhere' }] }, 'rds.dbInstances[0].cluster: no cluster "nowhere" in rds.dbClusters'],
    [
      { dbClusters: [cluster], dbInstances: [{ ...db, cluster: 'orders' }] },
      'rds.dbInstances[0].engine: a member of orders runs its engine aurora-postgresql, got "postgres"',
    ],
    [{ dbInstances: [{ ...db, readReplicaSource: 'billing-db' }] }, 'rds.dbInstances[0].readReplicaSource: no other instance "billing-db"'],
    [{ dbClusters: [{ ...cluster, engine: 'postgres' }] }, 'rds.dbClusters[0].engine: must be "aurora-mysql" or "aurora-postgresql", got "postgres"'],
    [{ dbClusters: [{ ...cluster, tags: { Schedule: 1 } }] }, 'rds.dbClusters[0].tags.Schedule: must be a string, got 1'],
    [{ databases: [] }, 'rds.databases: unknown field (dbInstances, dbClusters)'],
  ])('refuses %j naming the field', (rds, message) => {
    const path = withRds(rds);
    expect(() => loadFleetSeed(path)).toThrow(`fleet file ${path} (template metadata OpsflowLocal.fleet): ${message}`);
  });
});
