/**
 * Layering, checked on the import statements: constructs do not depend on the app's config, tasks do not depend
 * on the CDK app, cores build no SDK clients and see no Lambda event types, and the runtime knows nothing of the app.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports, resolved to a repository path when relative (`infra/config`). */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map(([, spec]) =>
    spec.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', spec)) : spec,
  );
}

const offending = (dir: string, bad: (spec: string, file: string) => boolean) =>
  files(dir).flatMap((f) => imports(f).filter((spec) => bad(spec, f)).map((spec) => `${f} imports ${spec}`));

describe('layering', () => {
  it('finds the files it checks', () => {
    expect(files('workflows').length).toBeGreaterThanOrEqual(8);
    expect(files('tasks').length).toBeGreaterThanOrEqual(60);
    expect(files('local').length).toBeGreaterThanOrEqual(25);
    expect(imports('workflows/ec2-schedule/construct.ts')).toContain('tasks/shared/errors');
  });

  it('keeps constructs independent of the app and its config', () => {
    expect(offending('workflows', (spec) => spec.startsWith('infra/') || spec.startsWith('local/'))).toEqual([]);
  });

  it('keeps tasks independent of the CDK app and the runtime', () => {
    expect(offending('tasks', (spec) => /^(infra|workflows|local)\//.test(spec) || spec.startsWith('aws-cdk-lib'))).toEqual([]);
  });

  it('keeps cores pure: no Lambda event types, no SDK clients built', () => {
    const cores = files('tasks').filter((f) => f.includes('/core/'));
    expect(offending('tasks', (spec, f) => f.includes('/core/') && spec === 'aws-lambda')).toEqual([]);
    const building = cores.filter((f) => /new \w+Client\(/.test(readFileSync(join(ROOT, f), 'utf8')) || /DynamoDBDocumentClient\.from\(/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(building).toEqual([]);
  });

  it('keeps the runtime free of the app: no imports of infra/, workflows/ or tasks/', () => {
    expect(offending('local', (spec) => /^(infra|workflows|tasks)\//.test(spec))).toEqual([]);
  });
});
