/**
 * Amazon SES v2 SendEmail (REST JSON): every accepted email goes to the outbox. There is no sandbox and no
 * identity verification locally, so any sender is accepted. `faults.sesFailRate` injects throttling so the
 * workflows' retry paths can be exercised; the object is read on every call, so it may change at runtime.
 */
import { AwsError, type AwsRequest, type AwsResponse, type Outbox, type ServiceHandler } from '../kernel';

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

export class SesV2Service implements ServiceHandler {
  readonly services = ['ses'] as const;
  private readonly outbox: Outbox;
  private readonly faults: { sesFailRate: number };
  private readonly random: () => number;

  constructor(opts: { outbox: Outbox; faults: { sesFailRate: number }; random?: () => number }) {
    this.outbox = opts.outbox;
    this.faults = opts.faults;
    this.random = opts.random ?? Math.random;
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      if (req.method === 'POST' && req.path === '/v2/email/outbound-emails') return this.sendEmail(parseBody(req));
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

  private sendEmail(input: SendEmailRequest): AwsResponse {
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

    // Only valid requests count towards injected faults, as throttling happens after validation in AWS too.
    if (this.random() < this.faults.sesFailRate) throw new AwsError('TooManyRequestsException', 'Maximum sending rate exceeded (injected by OPSFLOW fault settings)', 429);
    const entry = this.outbox.add({ service: 'ses', from, to, ...message });
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ MessageId: entry.id }) };
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
