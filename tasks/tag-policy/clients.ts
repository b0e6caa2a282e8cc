/** The SDK clients and the run store the TagPolicy handlers build, once per cold start (the region comes from Lambda). */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { documentClient } from '../shared/handler';
import { DynamoRunStore } from './core/store';

export const ec2 = () => new EC2Client({});
export const cloudtrail = () => new CloudTrailClient({});
export const runStore = (table: string) => new DynamoRunStore(documentClient(), table, () => new Date());
