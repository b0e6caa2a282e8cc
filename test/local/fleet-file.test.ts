/**
 * The fleet file the app names (config `local.fleet`, opsflow's is workflows/fleet.json): a file that
 * is missing, not JSON, or has a bad field is refused with the file and the field named, both when read on its
 * own and when the runtime deploys an app whose template names it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFleetSeed } from '../../local/services/fleet';
import { Runtime } from '../../local/runtime';

const dir = mkdtempSync(join(tmpdir(), 'opsflow-fleet-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = {
  instanceId: 'i-0feed000000000001',
  name: 'web-01',
  instanceType: 't3.micro',
  imageId: 'ami-0feed000000000001',
  state: 'running',
  launchedDaysAgo: 3,
  launchedBy: { iamUser: 'alice' },
  tags: { Owner: 'alice@example.com' },
};
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
const withInstance = (patch: Record<string, unknown>) =>
  file('fleet.json', JSON.stringify({ instances: [good, { ...good, instanceId: 'i-0feed000000000002', ...patch }] }));

describe('loadFleetSeed', () => {
  it('reads a valid file', () => {
    expect(loadFleetSeed(withInstance({})).instances.map((i) => i.instanceId)).toEqual(['i-0feed000000000001', 'i-0feed000000000002']);
  });

  it('says a missing file does not exist, naming it and the config field', () => {
    const missing = join(dir, 'nope.json');
    expect(() => loadFleetSeed(missing)).toThrow(`fleet file ${missing} (template metadata OpsflowLocal.fleet): does not exist`);
  });

  it("refuses a file that is not JSON, with the parser's position", () => {
    const path = file('broken.json', '{"instances": [ {"instanceId": "i-0feed000000000001",, } ]}');
    expect(() => loadFleetSeed(path)).toThrow(
      new RegExp(`^fleet file ${path} \\(template metadata OpsflowLocal\\.fleet\\): is not valid JSON: .*(position 53|line 1 column 54)`),
    );
  });

  it('refuses a file without an instances list', () => {
    const path = file('empty.json', '{"instance": []}');
    expect(() => loadFleetSeed(path)).toThrow(`fleet file ${path} (template metadata OpsflowLocal.fleet): instances: must be a list of instances`);
  });

  it.each([
    [{ instanceId: 'web-02' }, 'instances[1].instanceId: must be an instance id (i- and 8 or 17 hex digits), got "web-02"'],
    [{ instanceId: 'i-0feed0000002' }, 'instances[1].instanceId: must be an instance id (i- and 8 or 17 hex digits), got "i-0feed0000002"'],
    [{ instanceId: 'i-0feed000000000001' }, 'instances[1].instanceId: i-0feed000000000001 is also instances[0]'],
    [{ name: undefined }, 'instances[1].name: must be a non-empty string, got nothing'],
    [{ imageId: 7 }, 'instances[1].imageId: must be a non-empty string, got 7'],
    [{ state: 'pending' }, 'instances[1].state: must be "running" or "stopped", got "pending"'],
    [{ launchedDaysAgo: 90 }, 'instances[1].launchedDaysAgo: must be a number from 0 to 89 (CloudTrail keeps 90 days), got 90'],
    [{ launchedBy: { user: 'bob' } }, 'instances[1].launchedBy: must be one of {"iamUser"}, {"assumedRole"}, {"sso"}, {"federatedUser"}, got {"user":"bob"}'],
    [{ tags: [] }, 'instances[1].tags: must be an object of tag values, got []'],
    [{ tags: { CostCenter: 4242 } }, 'instances[1].tags.CostCenter: must be a string, got 4242'],
  ])('names the bad field %j', (patch, problem) => {
    const path = withInstance(patch);
    expect(() => loadFleetSeed(path)).toThrow(`fleet file ${path} (template metadata OpsflowLocal.fleet): ${problem}`);
  });
  const group = { name: 'web-asg', minSize: 1, maxSize: 4, desiredCapacity: 2, tags: { Schedule: 'office-hours' } };
  const cluster = { name: 'dev', tags: { Schedule: 'office-hours' }, services: [{ name: 'web-api', desiredCount: 2 }] };
  it('reads Auto Scaling groups and ECS clusters', () => {
    const seed = loadFleetSeed(file('kinds.json', JSON.stringify({ instances: [good], autoScalingGroups: [group], ecsClusters: [cluster] })));
    expect([seed.autoScalingGroups, seed.ecsClusters]).toEqual([[group], [cluster]]);
  });

  it.each([
    [{ autoScalingGroups: {} }, 'autoScalingGroups: must be a list, got {}'],
    [{ autoScalingGroups: [{ ...group, name: 'a:b' }] }, "autoScalingGroups[0].name: must be a name of 1 to 255 letters, digits, '.', '_' or '-', got \"a:b\""],
    [{ autoScalingGroups: [group, group] }, 'autoScalingGroups[1].name: web-asg is named twice'],
    [{ autoScalingGroups: [{ ...group, maxSize: -1 }] }, 'autoScalingGroups[0].maxSize: must be a whole number from 0, got -1'],
    [{ autoScalingGroups: [{ ...group, desiredCapacity: 5 }] }, 'autoScalingGroups[0]: needs minSize <= desiredCapacity <= maxSize, got 1, 5, 4'],
    [{ autoScalingGroups: [{ ...group, propagateAtLaunch: 'yes' }] }, 'autoScalingGroups[0].propagateAtLaunch: must be true or false, got "yes"'],
    [{ autoScalingGroups: [{ ...group, tags: { Schedule: 1 } }] }, 'autoScalingGroups[0].tags.Schedule: must be a string, got 1'],
    [{ ecsClusters: [{ ...cluster, services: undefined }] }, 'ecsClusters[0].services: must be a list, got nothing'],
    [
      { ecsClusters: [{ ...cluster, services: [{ name: 'web-api', desiredCount: 1.5 }] }] },
      'ecsClusters[0].services[0].desiredCount: must be a whole number from 0, got 1.5',
    ],
  ])('names the bad field of a group or cluster %j', (extra, problem) => {
    const path = file('kinds.json', JSON.stringify({ instances: [good], ...extra }));
    expect(() => loadFleetSeed(path)).toThrow(`fleet file ${path} (template metadata OpsflowLocal.fleet): ${problem}`);
  });
});

describe('a runtime deploying an app whose fleet file is bad', () => {
  it('refuses to start, naming the file and the field', async () => {
    // The app's cloud assembly, with its template naming a fleet file (relative to the app's directory).
    const app = mkdtempSync(join(dir, 'app-'));
    const cdkOut = join(app, 'cdk.out');
    cpSync(process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', cdkOut, { recursive: true });
    const templatePath = join(cdkOut, 'Opsflow.template.json');
    const template = JSON.parse(readFileSync(templatePath, 'utf8'));
    expect(template.Metadata.OpsflowLocal.fleet).toBe('workflows/fleet.json');
    template.Metadata.OpsflowLocal.fleet = 'my-fleet.json';
    writeFileSync(templatePath, JSON.stringify(template));
    writeFileSync(join(app, 'my-fleet.json'), JSON.stringify({ instances: [{ ...good, state: 'hibernated' }] }));

    const start = Runtime.start({ cdkOut, stateDir: join(app, '.opsflow'), port: 0 });

    await expect(start).rejects.toThrow(
      `fleet file ${join(app, 'my-fleet.json')} (template metadata OpsflowLocal.fleet): instances[0].state: must be "running" or "stopped", got "hibernated"`,
    );
  });
});
