/** Test doubles for the tag-policy cores: an in-memory RunStore, a recording logger, and policy/instance builders. */
import type { CreatorIndex, CreatorRecord } from '../../../tasks/tag-policy/core/creator';
import type { GraceRecord } from '../../../tasks/tag-policy/core/grace';
import { parsePolicy } from '../../../tasks/tag-policy/core/policy';
import type { FindingsPage, RunStore, StoredFinding } from '../../../tasks/tag-policy/core/store';
import type { InstanceFacts, Policy, Run } from '../../../tasks/tag-policy/core/types';
import type { Log } from '../../../tasks/shared/logger';
import deployed from '../../../tag-policy.json';

export class MemoryStore implements RunStore {
  readonly runs = new Map<string, Map<string, StoredFinding>>();
  readonly grace = new Map<string, GraceRecord>();
  readonly creators = new Map<string, CreatorRecord>();
  index: CreatorIndex = {};
  /** Index writes, in order (the walk's saved progress). */
  readonly indexWrites: CreatorIndex[] = [];

  async putFindings(runId: string, findings: StoredFinding[]): Promise<void> {
    const run = this.runs.get(runId) ?? new Map<string, StoredFinding>();
    for (const f of findings) run.set(f.instanceId, structuredClone(f));
    this.runs.set(runId, run);
  }

  async findings(runId: string, cursor: string | undefined, limit: number): Promise<FindingsPage> {
    const all = [...(this.runs.get(runId)?.values() ?? [])].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    const start = cursor === undefined ? 0 : Number(cursor);
    const end = start + limit;
    return { items: structuredClone(all.slice(start, end)), cursor: end < all.length ? String(end) : undefined };
  }

  async getGrace(ids: string[]): Promise<Map<string, GraceRecord>> {
    return new Map(ids.filter((id) => this.grace.has(id)).map((id) => [id, structuredClone(this.grace.get(id)!)]));
  }

  async putGrace(records: GraceRecord[]): Promise<void> {
    for (const r of records) this.grace.set(r.instanceId, structuredClone(r));
  }

  async deleteGrace(ids: string[]): Promise<void> {
    for (const id of ids) this.grace.delete(id);
  }

  async getCreators(ids: string[]): Promise<Map<string, string>> {
    return new Map(ids.filter((id) => this.creators.has(id)).map((id) => [id, this.creators.get(id)!.creator]));
  }

  async putCreators(records: CreatorRecord[]): Promise<void> {
    for (const r of records) this.creators.set(r.instanceId, structuredClone(r));
  }

  async getCreatorIndex(): Promise<CreatorIndex> {
    return structuredClone(this.index);
  }

  async putCreatorIndex(index: CreatorIndex): Promise<void> {
    this.index = JSON.parse(JSON.stringify(index)) as CreatorIndex;
    this.indexWrites.push(this.index);
  }

  finding(runId: string, id: string): StoredFinding | undefined {
    return this.runs.get(runId)?.get(id);
  }
}

export const silentLog = (): Log & { lines: unknown[] } => {
  const lines: unknown[] = [];
  return { lines, info: (m, a) => lines.push([m, a]), warn: (m, a) => lines.push([m, a]), error: (m, a) => lines.push([m, a]) };
};

/** The repository's policy, optionally changed. */
export function policyWith(changes: Record<string, unknown> = {}): Policy {
  return parsePolicy({ ...deployed, ...changes });
}

export function run(changes: Partial<Run> = {}): Run {
  return { id: 'run-1', mode: 'scan', dryRun: false, settleSeconds: 0, policy: policyWith(), startedAt: '2025-03-01T00:00:00.000Z', ...changes };
}

export const GOOD_TAGS = { Owner: 'alice@example.com', CostCenter: 'CC-1001', Environment: 'prod' };

export function instance(id: string, tags: Record<string, string>, state = 'running'): InstanceFacts {
  return { instanceId: id, state, launchTime: '2025-02-01T10:00:00.000Z', tags };
}
