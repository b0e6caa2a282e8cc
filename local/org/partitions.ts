/**
 * State per account and region. A partition is one account in one region; the hub partition (`HUB`) holds the
 * deployed app and every service, as the runtime always had. Each other partition of a simulated organization has
 * EC2 (its fleet), RDS, Auto Scaling (over its fleet), ECS, its CloudTrail event history and its default event bus,
 * each the same service code over its own stores, so `DescribeInstances` or `DescribeDBInstances` signed for eu-west-1
 * with a member account's credentials sees that partition's resources only.
 *
 * A request's partition is the account of its access key (a member account's key or a role session in it) and the
 * region of its SigV4 credential scope, as AWS decides it: the scope names the region
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, "credential scope ... date, Region,
 * service"), the credentials the account. Services the runtime simulates only in the hub answer a request for
 * another partition with a refusal that says so, rather than sharing the hub's state.
 */
import { AwsError, HUB, type AwsRequest, type AwsResponse, type Partition, type ServiceHandler } from '../kernel';
import { jsonError } from '../wire/errors';

/** The services a member partition has, by SigV4 signing name. */
export type PartitionServices = readonly ServiceHandler[];

const key = (p: Partition) => `${p.account}/${p.region}`;
const isHub = (p: Partition) => p.account === HUB.account && p.region === HUB.region;

export class Partitions {
  private readonly members = new Map<string, Map<string, ServiceHandler>>();

  /** `accountOf`: the account an access key belongs to (the hub's for the runtime's and the user's keys). */
  constructor(readonly accountOf: (accessKeyId: string) => string) {}

  /** Registers a member partition's services (already wrapped by the rules). */
  add(partition: Partition, services: PartitionServices): void {
    const byName = new Map<string, ServiceHandler>();
    for (const s of services) for (const name of s.services) byName.set(name, s);
    this.members.set(key(partition), byName);
  }

  /** The account and region a signed request acts in. */
  partitionOf(req: AwsRequest): Partition {
    return { account: this.accountOf(req.accessKeyId), region: req.region ?? HUB.region };
  }

  /** A global service's handler (STS, Organizations): one for every partition, told which the request is in. */
  global(handler: ServiceHandler): ServiceHandler {
    return {
      services: handler.services,
      handle: (req: AwsRequest) => {
        req.partition = this.partitionOf(req);
        return handler.handle(req);
      },
    };
  }

  /**
   * The endpoint's handler for a service: the hub's for hub requests, the partition's own for a member partition;
   * a refusal when the service has no state there. `hub` is the hub's handler (already wrapped by the rules).
   */
  route(hub: ServiceHandler): ServiceHandler {
    return {
      services: hub.services,
      handle: (req: AwsRequest): Promise<AwsResponse> => {
        const partition = this.partitionOf(req);
        req.partition = partition;
        if (isHub(partition)) return hub.handle(req);
        const handler = this.members.get(key(partition))?.get(req.service);
        if (handler) return handler.handle(req);
        const served = [...new Set([...(this.members.values().next().value?.keys() ?? [])])].join(', ');
        return Promise.resolve(
          jsonError(
            new AwsError(
              'UnknownOperationException',
              `opsflow local runtime simulates '${req.service}' only in the hub account ${HUB.account}, region ${HUB.region}; ` +
                (this.members.has(key(partition))
                  ? `account ${partition.account} in ${partition.region} has ${served || 'no services'} (README "A simulated organization")`
                  : `account ${partition.account} in ${partition.region} is not part of the simulated organization`),
              400,
            ),
          ),
        );
      },
    };
  }
}
