/**
 * The app knows only what AWS sends (issue 20): no task, construct or app file names an error of the local runtime
 * (`Local.*`, local/engine). A failure the app has no words for is named as DescribeExecution gives it.
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

describe("the app and the runtime's error names", () => {
  it('no file in tasks/, workflows/ or infra/ names a Local.* error', () => {
    const naming = ['tasks', 'workflows', 'infra'].flatMap(files).filter((f) => /\bLocal\.[A-Z]\w+/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(naming.map((f) => relative('.', f))).toEqual([]);
  });
});
