/**
 * opsflow's demo fleet (workflows/fleet.json, named in opsflow.config.json), as the tests name its
 * instances. The runtime seeds whatever fleet the app names; these ids belong to the app's file, not to the runtime.
 */
import { join } from 'node:path';
import { loadFleetSeed } from '../local/services/fleet';

export const DEMO_SEED = loadFleetSeed(join(__dirname, '..', 'workflows', 'fleet.json'));

const seedId = (n: number) => `i-0feed${String(n).padStart(12, '0')}`;

/** Notable demo instances (row n of the file is seedId(n)). */
export const DEMO = {
  officeHours: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(seedId),
  officeHoursDb: [9, 10].map(seedId),
  batchWindow: [11, 12, 13, 14].map(seedId),
  /** Instances that break the tag policy (Owner email, CostCenter CC-nnnn, Environment dev|staging|prod). */
  nonCompliant: [15, 20, 21, 26, 27, 28, 29, 30].map(seedId),
  /** Schedule=office-hours, stopped, and every start ends `stopped` with Client.InternalError. */
  kmsBroken: seedId(8),
  hibernationConfigured: seedId(5),
  asg: seedId(15),
  spot: seedId(16),
  cloudFormation: seedId(17),
  instanceStore: seedId(18),
  terminationProtected: seedId(19),
  exemptForever: seedId(20),
  override2099: seedId(21),
  /** One instance per kind of tag-policy breach. */
  missingOwner: seedId(26),
  badCostCenter: seedId(27),
  badEnvironment: seedId(28),
} as const;
