import { describe, expect, it } from 'vitest';
import { synthOpsflow } from './synth';

/**
 * The `$context` variables API Gateway accepts in an HTTP API access log, from
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 * (`authorizer.*` and `identity.clientCert.*` are prefixes). `$context.resourcePath` and the other REST-only
 * variables are not there: a stage that uses one is refused and the stack rolls back.
 */
const HTTP_API_VARIABLES = new Set([
  'accountId', 'apiId', 'authorizer.error', 'authorizer.principalId', 'awsEndpointRequestId', 'awsEndpointRequestId2',
  'customDomain.basePathMatched', 'dataProcessed', 'domainName', 'domainPrefix', 'error.message', 'error.messageString',
  'error.responseType', 'extendedRequestId', 'httpMethod', 'identity.accountId', 'identity.caller',
  'identity.cognitoAuthenticationProvider', 'identity.cognitoAuthenticationType', 'identity.cognitoIdentityId',
  'identity.cognitoIdentityPoolId', 'identity.principalOrgId', 'identity.sourceIp', 'identity.user',
  'identity.userAgent', 'identity.userArn', 'integration.error', 'integration.integrationStatus', 'integration.latency',
  'integration.requestId', 'integration.status', 'integrationErrorMessage', 'integrationLatency', 'integrationStatus',
  'path', 'protocol', 'requestId', 'requestTime', 'requestTimeEpoch', 'responseLatency', 'responseLength', 'routeKey',
  'stage', 'status',
]);
const PREFIXES = ['authorizer.claims.', 'authorizer.', 'identity.clientCert.'];

describe('HTTP API access logs', () => {
  const { template } = synthOpsflow();
  const stages = Object.entries(template.findResources('AWS::ApiGatewayV2::Stage') as Record<string, any>);

  it('are JSON built from HTTP API variables only, request id and route key included', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const [id, stage] of stages) {
      const format: string = stage.Properties.AccessLogSettings.Format;
      const used = [...format.matchAll(/\$context\.([A-Za-z0-9_.]+)/g)].map((m) => m[1]);
      const refused = used.filter((v) => !HTTP_API_VARIABLES.has(v) && !PREFIXES.some((p) => v.startsWith(p)));
      expect(refused, id).toEqual([]);
      const fields = JSON.parse(format) as Record<string, string>;
      expect(Object.values(fields), id).toEqual(
        expect.arrayContaining([
          '$context.requestId', '$context.routeKey', '$context.status', '$context.identity.sourceIp',
          '$context.integrationErrorMessage', '$context.responseLatency',
        ]),
      );
    }
  });
});
