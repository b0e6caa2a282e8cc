/**
 * Request body caps, per API, from AWS's documented limits. The server refuses a larger body with 413 before
 * buffering it: from Content-Length when the client sends one, else as soon as the streamed bytes pass the cap.
 *
 * Where AWS documents a limit on a payload rather than on the HTTP body, the cap is that payload plus the
 * worst-case growth of the wire encoding, so no request AWS would accept is refused here.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

/** The largest object the local S3 keeps (its limit on AWS is 5 GB a PUT, 5 TB an object). */
export const S3_LOCAL_OBJECT_BYTES = 2 * 1024 * MiB - 1;

export interface BodyLimit {
  bytes: number;
  /** What the limit is, for the 413 message. */
  what: string;
}

/** By SigV4 signing service. */
const BY_SERVICE: Record<string, BodyLimit> = {
  // "Maximum request size: 1 MB per request ... including the request header and all other associated request data"
  // https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-general
  states: { bytes: 1 * MiB, what: 'Step Functions maximum request size (1 MB)' },
  // BatchWriteItem "can transmit up to 16MB of data over the network"
  // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
  dynamodb: { bytes: 16 * MiB, what: 'DynamoDB maximum request size (16 MB, BatchWriteItem)' },
  // SES API v2: "Maximum message size (including attachments): 40 MB per message (after base64 encoding)";
  // the JSON request carries the base64 text plus a few fields. https://docs.aws.amazon.com/ses/latest/dg/quotas.html
  ses: { bytes: 40 * MiB + 64 * KiB, what: 'SES v2 maximum message size (40 MB)' },
  // Publish: "at most 256 KB in size (262,144 bytes)"; the Query protocol percent-encodes it (up to 3 bytes per byte).
  // https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
  sns: { bytes: 3 * 256 * KiB + 64 * KiB, what: 'SNS maximum message size (256 KB, URL-encoded)' },
  // PutEvents: "The maximum size for a PutEvents event entry is 256 KB"; JSON escaping grows text by up to 6 bytes per byte.
  // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
  events: { bytes: 6 * 256 * KiB + 64 * KiB, what: 'EventBridge PutEvents entry size (256 KB, JSON-escaped)' },
  // AWS documents no body limit for the EC2 Query API; its largest parameter, UserData, is limited to 16 KB
  // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html): 1 MB leaves ample room.
  ec2: { bytes: 1 * MiB, what: 'EC2 request size (local cap: UserData, the largest parameter, is 16 KB)' },
  // PutObject: "upload a single object up to 5 GB" https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html.
  // The local S3 holds a whole object in memory and reads its file in one call, which Node caps at 2 GiB - 1:
  // the local cap, for a single PUT, a part, and a completed multipart object (local/services/s3.ts).
  s3: { bytes: S3_LOCAL_OBJECT_BYTES, what: "local S3 object size (2 GiB - 1: below S3's 5 GB, the most the local runtime holds in memory)" },
  // LookupEvents takes a handful of small attributes (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).
  // SendMessage: "Valid values: An integer from 1,024 bytes (1 KiB) to 1,048,576 bytes (1 MiB)" (MaximumMessageSize,
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html); JSON escaping grows text by up to 6 bytes per byte.
  sqs: { bytes: 6 * MiB + 64 * KiB, what: 'SQS maximum message size (1 MiB, escaped)' },
  // CreateFunction: "50 MB (zipped, when uploaded through the Lambda API or SDKs)", base64 in the JSON body
  // (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
  lambda: { bytes: 70 * MiB, what: 'Lambda deployment package size (50 MB zipped, base64-encoded)' },
  cloudtrail: { bytes: 1 * MiB, what: 'CloudTrail request size (local cap: LookupEvents takes a few small attributes)' },
};

/** HTTP API routes: "Payload size: 10 MB" https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html */
const HTTP_API: BodyLimit = { bytes: 10 * MiB, what: 'API Gateway HTTP API payload size (10 MB)' };
/** The runtime's own `/_opsflow/` API and unknown services: small JSON documents. */
const LOCAL: BodyLimit = { bytes: 1 * MiB, what: 'opsflow local API request size (1 MB)' };

export function bodyLimit(service: string, path: string): BodyLimit {
  if (service) return BY_SERVICE[service] ?? LOCAL;
  return path.startsWith('/_opsflow/') ? LOCAL : HTTP_API;
}
