/**
 * An AWS API error in the wire format of the request's protocol, as the service would answer it. The request
 * side of the same protocols: ./decode.ts.
 */
import escapeHtml from 'escape-html';
import { randomUUID } from 'node:crypto';
import type { AwsError, AwsResponse } from '../kernel';
import type { Protocol } from './decode';

// The project's one escaper (escape-html).
const esc = escapeHtml;

/** An error in the wire format of the request's protocol. */
export function renderError(protocol: Protocol, err: AwsError): AwsResponse {
  const requestId = randomUUID();
  switch (protocol) {
    case 'ec2':
      return {
        status: err.status,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      };
    case 'query':
      return {
        status: err.status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${err.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    case 'rest-xml':
      // S3's error document: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
      return {
        status: err.status,
        headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message><RequestId>${requestId}</RequestId></Error>`,
      };
    case 'rest-json':
      return {
        status: err.status,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': err.code, 'x-amzn-requestid': requestId },
        body: JSON.stringify({ message: err.message }),
      };
    case 'sqs-json':
      return sqsJsonError(err);
    case 'sqs-query':
      return sqsQueryError(err);
    default:
      return jsonError(err);
  }
}

/** AWS JSON 1.0/1.1 error body; services with other protocols render their own. */
export function jsonError(err: AwsError): AwsResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': err.code },
    body: JSON.stringify({ __type: err.code, message: err.message }),
  };
}

export const SQS_XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/**
 * Errors: the JSON `__type` (the model's shape name) and the query protocol's code, which the JSON protocol also
 * sends in `x-amzn-query-error: <code>;Sender` ("x-amzn-query-error contains two pieces of information: the type of
 * error, and whether the error was a producer or consumer error",
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html). The codes
 * are the model's `awsQueryError` traits (@aws-sdk/client-sqs); MissingParameter, InvalidParameterValue and
 * AccessDenied are SQS's common errors (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
 */
const SQS_QUERY_CODES: Record<string, string> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue',
  QueueNameExists: 'QueueAlreadyExists',
  QueueDeletedRecently: 'AWS.SimpleQueueService.QueueDeletedRecently',
  MessageNotInflight: 'AWS.SimpleQueueService.MessageNotInflight',
  UnsupportedOperation: 'AWS.SimpleQueueService.UnsupportedOperation',
};

/** An SQS error in the JSON protocol: `__type` the model's shape, `x-amzn-query-error` the query code (see QUERY_CODES). */
export function sqsJsonError(err: AwsError): AwsResponse {
  const code = SQS_QUERY_CODES[err.code] ?? err.code;
  return {
    status: err.status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      'x-amzn-query-error': `${code};${err.status >= 500 ? 'Receiver' : 'Sender'}`,
    },
    body: JSON.stringify({ __type: `com.amazonaws.sqs#${err.code}`, message: err.message }),
  };
}

/** An SQS error in the query protocol. */
export function sqsQueryError(err: AwsError): AwsResponse {
  const requestId = randomUUID();
  return {
    status: err.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0"?><ErrorResponse xmlns="${SQS_XMLNS}"><Error><Type>${err.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${esc(SQS_QUERY_CODES[err.code] ?? err.code)}</Code><Message>${esc(err.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
