/**
 * Local files: `opsflow reset` deletes only a directory the runtime marked as its own and decides "in use" by that
 * directory's lock, not by whatever answers on the port; `opsflow up` refuses a foreign directory before changing
 * anything in it; a damaged marker gets a message that names the file and the fix. Driven through the CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER, StateDir } from '../../local/storage';
import { startRuntime, type Harness } from '../e2e/harness';

const exec = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'opsflow-local-files-'));
let n = 0;
const dir = () => join(base, `d${n++}`);
/** The CLI with OPSFLOW_STATE_DIR set; `endpoint` is where it would look for a runtime (a closed port by default). */
const opsflow = (stateDir: string, endpoint: string, ...args: string[]) =>
  exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
    env: { ...process.env, OPSFLOW_STATE_DIR: stateDir, OPSFLOW_ENDPOINT: endpoint },
  });
const CLOSED = 'http://127.0.0.1:9';

let h: Harness;
beforeAll(async () => {
  h = await startRuntime({ seedFleet: false });
});
afterAll(() => h?.stop());

describe('opsflow reset', () => {
  it.each([['logs'], ['outbox'], ['logs', 'outbox']])('refuses a directory holding only %s/ (no marker) and deletes nothing', async (...subdirs) => {
    const root = dir();
    for (const d of subdirs) {
      mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, d, 'keep.txt'), 'mine');
    }
    await expect(opsflow(root, CLOSED, 'reset')).rejects.toMatchObject({
      stderr: expect.stringMatching(/is not an opsflow state directory \(no opsflow-state\.json in it\): refusing to delete it/),
    });
    for (const d of subdirs) expect(readFileSync(join(root, d, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('clears an unlocked state directory even while a runtime with another state directory answers on the port', async () => {
    const root = dir();
    new StateDir(root).close();
    const { stdout } = await opsflow(root, h.endpoint, 'reset');
    expect(stdout).toContain(`cleared ${root}`);
    expect(existsSync(root)).toBe(false);
  });

  it('refuses the directory of a running runtime by its lock, whatever answers on the port', async () => {
    await expect(opsflow(h.stateDir, CLOSED, 'reset')).rejects.toMatchObject({
      stderr: expect.stringMatching(new RegExp(`is in use by the opsflow runtime with pid ${process.pid} .*stop it before resetting its state`)),
    });
    expect(existsSync(join(h.stateDir, MARKER))).toBe(true);
  });
});

describe('opsflow up', () => {
  it('refuses a foreign directory before changing anything in it (not even its mode)', async () => {
    const root = dir();
    mkdirSync(root, { mode: 0o755 });
    writeFileSync(join(root, 'thesis.tex'), 'mine');
    const before = statSync(root).mode & 0o777;
    await expect(opsflow(root, CLOSED, 'up', '--port', '0')).rejects.toMatchObject({
      stderr: expect.stringMatching(/holds files opsflow did not create \(thesis\.tex\) .*changed nothing here/),
    });
    expect(statSync(root).mode & 0o777).toBe(before);
    expect(readdirSync(root)).toEqual(['thesis.tex']);
  });
});

describe('a damaged opsflow-state.json', () => {
  it('up and reset name the file and the fix, and leave the state as it is', async () => {
    const root = dir();
    new StateDir(root).close();
    writeFileSync(join(root, MARKER), '{"owner": "opsflow lo');
    const files = readdirSync(root).sort();
    const fix = new RegExp(
      `${join(root, MARKER).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged .*restore the marker and keep your state: echo '\\{"owner":"opsflow local runtime"\\}' >`,
    );
    await expect(opsflow(root, CLOSED, 'up', '--port', '0')).rejects.toMatchObject({ stderr: expect.stringMatching(fix) });
    await expect(opsflow(root, CLOSED, 'reset')).rejects.toMatchObject({ stderr: expect.stringMatching(fix) });
    expect(readdirSync(root).sort()).toEqual(files);
    // The fix as the message gives it works.
    writeFileSync(join(root, MARKER), '{"owner":"opsflow local runtime"}\n');
    new StateDir(root).close();
  });
});
