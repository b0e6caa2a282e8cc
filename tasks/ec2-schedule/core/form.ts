/** The form body of the two EC2 endpoints (control links, chat), read only when it is of a size either sends. */
import { json, type HttpRequest, type HttpResponse } from '../../shared/http';

/**
 * The largest form body the two endpoints read. A slash command sends a few fields and what was typed (a Mattermost
 * post is at most 16,383 characters, https://developers.mattermost.com/integrate/slash-commands/, at most 9 bytes
 * each once URL-encoded); a link's form sends its token. Anything larger is refused before it is parsed.
 */
export const FORM_BODY_BYTES = 256 * 1024;

/** The form fields, or a 413 for a body over FORM_BODY_BYTES: the caller sent far more than either endpoint reads. */
export function readForm(request: HttpRequest): URLSearchParams | HttpResponse {
  const bytes = Buffer.byteLength(request.body);
  if (bytes > FORM_BODY_BYTES) {
    return json(413, { message: `Request body of ${bytes} bytes is larger than the ${FORM_BODY_BYTES} bytes a slash command or control link sends` });
  }
  return new URLSearchParams(request.body);
}
