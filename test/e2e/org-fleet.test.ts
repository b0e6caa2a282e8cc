/**
 * The fleet across a simulated organisation, as the console's API and `opsflow fleet` show it: every account's
 * instances in every region, each naming its account and region, filtered by account and region (test/fixtures/org-app).
 * Without an organisation the output is as before (test/e2e/cli.test.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRuntime, type Harness } from './harness';

const exec = promisify(execFile);
let h: Harness;
const opsflow = async (...args: string[]) =>
  (
    await exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
      env: { ...process.env, OPSFLOW_ENDPOINT: h.endpoint, OPSFLOW_STATE_DIR: h.stateDir },
    })
  ).stdout;

beforeAll(async () => {
  h = await startRuntime({ cdkOut: join(__dirname, '../fixtures/org-app/assembly') });
}, 60_000);
afterAll(() => h?.stop());

const where = (rows: Array<{ account: string; region: string; instanceId: string }>) => rows.map((i) => `${i.account}/${i.region}/${i.instanceId}`).sort();

it('lists every account and region, and one account in one region, through the API', async () => {
  const all = await h.rt.console.api.fleet();
  expect(where(all as never)).toEqual([
    '000000000000/eu-west-1/i-0000000000000a002',
    '000000000000/us-east-1/i-0000000000000a001',
    '111111111111/eu-west-1/i-0111111111111f001',
    '111111111111/us-east-1/i-0111111111111e001',
    '111111111111/us-east-1/i-0111111111111e002',
    '222222222222/eu-west-1/i-0222222222222f001',
  ]);
  const res = await fetch(`${h.endpoint}/_opsflow/fleet?account=111111111111&region=eu-west-1`);
  expect(where(await res.json())).toEqual(['111111111111/eu-west-1/i-0111111111111f001']);
  const regional = await fetch(`${h.endpoint}/_opsflow/fleet?region=eu-west-1`);
  expect(where(await regional.json())).toHaveLength(3);
  const bad = await fetch(`${h.endpoint}/_opsflow/fleet?account=prod&region=Europe`);
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({
    message: 'account must be twelve digits, got "prod"; region must be a region code such as eu-west-1, got "Europe"',
  });
});

it('opsflow fleet shows account and region columns and filters with --account and --region', async () => {
  const text = await opsflow('fleet', '--account', '111111111111', '--region', 'us-east-1');
  const lines = text.trim().split('\n');
  expect(lines[0]).toMatch(/^account\s+region\s+id\s+type\s+state/);
  expect(lines.slice(1).filter((l) => /\S/.test(l) && !/^[-\s]+$/.test(l))).toEqual([
    expect.stringMatching(/^111111111111\s+us-east-1\s+i-0111111111111e001\s/),
    expect.stringMatching(/^111111111111\s+us-east-1\s+i-0111111111111e002\s/),
  ]);
  const json = JSON.parse(await opsflow('fleet', '--region', 'eu-west-1', '--json'));
  expect(where(json)).toEqual([
    '000000000000/eu-west-1/i-0000000000000a002',
    '111111111111/eu-west-1/i-0111111111111f001',
    '222222222222/eu-west-1/i-0222222222222f001',
  ]);
  await expect(opsflow('fleet', '--account', '12')).rejects.toThrow(/account must be twelve digits, got "12"/);
});
