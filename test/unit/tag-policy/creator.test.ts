/** Creator resolution from the CloudTrail identities the seeded fleet uses (local/services/fleet.ts builds them as CloudTrail writes them). */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { identity } from '../../../local/services/fleet';
import { creatorFromIdentity, lookupCreator } from '../../../tasks/tag-policy/core/creator';

describe('creatorFromIdentity', () => {
  it('uses the IAM user name', () => expect(creatorFromIdentity(identity.iamUser('alice'))).toBe('alice'));
  it('uses the role session name of an assumed role, not the role', () => expect(creatorFromIdentity(identity.assumedRole('GitLabDeployRole', 'gitlab-ci-4242'))).toBe('gitlab-ci-4242'));
  it('uses the person of an SSO session (the session name is their email)', () => expect(creatorFromIdentity(identity.sso('AdministratorAccess', 'carol@example.com'))).toBe('carol@example.com'));
  it('uses the federated user name, not the broker', () => expect(creatorFromIdentity(identity.federatedUser('dave', 'fed-broker'))).toBe('dave'));
  it('names root and services', () => {
    expect(creatorFromIdentity({ type: 'Root', arn: 'arn:aws:iam::1:root' })).toBe('root');
    expect(creatorFromIdentity({ type: 'AWSService', invokedBy: 'autoscaling.amazonaws.com' })).toBe('autoscaling.amazonaws.com');
  });
  it('knows nobody without an identity', () => expect(creatorFromIdentity(undefined)).toBeUndefined());
});

describe('lookupCreator', () => {
  const ct = mockClient(CloudTrailClient);
  beforeEach(() => ct.reset());
  const event = (name: string, id: object) => ({ EventName: name, Username: 'x', CloudTrailEvent: JSON.stringify({ userIdentity: id }) });

  it('finds the RunInstances record among the instance events, paging if needed', async () => {
    // Prepare
    ct.on(LookupEventsCommand)
      .resolvesOnce({ Events: [event('CreateTags', identity.iamUser('bob'))], NextToken: 't' })
      .resolvesOnce({ Events: [event('RunInstances', identity.sso('Dev', 'erin@example.com'))] });

    // Act
    const creator = await lookupCreator(new CloudTrailClient({ region: 'us-east-1' }), 'i-0feed000000000026');

    // Assess
    expect(creator).toBe('erin@example.com');
    expect(ct).toHaveReceivedCommandWith(LookupEventsCommand, { LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: 'i-0feed000000000026' }] });
  });

  it('returns undefined when CloudTrail has no RunInstances record (older than 90 days)', async () => {
    ct.on(LookupEventsCommand).resolves({ Events: [] });
    expect(await lookupCreator(new CloudTrailClient({ region: 'us-east-1' }), 'i-0feed000000000026')).toBeUndefined();
  });
});
