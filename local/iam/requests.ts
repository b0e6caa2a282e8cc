/**
 * The request context of an API call, as AWS's Service Authorization Reference describes it for each action:
 * the resources the call names (one authorization per resource: a call naming several is refused whole when
 * one is denied) and the condition keys the runtime knows (`aws:ResourceTag/*` from the fleet and the
 * template's tags, `aws:RequestTag/*`, `aws:TagKeys`, `ses:FromAddress`, `ses:Recipients`, `events:source`, ...).
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
import { ACCOUNT, HUB, REGION, type Partition } from '../kernel';
import { formList, type DecodedRequest } from '../wire/decode';
import type { RequestContext } from './policy';

export interface ResourceLookups {
  /** Tags of an EC2 instance, undefined if it does not exist. */
  /** `partition`: the member partition the instance is in (local/org/partitions.ts); undefined: the hub. */
  instanceTags(instanceId: string, partition?: Partition): Array<{ Key: string; Value: string }> | undefined;
  /** Tags of a resource from the template (tables, topics, state machines), by ARN. */
  resourceTags(arn: string): Record<string, string> | undefined;
  /** The customer managed KMS key of an instance's encrypted volume, if any. */
  volumeKey?(instanceId: string): string | undefined;
  /** Tells EC2 whether the caller of this StartInstances may have the volume key's grant created. */
  volumeGrant?(instanceId: string, allowed: boolean): void;
  /**
   * The SES identity an address is matched with (local/services/sesv2.ts `SesAccount.resolve`): the address when it
   * is a verified identity itself, else its nearest verified domain, else the address.
   */
  sesIdentity?(address: string): string;
  /** Whether the account's SES is in the sandbox, where the recipients' identities are authorized too. */
  sesSandbox?(): boolean;
  /** The ARN of the secret a SecretId (name or ARN) names, undefined when there is none. */
  secretArn?(secretId: string): string | undefined;
  /** Tags of an RDS DB instance or cluster by ARN (`arn:aws:rds:...:db:<id>`, `:cluster:<id>`), undefined if it does not exist. */
  rdsTags?(arn: string): Array<{ Key: string; Value: string }> | undefined;
  /** An Auto Scaling group's ARN and tags by name in the partition (undefined: the hub), undefined when there is none. */
  autoScalingGroup?(name: string, partition?: Partition): { arn: string; tags: Record<string, string> } | undefined;
  /** Tags of an ECS cluster or service by ARN, undefined when there is none. */
  ecsTags?(arn: string): Record<string, string> | undefined;
  /** The ARN of an organisation's root or OU by id (`r-…`, `ou-…`), undefined when there is none. */
  organizationParent?(id: string): string | undefined;
}

export interface ResourceRequest {
  /** `service:Operation`. */
  action: string;
  resource: string;
  context: RequestContext;
}

const ec2Arn = (type: string, id: string, p: Partition = HUB) => `arn:aws:ec2:${p.region}:${p.account}:${type}/${id}`;
const tableArn = (name: string) => (name.startsWith('arn:') ? name : `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`);

function tagContext(
  prefix: 'aws:ResourceTag' | 'aws:RequestTag' | 'ec2:ResourceTag' | 'autoscaling:ResourceTag',
  tags: Record<string, string> | Array<{ Key: string; Value?: string }> | undefined,
): RequestContext {
  const out: RequestContext = {};
  const entries = Array.isArray(tags) ? tags.map((t) => [t.Key, t.Value ?? ''] as const) : Object.entries(tags ?? {});
  for (const [k, v] of entries) out[`${prefix}/${k}`] = v;
  return out;
}

function instanceContext(lookups: ResourceLookups, id: string, partition?: Partition): RequestContext {
  const tags = lookups.instanceTags(id, partition);
  return { ...tagContext('aws:ResourceTag', tags), ...tagContext('ec2:ResourceTag', tags), 'ec2:InstanceID': id };
}

/** The cluster a request names (by name or ARN), `default` when it names none, as ECS reads it. */
const clusterName = (ref: unknown) => (typeof ref === 'string' && ref !== '' ? (/:cluster\/(.+)$/.exec(ref)?.[1] ?? ref) : 'default');

const sesArn = (type: string, name: string) => `arn:aws:ses:${REGION}:${ACCOUNT}:${type}/${name}`;

/** One entry per resource the call is authorized against; `*` for actions without resource-level permissions. */
export function resourceRequests(req: DecodedRequest, lookups: ResourceLookups): ResourceRequest[] {
  const action = `${req.service}:${req.operation}`;
  const p = req.params;
  const one = (resource: string, context: RequestContext = {}): ResourceRequest[] => [{ action, resource, context }];
  const many = (resources: Array<[string, RequestContext]>): ResourceRequest[] => resources.map(([resource, context]) => ({ action, resource, context }));

  switch (req.service) {
    case 'ec2': {
      const ids = formList(req.form, 'InstanceId');
      switch (req.operation) {
        case 'StartInstances':
        case 'StopInstances':
        case 'TerminateInstances':
        case 'RebootInstances':
          return many(ids.map((id) => [ec2Arn('instance', id, req.partition), instanceContext(lookups, id, req.partition)]));
        case 'CreateTags':
        case 'DeleteTags': {
          const tags: Array<{ Key: string; Value?: string }> = [];
          for (let i = 1; req.form?.has(`Tag.${i}.Key`); i++)
            tags.push({ Key: req.form.get(`Tag.${i}.Key`)!, Value: req.form.get(`Tag.${i}.Value`) ?? undefined });
          const requestContext: RequestContext = { ...tagContext('aws:RequestTag', tags), 'aws:TagKeys': tags.map((t) => t.Key) };
          return many(
            formList(req.form, 'ResourceId').map((id) => {
              const type = id.startsWith('i-') ? 'instance' : id.split('-')[0];
              return [ec2Arn(type, id, req.partition), { ...requestContext, ...(type === 'instance' ? instanceContext(lookups, id, req.partition) : {}) }];
            }),
          );
        }
        case 'RunInstances': {
          const tags: Array<{ Key: string; Value?: string }> = [];
          for (let s = 1; req.form?.has(`TagSpecification.${s}.ResourceType`); s++) {
            if (req.form.get(`TagSpecification.${s}.ResourceType`) !== 'instance') continue;
            for (let i = 1; req.form.has(`TagSpecification.${s}.Tag.${i}.Key`); i++)
              tags.push({ Key: req.form.get(`TagSpecification.${s}.Tag.${i}.Key`)!, Value: req.form.get(`TagSpecification.${s}.Tag.${i}.Value`) ?? undefined });
          }
          return one(ec2Arn('instance', '*', req.partition), { ...tagContext('aws:RequestTag', tags), 'aws:TagKeys': tags.map((t) => t.Key) });
        }
        default:
          return one('*');
      }
    }
    case 'dynamodb': {
      switch (req.operation) {
        case 'BatchGetItem':
        case 'BatchWriteItem':
          return many(Object.keys(p.RequestItems ?? {}).map((t) => [tableArn(t), tagContext('aws:ResourceTag', lookups.resourceTags(tableArn(t)))]));
        case 'TransactWriteItems':
        case 'TransactGetItems': {
          // Each item is authorized as the single-item action it stands for.
          const ops: Record<string, string> = {
            Put: 'PutItem',
            Update: 'UpdateItem',
            Delete: 'DeleteItem',
            ConditionCheck: 'ConditionCheckItem',
            Get: 'GetItem',
          };
          return ((p.TransactItems ?? []) as Array<Record<string, { TableName?: string }>>).flatMap((item) =>
            Object.entries(item)
              .filter(([k]) => ops[k])
              .map(([k, v]) => ({ action: `dynamodb:${ops[k]}`, resource: tableArn(String(v.TableName)), context: {} })),
          );
        }
        case 'ListTables':
          return one('*');
        default: {
          const table = tableArn(String(p.TableName ?? ''));
          const resource = p.IndexName ? `${table}/index/${p.IndexName}` : table;
          return one(resource, tagContext('aws:ResourceTag', lookups.resourceTags(table)));
        }
      }
    }
    case 'states': {
      const resource = p.stateMachineArn ?? p.executionArn ?? p.activityArn ?? p.resourceArn ?? p.mapRunArn;
      return one(
        typeof resource === 'string' ? resource : '*',
        typeof resource === 'string' ? tagContext('aws:ResourceTag', lookups.resourceTags(resource)) : {},
      );
    }
    case 'sns': {
      // CreateTopic authorizes the topic it would create (resource type topic,
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html).
      const topic =
        p.TopicArn ??
        p.TargetArn ??
        p.ResourceArn ??
        (req.operation === 'CreateTopic' && typeof p.Name === 'string' ? `arn:aws:sns:${REGION}:${ACCOUNT}:${p.Name}` : undefined);
      return one(typeof topic === 'string' ? topic : '*');
    }
    case 'secretsmanager': {
      // Secrets Manager authorizes on the secret's full ARN, whether the call names it by name or ARN
      // (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html: "Resource":
      // the secret ARN). A secret that does not exist yet (CreateSecret) is named by its name without the suffix.
      const id = String(p.SecretId ?? p.Name ?? '');
      return one(lookups.secretArn?.(id) ?? (id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}`));
    }
    case 'ses': {
      if (req.operation === 'CreateEmailIdentity' || req.operation === 'GetEmailIdentity' || req.operation === 'DeleteEmailIdentity') {
        return one(sesArn('identity', String(p.EmailIdentity ?? '')));
      }
      if (req.operation !== 'SendEmail') return one('*');
      const destination = (p.Destination ?? {}) as { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
      const recipients = [...(destination.ToAddresses ?? []), ...(destination.CcAddresses ?? []), ...(destination.BccAddresses ?? [])];
      const from = String(p.FromEmailAddress ?? '');
      const fromAddress = /<([^>]+)>/.exec(from)?.[1] ?? from;
      const context: RequestContext = { 'ses:FromAddress': fromAddress, 'ses:Recipients': recipients, 'ses:ApiVersion': '2' };
      const display = /^\s*"?([^"<]*?)"?\s*</.exec(from)?.[1];
      if (display) context['ses:FromDisplayName'] = display;
      // SES authorizes the identity that matches the sender: a separately verified address is its own identity, not
      // its domain's (https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html; the IAM troubleshooting page,
      // https://repost.aws/knowledge-center/amazon-ses-iam-user-email-access-denied, names the address identity's ARN).
      // In the sandbox the recipients' identities are authorized too: AWS does not document it, answers recorded by
      // users show it (AccessDenied "on resource identity/<recipient>": https://github.com/aws/aws-sdk-js/issues/3641,
      // https://github.com/GSA/data.gov/issues/3810); README "Unconfirmed" lists it.
      const identity = (address: string) => sesArn('identity', lookups.sesIdentity?.(address) ?? /<([^>]+)>/.exec(address)?.[1] ?? address);
      const identities = [identity(fromAddress), ...(lookups.sesSandbox?.() ? recipients.map(identity) : [])];
      const resources: Array<[string, RequestContext]> = [...new Set(identities)].map((arn) => [arn, context]);
      if (p.ConfigurationSetName) resources.push([sesArn('configuration-set', String(p.ConfigurationSetName)), context]);
      return many(resources);
    }
    case 'organizations': {
      // The parent listings act on the root or OU they name: resource types `root`, `organizationalunit`
      // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html); an unknown
      // parent is left to the service to refuse (ParentNotFoundException).
      if (['ListAccountsForParent', 'ListOrganizationalUnitsForParent', 'ListChildren'].includes(req.operation) && typeof p.ParentId === 'string')
        return one(lookups.organizationParent?.(p.ParentId) ?? '*');
      return one('*');
    }
    case 'events': {
      if (req.operation === 'PutEvents') {
        const entries = (p.Entries ?? []) as Array<{ Source?: string; DetailType?: string; EventBusName?: string }>;
        return entries.map((e) => ({
          action,
          resource: e.EventBusName?.startsWith('arn:') ? e.EventBusName : `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${e.EventBusName ?? 'default'}`,
          context: { 'events:source': e.Source ?? '', 'events:detail-type': e.DetailType ?? '' },
        }));
      }
      if (typeof p.Name === 'string' || typeof p.Rule === 'string') return one(`arn:aws:events:${REGION}:${ACCOUNT}:rule/${p.Name ?? p.Rule}`);
      return one('*');
    }
    case 's3': {
      // Actions and resources per S3 operation: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
      const bucket = `arn:aws:s3:::${p.Bucket}`;
      const object = `${bucket}/${p.Key}`;
      const s3 = (a: string, resource: string, context: RequestContext = {}): ResourceRequest[] => [{ action: `s3:${a}`, resource, context }];
      switch (req.operation) {
        case 'ListBuckets':
          return s3('ListAllMyBuckets', '*');
        case 'CreateBucket':
          return s3('CreateBucket', bucket);
        case 'DeleteBucket':
          return s3('DeleteBucket', bucket);
        case 'HeadBucket':
          return s3('ListBucket', bucket);
        case 'ListObjectsV2':
          return s3('ListBucket', bucket, p.Prefix !== undefined ? { 's3:prefix': p.Prefix } : {});
        case 'PutObject':
        case 'CreateMultipartUpload':
        case 'UploadPart':
        case 'CompleteMultipartUpload':
          return s3('PutObject', object);
        case 'AbortMultipartUpload':
          return s3('AbortMultipartUpload', object);
        case 'GetObject':
        case 'HeadObject':
          return s3('GetObject', object);
        case 'DeleteObject':
          return s3('DeleteObject', object);
        default:
          // Not served: the service answers NotImplemented and reads nothing, so there is no action to check.
          return [];
      }
    }
    case 'lambda': {
      // Lambda authorizes the function (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html);
      // CreateFunction also needs iam:PassRole on the execution role: "iam:PassRole ... to pass the role to Lambda"
      // (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html), with iam:PassedToService
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService).
      const ref = String(p.FunctionName ?? '');
      const name = /^(?:arn:aws:lambda:[^:]+:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_-]+)/.exec(ref)?.[1];
      const fn = name ? `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}` : '*';
      if (req.operation === 'ListFunctions') return one('*');
      // The Invoke operation is authorized as lambda:InvokeFunction.
      const requests: ResourceRequest[] = [{ action: req.operation === 'Invoke' ? 'lambda:InvokeFunction' : action, resource: fn, context: {} }];
      if (req.operation === 'CreateFunction' && typeof p.Role === 'string')
        requests.push({ action: 'iam:PassRole', resource: p.Role, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
      return requests;
    }
    case 'rds': {
      // RDS authorizes the DB instance (`arn:${Partition}:rds:${Region}:${Account}:db:${DbInstanceName}`) or the cluster
      // (`...:cluster:${DbClusterInstanceName}`), whose condition keys are aws:ResourceTag/${TagKey} and rds:db-tag/${TagKey}
      // (rds:cluster-tag/${TagKey} for a cluster); a Describe call naming none is authorized on `...:db:*` / `...:cluster:*`;
      // AddTagsToResource also carries aws:RequestTag/${TagKey}, aws:TagKeys and rds:req-tag/${TagKey}
      // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html).
      const where = req.partition ?? HUB;
      const rdsArn = (type: 'db' | 'cluster', id: unknown) =>
        typeof id === 'string' && id.startsWith('arn:')
          ? id
          : `arn:aws:rds:${where.region}:${where.account}:${type}:${typeof id === 'string' ? id.toLowerCase() : '*'}`;
      const tagged = (arn: string): RequestContext => {
        const tags = lookups.rdsTags?.(arn);
        const own = arn.includes(':cluster:') ? 'rds:cluster-tag' : 'rds:db-tag';
        const out = tagContext('aws:ResourceTag', tags);
        for (const t of tags ?? []) out[`${own}/${t.Key}`] = t.Value;
        return out;
      };
      switch (req.operation) {
        case 'StartDBInstance':
        case 'StopDBInstance':
        case 'DescribeDBInstances': {
          const arn = rdsArn('db', p.DBInstanceIdentifier);
          return one(arn, tagged(arn));
        }
        case 'StartDBCluster':
        case 'StopDBCluster':
        case 'DescribeDBClusters': {
          const arn = rdsArn('cluster', p.DBClusterIdentifier);
          return one(arn, tagged(arn));
        }
        case 'ListTagsForResource':
        case 'AddTagsToResource':
        case 'RemoveTagsFromResource': {
          const arn = String(p.ResourceName ?? '*');
          const context = tagged(arn);
          if (req.operation === 'AddTagsToResource') {
            const tags: Array<{ Key: string; Value?: string }> = [];
            for (let i = 1; req.form?.has(`Tags.Tag.${i}.Key`); i++)
              tags.push({ Key: req.form.get(`Tags.Tag.${i}.Key`)!, Value: req.form.get(`Tags.Tag.${i}.Value`) ?? '' });
            Object.assign(context, tagContext('aws:RequestTag', tags), { 'aws:TagKeys': tags.map((t) => t.Key) });
            for (const t of tags) context[`rds:req-tag/${t.Key}`] = t.Value ?? '';
          }
          if (req.operation === 'RemoveTagsFromResource') context['aws:TagKeys'] = formList(req.form, 'TagKeys.member');
          return one(arn, context);
        }
        default:
          return one('*');
      }
    }
    case 'autoscaling': {
      // UpdateAutoScalingGroup authorizes the group (resource type autoScalingGroup, condition keys
      // aws:ResourceTag/${TagKey} and autoscaling:ResourceTag/${TagKey}); the Describe* actions have no resource types,
      // so their resource is `*` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html).
      // A group that does not exist is authorized as the ARN pattern names it, `autoScalingGroup:*:autoScalingGroupName/<name>`.
      if (req.operation !== 'UpdateAutoScalingGroup') return one('*');
      const name = String(p.AutoScalingGroupName ?? '');
      const where = req.partition ?? HUB;
      const group = lookups.autoScalingGroup?.(name, req.partition);
      const context: RequestContext = { ...tagContext('aws:ResourceTag', group?.tags), ...tagContext('autoscaling:ResourceTag', group?.tags) };
      for (const key of ['MinSize', 'MaxSize'] as const) if (p[key] !== undefined) context[`autoscaling:${key}`] = String(p[key]);
      return one(group?.arn ?? `arn:aws:autoscaling:${where.region}:${where.account}:autoScalingGroup:*:autoScalingGroupName/${name}`, context);
    }
    case 'ecs': {
      // ECS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html):
      // UpdateService and DescribeServices authorize each service (arn:...:service/<cluster>/<service>, aws:ResourceTag and
      // ecs:cluster), DescribeClusters each cluster, the tagging actions the resource they name; ListClusters and
      // ListServices have no resource types (`*`; ListServices carries ecs:cluster).
      const cluster = clusterName(p.cluster);
      const where = req.partition ?? HUB;
      const ecsArn = (rest: string) => `arn:aws:ecs:${where.region}:${where.account}:${rest}`;
      const clusterArn = ecsArn(`cluster/${cluster}`);
      const ecsResource = (arn: string, extra: RequestContext = {}): [string, RequestContext] => [
        arn,
        { ...tagContext('aws:ResourceTag', lookups.ecsTags?.(arn)), ...extra },
      ];
      const serviceArn = (ref: string) => (ref.startsWith('arn:') ? ref : ecsArn(`service/${cluster}/${ref}`));
      switch (req.operation) {
        case 'UpdateService':
          return many([ecsResource(serviceArn(String(p.service ?? '')), { 'ecs:cluster': clusterArn })]);
        case 'DescribeServices':
          return many((Array.isArray(p.services) ? p.services : []).map((s: unknown) => ecsResource(serviceArn(String(s)), { 'ecs:cluster': clusterArn })));
        case 'DescribeClusters': {
          const refs = Array.isArray(p.clusters) && p.clusters.length > 0 ? p.clusters : ['default'];
          return many(refs.map((c: unknown) => ecsResource(String(c).startsWith('arn:') ? String(c) : ecsArn(`cluster/${c}`))));
        }
        case 'ListTagsForResource':
        case 'TagResource':
        case 'UntagResource':
          return many([ecsResource(String(p.resourceArn ?? ''))]);
        case 'ListServices':
          return one('*', { 'ecs:cluster': clusterArn });
        default:
          return one('*');
      }
    }
    case 'sqs': {
      // Every SQS action but ListQueues authorizes the queue (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html);
      // its ARN is arn:aws:sqs:<region>:<account>:<name>, named by QueueName or the end of the QueueUrl.
      const name = typeof p.QueueName === 'string' ? p.QueueName : /\/\d{12}\/([^/?#]+)\/?$/.exec(String(p.QueueUrl ?? ''))?.[1];
      return one(name ? `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}` : '*');
    }
    // STS authorizes AssumeRole itself, against the caller's identity policy and the role's trust policy together
    // (local/org/sts.ts); GetCallerIdentity needs no permission ("No permissions are required to perform this
    // operation", https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
    case 'sts':
      return [];
    default:
      return one('*');
  }
}
