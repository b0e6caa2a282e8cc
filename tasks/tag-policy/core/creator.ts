/**
 * Who launched an instance, as a tag value: from a CloudTrail `userIdentity`, the person rather than the
 * mechanism. An IAM user is its user name; an assumed role (CI, IAM Identity Center/SSO) is its role session
 * name, which for SSO is the person's email; a federated user is the federated name; root is `root`.
 * `lookupCreator` finds the instance's RunInstances record with CloudTrail LookupEvents (90 days of history).
 */
import { LookupEventsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';

export interface UserIdentityLike {
  type?: string;
  arn?: string;
  userName?: string;
  principalId?: string;
  invokedBy?: string;
  sessionContext?: { sessionIssuer?: { userName?: string } };
}

export function creatorFromIdentity(id: UserIdentityLike | undefined): string | undefined {
  if (!id) return undefined;
  const lastArnPart = id.arn?.split('/').pop();
  switch (id.type) {
    case 'IAMUser':
      return id.userName ?? lastArnPart;
    case 'AssumedRole':
      // arn:aws:sts::<account>:assumed-role/<role>/<session>; the principal id ends with :<session> too.
      return (id.arn?.includes(':assumed-role/') ? lastArnPart : undefined) ?? id.principalId?.split(':').pop();
    case 'FederatedUser':
      return (id.arn?.includes(':federated-user/') ? lastArnPart : undefined) ?? id.principalId?.split(':').pop();
    case 'Root':
      return 'root';
    case 'AWSService':
      return id.invokedBy;
    default:
      return id.userName ?? lastArnPart;
  }
}

/** Up to this many pages of the instance's events are read looking for RunInstances (newest first). */
const MAX_PAGES = 5;

export async function lookupCreator(cloudtrail: CloudTrailClient, instanceId: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const out = await cloudtrail.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: instanceId }], MaxResults: 50, NextToken: nextToken }),
    );
    const run = out.Events?.find((e) => e.EventName === 'RunInstances');
    if (run) {
      let identity: UserIdentityLike | undefined;
      try {
        identity = (JSON.parse(run.CloudTrailEvent ?? '{}') as { userIdentity?: UserIdentityLike }).userIdentity;
      } catch {
        identity = undefined;
      }
      return creatorFromIdentity(identity) ?? run.Username;
    }
    nextToken = out.NextToken;
    if (!nextToken) return undefined;
  }
  return undefined;
}
