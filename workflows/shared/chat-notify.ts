/**
 * Wiring for a function that posts notifications to chat (failure alerts, TagPolicy and Ec2Schedule reports):
 * where to post (CHAT_TARGETS, MATTERMOST_URL: from the validated config), which secret holds the credentials
 * (CHAT_SECRET_ARN: the deployment's one ChatSecret, its ARN, never its value), and where the execution's console
 * page is (EXECUTION_ARN_PREFIX). Such a function calls outside AWS (`callsOutsideAws`: with static egress on, it is
 * placed behind the NAT gateways) and may read that one secret, nothing else of Secrets Manager.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { chatDestinationEnv, type ChatDestination } from '../../tasks/shared/chat-target';
import { ChatSecret } from './chat';
import type { TaskFunction } from './task-function';

/** The TaskFunction props of a function that posts to `chat` (none when `chat` is undefined). */
export function chatNotifyProps(
  scope: Construct,
  chat: ChatDestination | undefined,
  stateMachineName?: string,
): { environment: Record<string, string>; callsOutsideAws?: true } {
  if (!chat) return { environment: {} };
  const stack = Stack.of(scope);
  return {
    callsOutsideAws: true,
    environment: {
      ...chatDestinationEnv(chat),
      ...ChatSecret.of(scope).environment,
      // The state machine's name is fixed at synth (workflowStateMachineName), so its executions' ARNs are known
      // without a reference to the state machine, which refers to this function (no dependency cycle).
      ...(stateMachineName && {
        EXECUTION_ARN_PREFIX: stack.formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: stateMachineName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      }),
    },
  };
}

/** After creating the function with `chatNotifyProps`: it may read the chat secret (GetSecretValue on its ARN only). */
export function allowChatNotify(fn: TaskFunction, chat: ChatDestination | undefined): void {
  if (chat) ChatSecret.of(fn).allowRead(fn);
}
