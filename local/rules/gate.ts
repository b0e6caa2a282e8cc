/**
 * Where AWS's rules meet the runtime's traffic. Every signed API call passes the gate before its service
 * handles it (IAM, then request quotas, then API rates), and the runtime asks the gate about the calls it
 * makes on the app's behalf: an execution invoking Lambda or starting a child, a schedule or rule reaching
 * its target, API Gateway or SNS invoking a function.
 */
import { ACCOUNT, AwsError, type AwsRequest, type AwsResponse, type ServiceHandler, type Target, type TaskIam } from '../kernel';
import type { IamEnforcer } from '../iam/enforcer';
import { decode, type DecodedRequest } from '../wire/decode';
import { renderError } from '../wire/errors';
import type { Rules } from './settings';

/** A check on a decoded call; returns the service's error to answer instead of handling it. */
export type CallCheck = (req: AwsRequest, decoded: DecodedRequest) => AwsError | undefined;

export class Gate {
  /** Set once the templates are read; until then (and with OPSFLOW_IAM=off) nothing is authorized. */
  iam?: IamEnforcer;
  private readonly checks: CallCheck[] = [];

  constructor(readonly rules: Rules) {}

  /** Adds a request check (quotas, rates), run after IAM in the order added. */
  use(check: CallCheck): void {
    this.checks.push(check);
  }

  /** The service handler with the gate in front of it. */
  wrap(handler: ServiceHandler): ServiceHandler {
    return {
      services: handler.services,
      handle: async (req) => this.refuse(req) ?? handler.handle(req),
    };
  }

  private refuse(req: AwsRequest): AwsResponse | undefined {
    const decoded = decode(req);
    if (!decoded) return undefined;
    const error =
      (this.rules.iam ? this.iam?.authorizeCall(req.accessKeyId, decoded) : undefined) ??
      this.checks.reduce<AwsError | undefined>((e, check) => e ?? check(req, decoded), undefined);
    return error ? renderError(decoded.protocol, error) : undefined;
  }

  /** IAM for what an execution does with its state machine's role. */
  taskIam(roleOfStateMachine: (stateMachineArn: string) => string | undefined): TaskIam {
    const session = (executionArn: string) => {
      const parts = executionArn.split(':');
      const machine = parts[6];
      const roleArn = roleOfStateMachine(`${parts.slice(0, 5).join(':')}:stateMachine:${machine}`);
      return roleArn && this.iam ? { roleArn, machine } : undefined;
    };
    return {
      credentials: (executionArn) => {
        const s = session(executionArn);
        return s && this.rules.iam ? this.iam!.model.credentialsFor(s.roleArn, s.machine) : undefined;
      },
      authorize: (executionArn, action, resource) => {
        const s = session(executionArn);
        if (!s || !this.rules.iam) return undefined;
        return this.iam!.check(this.iam!.model.sessionFor(s.roleArn, s.machine), action, resource)?.message;
      },
    };
  }

  /**
   * A schedule, rule or subscription reaching its target. With a role (Scheduler, EventBridge targets with
   * RoleArn) the role's policies decide; without one the target's resource policy must allow the service
   * principal, with `aws:SourceArn` the schedule, rule or topic. Throws AccessDeniedException when denied.
   */
  authorizeTarget(target: Target): void {
    if (!this.rules.iam || !this.iam) return;
    const service = target.arn.split(':')[2];
    const action =
      service === 'states'
        ? 'states:StartExecution'
        : service === 'lambda'
          ? 'lambda:InvokeFunction'
          : service === 'sns'
            ? 'sns:Publish'
            : service === 'events'
              ? 'events:PutEvents'
              : undefined;
    if (!action) return;
    if (target.roleArn && target.source) {
      // The service first assumes the role. Scheduler names the schedule group as aws:SourceArn
      // (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role),
      // EventBridge the rule.
      const group = /^(arn:[^:]+:scheduler:[^:]*:\d{12}):schedule\/([^/]+)\//.exec(target.source.arn);
      const sourceArn = group ? `${group[1]}:schedule-group/${group[2]}` : target.source.arn;
      const refused = this.iam.assumeRole({ service: target.source.service, sourceArn }, target.roleArn);
      if (refused) throw new AwsError('AccessDeniedException', refused.message, 403);
    }
    const caller = target.roleArn
      ? this.iam.model.sessionFor(target.roleArn, target.source?.service.split('.')[0] ?? 'target')
      : target.source && { service: target.source.service, sourceArn: target.source.arn };
    if (!caller) return;
    const denial = this.iam.check(caller, action, target.arn);
    if (denial) throw new AwsError('AccessDeniedException', denial.message, 403);
    if (service === 'sns') {
      const refused = this.iam.topicKeyDenial(caller, target.arn);
      if (refused) throw refused;
    }
  }

  /** API Gateway invoking a route's Lambda function: the function's resource policy must allow it. */
  authorizeApiGateway(functionArn: string, event: { routeKey?: string; requestContext?: { apiId?: string; stage?: string } }): void {
    if (!this.rules.iam || !this.iam) return;
    const c = event.requestContext ?? {};
    // The source is the route, not the request path: arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<route path>
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    const [method, path = '/'] = (event.routeKey ?? 'ANY /').split(' ');
    const sourceArn = `arn:aws:execute-api:us-east-1:${ACCOUNT}:${c.apiId ?? ''}/${c.stage ?? '$default'}/${method}/${path.replace(/^\//, '')}`;
    const denial = this.iam.check({ service: 'apigateway.amazonaws.com', sourceArn }, 'lambda:InvokeFunction', functionArn);
    if (denial) throw new AwsError('AccessDeniedException', denial.message, 403);
  }
}
