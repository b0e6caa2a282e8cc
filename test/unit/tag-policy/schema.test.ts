/** The policy schema check: ajv's standalone validator (generated from tag-policy.schema.json) and its messages. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSchemaModule, GENERATED_FILE } from '../../../tasks/tag-policy/core/schema.compile';
import { schemaProblems } from '../../../tasks/tag-policy/core/schema';

describe('schemaProblems', () => {
  it('uses a generated validator that matches the schema file (run `npm run schema` after editing it)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(compileSchemaModule());
  });

  it('accepts a valid policy', () => {
    expect(schemaProblems({ version: 1, rules: [{ key: 'Owner', onMissing: { action: 'lookup-creator', fallback: 'x' } }] })).toEqual([]);
  });

  it('lists every problem, named by path, in the order of the fields, missing fields first', () => {
    const policy = {
      gracePeriodHours: -1,
      rules: [
        { description: 7, onMissing: { action: 'tag', valu: 'x' }, allowedValues: [] },
        { key: '', case: 'upper' },
      ],
      blastRadius: { maxInstances: 1.5 },
    };
    expect(schemaProblems(policy)).toEqual([
      'version: is required',
      'gracePeriodHours: must be at least 0, got -1',
      'rules[0].key: is required',
      'rules[0].description: must be a string, got 7',
      'rules[0].onMissing.valu: is not a known field (known: action, value, fallback)',
      'rules[0].allowedValues: must have at least 1 item(s)',
      'rules[1].key: must be at least 1 characters',
      'rules[1].case: must be one of "sensitive", "insensitive", "normalize", got "upper"',
      'blastRadius.maxInstances: must be an integer, got 1.5',
    ]);
  });

  it('names the policy itself when it is not an object', () => {
    expect(schemaProblems([])).toEqual(['(policy): must be an object, got an array']);
    expect(schemaProblems(null)).toEqual(['(policy): must be an object, got null']);
  });

  it('counts characters, not UTF-16 units, and says how many there are', () => {
    expect(schemaProblems({ version: 1, rules: [{ key: '🔑'.repeat(128) }] })).toEqual([]);
    expect(schemaProblems({ version: 1, rules: [{ key: '🔑'.repeat(129) }] })).toEqual(['rules[0].key: must be at most 128 characters, got 129']);
    expect(schemaProblems({ version: 1, approvers: Array(21).fill('a@example.com'), rules: [{ key: 'A' }] })).toEqual([
      'approvers: must have at most 20 items, got 21',
    ]);
  });
});
