/**
 * Reasons that end up in stored reports come from AWS error messages, which have no useful bound: EC2 appends an
 * encoded authorization message of up to 10,240 characters to every UnauthorizedOperation
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html, EncodedMessage; about
 * 1,000 characters for a simple denial). Only `aws sts decode-authorization-message` can read it, so a stored reason
 * says how long it was and where the whole message is instead, and every reason is cut to MAX_REASON_BYTES, so lists
 * of them stay within DynamoDB's 400 KB item size and Step Functions' 256 KiB state.
 */
import { boundText } from './item-size';

/** A stored reason is cut to this many bytes. */
export const MAX_REASON_BYTES = 1024;

const ENCODED = /\s*Encoded authorization failure message: ([A-Za-z0-9_-]+)/g;

/** `message` with EC2's encoded authorization messages left out, saying so, and `where` the whole message is when known. */
export function omitEncodedAuthorization(message: string, where?: string): string {
  return message.replace(
    ENCODED,
    (_, encoded: string) =>
      ` (EC2's encoded authorization message of ${encoded.length} characters is left out${where ? `: it is in ${where}, for aws sts decode-authorization-message` : ''})`,
  );
}

/** A reason fit to store: the encoded authorization message left out, cut to MAX_REASON_BYTES. */
export function boundReason(reason: string, where?: string): string {
  return boundText(omitEncodedAuthorization(reason, where), MAX_REASON_BYTES);
}
