/** The Approval workflow's registration (workflows/shared/registration.ts). */
import { Duration } from 'aws-cdk-lib';
import { defineWorkflow, examplesIn } from '../shared/registration';
import { parseApproval } from './config';
import { Approval } from './construct';

export const approval = defineWorkflow({
  name: 'Approval',
  summary: 'a person approves or rejects through a personal link in an email (activity + SES + HTTP API)',
  parseConfig: parseApproval,
  build: (scope, a) => {
    const w = new Approval(scope, 'Approval', {
      sender: a.sender,
      sesIdentity: a.sesIdentity,
      defaultApprovers: a.approvers,
      linkBaseUrl: a.linkBaseUrl,
      timeout: Duration.seconds(a.timeoutSeconds),
      maxTimeout: Duration.seconds(a.maxTimeoutSeconds),
      reminderInterval: Duration.seconds(a.reminderIntervalSeconds),
      escalationApprovers: a.escalationApprovers,
      escalateAfter: Duration.seconds(a.escalateAfterSeconds),
      allowedRecipientDomains: a.allowedRecipientDomains,
      chatTargets: a.chat.targets,
      mattermostUrl: a.chat.mattermostUrl,
      approverMap: a.chat.approverMap,
    });
    return { construct: w, stateMachine: w.stateMachine, outputs: { ApprovalApiUrl: w.api.apiEndpoint, ApprovalChatCallbackUrl: w.chatCallbackUrl } };
  },
  examples: examplesIn(__dirname),
  tryLocally: ['npx opsflow start Approval workflows/approval/examples/approval.json         # then open the link from: npx opsflow outbox'],
  sesIdentities: (a) => [a.sesIdentity],
});
