/** The SDK clients the TagPolicy handlers share, created once per cold start (the region comes from Lambda). */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoRunStore } from './store';

export const ec2 = () => new EC2Client({});
export const cloudtrail = () => new CloudTrailClient({});
export const runStore = (table: string) =>
  new DynamoRunStore(DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }), table, () => new Date());
