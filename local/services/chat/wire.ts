/** The HTTP pieces the chat stand-ins share: reading a request's body, answering JSON or text. */
import type { OutboundRequest, OutboundResponse } from '../../network/internet';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): OutboundResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

export function text(status: number, body: string, type = 'text/plain; charset=utf-8'): OutboundResponse {
  return { status, headers: { 'content-type': type }, body };
}

/** A form body, or a JSON object body, as a record of values; the query string's parameters too. */
export function params(req: OutboundRequest): { fields: Record<string, unknown>; isJson: boolean; malformed: boolean } {
  const fields: Record<string, unknown> = Object.fromEntries(req.url.searchParams);
  const type = req.headers['content-type'] ?? '';
  const raw = req.body.toString('utf8');
  if (/^application\/json/i.test(type)) {
    const parsed = parseJson(raw);
    if (!isObject(parsed)) return { fields, isJson: true, malformed: true };
    return { fields: { ...fields, ...parsed }, isJson: true, malformed: false };
  }
  for (const [k, v] of new URLSearchParams(raw)) fields[k] = v;
  return { fields, isJson: false, malformed: false };
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field that may arrive as JSON text (form encoding) or as JSON already (a JSON body). */
export function jsonField(v: unknown): unknown {
  return typeof v === 'string' ? parseJson(v) : v;
}

export function bearer(req: OutboundRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}
