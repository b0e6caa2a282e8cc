/** Creator resolution from the CloudTrail identities the seeded fleet uses (local/services/fleet.ts builds them as CloudTrail writes them). */
import { describe, expect, it } from 'vitest';
import { identity } from '../../../local/services/fleet';
import { creatorFromIdentity, recordsOf } from '../../../tasks/tag-policy/core/creator';

describe('creatorFromIdentity', () => {
  it('uses the IAM user name', () => expect(creatorFromIdentity(identity.iamUser('alice'))).toBe('alice'));
  it('uses the role session name of an assumed role, not the role', () =>
    expect(creatorFromIdentity(identity.assumedRole('GitLabDeployRole', 'gitlab-ci-4242'))).toBe('gitlab-ci-4242'));
  it('uses the person of an SSO session (the session name is their email)', () =>
    expect(creatorFromIdentity(identity.sso('AdministratorAccess', 'carol@example.com'))).toBe('carol@example.com'));
  it('uses the federated user name, not the broker', () => expect(creatorFromIdentity(identity.federatedUser('dave', 'fed-broker'))).toBe('dave'));
  it('names root and services', () => {
    expect(creatorFromIdentity({ type: 'Root', arn: 'arn:aws:iam::1:root' })).toBe('root');
    expect(creatorFromIdentity({ type: 'AWSService', invokedBy: 'autoscaling.amazonaws.com' })).toBe('autoscaling.amazonaws.com');
  });
  it('knows nobody without an identity', () => expect(creatorFromIdentity(undefined)).toBeUndefined());
});

describe('recordsOf', () => {
  const event = (record: object, name = 'RunInstances') => ({
    EventName: name,
    Username: 'x',
    EventTime: new Date('2025-02-01T10:00:00Z'),
    CloudTrailEvent: JSON.stringify(record),
  });
  const launched = (...ids: string[]) => ({ instancesSet: { items: ids.map((instanceId) => ({ instanceId })) } });

  it('names every instance one RunInstances event launched, each with the person who launched them', () => {
    expect(recordsOf(event({ userIdentity: identity.sso('Dev', 'erin@example.com'), responseElements: launched('i-01', 'i-02') }))).toEqual([
      { instanceId: 'i-01', creator: 'erin@example.com', launchedAt: '2025-02-01T10:00:00.000Z' },
      { instanceId: 'i-02', creator: 'erin@example.com', launchedAt: '2025-02-01T10:00:00.000Z' },
    ]);
  });

  it('ignores failed launches, other events and records it cannot read', () => {
    expect(recordsOf(event({ userIdentity: identity.iamUser('bob'), errorCode: 'Client.InsufficientInstanceCapacity', responseElements: null }))).toEqual([]);
    expect(recordsOf(event({ userIdentity: identity.iamUser('bob'), responseElements: launched('i-01') }, 'CreateTags'))).toEqual([]);
    expect(recordsOf({ EventName: 'RunInstances', CloudTrailEvent: '{not json' })).toEqual([]);
  });
});
