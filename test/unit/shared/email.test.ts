import { describe, expect, it } from 'vitest';
import { isValidEmail, normalizeEmail } from '../../../tasks/shared/email';

describe('isValidEmail', () => {
  it.each(['alice@example.com', 'a.b+tag@sub.example.co.uk', "o'hara@example.org", 'x@a-b.io'])('accepts %s', (address) => {
    expect(isValidEmail(address)).toBe(true);
  });

  it.each([
    ['no at sign', 'alice.example.com'],
    ['empty local part', '@example.com'],
    ['single-label domain', 'alice@localhost'],
    ['two at signs', 'a@b@example.com'],
    ['whitespace', 'alice @example.com'],
    ['double dot', 'alice..b@example.com'],
    ['label starting with a hyphen', 'alice@-example.com'],
    ['quoted local part', '"alice"@example.com'],
    ['header injection', 'alice@example.com\nBcc: eve@example.com'],
    ['local part over 64', `${'a'.repeat(65)}@example.com`],
    ['not a string', 42],
  ])('refuses %s', (_case, address) => {
    expect(isValidEmail(address)).toBe(false);
  });

  it('normalizes to trimmed lower case', () => {
    expect(normalizeEmail('  Alice@Example.COM ')).toBe('alice@example.com');
  });
});
