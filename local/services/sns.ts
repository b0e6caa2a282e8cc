/**
 * Amazon SNS over the AWS Query protocol (form-encoded requests, XML responses), as @aws-sdk/client-sns
 * speaks it. Publish writes one outbox entry per message addressed to the topic's email subscribers and
 * invokes Lambda subscribers with the SNS event record AWS would send.
 *
 * Topics are standard or FIFO (CreateTopic `FifoTopic`, `ContentBasedDeduplication`; Publish `MessageGroupId`,
 * `MessageDeduplicationId` with the 5-minute deduplication interval on the virtual clock); DeleteTopic deletes a topic
 * and its subscriptions. Topics created and deleted through the API are journaled (state store 'sns.topics'); the
 * template's are deployed again at each start.
 *
 * Local differences: nobody can click a confirmation link, so email subscriptions are confirmed at once
 * (Subscribe still answers "pending confirmation" like AWS); sqs and https subscriptions are recorded and
 * listed but nothing is delivered to them: the runtime reaches no external endpoint, and it does not model the
 * queue policies that SNS needs to send to a queue.
 */
import escapeHtml from 'escape-html';
import { createHash, randomUUID } from 'node:crypto';
import {
  ACCOUNT,
  AwsError,
  REGION,
  arn,
  type AwsRequest,
  type AwsResponse,
  type Clock,
  type Outbox,
  type ServiceHandler,
  type StateDir,
  type Store,
  type TargetInvoker,
} from '../kernel';

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const PROTOCOLS = ['email', 'email-json', 'lambda', 'sqs', 'https', 'http'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const MAX_MESSAGE_BYTES = 256 * 1024;

interface Topic {
  arn: string;
  name: string;
  /** A FIFO topic: "the name must end with the .fifo suffix" (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html). */
  fifo?: boolean;
  contentBasedDeduplication?: boolean;
}

/**
 * "Every message must have a unique MessageDeduplicationId, which is a token used for deduplication of sent messages
 * within the 5 minute minimum deduplication interval" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html,
 * https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html).
 */
const DEDUPLICATION_MS = 5 * 60_000;

interface Subscription {
  arn: string;
  topicArn: string;
  protocol: Protocol;
  endpoint: string;
}

interface MessageAttribute {
  Type: string;
  Value: string;
}

export class SnsService implements ServiceHandler {
  readonly services = ['sns'] as const;
  private readonly clock: Clock;
  private readonly outbox: Outbox;
  private readonly invoke: TargetInvoker;
  private readonly topics = new Map<string, Topic>();
  private subscriptions: Subscription[] = [];
  /** Topics made or deleted through the API, by ARN (`null`: deleted); absent without a state directory. */
  private readonly stored?: Store<Topic | null>;
  /** FIFO deduplication: `<topic>\n<deduplication id>` → the message accepted first, and when. */
  private readonly deduplicated = new Map<string, { at: number; messageId: string; sequenceNumber: string }>();
  private sequence = 10n ** 19n;

  constructor(opts: { clock: Clock; outbox: Outbox; invoke: TargetInvoker; state?: StateDir }) {
    this.clock = opts.clock;
    this.outbox = opts.outbox;
    this.invoke = opts.invoke;
    this.stored = opts.state?.store<Topic | null>('sns.topics');
    for (const topic of this.stored?.values() ?? []) if (topic) this.topics.set(topic.arn, topic);
  }

  /** A topic of the template; one deleted through the API stays deleted. */
  addTopic(topic: Topic): void {
    if (this.stored?.get(topic.arn) === null) return;
    this.topics.set(topic.arn, { ...topic });
  }

  addSubscription(sub: { topicArn: string; protocol: string; endpoint: string }): string {
    const topic = this.topic(sub.topicArn);
    const protocol = checkProtocol(sub.protocol, sub.endpoint);
    const existing = this.subscriptions.find((s) => s.topicArn === topic.arn && s.protocol === protocol && s.endpoint === sub.endpoint);
    if (existing) return existing.arn;
    const created = { arn: `${topic.arn}:${randomUUID()}`, topicArn: topic.arn, protocol, endpoint: sub.endpoint };
    this.subscriptions.push(created);
    return created.arn;
  }

  /** Publishes in-process (no HTTP round trip); resolves with the message id once subscribers are reached. */
  async publish(topicArn: string, message: string, subject?: string, attributes: Record<string, MessageAttribute> = {}): Promise<string> {
    return (await this.send(topicArn, message, subject, attributes)).messageId;
  }

  /** Publishes, to a FIFO topic too; resolves with the message id and, for a FIFO topic, its sequence number. */
  private async send(
    topicArn: string,
    message: string,
    subject?: string,
    attributes: Record<string, MessageAttribute> = {},
    fifo: { groupId?: string; deduplicationId?: string } = {},
  ): Promise<{ messageId: string; sequenceNumber?: string }> {
    const topic = this.topic(topicArn);
    if (typeof message !== 'string' || message.length === 0) throw new AwsError('InvalidParameter', 'Invalid parameter: Empty message');
    if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw new AwsError('InvalidParameter', 'Invalid parameter: Message too long');
    if (subject !== undefined && !validSubject(subject)) throw new AwsError('InvalidParameter', 'Invalid parameter: Subject');
    const ordered = this.fifoPublish(topic, message, fifo);
    if (ordered?.duplicate) return { messageId: ordered.messageId, sequenceNumber: ordered.sequenceNumber };
    const messageId = ordered?.messageId ?? randomUUID();
    const subs = this.subscriptions.filter((s) => s.topicArn === topic.arn);
    const emails = subs.filter((s) => s.protocol === 'email' || s.protocol === 'email-json').map((s) => s.endpoint);
    this.outbox.add({
      service: 'sns',
      to: emails.length ? emails : [topic.arn],
      // AWS uses this subject for email deliveries of messages published without one.
      subject: subject ?? 'AWS Notification Message',
      text: message,
      topicArn: topic.arn,
    });
    const timestamp = this.clock.now().toISOString();
    await Promise.all(
      subs
        .filter((s) => s.protocol === 'lambda')
        .map(async (s) => {
          const record = snsEventRecord(s, { messageId, message, subject, timestamp, attributes });
          try {
            await this.invoke({ arn: s.endpoint, input: JSON.stringify(record), source: { service: 'sns.amazonaws.com', arn: topic.arn } });
          } catch (err) {
            console.error(`sns: delivery of ${messageId} to ${s.endpoint} failed: ${(err as Error).message}`);
          }
        }),
    );
    return { messageId, sequenceNumber: ordered?.sequenceNumber };
  }

  /**
   * FIFO publishing (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): "Every message must include a
   * MessageGroupId"; "If you don't provide a MessageDeduplicationId and the topic doesn't have
   * ContentBasedDeduplication set, the action fails with an error"; with it, "Amazon SNS uses a SHA-256 hash to
   * generate the MessageDeduplicationId using the body of the message"; a message with a deduplication id seen in the
   * last 5 minutes is "accepted successfully but [isn't] delivered" (answered here with the first message's id).
   * MessageGroupId and MessageDeduplicationId: "up to 128 alphanumeric characters (a-z, A-Z, 0-9) and punctuation".
   * On a standard topic a MessageGroupId is accepted (it only reaches SQS subscriptions) and a MessageDeduplicationId
   * refused. The error messages are those moto reproduces from AWS (README "Unconfirmed").
   */
  private fifoPublish(
    topic: Topic,
    message: string,
    fifo: { groupId?: string; deduplicationId?: string },
  ): { messageId: string; sequenceNumber: string; duplicate: boolean } | undefined {
    const token = /^[\x21-\x7e]{1,128}$/;
    for (const [name, value] of [
      ['MessageGroupId', fifo.groupId],
      ['MessageDeduplicationId', fifo.deduplicationId],
    ] as const) {
      if (value !== undefined && !token.test(value))
        throw new AwsError(
          'InvalidParameter',
          `Invalid parameter: ${name} Reason: ${name} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
        );
    }
    if (!topic.fifo) {
      if (fifo.deduplicationId !== undefined)
        throw new AwsError(
          'InvalidParameter',
          'Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type',
        );
      return undefined;
    }
    if (fifo.groupId === undefined) throw new AwsError('InvalidParameter', 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
    const id = fifo.deduplicationId ?? (topic.contentBasedDeduplication ? createHash('sha256').update(message).digest('hex') : undefined);
    if (id === undefined)
      throw new AwsError(
        'InvalidParameter',
        'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    const now = this.clock.nowMs();
    const key = `${topic.arn}\n${id}`;
    const seen = this.deduplicated.get(key);
    if (seen && now - seen.at < DEDUPLICATION_MS) return { messageId: seen.messageId, sequenceNumber: seen.sequenceNumber, duplicate: true };
    // "The length of SequenceNumber is 128 bits. SequenceNumber continues to increase for a particular MessageGroupId."
    const first = { at: now, messageId: randomUUID(), sequenceNumber: String(++this.sequence).padStart(20, '0') };
    this.deduplicated.set(key, first);
    for (const [k, v] of this.deduplicated) if (now - v.at >= DEDUPLICATION_MS) this.deduplicated.delete(k);
    return { ...first, duplicate: false };
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    const params = new URLSearchParams(req.body.toString('utf8'));
    for (const [k, v] of req.query) if (!params.has(k)) params.set(k, v);
    const action = params.get('Action') ?? '';
    try {
      return xml(200, action, await this.dispatch(action, params));
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('InternalError', (err as Error).message, 500);
      return errorXml(error);
    }
  }

  private async dispatch(action: string, p: URLSearchParams): Promise<string> {
    switch (action) {
      case 'CreateTopic':
        return `<TopicArn>${esc(this.createTopic(required(p, 'Name'), mapEntries(p, 'Attributes')))}</TopicArn>`;
      case 'DeleteTopic': {
        // "This action is idempotent, so deleting a topic that does not exist does not result in an error."
        // "Deletes a topic and all its subscriptions." (https://docs.aws.amazon.com/sns/latest/api/API_DeleteTopic.html)
        const topicArn = required(p, 'TopicArn');
        if (!/^arn:aws:sns:[^:]+:\d{12}:[A-Za-z0-9_.-]+$/.test(topicArn)) throw new AwsError('InvalidParameter', `Invalid parameter: TopicArn (${topicArn})`);
        this.topics.delete(topicArn);
        this.subscriptions = this.subscriptions.filter((s) => s.topicArn !== topicArn);
        this.stored?.put(topicArn, null);
        return '';
      }
      case 'ListTopics':
        return `<Topics>${[...this.topics.values()].map((t) => `<member><TopicArn>${esc(t.arn)}</TopicArn></member>`).join('')}</Topics>`;
      case 'Subscribe': {
        const topicArn = required(p, 'TopicArn');
        const protocol = required(p, 'Protocol');
        const subscriptionArn = this.addSubscription({ topicArn, protocol, endpoint: required(p, 'Endpoint') });
        const pending = (protocol === 'email' || protocol === 'email-json') && p.get('ReturnSubscriptionArn') !== 'true';
        return `<SubscriptionArn>${pending ? 'pending confirmation' : esc(subscriptionArn)}</SubscriptionArn>`;
      }
      case 'ListSubscriptionsByTopic': {
        const topic = this.topic(required(p, 'TopicArn'));
        const members = this.subscriptions
          .filter((s) => s.topicArn === topic.arn)
          .map(
            (s) =>
              `<member><TopicArn>${esc(s.topicArn)}</TopicArn><Protocol>${s.protocol}</Protocol><SubscriptionArn>${esc(s.arn)}</SubscriptionArn>` +
              `<Owner>${ACCOUNT}</Owner><Endpoint>${esc(s.endpoint)}</Endpoint></member>`,
          );
        return `<Subscriptions>${members.join('')}</Subscriptions>`;
      }
      case 'Publish': {
        const topicArn = p.get('TopicArn') ?? p.get('TargetArn');
        if (!topicArn) throw new AwsError('InvalidParameter', 'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
        let message = required(p, 'Message');
        if (p.get('MessageStructure') === 'json') message = defaultMessage(message);
        const { messageId, sequenceNumber } = await this.send(topicArn, message, p.get('Subject') ?? undefined, messageAttributes(p), {
          groupId: p.get('MessageGroupId') ?? undefined,
          deduplicationId: p.get('MessageDeduplicationId') ?? undefined,
        });
        return `<MessageId>${messageId}</MessageId>${sequenceNumber ? `<SequenceNumber>${sequenceNumber}</SequenceNumber>` : ''}`;
      }
      default:
        throw new AwsError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    }
  }

  /**
   * "Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and
   * must be between 1 and 256 characters long. For a FIFO (first-in-first-out) topic, the name must end with the
   * .fifo suffix." "FifoTopic – When this is set to true, a FIFO topic is created." "ContentBasedDeduplication –
   * Enables content-based deduplication for FIFO topics." (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html)
   * CreateTopic is idempotent by name; the same name with other attributes is refused.
   */
  private createTopic(name: string, attributes: Record<string, string>): string {
    const fifo = attributes.FifoTopic === 'true';
    const base = fifo ? name.replace(/\.fifo$/, '') : name;
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(base) || name.length > 256 || (fifo && !name.endsWith('.fifo')) || (!fifo && name.endsWith('.fifo'))) {
      throw new AwsError(
        'InvalidParameter',
        fifo || name.endsWith('.fifo')
          ? 'Invalid parameter: Topic Name: a FIFO topic (FifoTopic=true) must have a name that ends with .fifo, and only a FIFO topic may'
          : 'Invalid parameter: Topic Name must be 1-256 letters, digits, hyphens or underscores',
      );
    }
    for (const key of Object.keys(attributes)) {
      if (!['FifoTopic', 'ContentBasedDeduplication', 'DisplayName'].includes(key))
        throw new AwsError('InvalidParameter', `Invalid parameter: Attributes Reason: the opsflow local runtime does not emulate the topic attribute ${key}`);
    }
    const contentBasedDeduplication = attributes.ContentBasedDeduplication === 'true';
    if (contentBasedDeduplication && !fifo)
      throw new AwsError('InvalidParameter', 'Invalid parameter: Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics');
    const existing = [...this.topics.values()].find((t) => t.name === name);
    if (existing) {
      if (
        !!existing.fifo !== fifo ||
        (attributes.ContentBasedDeduplication !== undefined && !!existing.contentBasedDeduplication !== contentBasedDeduplication)
      )
        throw new AwsError('InvalidParameter', 'Invalid parameter: Attributes Reason: Topic already exists with different attributes');
      return existing.arn;
    }
    const topic: Topic = { arn: arn.topic(name), name, ...(fifo ? { fifo, contentBasedDeduplication } : {}) };
    this.topics.set(topic.arn, topic);
    this.stored?.put(topic.arn, topic);
    return topic.arn;
  }

  private topic(topicArn: string): Topic {
    if (!/^arn:aws:sns:[^:]+:\d{12}:[A-Za-z0-9_.-]+$/.test(topicArn)) throw new AwsError('InvalidParameter', `Invalid parameter: TopicArn (${topicArn})`);
    const topic = this.topics.get(topicArn);
    if (!topic) throw new AwsError('NotFound', 'Topic does not exist', 404);
    return topic;
  }
}

/**
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html: "Subjects must be ASCII text that begins with a letter,
 * number, or punctuation mark; must not include line breaks or control characters; and must be less than 100
 * characters long". The page now says "UTF-8 text" instead of ASCII, and SNS has been seen to accept 100 characters
 * (https://github.com/getmoto/moto/issues/1503, whose report also gives SNS's answer, "Invalid parameter: Subject"):
 * the stricter reading is enforced, ASCII and at most 99 characters.
 */
function validSubject(subject: string): boolean {
  return /^[!-~][\x20-\x7e]{0,98}$/.test(subject);
}

function checkProtocol(protocol: string, endpoint: string): Protocol {
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new AwsError('InvalidParameter', `Invalid parameter: Amazon SNS does not support this protocol string: ${protocol}`);
  }
  const valid: Record<Protocol, RegExp> = {
    email: /^[^@\s]+@[^@\s]+$/,
    'email-json': /^[^@\s]+@[^@\s]+$/,
    lambda: /^arn:aws:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/,
    sqs: /^arn:aws:sqs:[^:]+:\d{12}:.+$/,
    https: /^https:\/\/\S+$/,
    http: /^http:\/\/\S+$/,
  };
  if (!valid[protocol as Protocol].test(endpoint))
    throw new AwsError('InvalidParameter', `Invalid parameter: Endpoint is not a valid ${protocol} endpoint: ${endpoint}`);
  return protocol as Protocol;
}

/** MessageStructure=json: a JSON object with a required "default" message (per-protocol keys are not used locally). */
function defaultMessage(message: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw new AwsError('InvalidParameter', 'Invalid parameter: Message Structure - JSON message body failed to parse');
  }
  const value = (parsed as Record<string, unknown> | null)?.default;
  if (typeof value !== 'string') throw new AwsError('InvalidParameter', 'Invalid parameter: Message Structure - No default entry in JSON message body');
  return value;
}

/** A query-protocol map parameter (`Attributes.entry.1.key`, `Attributes.entry.1.value`, ...). */
function mapEntries(p: URLSearchParams, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; p.has(`${name}.entry.${i}.key`); i++) out[p.get(`${name}.entry.${i}.key`)!] = p.get(`${name}.entry.${i}.value`) ?? '';
  return out;
}

function messageAttributes(p: URLSearchParams): Record<string, MessageAttribute> {
  const out: Record<string, MessageAttribute> = {};
  for (let i = 1; p.has(`MessageAttributes.entry.${i}.Name`); i++) {
    const prefix = `MessageAttributes.entry.${i}`;
    const name = p.get(`${prefix}.Name`)!;
    const type = p.get(`${prefix}.Value.DataType`);
    if (!type) throw new AwsError('InvalidParameter', `Invalid parameter: The message attribute '${name}' must contain a DataType`);
    out[name] = { Type: type, Value: p.get(`${prefix}.Value.StringValue`) ?? p.get(`${prefix}.Value.BinaryValue`) ?? '' };
  }
  return out;
}

function snsEventRecord(
  s: Subscription,
  m: { messageId: string; message: string; subject?: string; timestamp: string; attributes: Record<string, MessageAttribute> },
) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: s.arn,
        Sns: {
          Type: 'Notification',
          MessageId: m.messageId,
          TopicArn: s.topicArn,
          Subject: m.subject ?? null,
          Message: m.message,
          Timestamp: m.timestamp,
          SignatureVersion: '1',
          Signature: 'LOCAL',
          SigningCertUrl: `https://sns.${REGION}.amazonaws.com/local.pem`,
          UnsubscribeUrl: `https://sns.${REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(s.arn)}`,
          MessageAttributes: m.attributes,
        },
      },
    ],
  };
}

function required(p: URLSearchParams, name: string): string {
  const value = p.get(name);
  if (value === null || value === '') throw new AwsError('InvalidParameter', `Invalid parameter: ${name} Reason: no value for required parameter`);
  return value;
}

function xml(status: number, action: string, result: string): AwsResponse {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body:
      `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

function errorXml(err: AwsError): AwsResponse {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  return {
    status: err.status,
    headers: { 'content-type': 'text/xml' },
    body:
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error>` +
      `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

// The project's one escaper; `&#39;` for an apostrophe is as valid in XML as `&apos;`, and the SDKs decode both.
const esc = escapeHtml;
