/**
 * The import rules of .dependency-cruiser.cjs hold: no import circle, no import running up a layer of local/, the
 * console's API contract self-contained, tasks/ and workflows/ free of the runtime. `npm run deps` runs the same
 * check from the command line.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(__dirname, '..');

it('finds no import that breaks a rule of .dependency-cruiser.cjs', async () => {
  // dependency-cruiser is ESM only; this file is CommonJS.
  const { cruise, format } = await import('dependency-cruiser');
  const { default: extractOptions } = await import('dependency-cruiser/config-utl/extract-depcruise-options');
  const { default: extractTsConfig } = await import('dependency-cruiser/config-utl/extract-ts-config');
  const options = { ...(await extractOptions(join(root, '.dependency-cruiser.cjs'))), baseDir: root };
  const result = await cruise(['local', 'tasks', 'workflows', 'infra'], options, undefined, { tsConfig: extractTsConfig(join(root, 'tsconfig.json')) });
  if (typeof result.output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
  const report = (await format(result.output, { outputType: 'err' })).output;
  expect(result.output.summary.violations, String(report)).toEqual([]);
  // The rules looked at the whole runtime, not an empty selection.
  expect(result.output.modules.filter((m) => m.source.startsWith('local/')).length).toBeGreaterThan(50);
}, 180_000);
