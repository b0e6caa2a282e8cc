/**
 * Amazon SNS over the AWS Query protocol (form-encoded requests, XML responses), as @aws-sdk/client-sns
 * speaks it. Publish writes one outbox entry per message addressed to the topic's email subscribers and
 * invokes Lambda subscribers with the SNS event record AWS would send.
 *
 * Local differences: nobody can click a confirmation link, so email subscriptions are confirmed at once
 * (Subscribe still answers "pending confirmation" like AWS); sqs and https subscriptions are recorded and
 * listed but nothing is delivered to them, since the runtime has no SQS and reaches no external endpoint.
 */
import escapeHtml from 'escape-html';
import { randomUUID } from 'node:crypto';
import { ACCOUNT, AwsError, REGION, arn, type AwsRequest, type AwsResponse, type Clock, type Outbox, type ServiceHandler, type TargetInvoker } from '../kernel';

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const PROTOCOLS = ['email', 'email-json', 'lambda', 'sqs', 'https', 'http'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const MAX_MESSAGE_BYTES = 256 * 1024;

interface Topic {
  arn: string;
  name: string;
}

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
  private readonly subscriptions: Subscription[] = [];

  constructor(opts: { clock: Clock; outbox: Outbox; invoke: TargetInvoker }) {
    this.clock = opts.clock;
    this.outbox = opts.outbox;
    this.invoke = opts.invoke;
  }

  addTopic(topic: { arn: string; name: string }): void {
    this.topics.set(topic.arn, { arn: topic.arn, name: topic.name });
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
    const topic = this.topic(topicArn);
    if (typeof message !== 'string' || message.length === 0) throw new AwsError('InvalidParameter', 'Invalid parameter: Empty message');
    if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw new AwsError('InvalidParameter', 'Invalid parameter: Message too long');
    if (subject !== undefined && !validSubject(subject)) throw new AwsError('InvalidParameter', 'Invalid parameter: Subject');
    const messageId = randomUUID();
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
    return messageId;
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
      case 'CreateTopic': {
        const name = required(p, 'Name');
        if (!/^[A-Za-z0-9_-]{1,256}$/.test(name)) {
          throw new AwsError('InvalidParameter', 'Invalid parameter: Topic Name must be 1-256 letters, digits, hyphens or underscores');
        }
        const topicArn = [...this.topics.values()].find((t) => t.name === name)?.arn ?? arn.topic(name);
        if (!this.topics.has(topicArn)) this.addTopic({ arn: topicArn, name });
        return `<TopicArn>${esc(topicArn)}</TopicArn>`;
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
        const messageId = await this.publish(topicArn, message, p.get('Subject') ?? undefined, messageAttributes(p));
        return `<MessageId>${messageId}</MessageId>`;
      }
      default:
        throw new AwsError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    }
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
