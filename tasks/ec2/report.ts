/** Ec2Schedule: per-instance report, counts and the SNS message. See core/report.ts. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireString } from '../shared/env';
import { report, type ReportInput } from './core/report';
import { Ec2Store } from './core/store';

const store = new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({})), requireString(process.env, 'TABLE_NAME'));

export async function handler(event: ReportInput): Promise<Awaited<ReturnType<typeof report>>> {
  return report(event, store);
}
