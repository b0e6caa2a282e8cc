import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KnipConfig } from 'knip';

/**
 * knip finds unused files, exports and dependencies (`npm run lint`). Its entry points are the files something runs
 * by path rather than imports: every Lambda handler a workflow names in `entry: 'tasks/...'`, the runtime's Lambda
 * worker, the console's browser bundle, the tests, a test fixture's task handler and the benchmark's child script. knip's plugins find the rest:
 * the CDK app in cdk.json, the bin and the scripts in package.json (local/cli.ts, test/bench/run.ts, ...).
 */
function handlers(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/\bentry: '(tasks\/[^']+\.ts)'/g)].map((m) => m[1]));
}

const taskEntries = handlers('workflows');
if (taskEntries.length === 0) throw new Error("knip.config.ts: found no `entry: 'tasks/...'` in workflows/; the handlers would all look unused");

const config: KnipConfig = {
  entry: [
    ...taskEntries,
    'local/services/lambda-worker.ts',
    'local/console/app/main.ts',
    'test/**/*.test.ts',
    'test/fixtures/egress/poster.ts',
    'test/bench/start-client.ts',
  ],
  project: ['**/*.{ts,cjs}'],
  // Written by ajv (tasks/tag-policy/core/schema.compile.ts), exports and all.
  ignore: ['tasks/tag-policy/core/schema.generated.ts'],
  // An export that its own file uses is not dead code, only a visible name; knip reports what nothing uses.
  ignoreExportsUsedInFile: true,
};

export default config;
