/**
 * vitest globalSetup: the test run gets a temp directory of its own, removed at the end, so the system's is as it was
 * whatever the tests leave. os.tmpdir() reads TMPDIR on every call, the test workers and every process they start
 * inherit it, and other processes on the machine keep writing to the usual one: what is in it at the end is this run's.
 *
 * A leftover whose name matches MUST_NOT_LEAVE fails the run. The others are listed (stderr) and removed: some tests
 * still leave their mkdtemp directories (opsflow-storage-*, opsflow-synth-*, opsflow-e2e-* given to the harness, ...); add a pattern here once they clean up.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** CDK's assemblies of apps synthesized without an outdir (test/setup.ts removes them after each file). */
const MUST_NOT_LEAVE = [/^cdk\.out/];

export default function setup(): () => void {
  const outer = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (outer === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = outer;
    const left = readdirSync(dir).sort();
    rmSync(dir, { recursive: true, force: true });
    const forbidden = left.filter((name) => MUST_NOT_LEAVE.some((pattern) => pattern.test(name)));
    const others = left.filter((name) => !forbidden.includes(name));
    if (others.length > 0)
      console.warn(`test/temp-dir.ts: the tests left ${others.length} entries in their temp directory (now removed): ${others.join(', ')}`);
    if (forbidden.length > 0)
      throw new Error(`the tests left ${forbidden.length} entries they must remove in their temp directory ${dir}: ${forbidden.join(', ')}`);
  };
}
