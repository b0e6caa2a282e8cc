/**
 * The deployment's one chat secret (Secrets Manager, JSON: the fields of `ChatSecrets` in tasks/shared/chat-auth.ts),
 * shared by every workflow that talks to chat: the EC2 slash command, approval buttons, chat notifications. Created
 * once per stack, by the first construct that asks (`ChatSecret.of(this)`), with no value: the template holds none,
 * and no generated value could be right, since Slack, Mattermost and Teams issue them. CloudFormation: "If you omit
 * both GenerateSecretString and SecretString, you create an empty secret"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html).
 * Until `npm run control-link -- chat-secret <field> <value>` sets a field, what it would verify is refused.
 *
 * A function that needs it gets `environment` (CHAT_SECRET_ARN: its ARN, never its value) and `allowRead(fn)`.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnSecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import type { TaskFunction } from './task-function';

/** The construct id, at the stack's root: the local runtime and control-link find the secret by it. */
export const CHAT_SECRET_ID = 'ChatSecret';
/** The stack output naming it: `control-link chat-secret ... --aws --secret <ChatSecretArn>`. */
export const CHAT_SECRET_OUTPUT = 'ChatSecretArn';

export class ChatSecret extends Secret {
  /** The stack's chat secret, created by the first caller. */
  static of(scope: Construct): ChatSecret {
    const stack = Stack.of(scope);
    return (stack.node.tryFindChild(CHAT_SECRET_ID) as ChatSecret | undefined) ?? new ChatSecret(stack, CHAT_SECRET_ID);
  }

  private constructor(scope: Construct, id: string) {
    super(scope, id, {
      description: 'opsflow chat: {"slackSigningSecret", "slackBotToken", "mattermostToken", "mattermostBotToken", "teamsHmacKey", "teamsWebhooks": {...}}',
    });
    (this.node.defaultChild as CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    NagSuppressions.addResourceSuppressions(this, [
      { id: 'AwsSolutions-SMG4', reason: 'Slack, Mattermost and Teams issue these secrets; they are rotated there, then set with control-link chat-secret.' },
    ]);
    new CfnOutput(scope, CHAT_SECRET_OUTPUT, { value: this.secretArn, description: 'control-link chat-secret <field> <value> --aws --secret <this>' });
  }

  /** The environment a reader needs: the secret's ARN, never its value. */
  get environment(): { CHAT_SECRET_ARN: string } {
    return { CHAT_SECRET_ARN: this.secretArn };
  }

  /**
   * Lets `fn` read this secret and nothing else of Secrets Manager: GetSecretValue on this ARN (not Secret.grantRead,
   * which adds DescribeSecret).
   */
  allowRead(fn: TaskFunction): void {
    fn.addToRolePolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secretArn] }));
  }
}
