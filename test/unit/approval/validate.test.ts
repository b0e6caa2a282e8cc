import { describe, expect, it } from 'vitest';
import { validateRequest, type RequestDefaults } from '../../../tasks/approval/core/validate';
import { InputInvalidError } from '../../../tasks/shared/errors';

const defaults: RequestDefaults = { approvers: ['ops-lead@example.com'], timeoutSeconds: 3600, maxTimeoutSeconds: 86_400 };
const noDefaults: RequestDefaults = { ...defaults, approvers: [] };

function problemsOf(input: unknown, d: RequestDefaults = defaults): string[] {
  try {
    validateRequest(input, d);
  } catch (error) {
    if (error instanceof InputInvalidError) return error.problems;
    throw error;
  }
  throw new Error('expected Input.Invalid');
}

describe('validateRequest', () => {
  it('normalizes a full valid request', () => {
    // Act
    const request = validateRequest(
      {
        title: '  Stop i-0123  ',
        details: { instance: 'i-0123' },
        approvers: ['Alice@Example.com', 'alice@example.com', ' bob@example.com'],
        requestedBy: 'ops@example.com',
        timeoutSeconds: 600,
        quorum: 2,
      },
      defaults,
    );
    // Assess
    expect(request).toEqual({
      title: 'Stop i-0123',
      details: { instance: 'i-0123' },
      approvers: ['alice@example.com', 'bob@example.com'],
      requestedBy: 'ops@example.com',
      timeoutSeconds: 600,
      quorum: 2,
    });
  });

  it('applies the defaults for omitted fields', () => {
    expect(validateRequest({ title: 'Deploy' }, defaults)).toEqual({
      title: 'Deploy',
      details: null,
      approvers: ['ops-lead@example.com'],
      requestedBy: null,
      timeoutSeconds: 3600,
      quorum: 1,
    });
  });

  it('uses the default approvers for an empty list', () => {
    expect(validateRequest({ title: 'Deploy', approvers: [] }, defaults).approvers).toEqual(['ops-lead@example.com']);
  });

  it('accepts details as a string', () => {
    expect(validateRequest({ title: 'T', details: 'free text' }, defaults).details).toBe('free text');
  });

  it.each([
    ['null', null],
    ['an array', [1]],
    ['a string', 'title'],
    ['a number', 3],
  ])('fails when the input is %s', (_case, input) => {
    expect(problemsOf(input)).toEqual([expect.stringMatching(/^input: must be a JSON object/)]);
  });

  it.each<[string, Record<string, unknown>, RegExp, RequestDefaults?]>([
    ['an unknown field', { title: 'T', approver: 'a@example.com' }, /^approver: unknown field/],
    ['title missing', {}, /^title: is required/],
    ['title not a string', { title: 5 }, /^title: must be a string, got number 5/],
    ['title empty', { title: '   ' }, /^title: must not be empty/],
    ['title too long', { title: 'x'.repeat(201) }, /^title: must be at most 200 characters, got 201/],
    ['details a number', { title: 'T', details: 7 }, /^details: must be a string or a JSON object/],
    ['details an array', { title: 'T', details: ['a'] }, /^details: must be a string or a JSON object, got array/],
    ['details too large', { title: 'T', details: { blob: 'x'.repeat(8200) } }, /^details: must be at most 8192 bytes serialized/],
    ['approvers not an array', { title: 'T', approvers: 'a@example.com' }, /^approvers: must be an array/],
    ['approvers empty without defaults', { title: 'T', approvers: [] }, /^approvers: at least one approver is required/, noDefaults],
    ['approvers omitted without defaults', { title: 'T' }, /^approvers: at least one approver is required/, noDefaults],
    ['an approver not an email', { title: 'T', approvers: ['a@example.com', 'bob'] }, /^approvers\[1\]: not a valid email address: string "bob"/],
    ['an approver not a string', { title: 'T', approvers: [42] }, /^approvers\[0\]: not a valid email address: number 42/],
    ['over 20 approvers', { title: 'T', approvers: Array.from({ length: 21 }, (_, i) => `a${i}@example.com`) }, /^approvers: at most 20 approvers, got 21/],
    ['requestedBy not a string', { title: 'T', requestedBy: { name: 'x' } }, /^requestedBy: must be a string/],
    ['requestedBy too long', { title: 'T', requestedBy: 'r'.repeat(201) }, /^requestedBy: must be at most 200 characters/],
    ['timeoutSeconds not an integer', { title: 'T', timeoutSeconds: 90.5 }, /^timeoutSeconds: must be an integer/],
    ['timeoutSeconds a string', { title: 'T', timeoutSeconds: '600' }, /^timeoutSeconds: must be an integer, got string "600"/],
    ['timeoutSeconds under 60', { title: 'T', timeoutSeconds: 59 }, /^timeoutSeconds: must be at least 60, got 59/],
    ['timeoutSeconds over the maximum', { title: 'T', timeoutSeconds: 86_401 }, /^timeoutSeconds: must be at most 86400, got 86401/],
    ['quorum not an integer', { title: 'T', quorum: 1.5 }, /^quorum: must be an integer/],
    ['quorum under 1', { title: 'T', quorum: 0 }, /^quorum: must be at least 1, got 0/],
    [
      'quorum over the number of (distinct) approvers',
      { title: 'T', approvers: ['a@example.com', 'A@example.com'], quorum: 2 },
      /^quorum: must be at most the number of approvers \(1\), got 2/,
    ],
  ])('fails when %s, naming the field', (_case, input, problem, d) => {
    expect(problemsOf(input, d)).toEqual([expect.stringMatching(problem)]);
  });

  it('reports every problem at once', () => {
    // Act
    const problems = problemsOf({ title: '', approvers: ['ok@example.com', 'nope'], timeoutSeconds: 5, quorum: 0, colour: 'red' }, noDefaults);
    // Assess
    expect(problems).toEqual([
      expect.stringMatching(/^colour: unknown field/),
      expect.stringMatching(/^title: must not be empty/),
      expect.stringMatching(/^approvers\[1\]: /),
      expect.stringMatching(/^timeoutSeconds: must be at least 60/),
      expect.stringMatching(/^quorum: must be at least 1/),
    ]);
  });

  it('throws an error named Input.Invalid whose message lists the problems', () => {
    expect(() => validateRequest({ quorum: 'x' }, defaults)).toThrow(
      expect.objectContaining({ name: 'Input.Invalid', message: expect.stringContaining('title: is required; quorum:') }),
    );
  });

  it('counts title characters, not UTF-16 units: 150 emoji fit, 201 do not', () => {
    expect(validateRequest({ title: '😀'.repeat(150), approvers: ['a@example.com'] }, defaults).title).toBe('😀'.repeat(150));
    expect(problemsOf({ title: '😀'.repeat(201), approvers: ['a@example.com'] })).toEqual(['title: must be at most 200 characters, got 201']);
  });
});

describe('allowedRecipientDomains', () => {
  it('refuses approvers outside the allowed domains, listing each with every other problem', () => {
    const d: RequestDefaults = { ...defaults, allowedRecipientDomains: ['example.com'] };
    expect(problemsOf({ title: '', approvers: ['ok@example.com', 'x@evil.test', 'y@sub.example.com'] }, d)).toEqual([
      'title: must not be empty',
      'approvers[1]: x@evil.test is not in an allowed recipient domain (example.com)',
      'approvers[2]: y@sub.example.com is not in an allowed recipient domain (example.com)',
    ]);
    expect(validateRequest({ title: 'T', approvers: ['OK@Example.com'] }, d).approvers).toEqual(['ok@example.com']);
  });
});

describe('the requester (requestedBy, an email address) never approves their own request', () => {
  it('does not ask the requester, whether named in the input or among the default approvers', () => {
    expect(validateRequest({ title: 't', approvers: ['Carol@example.com', 'dave@example.com'], requestedBy: 'carol@example.com' }, defaults).approvers).toEqual(
      ['dave@example.com'],
    );
    expect(
      validateRequest({ title: 't', requestedBy: 'ops-lead@example.com' }, { ...defaults, approvers: ['ops-lead@example.com', 'erin@example.com'] }).approvers,
    ).toEqual(['erin@example.com']);
    // A requester that is not an address (a pipeline, a run) excludes nobody.
    expect(validateRequest({ title: 't', requestedBy: 'opsflow TagPolicy scan run 7' }, defaults).approvers).toEqual(['ops-lead@example.com']);
  });

  it('fails Input.Invalid when the others cannot reach the quorum without the requester', () => {
    expect(problemsOf({ title: 't', requestedBy: 'ops-lead@example.com' })).toEqual([
      'approvers: the requester ops-lead@example.com cannot approve their own request, and there is no other approver',
    ]);
    expect(problemsOf({ title: 't', approvers: ['a@example.com', 'b@example.com'], requestedBy: 'a@example.com', quorum: 2 })).toEqual([
      'quorum: must be at most the number of approvers (1, not counting the requester a@example.com), got 2',
    ]);
  });
});
