/**
 * External tools some tests drive (AWS CLI v2, Chromium). On a machine with Node and npm only, `npm ci && npm test`
 * must pass: a tool that is missing is skipped with one line saying how to get it. CI (.ci/run) installs the
 * tools and sets OPSFLOW_REQUIRE_TOOLS=1, under which a missing tool fails the run instead of skipping quietly.
 */
import { execFileSync } from 'node:child_process';

export const requireTools = process.env.OPSFLOW_REQUIRE_TOOLS === '1';

/**
 * An AWS CLI v2 executable, or undefined. OPSFLOW_AWS_CLI names one explicitly (and only that one is tried);
 * otherwise Debian's /usr/bin/aws, the official installer's /usr/local/bin/aws, then `aws` on PATH. Each is
 * asked its version: a pyenv AWS CLI v1 may come first on PATH, and v1 does not count.
 */
export function findAwsCliV2(): string | undefined {
  const candidates = process.env.OPSFLOW_AWS_CLI ? [process.env.OPSFLOW_AWS_CLI] : ['/usr/bin/aws', '/usr/local/bin/aws', 'aws'];
  for (const candidate of candidates) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      if (/^aws-cli\/2\./.test(version)) return candidate;
    } catch {
      // not installed, not runnable: try the next one
    }
  }
  return undefined;
}

/**
 * The environment the AWS CLI runs with in a test: exactly these credentials in us-east-1, `home` a scratch directory
 * (nothing from the developer's shell or ~/.aws reaches it), no pager.
 */
export function awsCliEnv(home: string, credentials: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  };
}

/**
 * Whether tests needing `tool` run: true when it is there; when it is not, false with one line saying how to
 * enable them, or a thrown error under OPSFLOW_REQUIRE_TOOLS=1.
 */
export function toolAvailable(tool: string, present: boolean, howToEnable: string): boolean {
  if (present) return true;
  if (requireTools) throw new Error(`${tool} not found, and OPSFLOW_REQUIRE_TOOLS=1 makes that a failure. To install it: ${howToEnable}`);
  console.warn(`${tool} not found: its tests are skipped. To run them: ${howToEnable}`);
  return false;
}
