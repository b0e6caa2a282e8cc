/**
 * Resources every opsflow workflow builds the same way, so each workflow file says only what is its own.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination, type AddRoutesOptions, type HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

export interface WorkflowTableProps {
  /** @default 'pk' */
  readonly partitionKey?: string;
  /** @default 'sk'; null for a table without a sort key */
  readonly sortKey?: string | null;
}

/** On-demand, encrypted, point-in-time recovery, items expire through their `expiresAt` attribute. */
export class WorkflowTable extends Table {
  constructor(scope: Construct, id: string, props: WorkflowTableProps = {}) {
    const sortKey = props.sortKey === undefined ? 'sk' : props.sortKey;
    super(scope, id, {
      partitionKey: { name: props.partitionKey ?? 'pk', type: AttributeType.STRING },
      sortKey: sortKey === null ? undefined : { name: sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}

export interface ReportTopicProps {
  readonly displayName: string;
  /** Subscribed by email. @default [] */
  readonly emails?: string[];
}

/**
 * A workflow's report topic, under the AWS-managed SNS key: only the workflow's own tasks publish to it (an
 * EventBridge target would need a customer key; see FailureAlerts).
 */
export class ReportTopic extends Topic {
  constructor(scope: Construct, id: string, props: ReportTopicProps) {
    super(scope, id, { displayName: props.displayName, masterKey: Alias.fromAliasName(scope, `${id}Key`, 'alias/aws/sns'), enforceSSL: true });
    for (const email of props.emails ?? []) this.addSubscription(new EmailSubscription(email));
  }
}

export interface LinkApiProps {
  readonly description: string;
  /** Steady-state requests per second and burst of the `$default` stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** How the handler authenticates callers who have no AWS identity (recorded with the cdk-nag APIG4 suppression). */
  readonly authentication: string;
}

/**
 * The stages' access log: one JSON object per request, built from HTTP API variables only. `AccessLogFormat.clf()`
 * is the REST API format: it writes `$context.resourcePath`, which HTTP APIs do not have, and API Gateway refuses the
 * stage (the stack rolls back). Variables: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 * (the format must contain `$context.requestId` or `$context.extendedRequestId`:
 * https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_apigatewayv2.IAccessLogSettings.html).
 */
export const HTTP_API_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  sourceIp: '$context.identity.sourceIp',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationErrorMessage: '$context.integrationErrorMessage',
});

/** An HTTP API for people and chat servers following links: a throttled `$default` stage with access logs. */
export class LinkApi extends HttpApi {
  private readonly authentication: string;

  constructor(scope: Construct, id: string, props: LinkApiProps) {
    super(scope, id, { description: props.description, createDefaultStage: false });
    const accessLogs = new LogGroup(scope, `${id}AccessLogs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    new HttpStage(scope, `${id}Stage`, {
      httpApi: this,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: AccessLogFormat.custom(HTTP_API_ACCESS_LOG_FORMAT) },
    });
    this.authentication = props.authentication;
  }

  /** Routes carry the APIG4 suppression themselves: they are created after the API. */
  override addRoutes(options: AddRoutesOptions): HttpRoute[] {
    const routes = super.addRoutes(options);
    NagSuppressions.addResourceSuppressions(routes, [{ id: 'AwsSolutions-APIG4', reason: this.authentication }], true);
    return routes;
  }
}
