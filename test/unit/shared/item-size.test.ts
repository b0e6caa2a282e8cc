import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoItemSize } from '../../../local/rules/quotas';
import { boundText, itemSize, pagesByBytes, valueSize } from '../../../tasks/shared/item-size';

describe('DynamoDB item size (CapacityUnitCalculations.html)', () => {
  it.each([
    ['a string: its UTF-8 bytes', 'héllo', 6],
    ['a number: 1 byte per two significant digits, plus 1', 123456, 4],
    ['leading and trailing zeroes do not count', 1000, 2],
    ['null', null, 1],
    ['a boolean', true, 1],
    ['an empty list: 3 bytes', [], 3],
    ['a list: 3 bytes, plus 1 per element, plus the elements', ['ab', 'c'], 3 + 1 + 2 + 1 + 1],
    ['a map: 3 bytes, plus per entry 1 byte, its name and its value', { ab: 'xyz' }, 3 + 1 + 2 + 3],
  ])('%s', (_case, value, bytes) => {
    expect(valueSize(value)).toBe(bytes);
  });

  it("counts an item as the local runtime's DynamoDB does", () => {
    const item = {
      pk: 'run#x',
      sk: 'batch#0-0',
      entries: [{ instanceId: 'i-0123', name: 'wéb', status: 'acted', tries: 12, ok: false, none: null }],
      expiresAt: 1750000000,
    };
    expect(itemSize(item)).toBe(dynamoItemSize(marshall(item)));
  });
});

describe('pagesByBytes', () => {
  it('cuts by bytes and by count, never leaving a page empty', () => {
    const items = ['x'.repeat(40), 'y'.repeat(40), 'z'.repeat(40), 'w'];
    expect(pagesByBytes(items, 90).map((p) => p.length)).toEqual([2, 2]);
    expect(pagesByBytes(items, 1000, 3).map((p) => p.length)).toEqual([3, 1]);
    expect(pagesByBytes(['x'.repeat(500)], 100)).toHaveLength(1);
  });
});

describe('boundText', () => {
  it('keeps short text and cuts long text to the bound, saying so, without splitting a character', () => {
    expect(boundText('short', 100)).toBe('short');
    const cut = boundText('ü'.repeat(1000), 101);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(101);
    expect(cut).toMatch(/^ü+ \.\.\. \(\d+ more bytes cut\)$/);
  });
});
