/**
 * Which of AWS's rules the runtime enforces. Every rule is on unless relaxed explicitly, by an environment
 * variable or an `opsflow up` flag, and the runtime says so at startup.
 *
 *   OPSFLOW_IAM=off            --iam off            IAM policies of the template's roles and resource policies
 *   OPSFLOW_QUOTAS=off         --quotas off         payload, item, batch and history quotas
 *   OPSFLOW_DEPLOY_CHECKS=off  --deploy-checks off  refusals CloudFormation or the service would make at deploy
 *   OPSFLOW_RATES=off          --rates off          API request rates (CloudTrail, EC2, SES) and Lambda concurrency
 *
 * Rates that are account settings on AWS are configurable: OPSFLOW_SES_RATE (emails per second, default 1,
 * the sandbox rate) and OPSFLOW_LAMBDA_CONCURRENCY (default 1000, the default account quota). So is the SES sandbox:
 * OPSFLOW_SES_SANDBOX=off models an account with production access (default on, as every new account starts).
 */
export interface Rules {
  readonly iam: boolean;
  readonly quotas: boolean;
  readonly deployChecks: boolean;
  readonly rates: boolean;
  /** SES maximum send rate, emails per second. */
  readonly sesPerSecond: number;
  /** Lambda concurrent executions for the account. */
  readonly lambdaConcurrency: number;
  /**
   * The account's SES is in the sandbox: mail goes only to verified identities (and IAM authorizes the recipients'
   * identities too). "We place all new accounts in the Amazon SES sandbox."
   * https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html
   */
  readonly sesSandbox: boolean;
}

/** "Sandbox: ... You can send a maximum of one message per second." https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html */
export const SES_SANDBOX_RATE = 1;
/** "Concurrent executions: 1,000" (default account quota). https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const LAMBDA_DEFAULT_CONCURRENCY = 1000;

const SWITCHES = { iam: 'OPSFLOW_IAM', quotas: 'OPSFLOW_QUOTAS', deployChecks: 'OPSFLOW_DEPLOY_CHECKS', rates: 'OPSFLOW_RATES' } as const;

function onOff(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const v = value.toLowerCase();
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new Error(`${name} must be 'on' or 'off', got '${value}'`);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got '${value}'`);
  return n;
}

/** Rules from the environment, overridden by explicit options (flags). */
export function resolveRules(overrides: Partial<Rules> = {}, env: NodeJS.ProcessEnv = process.env): Rules {
  return {
    iam: overrides.iam ?? onOff(SWITCHES.iam, env[SWITCHES.iam]),
    quotas: overrides.quotas ?? onOff(SWITCHES.quotas, env[SWITCHES.quotas]),
    deployChecks: overrides.deployChecks ?? onOff(SWITCHES.deployChecks, env[SWITCHES.deployChecks]),
    rates: overrides.rates ?? onOff(SWITCHES.rates, env[SWITCHES.rates]),
    sesPerSecond: overrides.sesPerSecond ?? positive('OPSFLOW_SES_RATE', env.OPSFLOW_SES_RATE, SES_SANDBOX_RATE),
    lambdaConcurrency: overrides.lambdaConcurrency ?? positive('OPSFLOW_LAMBDA_CONCURRENCY', env.OPSFLOW_LAMBDA_CONCURRENCY, LAMBDA_DEFAULT_CONCURRENCY),
    sesSandbox: overrides.sesSandbox ?? onOff('OPSFLOW_SES_SANDBOX', env.OPSFLOW_SES_SANDBOX),
  };
}

/** `--iam off` style flag value. */
export function flagValue(flag: string, value: string | true | undefined): boolean | undefined {
  return value === undefined ? undefined : onOff(flag, value === true ? 'on' : value);
}
