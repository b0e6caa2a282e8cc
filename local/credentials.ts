/**
 * The credentials the local endpoint accepts, and their secrets, so it can verify each request's SigV4 signature
 * as AWS does (local/auth.ts): the user's (OPSFLOW_CREDENTIALS, default `test`/`test`), the runtime's own (what
 * Step Functions integrations without a role and Lambda functions without one sign with), and the role sessions
 * IAM hands out to local Lambda functions, state machines and targets (local/iam/model.ts), each with a secret of
 * its own. Secrets the runtime makes up are random per run: no web page can know them.
 */
import { randomBytes } from 'node:crypto';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials only: the request must carry it (`X-Amz-Security-Token`). */
  readonly sessionToken?: string;
}

/** What any AWS client pointed at the runtime uses unless OPSFLOW_CREDENTIALS says otherwise (LocalStack's convention too). */
export const DEFAULT_CREDENTIALS: Credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/**
 * `OPSFLOW_CREDENTIALS=<access key id>:<secret access key>[,<access key id>:<secret access key>...]`; unset or
 * empty: `test:test`. Throws naming the variable when a pair is malformed.
 */
export function configuredCredentials(value = process.env.OPSFLOW_CREDENTIALS): Credentials[] {
  if (value === undefined || value.trim() === '') return [DEFAULT_CREDENTIALS];
  return value.split(',').map((pair, i) => {
    const colon = pair.indexOf(':');
    const accessKeyId = colon < 0 ? '' : pair.slice(0, colon).trim();
    const secretAccessKey = colon < 0 ? '' : pair.slice(colon + 1).trim();
    // Access key ids are letters and digits (IAM: "[\w]+", https://docs.aws.amazon.com/IAM/latest/APIReference/API_AccessKey.html).
    if (!/^\w{1,128}$/.test(accessKeyId) || !secretAccessKey) {
      throw new Error(
        `OPSFLOW_CREDENTIALS: pair ${i + 1} must be '<access key id>:<secret access key>' (letters, digits and _ in the key id; pairs separated by commas), got '${pair.replace(/:.*/, ':…')}'`,
      );
    }
    return { accessKeyId, secretAccessKey };
  });
}

/** The runtime's own access key ids; the secrets are made up at each start. */
export const RUNTIME_ACCESS_KEY_ID = 'AKIDLOCAL';
export const LAMBDA_ACCESS_KEY_ID = 'AKIDLOCALLAMBDA';

export class Keyring {
  private readonly known = new Map<string, Credentials>();
  /** Signs the runtime's own calls: Step Functions integrations of a state machine without a role (the account's administrator). */
  readonly runtime: Credentials;
  /** Lambda functions without an execution role (AWS always has one; a template without IAM may not). */
  readonly lambda: Credentials;

  /** `sessions`: the role sessions of the deployed app, by access key id (local/iam/model.ts). */
  constructor(
    users: readonly Credentials[],
    private readonly sessions: (accessKeyId: string) => Credentials | undefined = () => undefined,
  ) {
    this.runtime = { accessKeyId: RUNTIME_ACCESS_KEY_ID, secretAccessKey: randomBytes(30).toString('base64') };
    this.lambda = { accessKeyId: LAMBDA_ACCESS_KEY_ID, secretAccessKey: randomBytes(30).toString('base64') };
    for (const c of [this.runtime, this.lambda, ...users]) this.known.set(c.accessKeyId, c);
  }

  /** The credentials of an access key id, undefined when the runtime does not know it. */
  lookup(accessKeyId: string): Credentials | undefined {
    return this.known.get(accessKeyId) ?? this.sessions(accessKeyId);
  }
}
