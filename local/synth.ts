/**
 * Whether `cdk synth` has anything to do: cdk.out is current when it was written after every file synthesis reads
 * last changed, as make decides. The app says which files those are in cdk.json's `watch.include` (minus
 * `watch.exclude`), the globs `cdk watch` follows; cdk.json, package.json, package-lock.json and tsconfig.json count
 * too. A file added or deleted under a named directory changes that directory, so those count as well. An app whose
 * cdk.json names no `watch.include`, or a glob this check does not read, is always synthesized.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ALWAYS = ['cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json'];
/** The app's config file unless `-c config=<file>` names another (infra/app.ts). */
export const DEFAULT_CONFIG = 'opsflow.config.json';
/** A file in cdk.out naming the config it was synthesized from (written by infra/app.ts after each synth). */
export const SYNTHESIZED_CONFIG = 'opsflow-config.txt';
/** Never sources: what synthesis and npm write, and the runtime's state. */
const NEVER = new Set(['node_modules', 'cdk.out', '.git', '.opsflow']);

/** Why cdk.out must be synthesized again, or undefined when it is current. `config`: the config file it must come from. */
export function synthNeeded(projectDir: string, cdkOut = join(projectDir, 'cdk.out'), config = DEFAULT_CONFIG): string | undefined {
  const manifest = join(cdkOut, 'manifest.json');
  if (!existsSync(manifest)) return `${relative(projectDir, cdkOut) || cdkOut} has no manifest`;
  const marker = join(cdkOut, SYNTHESIZED_CONFIG);
  const built = existsSync(marker) ? readFileSync(marker, 'utf8') : DEFAULT_CONFIG;
  if (built !== config) return `cdk.out was synthesized from ${built}, not ${config}`;
  const synthesized = statSync(manifest).mtimeMs;
  let watch: { include?: unknown; exclude?: unknown } | undefined;
  try {
    watch = (JSON.parse(readFileSync(join(projectDir, 'cdk.json'), 'utf8')) as { watch?: typeof watch }).watch;
  } catch {
    return 'cdk.json cannot be read';
  }
  const include = strings(watch?.include);
  if (!include?.length) return "cdk.json's watch.include does not say which files the app reads";
  const exclude = (strings(watch?.exclude) ?? []).map(globRegExp);
  const roots = include.map((glob) => ({ glob, regexp: globRegExp(glob), base: staticPrefix(glob) }));
  if (roots.some((r) => r.base === undefined)) return "cdk.json's watch.include has a glob this check does not read";

  const newer = (path: string) => statSync(path).mtimeMs > synthesized;
  for (const file of [...ALWAYS, config]) if (existsSync(join(projectDir, file)) && newer(join(projectDir, file))) return `${file} changed`;
  for (const { regexp, base } of roots) {
    // Directories under a named one count (a deleted file); the project's own directory changes for other reasons.
    const changed = walk(
      projectDir,
      base!,
      (rel, isDir) => !exclude.some((x) => x.test(rel)) && (isDir ? base !== '' : regexp.test(rel)) && newer(join(projectDir, rel)),
    );
    if (changed) return `${changed} changed`;
  }
  return undefined;
}

function strings(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** `*` within a path segment, `**` across segments, `?` one character. */
function globRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** The directory (or file) a glob lies under: its segments before the first wildcard; undefined for braces or `..`. */
function staticPrefix(glob: string): string | undefined {
  if (/[{}[\]]/.test(glob) || glob.split('/').includes('..') || glob.startsWith('/')) return undefined;
  const segments = glob.split('/');
  const fixed = segments.slice(0, segments.findIndex((s) => /[*?]/.test(s)) === -1 ? segments.length : segments.findIndex((s) => /[*?]/.test(s)));
  return fixed.join('/');
}

/** The first path under `base` (itself included) for which `changed` holds, relative to the project. */
function walk(projectDir: string, base: string, changed: (rel: string, isDir: boolean) => boolean): string | undefined {
  const path = join(projectDir, base);
  if (!existsSync(path)) return undefined;
  const isDir = statSync(path).isDirectory();
  if (changed(base, isDir)) return base || '.';
  if (!isDir) return undefined;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (NEVER.has(entry.name)) continue;
    const found = walk(projectDir, base ? `${base}/${entry.name}` : entry.name, changed);
    if (found) return found;
  }
  return undefined;
}
