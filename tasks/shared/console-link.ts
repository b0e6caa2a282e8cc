/**
 * Links to an execution's page in the Step Functions console, for every message that names an execution (failure
 * alerts, reports, chat notifications): AWS's console, or the local runtime's console when the functions are pointed
 * at it.
 */

/** The Step Functions console page of an execution, at `consoleOrigin` (AWS's console, or a local one). */
export function executionConsoleUrl(consoleOrigin: string, region: string, executionArn: string): string {
  return `${consoleOrigin}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/**
 * Where the Step Functions console is: AWS's (`https://<region>.console.aws.amazon.com`), unless the function's SDK
 * endpoint (`AWS_ENDPOINT_URL`) is not an AWS one: then that endpoint is taken to serve the console too (a local
 * emulator does; the app knows nothing else of it).
 */
export function consoleOrigin(region: string, endpointUrl?: string): string {
  if (endpointUrl) {
    const url = new URL(endpointUrl);
    if (!/(^|\.)amazonaws\.com(\.cn)?$|(^|\.)api\.aws$/.test(url.hostname)) return url.origin;
  }
  return `https://${region}.console.aws.amazon.com`;
}
