/**
 * Amazon SQS standard queues, in both protocols SQS speaks: AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Op>`, what
 * @aws-sdk/client-sqs 3.1169 and botocore >= 1.31 send) and the AWS query protocol (form-encoded, XML answers, what
 * AWS CLI v2 2.9 sends). Queues and messages are journaled in the state stores 'sqs.queues' and 'sqs.messages', so
 * a restart keeps them; receive counts, visibility and delays run on the virtual clock.
 *
 * Ops: CreateQueue, GetQueueUrl, ListQueues, GetQueueAttributes, DeleteQueue, PurgeQueue, SendMessage,
 * ReceiveMessage (long polling on the virtual clock), DeleteMessage, ChangeMessageVisibility.
 * API reference: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_Operations.html
 *
 * Local choices: FIFO queues, dead-letter queues, batches and queue policies are not emulated (README); a queue's
 * URL is on the local endpoint (`<endpoint>/<account>/<name>`), and any URL ending in `/<account>/<name>` names it;
 * a receive returns every visible message up to MaxNumberOfMessages (AWS's short poll samples a subset of servers
 * and may return fewer), oldest first.
 */
import escapeHtml from 'escape-html';
import { createHash, randomUUID } from 'node:crypto';
import { ACCOUNT, AwsError, REGION, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir, type Store } from '../kernel';
import { sqsJsonError, sqsQueryError, SQS_XMLNS } from '../wire/errors';
import { jsonRequest } from '../wire/decode';

const TARGET_PREFIX = 'AmazonSQS.';

/**
 * Queue attributes and their ranges, from the CreateQueue reference
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html): "DelaySeconds ...
 * An integer from 0 to 900 seconds (15 minutes). Default: 0", "MaximumMessageSize ... An integer from 1,024 bytes
 * (1 KiB) to 1,048,576 bytes (1 MiB). Default: 1,048,576 bytes", "MessageRetentionPeriod ... from 60 seconds
 * (1 minute) to 1,209,600 seconds (14 days). Default: 345,600 (4 days)", "ReceiveMessageWaitTimeSeconds ... from 0
 * to 20 (seconds). Default: 0", "VisibilityTimeout ... from 0 to 43,200 (12 hours). Default: 30".
 */
const ATTRIBUTES: Record<string, { min: number; max: number; default: number }> = {
  DelaySeconds: { min: 0, max: 900, default: 0 },
  MaximumMessageSize: { min: 1024, max: 1_048_576, default: 1_048_576 },
  MessageRetentionPeriod: { min: 60, max: 1_209_600, default: 345_600 },
  ReceiveMessageWaitTimeSeconds: { min: 0, max: 20, default: 0 },
  VisibilityTimeout: { min: 0, max: 43_200, default: 30 },
};

/** "You must wait 60 seconds after deleting a queue before you can create another queue with the same name" (CreateQueue). */
const RECREATE_AFTER_MS = 60_000;

interface QueueRecord {
  name: string;
  attributes: Record<string, number>;
  tags: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
}

interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  /** Base64, as both protocols carry it. */
  BinaryValue?: string;
}

interface MessageRecord {
  id: string;
  /** Order of sending, for oldest-first receives. */
  seq: number;
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
  sentAt: number;
  /** Virtual epoch ms from which the message may be received (delay, then visibility timeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The receipt handle of the latest receive: only it deletes the message. */
  receipt?: string;
}

interface Queue {
  record: QueueRecord;
  messages: MessageRecord[];
  /** Long polls waiting on this queue. */
  waiters: Set<() => void>;
}

export class SqsService implements ServiceHandler {
  readonly services = ['sqs'] as const;
  private readonly clock: Clock;
  private readonly endpoint: () => string;
  private readonly queues = new Map<string, Queue>();
  private readonly storedQueues: Store<QueueRecord>;
  private readonly storedMessages: Store<MessageRecord>;
  /** Queue name → when it was deleted (virtual ms), for QueueDeletedRecently. */
  private readonly deleted: Store<number>;
  private seq = 0;

  constructor(opts: { state: StateDir; clock: Clock; endpoint: () => string }) {
    this.clock = opts.clock;
    this.endpoint = opts.endpoint;
    this.storedQueues = opts.state.store<QueueRecord>('sqs.queues');
    this.storedMessages = opts.state.store<MessageRecord>('sqs.messages');
    this.deleted = opts.state.store<number>('sqs.deleted');
    for (const record of this.storedQueues.values()) this.queues.set(record.name, { record, messages: [], waiters: new Set() });
    for (const [key, message] of this.storedMessages.entries()) {
      this.queues.get(key.split('\n')[0])?.messages.push(message);
      this.seq = Math.max(this.seq, message.seq);
    }
    for (const q of this.queues.values()) q.messages.sort((a, b) => a.seq - b.seq);
  }

  /** The ARN of a queue by name. */
  static arn(name: string): string {
    return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
  }

  /** The queue name a queue URL or ARN names, or undefined when it is neither. */
  static nameOf(urlOrArn: string): string | undefined {
    const arn = /^arn:aws:sqs:[^:]+:(\d{12}):([^:]+)$/.exec(urlOrArn);
    if (arn) return arn[1] === ACCOUNT ? arn[2] : undefined;
    const url = /^https?:\/\/[^/]+\/(\d{12})\/([^/?#]+)\/?$/.exec(urlOrArn);
    return url && url[1] === ACCOUNT ? url[2] : undefined;
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    const json = req.target !== undefined;
    let op = '';
    try {
      let input: Record<string, unknown>;
      if (json) {
        ({ op, input } = jsonRequest(req, TARGET_PREFIX));
      } else {
        const form = new URLSearchParams(req.body.toString('utf8'));
        for (const [k, v] of req.query) if (!form.has(k)) form.set(k, v);
        op = form.get('Action') ?? '';
        input = fromQuery(form);
        // Older clients post to the queue's URL instead of naming it in the form.
        if (input.QueueUrl === undefined && /^\/\d{12}\/[^/]+\/?$/.test(req.path)) input.QueueUrl = `${this.endpoint()}${req.path}`;
      }
      const output = await this.dispatch(op, input, req);
      return json ? jsonOk(output) : xmlOk(op, output);
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('InternalError', (err as Error).message, 500);
      return json ? sqsJsonError(error) : sqsQueryError(error);
    }
  }

  private async dispatch(op: string, input: Record<string, unknown>, req: AwsRequest): Promise<Record<string, unknown>> {
    switch (op) {
      case 'CreateQueue':
        return this.createQueue(input);
      case 'GetQueueUrl': {
        const name = requiredString(input, 'QueueName');
        this.queue(name);
        return { QueueUrl: this.url(name) };
      }
      case 'ListQueues': {
        const prefix = optionalString(input, 'QueueNamePrefix') ?? '';
        const urls = [...this.queues.keys()]
          .filter((n) => n.startsWith(prefix))
          .sort()
          .map((n) => this.url(n));
        return urls.length ? { QueueUrls: urls.slice(0, 1000) } : {};
      }
      case 'GetQueueAttributes':
        return this.getAttributes(input);
      case 'DeleteQueue': {
        const q = this.byUrl(input);
        this.queues.delete(q.record.name);
        this.storedQueues.delete(q.record.name);
        for (const m of q.messages) this.storedMessages.delete(messageKey(q, m));
        this.deleted.put(q.record.name, this.clock.nowMs());
        for (const wake of q.waiters) wake();
        return {};
      }
      case 'PurgeQueue': {
        const q = this.byUrl(input);
        for (const m of q.messages) this.storedMessages.delete(messageKey(q, m));
        q.messages = [];
        return {};
      }
      case 'SendMessage':
        return this.sendMessage(input);
      case 'ReceiveMessage':
        return this.clock.waitFor(req, this.receiveMessage(input));
      case 'DeleteMessage': {
        const q = this.byUrl(input);
        const handle = requiredString(input, 'ReceiptHandle');
        const id = messageIdOf(handle);
        // "If you use an old ReceiptHandle, the request will succeed, but the message might not be deleted"
        // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html): only the
        // latest receive's handle deletes here, the stricter reading.
        const message = q.messages.find((m) => m.id === id);
        if (message?.receipt === handle) this.remove(q, message);
        return {};
      }
      case 'ChangeMessageVisibility': {
        const q = this.byUrl(input);
        const handle = requiredString(input, 'ReceiptHandle');
        const timeout = intIn(input, 'VisibilityTimeout', 0, 43_200, undefined, true)!;
        messageIdOf(handle);
        const message = q.messages.find((m) => m.receipt === handle);
        // "AWS.SimpleQueueService.MessageNotInflight: The specified message isn't in flight"
        // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
        if (!message || message.visibleAt <= this.clock.nowMs()) throw new AwsError('MessageNotInflight', 'The message referred to is not in flight.');
        message.visibleAt = this.clock.nowMs() + timeout * 1000;
        this.save(q, message);
        if (timeout === 0) this.wake(q);
        return {};
      }
      default:
        throw new AwsError('InvalidAction', `The action ${op || '(none)'} is not valid for this endpoint.`);
    }
  }

  private createQueue(input: Record<string, unknown>): Record<string, unknown> {
    const name = requiredString(input, 'QueueName');
    const given = (input.Attributes ?? {}) as Record<string, unknown>;
    // "Queue names are limited to 80 characters. Alphanumeric characters, hyphens (-), and underscores (_) are
    // allowed." (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)
    if (name.endsWith('.fifo') || given.FifoQueue === 'true' || given.FifoQueue === true) {
      throw new AwsError('UnsupportedOperation', 'FIFO queues are not emulated by the opsflow local runtime (README "Not emulated"); use a standard queue');
    }
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new AwsError('InvalidParameterValue', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    }
    const attributes: Record<string, number> = {};
    for (const [key, value] of Object.entries(given)) {
      const range = ATTRIBUTES[key];
      if (!range) {
        if (['Policy', 'RedrivePolicy', 'RedriveAllowPolicy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled'].includes(key)) {
          throw new AwsError('InvalidAttributeName', `The opsflow local runtime does not emulate the queue attribute ${key} (README "Not emulated")`);
        }
        throw new AwsError('InvalidAttributeName', `Unknown Attribute ${key}.`);
      }
      const n = Number(value);
      if (!Number.isInteger(n) || n < range.min || n > range.max) {
        throw new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${key}.`);
      }
      attributes[key] = n;
    }
    const full = Object.fromEntries(Object.entries(ATTRIBUTES).map(([k, r]) => [k, attributes[k] ?? r.default]));
    const existing = this.queues.get(name);
    if (existing) {
      // "If you provide the name of an existing queue along with the exact names and values of all the queue's
      // attributes, CreateQueue returns the queue URL for the existing queue. If the queue name, attribute names,
      // or attribute values don't match an existing queue, CreateQueue returns an error." (CreateQueue)
      const differs = Object.keys(attributes).find((k) => existing.record.attributes[k] !== attributes[k]);
      if (differs) throw new AwsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${differs}`);
      return { QueueUrl: this.url(name) };
    }
    const deletedAt = this.deleted.get(name);
    if (deletedAt !== undefined && this.clock.nowMs() - deletedAt < RECREATE_AFTER_MS) {
      throw new AwsError('QueueDeletedRecently', 'You must wait 60 seconds after deleting a queue before you can create another with the same name.');
    }
    const now = this.clock.nowMs();
    const record: QueueRecord = { name, attributes: full, tags: (input.tags ?? {}) as Record<string, string>, createdAt: now, modifiedAt: now };
    this.queues.set(name, { record, messages: [], waiters: new Set() });
    this.storedQueues.put(name, record);
    this.deleted.delete(name);
    return { QueueUrl: this.url(name) };
  }

  private getAttributes(input: Record<string, unknown>): Record<string, unknown> {
    const q = this.byUrl(input);
    const names = (input.AttributeNames ?? []) as string[];
    const now = this.clock.nowMs();
    this.expire(q);
    const all: Record<string, string> = {
      QueueArn: SqsService.arn(q.record.name),
      ApproximateNumberOfMessages: String(q.messages.filter((m) => m.visibleAt <= now).length),
      ApproximateNumberOfMessagesNotVisible: String(q.messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length),
      ApproximateNumberOfMessagesDelayed: String(q.messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length),
      CreatedTimestamp: String(Math.floor(q.record.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.record.modifiedAt / 1000)),
      ...Object.fromEntries(Object.entries(q.record.attributes).map(([k, v]) => [k, String(v)])),
      SqsManagedSseEnabled: 'false',
    };
    for (const n of names) if (n !== 'All' && !(n in all)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
    const picked = names.includes('All') ? all : Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n]]));
    return Object.keys(picked).length ? { Attributes: picked } : {};
  }

  private sendMessage(input: Record<string, unknown>): Record<string, unknown> {
    const q = this.byUrl(input);
    const body = input.MessageBody;
    // Recorded through Step Functions: "The request must contain the parameter MessageBody. (Service: AmazonSQS;
    // Status Code: 400; Error Code: MissingParameter ..." (localstack/localstack
    // tests/aws/services/stepfunctions/v2/error_handling/test_task_service_sqs.snapshot.json, test_send_message_empty_body).
    if (typeof body !== 'string' || body === '') throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    // "A message can include only XML, JSON, and unformatted text. The following Unicode characters are allowed:
    // #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
    // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)
    if (/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.test(body)) {
      throw new AwsError(
        'InvalidMessageContents',
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const attributes = checkMessageAttributes(input.MessageAttributes);
    const max = q.record.attributes.MaximumMessageSize;
    // The limit counts the body and the attributes' names, types and values.
    const size =
      Buffer.byteLength(body) +
      Object.entries(attributes ?? {}).reduce(
        (n, [k, v]) =>
          n + Buffer.byteLength(k) + Buffer.byteLength(v.DataType) + Buffer.byteLength(v.StringValue ?? '') + Buffer.from(v.BinaryValue ?? '', 'base64').length,
        0,
      );
    if (size > max) throw new AwsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`);
    const delay = intIn(input, 'DelaySeconds', 0, 900, q.record.attributes.DelaySeconds)!;
    const now = this.clock.nowMs();
    const message: MessageRecord = { id: randomUUID(), seq: ++this.seq, body, attributes, sentAt: now, visibleAt: now + delay * 1000, receiveCount: 0 };
    q.messages.push(message);
    this.save(q, message);
    if (delay === 0) this.wake(q);
    else this.clock.at(message.visibleAt, () => this.wake(q));
    return { MD5OfMessageBody: md5(body), ...(attributes ? { MD5OfMessageAttributes: attributesMd5(attributes) } : {}), MessageId: message.id };
  }

  private async receiveMessage(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const q = this.byUrl(input);
    // "MaxNumberOfMessages ... Valid values: 1 to 10. Default: 1." "WaitTimeSeconds ... If a message is available,
    // the call returns sooner than WaitTimeSeconds." (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html)
    const max = intIn(input, 'MaxNumberOfMessages', 1, 10, 1)!;
    const visibility = intIn(input, 'VisibilityTimeout', 0, 43_200, q.record.attributes.VisibilityTimeout)!;
    const wait = intIn(input, 'WaitTimeSeconds', 0, 20, q.record.attributes.ReceiveMessageWaitTimeSeconds)!;
    const deadline = this.clock.nowMs() + wait * 1000;
    for (;;) {
      const taken = this.take(q, max, visibility);
      const now = this.clock.nowMs();
      if (taken.length || now >= deadline || !this.queues.has(q.record.name)) return taken.length ? { Messages: taken.map((m) => this.view(m, input)) } : {};
      // Wait for a send, a message's delay or visibility timeout ending, or the end of the wait, on the virtual clock.
      const next = Math.min(deadline, ...q.messages.map((m) => m.visibleAt).filter((t) => t > now));
      const stop = new AbortController();
      await new Promise<void>((resolve) => {
        const done = () => {
          q.waiters.delete(done);
          stop.abort();
          resolve();
        };
        q.waiters.add(done);
        this.clock.sleep(next - now, stop.signal).then(done, () => undefined);
      });
    }
  }

  private take(q: Queue, max: number, visibility: number): MessageRecord[] {
    this.expire(q);
    const now = this.clock.nowMs();
    const taken = q.messages.filter((m) => m.visibleAt <= now).slice(0, max);
    for (const m of taken) {
      m.receiveCount++;
      m.firstReceivedAt ??= now;
      m.visibleAt = now + visibility * 1000;
      m.receipt = Buffer.from(`${m.id}\n${m.receiveCount}\n${randomUUID()}`).toString('base64');
      this.save(q, m);
    }
    return taken;
  }

  private view(m: MessageRecord, input: Record<string, unknown>): Record<string, unknown> {
    const wanted = new Set([...((input.AttributeNames ?? []) as string[]), ...((input.MessageSystemAttributeNames ?? []) as string[])]);
    const system: Record<string, string> = {
      SenderId: ACCOUNT,
      SentTimestamp: String(m.sentAt),
      ApproximateReceiveCount: String(m.receiveCount),
      ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
    };
    const attributes = Object.fromEntries(Object.entries(system).filter(([k]) => wanted.has('All') || wanted.has(k)));
    const names = (input.MessageAttributeNames ?? []) as string[];
    const messageAttributes = Object.fromEntries(
      Object.entries(m.attributes ?? {}).filter(
        ([k]) => names.includes('All') || names.includes('.*') || names.some((n) => n === k || (n.endsWith('.*') && k.startsWith(n.slice(0, -1)))),
      ),
    );
    return {
      MessageId: m.id,
      ReceiptHandle: m.receipt,
      MD5OfBody: md5(m.body),
      Body: m.body,
      ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
      ...(m.attributes ? { MD5OfMessageAttributes: attributesMd5(m.attributes) } : {}),
      ...(Object.keys(messageAttributes).length ? { MessageAttributes: messageAttributes } : {}),
    };
  }

  /** Messages past the queue's retention period are gone. */
  private expire(q: Queue): void {
    const oldest = this.clock.nowMs() - q.record.attributes.MessageRetentionPeriod * 1000;
    for (const m of q.messages.filter((m) => m.sentAt < oldest)) this.remove(q, m);
  }

  private remove(q: Queue, m: MessageRecord): void {
    q.messages = q.messages.filter((x) => x !== m);
    this.storedMessages.delete(messageKey(q, m));
  }

  private save(q: Queue, m: MessageRecord): void {
    this.storedMessages.put(messageKey(q, m), m);
  }

  private wake(q: Queue): void {
    for (const wake of [...q.waiters]) wake();
  }

  private url(name: string): string {
    return `${this.endpoint()}/${ACCOUNT}/${name}`;
  }

  private byUrl(input: Record<string, unknown>): Queue {
    const url = requiredString(input, 'QueueUrl');
    const name = SqsService.nameOf(url);
    // "InvalidAddress: The specified ID is invalid" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)
    if (name === undefined && !/^https?:\/\//.test(url)) throw new AwsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`, 404);
    return this.queue(name ?? '');
  }

  private queue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  }
}

const messageKey = (q: Queue, m: MessageRecord) => `${q.record.name}\n${m.id}`;

function messageIdOf(handle: string): string {
  const [id, count] = Buffer.from(handle, 'base64').toString('utf8').split('\n');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || !count)
    throw new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, 404);
  return id;
}

function md5(text: string | Buffer): string {
  return createHash('md5').update(text).digest('hex');
}

/**
 * The MD5 of message attributes as SQS computes it: names sorted, each encoded as the length-prefixed name, the
 * length-prefixed data type, one transport byte (1 string, 2 binary) and the length-prefixed value
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation).
 */
function attributesMd5(attributes: Record<string, MessageAttributeValue>): string {
  const parts: Buffer[] = [];
  const prefixed = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of Object.keys(attributes).sort()) {
    const v = attributes[name];
    prefixed(Buffer.from(name));
    prefixed(Buffer.from(v.DataType));
    const binary = v.BinaryValue !== undefined;
    parts.push(Buffer.from([binary ? 2 : 1]));
    prefixed(binary ? Buffer.from(v.BinaryValue!, 'base64') : Buffer.from(v.StringValue ?? ''));
  }
  return md5(Buffer.concat(parts));
}

function checkMessageAttributes(value: unknown): Record<string, MessageAttributeValue> | undefined {
  if (value === undefined || value === null) return undefined;
  const entries = Object.entries(value as Record<string, MessageAttributeValue>);
  if (!entries.length) return undefined;
  // "Each message can have up to 10 attributes" (SendMessage, MessageAttributes).
  if (entries.length > 10) throw new AwsError('InvalidParameterValue', `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`);
  for (const [name, v] of entries) {
    if (!v?.DataType) throw new AwsError('InvalidParameterValue', `The message attribute '${name}' must contain a non-empty attribute type.`);
    if (!/^(String|Number|Binary)(\..+)?$/.test(v.DataType))
      throw new AwsError(
        'InvalidParameterValue',
        `The type of message attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    if (v.StringValue === undefined && v.BinaryValue === undefined)
      throw new AwsError('InvalidParameterValue', `The message attribute '${name}' must contain a non-empty message attribute value.`);
  }
  return Object.fromEntries(
    entries.map(([k, v]) => [k, { DataType: v.DataType, ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue } : { StringValue: v.StringValue }) }]),
  );
}

function requiredString(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (value === undefined || value === null || value === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${name}.`);
  if (typeof value !== 'string') throw new AwsError('InvalidParameterValue', `Value for parameter ${name} is invalid. Reason: must be a string.`);
  return value;
}

function optionalString(input: Record<string, unknown>, name: string): string | undefined {
  return input[name] === undefined ? undefined : requiredString(input, name);
}

function intIn(input: Record<string, unknown>, name: string, min: number, max: number, fallback: number | undefined, required = false): number | undefined {
  const raw = input[name];
  if (raw === undefined || raw === null) {
    if (required) throw new AwsError('MissingParameter', `The request must contain the parameter ${name}.`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AwsError('InvalidParameterValue', `Value ${String(raw)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`);
  }
  return n;
}

// ---- the query protocol ---------------------------------------------------------------------------------

/** Form fields as the JSON protocol's input (`Attribute.1.Name` → `Attributes`, `MessageAttribute.1.*` → `MessageAttributes`). */
function fromQuery(form: URLSearchParams): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of [
    'QueueName',
    'QueueUrl',
    'QueueNamePrefix',
    'MessageBody',
    'ReceiptHandle',
    'DelaySeconds',
    'MaxNumberOfMessages',
    'VisibilityTimeout',
    'WaitTimeSeconds',
  ]) {
    const v = form.get(key);
    if (v !== null) input[key] = v;
  }
  const list = (prefix: string) => {
    const out: string[] = [];
    for (let i = 1; form.has(`${prefix}.${i}`); i++) out.push(form.get(`${prefix}.${i}`)!);
    return out;
  };
  const pairs = (prefix: string, key: string, value: string) => {
    const out: Record<string, string> = {};
    for (let i = 1; form.has(`${prefix}.${i}.${key}`); i++) out[form.get(`${prefix}.${i}.${key}`)!] = form.get(`${prefix}.${i}.${value}`) ?? '';
    return out;
  };
  if (form.has('Attribute.1.Name')) input.Attributes = pairs('Attribute', 'Name', 'Value');
  if (form.has('Tag.1.Key')) input.tags = pairs('Tag', 'Key', 'Value');
  if (form.has('AttributeName.1')) input.AttributeNames = list('AttributeName');
  if (form.has('MessageSystemAttributeName.1')) input.MessageSystemAttributeNames = list('MessageSystemAttributeName');
  if (form.has('MessageAttributeName.1')) input.MessageAttributeNames = list('MessageAttributeName');
  if (form.has('MessageAttribute.1.Name')) {
    const attrs: Record<string, MessageAttributeValue> = {};
    for (let i = 1; form.has(`MessageAttribute.${i}.Name`); i++) {
      const p = `MessageAttribute.${i}.Value`;
      attrs[form.get(`MessageAttribute.${i}.Name`)!] = {
        DataType: form.get(`${p}.DataType`) ?? '',
        ...(form.has(`${p}.BinaryValue`) ? { BinaryValue: form.get(`${p}.BinaryValue`)! } : { StringValue: form.get(`${p}.StringValue`) ?? undefined }),
      };
    }
    input.MessageAttributes = attrs;
  }
  return input;
}

/** XML text; carriage returns as character references, since XML parsers turn a literal CR into a line feed. */
const esc = (s: string) => escapeHtml(s).replace(/\r/g, '&#13;');

/** The output as the query protocol renders it: lists flattened, maps as Name/Value entries. */
function xmlOk(op: string, output: Record<string, unknown>): AwsResponse {
  const attributes = (tag: string, map: Record<string, string>) =>
    Object.entries(map)
      .map(([k, v]) => `<${tag}><Name>${esc(k)}</Name><Value>${esc(v)}</Value></${tag}>`)
      .join('');
  const messageAttributes = (map: Record<string, MessageAttributeValue>) =>
    Object.entries(map)
      .map(
        ([k, v]) =>
          `<MessageAttribute><Name>${esc(k)}</Name><Value>${v.StringValue !== undefined ? `<StringValue>${esc(v.StringValue)}</StringValue>` : ''}${v.BinaryValue !== undefined ? `<BinaryValue>${esc(v.BinaryValue)}</BinaryValue>` : ''}<DataType>${esc(v.DataType)}</DataType></Value></MessageAttribute>`,
      )
      .join('');
  const render = (value: Record<string, unknown>): string =>
    Object.entries(value)
      .map(([k, v]) => {
        if (k === 'QueueUrls') return (v as string[]).map((u) => `<QueueUrl>${esc(u)}</QueueUrl>`).join('');
        if (k === 'Attributes') return attributes('Attribute', v as Record<string, string>);
        if (k === 'MessageAttributes') return messageAttributes(v as Record<string, MessageAttributeValue>);
        if (k === 'Messages') return (v as Record<string, unknown>[]).map((m) => `<Message>${render(m)}</Message>`).join('');
        return `<${k}>${esc(String(v))}</${k}>`;
      })
      .join('');
  const requestId = randomUUID();
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0"?><${op}Response xmlns="${SQS_XMLNS}"><${op}Result>${render(output)}</${op}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${op}Response>`,
  };
}

function jsonOk(output: Record<string, unknown>): AwsResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() }, body: JSON.stringify(output) };
}
