/**
 * Reaching member accounts: OUs resolved to their active accounts through child OUs, one AssumeRole per account while
 * its credentials last (shared by every client), a refusal not cached, and each target failing on its own with a
 * reason that names it.
 */
import { ListAccountsForParentCommand, ListOrganizationalUnitsForParentCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { forEachTarget, resolveAccounts, TargetCredentials, targetsOf } from '../../../tasks/shared/targets';

const SETTINGS = { hubAccount: '111111111111', partition: 'aws', roleName: 'opsflow-member', externalId: 'ext-1234', sessionName: 'opsflow-plan' };
const HOUR = 3_600_000;

const denied = () =>
  new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: {},
    message:
      'User: arn:aws:sts::111111111111:assumed-role/hub/fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/opsflow-member',
  });

describe('resolveAccounts', () => {
  it('takes account ids as they are and an OU as its active accounts, through its child OUs, each once', async () => {
    const org = mockClient(OrganizationsClient);
    org.on(ListAccountsForParentCommand, { ParentId: 'ou-root-dev' }).resolves({
      Accounts: [
        { Id: '222222222222', State: 'ACTIVE' },
        { Id: '444444444444', State: 'SUSPENDED' },
      ],
    });
    org.on(ListAccountsForParentCommand, { ParentId: 'ou-root-team' }).resolves({ Accounts: [{ Id: '555555555555', State: 'ACTIVE' }] });
    org.on(ListOrganizationalUnitsForParentCommand, { ParentId: 'ou-root-dev' }).resolves({ OrganizationalUnits: [{ Id: 'ou-root-team' }] });
    org.on(ListOrganizationalUnitsForParentCommand, { ParentId: 'ou-root-team' }).resolves({ OrganizationalUnits: [] });

    const accounts = await resolveAccounts(new OrganizationsClient({ region: 'us-east-1' }), ['222222222222', 'ou-root-dev', '333333333333']);

    expect(accounts).toEqual(['222222222222', '555555555555', '333333333333']);
  });
});

describe('TargetCredentials', () => {
  it('assumes the member role once per account while its credentials last, with the external id, and not for the hub', async () => {
    const sts = mockClient(STSClient);
    let now = Date.parse('2026-12-07T10:00:00Z');
    sts.on(AssumeRoleCommand).callsFake(() => ({
      Credentials: { AccessKeyId: 'ASIA1', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(now + HOUR) },
    }));
    const creds = new TargetCredentials(new STSClient({ region: 'us-east-1' }), SETTINGS, () => now);

    expect(creds.provider('111111111111')).toBeUndefined();
    const member = creds.provider('222222222222')!;
    await Promise.all([member(), member(), creds.provider('222222222222')!()]);
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: 'arn:aws:iam::222222222222:role/opsflow-member', RoleSessionName: 'opsflow-plan', ExternalId: 'ext-1234' },
    ]);

    now += HOUR - 4 * 60_000; // within five minutes of expiry: asked again
    expect(await member()).toMatchObject({ accessKeyId: 'ASIA1' });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('does not keep a refusal: the next call asks again', async () => {
    const sts = mockClient(STSClient);
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(denied())
      .resolves({ Credentials: { AccessKeyId: 'ASIA2', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + HOUR) } });
    const creds = new TargetCredentials(new STSClient({ region: 'us-east-1' }), SETTINGS, () => Date.now());

    await expect(creds.provider('333333333333')!()).rejects.toThrow(
      /^the hub cannot assume arn:aws:iam::333333333333:role\/opsflow-member \(AccessDenied: User: .* is not authorized/,
    );
    expect(await creds.provider('333333333333')!()).toMatchObject({ accessKeyId: 'ASIA2' });
  });
});

describe('forEachTarget', () => {
  it('isolates each target: an unreachable account and a throttled region are results with reasons, the rest succeed', async () => {
    const sts = mockClient(STSClient);
    sts
      .on(AssumeRoleCommand)
      .resolves({ Credentials: { AccessKeyId: 'ASIA3', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + HOUR) } });
    // The specific rule after the general one: aws-sdk-client-mock lets the later rule win.
    sts.on(AssumeRoleCommand, { RoleArn: 'arn:aws:iam::333333333333:role/opsflow-member' }).rejects(denied());
    const creds = new TargetCredentials(new STSClient({ region: 'us-east-1' }), SETTINGS, () => Date.now());
    const throttled = Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' });

    const results = await forEachTarget(targetsOf(['222222222222', '333333333333'], ['us-east-1', 'eu-west-1']), 2, async (t) => {
      await creds.provider(t.account)?.();
      if (t.account === '222222222222' && t.region === 'eu-west-1') throw throttled;
      return `${t.account}/${t.region}`;
    });

    expect(results).toEqual([
      { target: { account: '222222222222', region: 'us-east-1' }, ok: true, value: '222222222222/us-east-1' },
      {
        target: { account: '222222222222', region: 'eu-west-1' },
        ok: false,
        reason: '222222222222/eu-west-1: throttled (RequestLimitExceeded: Request limit exceeded.); the other targets went on',
      },
      {
        target: { account: '333333333333', region: 'us-east-1' },
        ok: false,
        reason: expect.stringMatching(/^333333333333\/us-east-1: the hub cannot assume .*deploy the member stack in 333333333333/),
      },
      { target: { account: '333333333333', region: 'eu-west-1' }, ok: false, reason: expect.stringMatching(/^333333333333\/eu-west-1: the hub cannot assume/) },
    ]);
  });
});
