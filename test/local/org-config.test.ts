/**
 * The organization an app declares (`local.organization` in opsflow.config.json → `Metadata.OpsflowLocal.organization`)
 * is checked at synth and again by the runtime, every problem named by its field.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config';
import { Organization, organizationProblems } from '../../local/org/organization';

const GOOD = {
  id: 'o-abcdefghij',
  regions: ['eu-west-1'],
  accounts: [{ id: '111111111111', name: 'prod', ou: 'Workloads/Prod' }],
};

describe('local.organization', () => {
  it('passes from the config into the template metadata the runtime reads', () => {
    expect(parseConfig({ local: { organization: GOOD } }).local.organization).toEqual(GOOD);
  });

  it('fails cdk synth naming every bad field', () => {
    const bad = {
      id: 'org-1',
      regions: ['Europe'],
      accounts: [
        { id: '1111', name: 'prod', fleets: { 'ap-south-1': 'x.json' } },
        { id: '222222222222', name: '', colour: 'red' },
        { id: '222222222222', name: 'again' },
      ],
      outside: [{ id: '000000000000', name: 'hub' }],
    };
    expect(() => parseConfig({ local: { organization: bad } })).toThrow(
      `opsflow config: ${[
        'local.organization.id must be \'o-\' and 10 to 32 lower-case letters or digits, got "org-1"',
        'local.organization.regions must be a list of region codes such as "eu-west-1", got ["Europe"]',
        'local.organization.accounts[0].id must be twelve digits, got "1111"',
        "local.organization.accounts[0].fleets.ap-south-1: ap-south-1 is not one of the organization's regions (us-east-1)",
        'local.organization.accounts[1].colour is not a setting (id, name, ou, email, fleets)',
        'local.organization.accounts[1].name must be 1 to 50 printable characters, got ""',
        'local.organization.accounts[2].id 222222222222 is declared twice',
        "local.organization.outside[0].id 000000000000 is the hub, the organization's management account: it cannot be outside",
      ].join('; ')}`,
    );
  });

  it('refuses a fleet file that does not exist', () => {
    expect(() => parseConfig({ local: { organization: { accounts: [{ id: '111111111111', name: 'prod', fleets: { 'us-east-1': 'nope.json' } }] } } })).toThrow(
      "local.organization: account 111111111111's fleet in us-east-1, file nope.json, does not exist",
    );
  });

  it('gives the root and OUs ids of AWS shapes, the same at every start', () => {
    const a = new Organization(GOOD);
    expect(a.rootId).toMatch(/^r-[0-9a-z]{4}$/);
    expect(a.ous.map((o) => [o.name, o.id])).toEqual([
      ['Workloads', expect.stringMatching(/^ou-[0-9a-z]{4}-[a-z0-9]{8}$/)],
      ['Prod', expect.stringMatching(/^ou-[0-9a-z]{4}-[a-z0-9]{8}$/)],
    ]);
    expect(new Organization(GOOD).ous).toEqual(a.ous);
    expect(a.account('111111111111')?.orgPath).toBe(`o-abcdefghij/${a.rootId}/${a.ous[0].id}/${a.ous[1].id}/`);
    expect(organizationProblems(GOOD)).toEqual([]);
  });
});
