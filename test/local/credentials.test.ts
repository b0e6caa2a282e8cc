import { describe, expect, it } from 'vitest';
import { configuredCredentials, DEFAULT_CREDENTIALS, Keyring } from '../../local/credentials';

describe('configuredCredentials (OPSFLOW_CREDENTIALS)', () => {
  it('is test/test when unset or empty', () => {
    expect(configuredCredentials(undefined)).toEqual([DEFAULT_CREDENTIALS]);
    expect(configuredCredentials(' ')).toEqual([{ accessKeyId: 'test', secretAccessKey: 'test' }]);
  });

  it('reads KEY:SECRET pairs separated by commas; a secret may hold / and +', () => {
    expect(configuredCredentials('AKIDME:wJal/rX+U=,other_key:s3cret')).toEqual([
      { accessKeyId: 'AKIDME', secretAccessKey: 'wJal/rX+U=' },
      { accessKeyId: 'other_key', secretAccessKey: 's3cret' },
    ]);
  });

  it.each(['AKIDME', 'AKIDME:', ':secret', 'AK ID:secret', 'a:b,,c:d'])('refuses %j, naming the variable', (value) => {
    expect(() => configuredCredentials(value)).toThrow(/^OPSFLOW_CREDENTIALS: pair \d must be '<access key id>:<secret access key>'/);
  });

  it('does not echo the secret of a malformed pair', () => {
    expect(() => configuredCredentials('AK ID:topsecret')).toThrow(/got 'AK ID:…'$/);
  });
});

describe('Keyring', () => {
  it('knows the user keys, its own keys with secrets made up at each start, and the sessions it is given', () => {
    const session = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 't' };
    const keys = new Keyring([DEFAULT_CREDENTIALS], (id) => (id === session.accessKeyId ? session : undefined));
    const again = new Keyring([DEFAULT_CREDENTIALS]);
    expect(keys.lookup('test')).toEqual(DEFAULT_CREDENTIALS);
    expect(keys.lookup('ASIAEXAMPLE')).toBe(session);
    expect(keys.lookup(keys.runtime.accessKeyId)).toBe(keys.runtime);
    expect(keys.runtime.secretAccessKey).not.toBe(again.runtime.secretAccessKey);
    expect(keys.lookup('AKIDNOBODY')).toBeUndefined();
  });
});
