/**
 * AWS's size and count quotas, with the numbers from AWS's documentation (each cited beside it) and the
 * service's own error. Request quotas are checked at the gate before the service handles the call; the engine,
 * the Lambda runner and DynamoDB's paging import the numbers for the quotas they enforce themselves.
 */
import { AwsError, type AwsRequest } from '../kernel';
import type { DecodedRequest } from '../wire/decode';

/** "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string."
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-task-executions */
export const STATES_PAYLOAD_BYTES = 262_144;
/** "Maximum execution history size: 25,000 events in a single state machine execution history."
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-state-machine-executions */
export const STATES_HISTORY_EVENTS = 25_000;
/** "Invocation payload (request and response): 6 MB each for request and response (synchronous)."
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** "Maximum message size: 256 KB" (262,144 bytes). https://docs.aws.amazon.com/sns/latest/api/API_Publish.html */
export const SNS_MESSAGE_BYTES = 262_144;
/** "The message may not include more than 50 recipients, across the To:, CC: and BCC: fields."
 * https://docs.aws.amazon.com/ses/latest/dg/quotas.html */
export const SES_RECIPIENTS = 50;
/** "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length (UTF-8 length)
 * and attribute value lengths." https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html */
export const DYNAMODB_ITEM_BYTES = 400 * 1024;
/** "A single call to BatchWriteItem can transmit up to 16 MB of data ... up to 25 item put or delete operations."
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html */
export const DYNAMODB_BATCH_WRITE_ITEMS = 25;
/** "TransactWriteItems is a synchronous write operation that groups up to 100 action requests."
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html */
export const DYNAMODB_TRANSACT_ITEMS = 100;
/** "A single Query operation can retrieve a maximum of 1 MB of data." (Scan likewise.)
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html */
export const DYNAMODB_PAGE_BYTES = 1024 * 1024;
/** "The total entry size must be less than 256KB" for PutEvents.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html */
export const EVENTBRIDGE_ENTRY_BYTES = 262_144;

const bytes = (s: unknown) => Buffer.byteLength(typeof s === 'string' ? s : JSON.stringify(s ?? null));

/** DynamoDB's item size: attribute names plus values, as "DynamoDB item sizes and formats" counts them
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html). */
export function dynamoItemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item ?? {})) size += Buffer.byteLength(name) + attributeSize(value as Record<string, unknown>);
  return size;
}

function attributeSize(av: Record<string, unknown>): number {
  const [type, v] = Object.entries(av ?? {})[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v));
    case 'N':
      // "Numbers are variable length, with up to 38 significant digits. Leading and trailing zeroes are trimmed. The
      // size of a number is approximately ... (1 byte per two significant digits) + (1 byte)."
      // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
      // Stored numbers are canonical (no exponent): 1e125 is one significant digit, not 126.
      return Math.ceil(significantDigits(String(v)) / 2) + 1;
    case 'B':
      return Buffer.from(String(v), 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
    case 'NS':
    case 'BS':
      return (v as string[]).reduce((n, x) => n + attributeSize({ [type[0]]: x }), 0);
    case 'L':
      return 3 + (v as Array<Record<string, unknown>>).reduce((n, x) => n + 1 + attributeSize(x), 0);
    case 'M':
      return 3 + Object.entries(v as Record<string, Record<string, unknown>>).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + attributeSize(x), 0);
    default:
      return 0;
  }
}

function significantDigits(n: string): number {
  const digits = n.replace(/^-/, '').replace('.', '');
  let start = 0;
  let end = digits.length;
  while (start < end && digits.charCodeAt(start) === 48) start++;
  while (end > start && digits.charCodeAt(end - 1) === 48) end--;
  return end - start;
}

/** "Total entry size" of a PutEvents entry as EventBridge computes it (eb-putevent-size.html). */
export function eventEntrySize(e: { Time?: unknown; Source?: string; DetailType?: string; Detail?: string; Resources?: string[] }): number {
  let size = e.Time ? 14 : 0;
  size += Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Detail ?? '');
  for (const r of e.Resources ?? []) size += Buffer.byteLength(r);
  return size;
}

const validation = (value: string, field: string, constraint: string) =>
  new AwsError('ValidationException', `1 validation error detected: Value ${value} at '${field}' failed to satisfy constraint: ${constraint}`);

/** Request quotas, checked before the service handles the call. */
export function requestQuota(_req: AwsRequest, d: DecodedRequest): AwsError | undefined {
  const p = d.params;
  const op = `${d.service}:${d.operation}`;
  switch (op) {
    case 'states:StartExecution':
    case 'states:StartSyncExecution':
      if (p.input !== undefined && bytes(p.input) > STATES_PAYLOAD_BYTES)
        return validation(`of ${bytes(p.input)} bytes`, 'input', `Member must have length less than or equal to ${STATES_PAYLOAD_BYTES}`);
      return undefined;
    case 'states:SendTaskSuccess':
      if (p.output !== undefined && bytes(p.output) > STATES_PAYLOAD_BYTES)
        return validation(`of ${bytes(p.output)} bytes`, 'output', `Member must have length less than or equal to ${STATES_PAYLOAD_BYTES}`);
      return undefined;
    case 'sns:Publish':
      if (p.Message !== undefined && bytes(p.Message) > SNS_MESSAGE_BYTES) return new AwsError('InvalidParameter', 'Invalid parameter: Message too long', 400);
      return undefined;
    case 'ses:SendEmail': {
      const dest = (p.Destination ?? {}) as Record<string, string[] | undefined>;
      const count = (dest.ToAddresses?.length ?? 0) + (dest.CcAddresses?.length ?? 0) + (dest.BccAddresses?.length ?? 0);
      return count > SES_RECIPIENTS ? new AwsError('MessageRejected', `Recipient count exceeds ${SES_RECIPIENTS}.`, 400) : undefined;
    }
    // Item sizes are checked by the DynamoDB service on the stored form (numbers canonical, nesting checked).
    case 'dynamodb:BatchWriteItem': {
      const requests = Object.values((p.RequestItems ?? {}) as Record<string, unknown[]>).flat();
      if (requests.length > DYNAMODB_BATCH_WRITE_ITEMS) {
        return validation(
          `with ${requests.length} write requests`,
          'requestItems',
          `Map value must satisfy constraint: [Member must have length less than or equal to ${DYNAMODB_BATCH_WRITE_ITEMS}, Member must have length greater than or equal to 1]`,
        );
      }
      return undefined;
    }
    case 'dynamodb:TransactWriteItems': {
      const items = (p.TransactItems ?? []) as unknown[];
      if (items.length > DYNAMODB_TRANSACT_ITEMS)
        return validation(`with ${items.length} items`, 'transactItems', `Member must have length less than or equal to ${DYNAMODB_TRANSACT_ITEMS}`);
      return undefined;
    }
    case 'events:PutEvents': {
      const total = ((p.Entries ?? []) as Array<Parameters<typeof eventEntrySize>[0]>).reduce((n, e) => n + eventEntrySize(e), 0);
      // AWS documents the limit, not the message; this is the message EventBridge answers, as users report it
      // (https://github.com/awslabs/aws-service-catalog-puppet/issues/563).
      return total > EVENTBRIDGE_ENTRY_BYTES ? new AwsError('ValidationException', 'Total size of the entries in the request is over the limit.') : undefined;
    }
    default:
      return undefined;
  }
}
