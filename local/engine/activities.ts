/**
 * Activities (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-activities.html): the ones the cloud
 * assembly deploys and the ones CreateActivity makes, kept in the store.
 */
import { AwsError, type Clock } from '../kernel';
import type { ActivityRecord, EngineStore } from './store';

export class Activities {
  private readonly activities = new Map<string, ActivityRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly store: EngineStore,
  ) {
    for (const a of store.loadActivities()) this.activities.set(a.arn, a);
  }

  has(activityArn: string): boolean {
    return this.activities.has(activityArn);
  }

  /** Creates the activity unless it exists (CreateActivity is idempotent on the name). */
  deploy(activity: { arn: string; name: string }): void {
    if (this.activities.has(activity.arn)) return;
    const record = { ...activity, creationDate: this.clock.nowMs() };
    this.activities.set(activity.arn, record);
    this.store.saveActivity(record);
  }

  get(activityArn: string): ActivityRecord {
    const a = this.activities.get(activityArn);
    if (!a) throw new AwsError('ActivityDoesNotExist', `Activity Does Not Exist: '${activityArn}'`);
    return a;
  }

  list(): ActivityRecord[] {
    return [...this.activities.values()];
  }
}
