/**
 * The receiving bus's side of cross-account EventBridge (local/org/event-buses.ts): the bus policy opsflow's hub sets
 * (workflows/tag-policy/construct.ts: Principal "*", aws:PrincipalOrgID) admits the organisation's members and refuses
 * outside accounts; a sender in the bus's own account is the identity policy's business; a Deny wins.
 */
import { describe, expect, it } from 'vitest';
import { EventBuses, parseBusArn } from '../../local/org/event-buses';
import { Organization } from '../../local/org/organization';
import type { StsCaller } from '../../local/org/sts';
import type { PolicyDocument } from '../../local/iam/policy';

const BUS = 'arn:aws:events:us-east-1:000000000000:event-bus/default';
const org = new Organization({
  id: 'o-exampleorg01',
  accounts: [{ id: '111111111111', name: 'prod', ou: 'Workloads/Prod' }],
  outside: [{ id: '999999999999', name: 'partner' }],
});
const orgOnly: PolicyDocument = {
  Statement: [
    { Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: BUS, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorg01' } } },
  ],
};
const root = (account: string): StsCaller => {
  const arn = `arn:aws:iam::${account}:root`;
  return { arn, userId: account, account, principalArn: arn, principalType: 'Account', principal: { type: 'AWS', id: arn, account } };
};
const buses = (policy?: PolicyDocument) =>
  new EventBuses({ org: () => org, policy: () => policy, enforced: () => true, now: () => new Date('2026-12-07T10:00:00Z') });

describe('event bus policies across accounts', () => {
  it("admits the organisation's members and refuses an outside account, in IAM's wording", () => {
    expect(buses(orgOnly).refusal(root('111111111111'), BUS)).toBeUndefined();
    expect(buses(orgOnly).refusal(root('999999999999'), BUS)).toBe(
      `User: arn:aws:iam::999999999999:root is not authorized to perform: events:PutEvents on resource: ${BUS} because no resource-based policy allows the events:PutEvents action`,
    );
  });

  it('refuses every other account when the bus has no policy, and leaves its own account to the identity policy', () => {
    expect(buses().refusal(root('111111111111'), BUS)).toMatch(/because no resource-based policy allows/);
    expect(buses().refusal(root('000000000000'), BUS)).toBeUndefined();
  });

  it('lets a Deny on the sending rule win over the organisation statement', () => {
    const denyRule: PolicyDocument = {
      Statement: [
        ...(orgOnly.Statement as object[]),
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'events:PutEvents',
          Resource: BUS,
          Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:events:*:111111111111:rule/Noisy' } },
        },
      ],
    } as PolicyDocument;
    expect(buses(denyRule).refusal(root('111111111111'), BUS, 'arn:aws:events:eu-west-1:111111111111:rule/Noisy')).toMatch(
      /with an explicit deny in a resource-based policy$/,
    );
    expect(buses(denyRule).refusal(root('111111111111'), BUS, 'arn:aws:events:eu-west-1:111111111111:rule/Launches')).toBeUndefined();
  });

  it('reads a bus ARN', () => {
    expect(parseBusArn('arn:aws:events:eu-west-1:111111111111:event-bus/default')).toEqual({ region: 'eu-west-1', account: '111111111111', name: 'default' });
    expect(parseBusArn('arn:aws:sqs:eu-west-1:111111111111:q')).toBeUndefined();
  });
});
