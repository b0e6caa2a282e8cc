/**
 * Amazon SES v2 (REST JSON): SendEmail, the email identities of the account (Create/Get/List/DeleteEmailIdentity)
 * and GetAccount. Every accepted email goes to the outbox.
 *
 * The account is modelled as SES keeps it (`SesAccount`): its verified identities, and whether it is in the sandbox
 * (the `sesSandbox` rule, on by default as for every new account). What SES checks on SendEmail:
 * - "you must create and verify each identity that you're going to use as a "From", "Source", "Sender", or
 *   "Return-Path" address" (https://docs.aws.amazon.com/ses/latest/dg/verify-addresses-and-domains.html); a verified
 *   domain covers its addresses and subdomains ("you can send email from any subdomain or email address of the
 *   verified domain", https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html);
 * - in the sandbox, "You can only send mail to verified email addresses and domains, or to the Amazon SES mailbox
 *   simulator" (https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html).
 * Either refusal is `MessageRejected` "Email address is not verified. The following identities failed the check in
 * region US-EAST-1: …" (https://repost.aws/knowledge-center/ses-554-400-message-rejected-error, which documents the
 * wording; answers recorded by users, e.g. https://github.com/danilop/LambdAuth/issues/64, list sender and recipients).
 *
 * Identities created through the API are verified at once: there is no inbox to click a link in and no DNS to hold
 * DKIM records locally. `faults.sesFailRate` injects throttling so the workflows' retry paths can be exercised; the
 * object is read on every call, so it may change at runtime.
 */
import { AwsError, REGION, type AwsRequest, type AwsResponse, type Clock, type Outbox, type ServiceHandler, type StateDir, type Store } from '../kernel';

interface SendEmailRequest {
  FromEmailAddress?: string;
  Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
  ReplyToAddresses?: string[];
  Content?: {
    Simple?: { Subject?: { Data?: string }; Body?: { Text?: { Data?: string }; Html?: { Data?: string } } };
    Raw?: { Data?: string };
    Template?: unknown;
  };
}

type IdentityType = 'EMAIL_ADDRESS' | 'DOMAIN';
interface Identity {
  name: string;
  type: IdentityType;
  createdAt: string;
}

/**
 * In the sandbox mail may also go to "test inboxes provided by the Amazon SES mailbox simulator"
 * (https://docs.aws.amazon.com/ses/latest/dg/verify-addresses-and-domains.html), addresses at this domain.
 */
const MAILBOX_SIMULATOR = 'simulator.amazonses.com';
/** "You can send a maximum of 200 messages per 24-hour period" in the sandbox (request-production-access.html above). */
const SANDBOX_DAILY_QUOTA = 200;

/** The address inside `"Name" <address>`, lower-cased: SES identities are matched without regard to case. */
export function bareAddress(address: string): string {
  return (/<([^>]+)>/.exec(address)?.[1] ?? address).trim().toLowerCase();
}

const isAddress = (name: string) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(name);
const isDomain = (name: string) => /^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(name);

/** The account's SES: its verified identities (kept in the state directory) and its sandbox status. */
export class SesAccount {
  private readonly identities: Store<Identity>;

  constructor(
    state: StateDir,
    private readonly clock: Clock,
    /** Read on every call: the rules decide it. */
    readonly sandbox: () => boolean,
  ) {
    this.identities = state.store<Identity>('ses-identities');
  }

  /** Creates (and, locally, verifies) an identity; false when it exists already. */
  verify(name: string): boolean {
    const key = name.toLowerCase();
    if (this.identities.has(key)) return false;
    if (!isAddress(name) && !isDomain(name))
      throw new AwsError('BadRequestException', `Invalid email identity: ${name} is neither an email address nor a domain name`);
    this.identities.put(key, { name, type: isAddress(name) ? 'EMAIL_ADDRESS' : 'DOMAIN', createdAt: this.clock.now().toISOString() });
    return true;
  }

  get(name: string): Identity | undefined {
    return this.identities.get(name.toLowerCase());
  }

  list(): Identity[] {
    return [...this.identities.values()];
  }

  delete(name: string): boolean {
    return this.identities.delete(name.toLowerCase());
  }

  /**
   * The identity SES matches an address with: the address itself when it is a verified identity, otherwise its
   * domain or the nearest parent domain that is verified; an address that no verified identity covers is its own,
   * unverified, identity. SES authorizes a sender (and, in the sandbox, a recipient) against this identity's ARN.
   */
  resolve(address: string): { identity: string; verified: boolean } {
    const email = bareAddress(address);
    const own = this.identities.get(email);
    if (own) return { identity: own.name, verified: true };
    const labels = (email.split('@')[1] ?? '').split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const domain = this.identities.get(labels.slice(i).join('.'));
      if (domain) return { identity: domain.name, verified: true };
    }
    return { identity: email, verified: false };
  }

  /** The addresses SES would refuse to send this email for: an unverified sender, and in the sandbox unverified recipients. */
  unverified(from: string, recipients: string[]): string[] {
    const failed = this.resolve(from).verified ? [] : [bareAddress(from)];
    if (this.sandbox()) {
      for (const r of recipients) {
        const email = bareAddress(r);
        if (!email.endsWith(`@${MAILBOX_SIMULATOR}`) && !this.resolve(email).verified) failed.push(email);
      }
    }
    return [...new Set(failed)];
  }
}

export class SesV2Service implements ServiceHandler {
  readonly services = ['ses'] as const;
  private readonly outbox: Outbox;
  private readonly account: SesAccount;
  private readonly faults: { sesFailRate: number };
  private readonly sendRate: number;
  private readonly random: () => number;
  private readonly clock: Clock;

  constructor(opts: { outbox: Outbox; account: SesAccount; clock: Clock; faults: { sesFailRate: number }; sendRate: number; random?: () => number }) {
    this.outbox = opts.outbox;
    this.account = opts.account;
    this.clock = opts.clock;
    this.faults = opts.faults;
    this.sendRate = opts.sendRate;
    this.random = opts.random ?? Math.random;
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const identity = /^\/v2\/email\/identities\/([^/]+)$/.exec(req.path);
      if (req.method === 'POST' && req.path === '/v2/email/outbound-emails') return ok(this.sendEmail(parseBody(req)));
      if (req.method === 'POST' && req.path === '/v2/email/identities') return ok(this.createIdentity(parseBody(req) as { EmailIdentity?: string }));
      // ListEmailIdentities: GET in the API reference (and older clients), POST /list-identities in current SDK models.
      if ((req.method === 'GET' && req.path === '/v2/email/identities') || (req.method === 'POST' && req.path === '/v2/email/list-identities'))
        return ok(this.listIdentities());
      if (req.method === 'GET' && identity) return ok(this.getIdentity(pathLabel(identity[1])));
      if (req.method === 'DELETE' && identity) return ok(this.deleteIdentity(pathLabel(identity[1])));
      if (req.method === 'GET' && req.path === '/v2/email/account') return ok(this.getAccount());
      throw new AwsError('NotFoundException', `${req.method} ${req.path} is not an SES v2 operation the opsflow local runtime emulates`, 404);
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('InternalFailure', (err as Error).message, 500);
      return {
        status: error.status,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': error.code },
        body: JSON.stringify({ message: error.message }),
      };
    }
  }

  private sendEmail(input: SendEmailRequest): object {
    const content = input.Content;
    const raw = content?.Raw?.Data !== undefined ? Buffer.from(content.Raw.Data, 'base64').toString('utf8') : undefined;
    const rawHeaders = raw === undefined ? {} : headersOf(raw);
    const from = input.FromEmailAddress ?? rawHeaders.from;
    if (!from) throw new AwsError('BadRequestException', 'FromEmailAddress is required');
    const dest = input.Destination ?? {};
    const to = [...(dest.ToAddresses ?? []), ...(dest.CcAddresses ?? []), ...(dest.BccAddresses ?? [])];
    if (to.length === 0 && rawHeaders.to) to.push(...rawHeaders.to.split(',').map((a) => a.trim()));
    if (to.length === 0) throw new AwsError('BadRequestException', 'Destination must contain at least one address in ToAddresses, CcAddresses or BccAddresses');
    const bad = to.find((a) => !/^[^@\s]+@[^@\s]+$/.test(angleAddress(a)));
    if (bad) throw new AwsError('BadRequestException', `Destination contains an invalid email address: ${bad}`);

    let message: { subject: string; text: string; html?: string };
    if (content?.Simple) {
      const { Subject, Body } = content.Simple;
      if (Subject?.Data === undefined) throw new AwsError('BadRequestException', 'Content.Simple.Subject.Data is required');
      if (Body?.Text?.Data === undefined && Body?.Html?.Data === undefined) {
        throw new AwsError('BadRequestException', 'Content.Simple.Body needs Text.Data or Html.Data');
      }
      message = { subject: Subject.Data, text: Body.Text?.Data ?? '', html: Body.Html?.Data };
    } else if (raw !== undefined) {
      message = { subject: rawHeaders.subject ?? '', text: raw };
    } else if (content?.Template) {
      throw new AwsError('BadRequestException', 'Content.Template is not supported by the opsflow local runtime; use Content.Simple');
    } else {
      throw new AwsError('BadRequestException', 'Content is required (Simple or Raw)');
    }

    // Not retryable: "sending from an email address that is not verified ... the request will not be accepted in its
    // current form" (https://aws.amazon.com/blogs/messaging-and-targeting/how-to-handle-a-throttling-maximum-sending-rate-exceeded-error/).
    const failed = this.account.unverified(from, to);
    if (failed.length) {
      throw new AwsError(
        'MessageRejected',
        `Email address is not verified. The following identities failed the check in region ${REGION.toUpperCase()}: ${failed.join(', ')}`,
        400,
      );
    }
    // Only valid requests count towards injected faults, as throttling happens after validation in AWS too.
    if (this.random() < this.faults.sesFailRate)
      throw new AwsError('TooManyRequestsException', 'Maximum sending rate exceeded (injected by OPSFLOW fault settings)', 429);
    const entry = this.outbox.add({ service: 'ses', from, to, ...message });
    return { MessageId: entry.id };
  }

  /** https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_CreateEmailIdentity.html */
  private createIdentity(input: { EmailIdentity?: string }): object {
    const name = input.EmailIdentity ?? '';
    if (!this.account.verify(name)) throw new AwsError('AlreadyExistsException', `Email identity ${name} already exists.`, 400);
    return { IdentityType: this.account.get(name)!.type, VerifiedForSendingStatus: true };
  }

  /** https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetEmailIdentity.html */
  private getIdentity(name: string): object {
    const identity = this.account.get(name);
    if (!identity) throw new AwsError('NotFoundException', `Email identity ${name} does not exist.`, 404);
    return {
      IdentityType: identity.type,
      VerifiedForSendingStatus: true,
      VerificationStatus: 'SUCCESS',
      FeedbackForwardingStatus: true,
      Policies: {},
      Tags: [],
    };
  }

  private listIdentities(): object {
    return {
      EmailIdentities: this.account.list().map((i) => ({ IdentityType: i.type, IdentityName: i.name, SendingEnabled: true, VerificationStatus: 'SUCCESS' })),
    };
  }

  private deleteIdentity(name: string): object {
    if (!this.account.delete(name)) throw new AwsError('NotFoundException', `Email identity ${name} does not exist.`, 404);
    return {};
  }

  /** https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html: `ProductionAccessEnabled` false is the sandbox. */
  private getAccount(): object {
    const since = this.clock.nowMs() - 24 * 3600_000;
    const sent = this.outbox
      .list()
      .filter((e) => e.service === 'ses' && Date.parse(e.sentAt) >= since)
      .reduce((n, e) => n + e.to.length, 0);
    const sandbox = this.account.sandbox();
    return {
      ProductionAccessEnabled: !sandbox,
      SendingEnabled: true,
      EnforcementStatus: 'HEALTHY',
      DedicatedIpAutoWarmupEnabled: false,
      SendQuota: { MaxSendRate: this.sendRate, SentLast24Hours: sent, ...(sandbox ? { Max24HourSend: SANDBOX_DAILY_QUOTA } : {}) },
    };
  }
}

function ok(body: object): AwsResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function pathLabel(label: string): string {
  try {
    return decodeURIComponent(label);
  } catch {
    throw new AwsError('BadRequestException', `The email identity in the path is not valid percent-encoding: ${label}`);
  }
}

function parseBody(req: AwsRequest): SendEmailRequest {
  try {
    return JSON.parse(req.body.toString('utf8') || '{}') as SendEmailRequest;
  } catch {
    throw new AwsError('BadRequestException', 'Request body is not valid JSON');
  }
}

/** Top-level headers of a raw RFC 5322 message, lower-cased names, unfolded. */
function headersOf(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] ??= line.slice(i + 1).trim();
  }
  return headers;
}

/**
 * The address inside the last `<...>` of `Name <a@b>`, else the text. By index, not `/^.*<([^>]*)>\s*$/`, which
 * backtracks quadratically on a long run of `<` (an address comes from the request).
 */
function angleAddress(a: string): string {
  const trimmed = a.trimEnd();
  if (!trimmed.endsWith('>')) return a;
  const open = trimmed.lastIndexOf('<');
  return open < 0 || trimmed.indexOf('>', open) !== trimmed.length - 1 ? a : trimmed.slice(open + 1, -1);
}
