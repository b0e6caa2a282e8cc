/**
 * AWS Organizations over the simulated organization (local/org/organizations.ts), through the real client and its
 * paginators, on the fixture app test/fixtures/org-app: hub 000000000000 at the root, prod in Workloads/Prod, dev in
 * Workloads/Dev, sandbox at the root, partner outside.
 */
import {
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListRootsCommand,
  OrganizationsClient,
  paginateListAccounts,
} from '@aws-sdk/client-organizations';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../local/runtime';

const CDK_OUT = join(__dirname, '../fixtures/org-app/assembly');
const USER = { accessKeyId: 'test', secretAccessKey: 'test' };

let rt: Runtime;
let hub: OrganizationsClient;
const dir = mkdtempSync(join(tmpdir(), 'opsflow-org-organizations-'));
const as = (account: string) =>
  new OrganizationsClient({
    endpoint: rt.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account, secretAccessKey: USER.secretAccessKey },
    maxAttempts: 1,
  });

beforeAll(async () => {
  rt = await Runtime.start({ cdkOut: CDK_OUT, stateDir: join(dir, 'state'), port: 0, credentials: [USER] });
  hub = new OrganizationsClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: USER, maxAttempts: 1 });
}, 60_000);
afterAll(async () => {
  await rt?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Organizations', () => {
  it('describes the organization, its root, OUs and accounts', async () => {
    const { Organization } = await hub.send(new DescribeOrganizationCommand({}));
    expect(Organization).toMatchObject({
      Id: 'o-opsflowtest1',
      Arn: 'arn:aws:organizations::000000000000:organization/o-opsflowtest1',
      FeatureSet: 'ALL',
      MasterAccountId: '000000000000',
      MasterAccountArn: 'arn:aws:organizations::000000000000:account/o-opsflowtest1/000000000000',
    });
    const roots = (await hub.send(new ListRootsCommand({}))).Roots!;
    expect(roots).toHaveLength(1);
    expect(roots[0].Id).toMatch(/^r-[0-9a-z]{4}$/);
    const top = (await hub.send(new ListOrganizationalUnitsForParentCommand({ ParentId: roots[0].Id }))).OrganizationalUnits!;
    expect(top.map((o) => o.Name)).toEqual(['Workloads']);
    expect(top[0].Id).toMatch(new RegExp(`^ou-${roots[0].Id!.slice(2)}-[a-z0-9]{8}$`));
    const workloads = (await hub.send(new ListOrganizationalUnitsForParentCommand({ ParentId: top[0].Id }))).OrganizationalUnits!;
    expect(workloads.map((o) => o.Name)).toEqual(['Prod', 'Dev']);
    const inProd = (await hub.send(new ListAccountsForParentCommand({ ParentId: workloads[0].Id }))).Accounts!;
    expect(inProd.map((a) => [a.Id, a.Name, a.State])).toEqual([['111111111111', 'prod', 'ACTIVE']]);
    const atRoot = (await hub.send(new ListAccountsForParentCommand({ ParentId: roots[0].Id }))).Accounts!;
    expect(atRoot.map((a) => a.Id)).toEqual(['000000000000', '333333333333']);
    await expect(hub.send(new ListAccountsForParentCommand({ ParentId: 'ou-abcd-12345678' }))).rejects.toMatchObject({
      name: 'ParentNotFoundException',
      message: "We can't find a root or OU with the ParentId that you specified.",
    });
  });

  it('pages ListAccounts by MaxResults and NextToken, as the SDK paginator follows them', async () => {
    const first = await hub.send(new ListAccountsCommand({ MaxResults: 3 }));
    expect(first.Accounts!.map((a) => a.Id)).toEqual(['000000000000', '111111111111', '222222222222']);
    expect(first.NextToken).toBeTruthy();
    const second = await hub.send(new ListAccountsCommand({ MaxResults: 3, NextToken: first.NextToken }));
    expect(second.Accounts!.map((a) => a.Id)).toEqual(['333333333333']);
    expect(second.NextToken).toBeUndefined();
    const ids: string[] = [];
    for await (const page of paginateListAccounts({ client: hub, pageSize: 1 }, {})) ids.push(...page.Accounts!.map((a) => a.Id!));
    // The outside account is not a member.
    expect(ids).toEqual(['000000000000', '111111111111', '222222222222', '333333333333']);
    await expect(hub.send(new ListAccountsCommand({ MaxResults: 21 }))).rejects.toMatchObject({ name: 'InvalidInputException' });
    await expect(hub.send(new ListAccountsCommand({ NextToken: 'not-a-token' }))).rejects.toMatchObject({ name: 'InvalidInputException' });
  });

  it('answers members, outsiders and management-only calls as AWS does', async () => {
    expect((await as('111111111111').send(new DescribeOrganizationCommand({}))).Organization?.Id).toBe('o-opsflowtest1');
    await expect(as('111111111111').send(new ListAccountsCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: "You don't have permissions to access this resource.",
    });
    await expect(as('999999999999').send(new DescribeOrganizationCommand({}))).rejects.toMatchObject({
      name: 'AWSOrganizationsNotInUseException',
      message: 'Your account is not a member of an organization.',
    });
  });
});
