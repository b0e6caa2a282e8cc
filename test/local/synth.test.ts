import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthNeeded } from '../../local/synth';

/** A project synthesized at second 2000; every source last changed at second 1000. */
function project(cdkJson: object = { app: 'npx tsx infra/app.ts', watch: { include: ['infra/**', '*.json'], exclude: ['infra/**/*.md'] } }): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-synth-'));
  const files: Record<string, string> = {
    'cdk.json': JSON.stringify(cdkJson),
    'package.json': '{}',
    'app.config.json': '{}',
    'README.md': '',
    'infra/app.ts': '',
    'infra/stacks/one.ts': '',
    'infra/notes.md': '',
    'cdk.out/manifest.json': '{}',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  for (const path of [...Object.keys(files), 'infra', 'infra/stacks']) touch(dir, path, 1000);
  touch(dir, 'cdk.out/manifest.json', 2000);
  return dir;
}

function touch(dir: string, path: string, seconds: number): void {
  utimesSync(join(dir, path), seconds, seconds);
}

describe('synthNeeded: does `npm start` need cdk synth', () => {
  it('says no when cdk.out is newer than every source', () => {
    expect(synthNeeded(project())).toBeUndefined();
  });

  it('says yes, naming the file, when a source changed after the synth', () => {
    for (const [path, reason] of [
      ['infra/stacks/one.ts', 'infra/stacks/one.ts changed'],
      ['app.config.json', 'app.config.json changed'],
      ['package.json', 'package.json changed'],
    ]) {
      const dir = project();
      touch(dir, path, 3000);
      expect(synthNeeded(dir)).toBe(reason);
    }
  });

  it('says yes when a source was deleted (its directory changed)', () => {
    const dir = project();
    rmSync(join(dir, 'infra/stacks/one.ts'));
    touch(dir, 'infra/stacks', 3000);
    expect(synthNeeded(dir)).toBe('infra/stacks changed');
  });

  it('says yes when cdk.out was synthesized from another config file, or the config outside the globs changed', () => {
    const dir = project();
    mkdirSync(join(dir, 'examples'));
    writeFileSync(join(dir, 'examples/org.json'), '{}');
    touch(dir, 'examples/org.json', 1000);
    expect(synthNeeded(dir, undefined, 'examples/org.json')).toBe('cdk.out was synthesized from opsflow.config.json, not examples/org.json');
    writeFileSync(join(dir, 'cdk.out/opsflow-config.txt'), 'examples/org.json');
    expect(synthNeeded(dir, undefined, 'examples/org.json')).toBeUndefined();
    expect(synthNeeded(dir)).toBe('cdk.out was synthesized from examples/org.json, not opsflow.config.json');
    touch(dir, 'examples/org.json', 3000);
    expect(synthNeeded(dir, undefined, 'examples/org.json')).toBe('examples/org.json changed');
  });

  it('ignores files outside the watched globs and those they exclude', () => {
    const dir = project();
    touch(dir, 'README.md', 3000);
    touch(dir, 'infra/notes.md', 3000);
    expect(synthNeeded(dir)).toBeUndefined();
  });

  it('says yes when it cannot tell: no cdk.out, no watch.include, a glob it does not read', () => {
    const noOut = project();
    rmSync(join(noOut, 'cdk.out'), { recursive: true });
    expect(synthNeeded(noOut)).toBe('cdk.out has no manifest');
    expect(synthNeeded(project({ app: 'x' }))).toBe("cdk.json's watch.include does not say which files the app reads");
    expect(synthNeeded(project({ app: 'x', watch: { include: ['{infra,lib}/**'] } }))).toBe("cdk.json's watch.include has a glob this check does not read");
  });
});
