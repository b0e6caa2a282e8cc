/**
 * Instances an Auto Scaling group or a CloudFormation stack manages: stopping one fights its owner (the group
 * replaces it, the stack drifts), and tagging it fixes the symptom where the IaC will undo it. They are only
 * ever notified about, pointing at where the fix belongs.
 */
import type { InstanceFacts } from '../core/types';

export function managedBy(instance: InstanceFacts): string | undefined {
  const asg = instance.tags['aws:autoscaling:groupName'];
  if (asg !== undefined) return `asg:${asg}`;
  const stack = instance.tags['aws:cloudformation:stack-name'];
  if (stack !== undefined) return `cloudformation:${stack}`;
  return undefined;
}
