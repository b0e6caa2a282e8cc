/**
 * The resources SES authorizes a SendEmail against (local/iam/requests.ts): the identity that matches the sender,
 * and in the sandbox each recipient's, as the account's verified identities resolve them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resourceRequests } from '../../local/iam/requests';
import { Clock, StateDir } from '../../local/kernel';
import type { DecodedRequest } from '../../local/wire/decode';
import { SesAccount } from '../../local/services/sesv2';

const identity = (name: string) => `arn:aws:ses:us-east-1:000000000000:identity/${name}`;

describe('ses:SendEmail resources', () => {
  let sandbox = true;
  const account = new SesAccount(new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-iam-ses-'))), new Clock(), () => sandbox);
  for (const name of ['example.com', 'Ops@Example.com', 'lead@partner.example.net']) account.verify(name);
  const lookups = {
    instanceTags: () => undefined,
    resourceTags: () => undefined,
    sesIdentity: (a: string) => account.resolve(a).identity,
    sesSandbox: () => sandbox,
  };
  const send = (from: string, to: string[], extra: object = {}): DecodedRequest => ({
    service: 'ses',
    operation: 'SendEmail',
    protocol: 'rest-json',
    params: { FromEmailAddress: from, Destination: { ToAddresses: to }, ...extra },
  });
  const resources = (req: DecodedRequest) => resourceRequests(req, lookups).map((r) => r.resource);

  it('authorizes a separately verified sender address as itself, other addresses of the domain as the domain', () => {
    sandbox = false;
    expect(resources(send('"Opsflow" <ops@example.com>', ['x@anywhere.example.org']))).toEqual([identity('Ops@Example.com')]);
    expect(resources(send('alerts@mail.example.com', ['x@anywhere.example.org']))).toEqual([identity('example.com')]);
    expect(resources(send('someone@unverified.example.org', ['x@anywhere.example.org']))).toEqual([identity('someone@unverified.example.org')]);
  });

  it('in the sandbox adds each recipient identity once, and the configuration set', () => {
    sandbox = true;
    expect(
      resources(
        send('ops@example.com', ['lead@partner.example.net', 'a@example.com', 'b@example.com', 'guest@partner.example.net'], { ConfigurationSetName: 'cs' }),
      ),
    ).toEqual([
      identity('Ops@Example.com'),
      identity('lead@partner.example.net'),
      identity('example.com'),
      identity('guest@partner.example.net'),
      'arn:aws:ses:us-east-1:000000000000:configuration-set/cs',
    ]);
  });

  it('carries the condition keys the policies test on every resource', () => {
    sandbox = true;
    const [first, second] = resourceRequests(send('Ops <ops@example.com>', ['a@other.example.org']), lookups);
    for (const r of [first, second])
      expect(r.context).toEqual({
        'ses:FromAddress': 'ops@example.com',
        'ses:Recipients': ['a@other.example.org'],
        'ses:ApiVersion': '2',
        'ses:FromDisplayName': 'Ops',
      });
  });
});
