/** A copy of the project as a clone has it, for tests that run its commands: the app's files, and the installed node_modules linked. */
import { cpSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const PROJECT_FILES = [
  'package.json',
  'package-lock.json',
  'cdk.json',
  'tsconfig.json',
  'opsflow.config.json',
  'opsflow.org.config.json',
  'tag-policy.json',
  'tag-policy.schema.json',
  'README.md',
  'infra',
  'workflows',
  'tasks',
  'local',
];

/** Copies the project, and `extra` files (tests, their config), into `dir`. */
export function copyProject(dir: string, extra: readonly string[] = []): void {
  for (const f of [...PROJECT_FILES, ...extra]) cpSync(f, join(dir, f), { recursive: true });
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
}
