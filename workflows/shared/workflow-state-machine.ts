/**
 * The one way opsflow builds a state machine: Standard type (activities and task tokens need it), X-Ray
 * tracing, and a log group with every event but without execution data — task inputs and outputs stay in the
 * execution history, readable only with states:GetExecutionHistory, never copied into logs.
 */
import { type Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType, type IChainable } from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

/**
 * A state machine's name in its account and region: `<stackName>-<workflow>`, so a second stack in the same
 * account and region does not collide with the first (names are unique per account and region). Operators,
 * the CLI and `npm run asl` still address it by `<workflow>` (see `workflowOf` in infra/asl.ts).
 * Names: 1-80 characters of letters, digits, `-` and `_`:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
 */
export function workflowStateMachineName(scope: Construct, workflow: string): string {
  const stackName = Stack.of(scope).stackName;
  if (Token.isUnresolved(stackName)) return workflow;
  const name = `${stackName}-${workflow}`;
  if (name.length > 80 || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new Error(`${workflow}: state machine name ${name} must be 1-80 letters, digits, '-' or '_'; shorten stackName`);
  }
  return name;
}

export interface WorkflowStateMachineProps {
  /** Its name in the account and region, normally `workflowStateMachineName(scope, 'Approval')`. */
  readonly stateMachineName: string;
  /** One sentence on what it does: the definition's ASL `Comment`, shown by the AWS and the local consoles. */
  readonly comment: string;
  readonly definition: IChainable;
  /** Longest an execution may run. */
  readonly timeout: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

export class WorkflowStateMachine extends StateMachine {
  constructor(scope: Construct, id: string, props: WorkflowStateMachineProps) {
    // Under /aws/vendedlogs/: CloudWatch Logs then needs no resource policy entry per log group, whose 5,120
    // characters a few state machines would fill (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(props.definition),
      comment: props.comment,
      timeout: props.timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    NagSuppressions.addResourceSuppressions(
      this,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'CDK grants lambda:InvokeFunction on the task functions and their versions (<arn>:*).',
          appliesTo: [{ regex: '/^Resource::<.*Fn[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'X-Ray and CloudWatch Logs delivery actions do not support resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
  }
}
