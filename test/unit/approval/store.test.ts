import { beforeEach, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../../tasks/approval/core/store';
import { FakeTable, pendingRecord } from './fakes';

let table: FakeTable;

beforeEach(() => {
  table = new FakeTable();
});

describe('ApprovalStore', () => {
  it('creates a record once, with version 1 and a TTL 30 days after the deadline', async () => {
    // Prepare
    const record = pendingRecord({ version: 7 });
    // Act
    const first = await table.store.create(record);
    const second = await table.store.create(record);
    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(table.mock).toHaveReceivedCommandWith(PutCommand, { ConditionExpression: 'attribute_not_exists(id)' });
    const stored = table.record(record.id);
    expect(stored.version).toBe(1);
    expect(stored.expiresAt).toBe(Date.parse('2030-01-02T09:00:00.000Z') / 1000 + 30 * 24 * 3600);
  });

  it('writes the pending attribute only while it is set (sparse index)', async () => {
    // Prepare
    const record = pendingRecord();
    table.insert(record);
    // Act
    await table.store.update(record.id, (current) => {
      delete current.pending;
      return current;
    });
    // Assess
    expect(table.items.get(record.id)).not.toHaveProperty('pending');
  });

  it('updates conditionally on the version it read', async () => {
    // Prepare
    const record = pendingRecord({ version: 4 });
    table.insert(record);
    // Act
    const stored = await table.store.update(record.id, (current) => ({ ...current, escalated: true }));
    // Assess
    expect(stored.version).toBe(5);
    expect(table.mock).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':expected': 4 },
    });
  });

  it('re-reads and re-applies the change after losing a race', async () => {
    // Prepare: another writer adds a vote between our read and our write
    const record = pendingRecord();
    table.insert(record);
    table.beforePut = () => {
      table.beforePut = undefined;
      const other = table.record(record.id);
      other.votes.push({ approver: 'bob@example.com', decision: 'approved', comment: null, at: 'x' });
      other.version += 1;
      table.insert(other);
    };
    // Act
    await table.store.update(record.id, (current) => ({ ...current, escalated: true }));
    // Assess: both changes survive
    const stored = table.record(record.id);
    expect(stored.votes).toHaveLength(1);
    expect(stored.escalated).toBe(true);
    expect(stored.version).toBe(3);
  });

  it('gives up after three lost races', async () => {
    // Prepare: every write loses
    const record = pendingRecord();
    table.insert(record);
    table.beforePut = () => {
      const other = table.record(record.id);
      other.version += 1;
      table.insert(other);
    };
    // Act / Assess
    await expect(table.store.update(record.id, (c) => c)).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect(table.mock).toHaveReceivedCommandTimes(PutCommand, 3);
  });

  it('writes nothing when the mutation has nothing to change', async () => {
    table.insert(pendingRecord());
    await table.store.update(pendingRecord().id, () => undefined);
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });

  it('lists every pending id across pages', async () => {
    // Prepare: 5 pending, 1 done; the fake pages by 2
    for (const n of [1, 2, 3, 4, 5, 6]) {
      table.insert(pendingRecord({ id: `id-${n}`, pending: n === 6 ? undefined : 'yes' }));
    }
    // Act
    const ids: string[] = [];
    for await (const id of table.store.pendingIds()) ids.push(id);
    // Assess
    expect(ids).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  });
});
