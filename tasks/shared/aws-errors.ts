/**
 * The one throttling classifier of the tasks: by the error name the SDK throws, or the SDK's own throttling flag
 * (`$retryable.throttling`, set for every error code the SDK's retry strategy treats as throttling).
 *
 * The names, per service the tasks call:
 * - EC2: `RequestLimitExceeded` (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html);
 * - DynamoDB: `ProvisionedThroughputExceededException`, `ThrottlingException`
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html);
 * - Step Functions, CloudTrail and the other JSON APIs: `ThrottlingException`
 *   (https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html), Query APIs `Throttling`;
 * - SES v2: `TooManyRequestsException` (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html).
 */
const THROTTLING: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'TooManyRequestsException',
]);

export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const retryable = (error as { $retryable?: { throttling?: boolean } }).$retryable;
  return THROTTLING.has(error.name) || retryable?.throttling === true;
}
