import { describe, expect, it } from 'vitest';
import { httpApiLogVariables } from '../../local/rules/deploy';
import { synthOpsflow } from './synth';

// The runtime's deploy check holds the list of HTTP API variables, with its AWS page; this test applies it to the
// app's stages (test/rules/deploy-refusals.test.ts shows that check refusing $context.resourcePath).
describe('HTTP API access logs', () => {
  const { template } = synthOpsflow();
  const stages = Object.entries(template.findResources('AWS::ApiGatewayV2::Stage') as Record<string, any>);

  it('are JSON built from HTTP API variables only, request id and route key included', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const [id, stage] of stages) {
      const format: string = stage.Properties.AccessLogSettings.Format;
      expect(httpApiLogVariables(format).unknown, id).toEqual([]);
      const fields = JSON.parse(format) as Record<string, string>;
      expect(Object.values(fields), id).toEqual(
        expect.arrayContaining([
          '$context.requestId',
          '$context.routeKey',
          '$context.status',
          '$context.identity.sourceIp',
          '$context.integrationErrorMessage',
          '$context.responseLatency',
        ]),
      );
    }
  });
});
