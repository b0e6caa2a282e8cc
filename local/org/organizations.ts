/**
 * AWS Organizations at the local endpoint (JSON 1.1, `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`), read
 * only, over the simulated organization (local/org/organization.ts): DescribeOrganization, ListRoots, ListAccounts,
 * ListAccountsForParent, ListOrganizationalUnitsForParent.
 *
 * As AWS documents them (https://docs.aws.amazon.com/organizations/latest/APIReference/):
 * - the List operations "can be called only from the organization's management account or by a member account that is
 *   a delegated administrator" (API_ListAccounts.html); DescribeOrganization from any member account: "This operation
 *   can be called from any account in the organization" (API_DescribeOrganization.html). Elsewhere
 *   AccessDeniedException "You don't have permissions to access this resource." (CommonErrors / the operations' Errors);
 *   an account outside any organization gets AWSOrganizationsNotInUseException "Your account is not a member of an
 *   organization." (API_DescribeOrganization.html#API_DescribeOrganization_Errors);
 * - pages: `MaxResults` "Minimum value of 1. Maximum value of 20." and `NextToken` to continue ("Organizations might
 *   return fewer results than the maximum even when there are more results available"); with MaxResults omitted, this
 *   runtime returns 20 per page (AWS does not say: README, unconfirmed behaviours);
 * - an unknown parent: ParentNotFoundException "We can't find a root or OU with the ParentId that you specified.";
 *   a malformed id or a bad page size or token: InvalidInputException with its `Reason`.
 */
import { AwsError, type AwsRequest, type AwsResponse, type ServiceHandler } from '../kernel';
import { jsonError } from '../wire/errors';
import type { Account, Organization } from './organization';

const PREFIX = 'AWSOrganizationsV20161128.';
const PAGE_MAX = 20;

export interface OrganizationsOptions {
  org: () => Organization | undefined;
  /** The account an access key acts for (local/org/partitions.ts). */
  accountOf: (accessKeyId: string) => string;
}

class InvalidInput extends AwsError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('InvalidInputException', message, 400);
  }
}

export class OrganizationsService implements ServiceHandler {
  readonly services = ['organizations'] as const;

  constructor(private readonly opts: OrganizationsOptions) {}

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const operation = (req.target ?? '').startsWith(PREFIX) ? req.target!.slice(PREFIX.length) : '';
      let input: Record<string, unknown>;
      try {
        input = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
      } catch {
        throw new AwsError('SerializationException', 'The request body is not JSON', 400);
      }
      const output = this.run(operation, input ?? {}, this.opts.accountOf(req.accessKeyId));
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(output) };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: Organizations handler failed', err);
      const e =
        err instanceof AwsError
          ? err
          : new AwsError('ServiceException', "AWS Organizations can't complete your request because of an internal service error.", 500);
      const res = jsonError(e);
      if (e instanceof InvalidInput) res.body = JSON.stringify({ __type: e.code, Message: e.message, Reason: e.reason });
      return res;
    }
  }

  private run(operation: string, input: Record<string, unknown>, caller: string): unknown {
    const known = ['DescribeOrganization', 'ListRoots', 'ListAccounts', 'ListAccountsForParent', 'ListOrganizationalUnitsForParent'];
    if (!known.includes(operation))
      throw new AwsError('UnknownOperationException', `opsflow local Organizations supports ${known.join(', ')}, not '${operation || '(no target)'}'`, 400);
    const org = this.opts.org();
    const account = org?.account(caller);
    if (!org || !account?.member) throw new AwsError('AWSOrganizationsNotInUseException', 'Your account is not a member of an organization.', 400);
    if (operation === 'DescribeOrganization') {
      const management = org.account(org.managementAccount)!;
      return {
        Organization: {
          Id: org.id,
          Arn: org.arn,
          FeatureSet: 'ALL',
          MasterAccountArn: management.arn,
          MasterAccountId: management.id,
          MasterAccountEmail: management.email,
          AvailablePolicyTypes: [],
        },
      };
    }
    if (caller !== org.managementAccount) throw new AwsError('AccessDeniedException', "You don't have permissions to access this resource.", 400);
    const members = org.accounts.filter((a) => a.member);
    switch (operation) {
      case 'ListRoots':
        return page(input, [{ Id: org.rootId, Arn: org.rootArn, Name: 'Root', PolicyTypes: [] }], 'Roots');
      case 'ListAccounts':
        return page(input, members.map(accountOut), 'Accounts');
      case 'ListAccountsForParent': {
        const parent = this.parent(org, input.ParentId);
        return page(input, members.filter((a) => a.parentId === parent).map(accountOut), 'Accounts');
      }
      default: {
        const parent = this.parent(org, input.ParentId);
        return page(
          input,
          org.ous.filter((o) => o.parentId === parent).map((o) => ({ Id: o.id, Arn: o.arn, Name: o.name })),
          'OrganizationalUnits',
        );
      }
    }
  }

  /** A root or OU id that exists. Id patterns: API_ListAccountsForParent.html, ParentId: `^(r-[0-9a-z]{4,32})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`. */
  private parent(org: Organization, id: unknown): string {
    if (typeof id !== 'string' || !/^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/.test(id))
      throw new InvalidInput('INVALID_ENUM', `You provided a value that does not match the required pattern: ParentId ${JSON.stringify(id)}.`);
    if (id !== org.rootId && !org.ous.some((o) => o.id === id))
      throw new AwsError('ParentNotFoundException', "We can't find a root or OU with the ParentId that you specified.", 400);
    return id;
  }
}

function accountOut(a: Account) {
  return { Id: a.id, Arn: a.arn, Email: a.email, Name: a.name, Status: 'ACTIVE', State: 'ACTIVE', JoinedMethod: 'CREATED', JoinedTimestamp: a.joinedAt };
}

/** One page of `items` from `NextToken` (an offset, encoded), at most `MaxResults` (1-20). */
function page<T>(input: Record<string, unknown>, items: T[], key: string): Record<string, unknown> {
  const max = input.MaxResults ?? PAGE_MAX;
  if (!(Number.isInteger(max) && (max as number) >= 1 && (max as number) <= PAGE_MAX))
    throw new InvalidInput('MAX_VALUE_EXCEEDED', `You provided a value for MaxResults that is not between 1 and ${PAGE_MAX}.`);
  let start = 0;
  if (input.NextToken !== undefined) {
    const decoded = typeof input.NextToken === 'string' ? /^opsflow-page-(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8')) : null;
    start = decoded ? Number(decoded[1]) : -1;
    if (start < 0 || start >= items.length)
      throw new InvalidInput(
        'INVALID_PAGINATION_TOKEN',
        'You provided an invalid value for the NextToken parameter: get it from the response to a previous call.',
      );
  }
  const end = start + (max as number);
  return { [key]: items.slice(start, end), ...(end < items.length && { NextToken: Buffer.from(`opsflow-page-${end}`).toString('base64url') }) };
}
