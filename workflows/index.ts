/**
 * The registry: every workflow of the app, in build order (a workflow may use one registered before it). Adding a
 * workflow is one folder in `workflows/`, one in `tasks/`, its tests, and one line here (README "Adding a workflow").
 */
import { approval } from './approval';
import { ec2Schedule } from './ec2-schedule';
import { tagPolicy } from './tag-policy';

export const WORKFLOWS = [approval, ec2Schedule, tagPolicy] as const;
