import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK, MARKER, readJournal, resetStateDir, StateDir, StateError } from '../../local/storage';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'opsflow-storage-')), 'state');
const journalFiles = (root: string) =>
  readdirSync(root)
    .filter((f) => /^journal\.\d+\.log$/.test(f))
    .sort();

describe('StateDir journal', () => {
  it('has a change on disk once commit resolves, and reads it back after a reopen', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    const store = state.store<{ n: number }>('things');

    // Act
    store.put('a', { n: 1 });
    store.put('b', { n: 2 });
    store.delete('a');
    await state.commit();
    const onDisk = readJournal(root).get('things');
    state.close();
    const reopened = new StateDir(root).store<{ n: number }>('things');

    // Assess
    expect(onDisk && Object.fromEntries(onDisk)).toEqual({ b: { n: 2 } });
    expect([...reopened.entries()]).toEqual([['b', { n: 2 }]]);
  });

  it('answers a commit that is still waiting when the state is closed: the close wrote its changes', async () => {
    // Prepare: a change queued and a request waiting for it to be durable (a health probe while a deploy fails)
    const root = fresh();
    const state = new StateDir(root);
    state.store<number>('things').put('a', 1);
    const waiting = state.commit();

    // Act
    state.close();

    // Assess: it resolves (it hung before, and so did the request waiting on it), and the change is on disk
    await expect(waiting).resolves.toBeUndefined();
    expect(readJournal(root).get('things')?.get('a')).toBe(1);
  });

  it('appends a change instead of rewriting the state (a change costs what it changes)', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    const store = state.store<string>('big');
    for (let i = 0; i < 200; i++) store.put(`k${i}`, 'x'.repeat(1000));
    await state.commit();
    const before = statSync(join(root, journalFiles(root)[0])).size;

    // Act
    store.put('k0', 'y');
    await state.commit();
    const after = statSync(join(root, journalFiles(root)[0])).size;

    // Assess
    expect(after - before).toBeLessThan(100);
  });

  it('drops a last line cut short by a crash (never acknowledged) and keeps the rest', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    state.store('s').put('kept', 1);
    await state.commit();
    state.close();
    appendFileSync(join(root, journalFiles(root)[0]), '{"s":"s","k":"torn","v":');

    // Act
    const reopened = new StateDir(root);

    // Assess
    expect([...reopened.store('s').keys()]).toEqual(['kept']);
    expect(readFileSync(join(root, journalFiles(root)[0]), 'utf8').endsWith('\n')).toBe(true);
  });

  it('refuses a corrupt journal naming the file, the line and the fix', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    state.store('s').put('a', 1);
    await state.commit();
    state.close();
    const file = join(root, journalFiles(root)[0]);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"k":"a"', '"k":"a" garbage'));

    // Act
    const open = () => new StateDir(root);

    // Assess
    expect(open).toThrow(StateError);
    expect(open).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at line 2 .*npm run reset`));
  });

  it('refuses an empty or headerless journal that is not the newest file', () => {
    // Prepare
    const root = fresh();
    new StateDir(root).close();
    writeFileSync(join(root, 'journal.1.log'), 'null\n');

    // Act / Assess
    expect(() => new StateDir(root)).toThrow(/journal\.1\.log is corrupt at line 1 \(the line is not a journal record\)/);
  });

  it('compacts in the background: the journal shrinks, the records stay, newer changes survive', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root, { compactMinBytes: 50_000 });
    const store = state.store<string>('s');
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) store.put(`k${i}`, `${round}-${'x'.repeat(200)}`);
      await state.commit();
    }

    // Act
    await state.compacted();
    store.put('late', 'after compaction');
    await state.commit();
    // That commit may start one more compaction (rounds written while the last one ran can leave the journal long).
    await state.compacted();
    state.close();
    const reopened = new StateDir(root).store<string>('s');
    const bytes = journalFiles(root).reduce((n, f) => n + statSync(join(root, f)).size, 0);

    // Assess
    expect(reopened.size).toBe(51);
    expect(reopened.get('k7')).toMatch(/^19-/);
    expect(reopened.get('late')).toBe('after compaction');
    // About 230 kB were written; once no compaction runs, the journal is below the 50 kB threshold (or twice the live
    // records), however the rounds fell against the background compactions.
    expect(bytes).toBeLessThan(50_000);
  });

  it('fails the commit on a full disk, says so in health, keeps the change and saves it once the disk recovers', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    const store = state.store<number>('s');
    store.put('before', 1);
    await state.commit();
    let fault: string | undefined = 'ENOSPC';
    state.writeFault = () => fault;

    // Act
    store.put('during', 2);
    const failed = await state.commit().then(
      () => undefined,
      (err: Error) => err,
    );
    const health = state.health();
    fault = undefined;
    store.put('after', 3);
    await state.commit();
    const recovered = state.health();
    state.close();

    // Assess
    expect(failed?.message).toMatch(/could not save state to .*journal\.1\.log: ENOSPC/);
    expect(health).toMatchObject({ ok: false, pending: 1 });
    expect(health.error).toMatch(/ENOSPC/);
    expect(recovered).toMatchObject({ ok: true, pending: 0 });
    expect(Object.fromEntries(readJournal(root).get('s')!)).toEqual({ before: 1, during: 2, after: 3 });
  });

  it('creates its files readable by this user only (0600) in a 0700 directory', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    state.lock();
    state.store('s').put('secret', 'task token');
    await state.commit();

    // Act
    const modes = Object.fromEntries(readdirSync(root).map((f) => [f, statSync(join(root, f)).mode & 0o777]));
    const dirMode = statSync(root).mode & 0o777;
    state.close();

    // Assess
    expect(dirMode).toBe(0o700);
    expect(modes).toEqual({ [MARKER]: 0o600, [LOCK]: 0o600, 'journal.1.log': 0o600 });
  });
});

describe('ownership and reset', () => {
  it('refuses to use a directory holding files it did not create', () => {
    // Prepare
    const root = fresh();
    mkdirSync(root);
    writeFileSync(join(root, 'thesis.tex'), 'mine');

    // Act / Assess
    expect(() => new StateDir(root)).toThrow(/holds files opsflow did not create \(thesis\.tex\)/);
    expect(readdirSync(root)).toEqual(['thesis.tex']);
  });

  it('reset refuses a directory without the ownership marker and deletes nothing', () => {
    // Prepare
    const root = fresh();
    mkdirSync(root);
    writeFileSync(join(root, 'unrelated.txt'), 'keep me');

    // Act / Assess
    expect(() => resetStateDir(root)).toThrow(/not an opsflow state directory .*refusing to delete it/);
    expect(readFileSync(join(root, 'unrelated.txt'), 'utf8')).toBe('keep me');
  });

  it('reset refuses while another process holds the lock, and deletes its own directory once free', async () => {
    // Prepare
    const root = fresh();
    const state = new StateDir(root);
    state.close();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(join(root, LOCK), `${other.pid}\n`);

    // Act
    let refused: Error | undefined;
    try {
      resetStateDir(root);
    } catch (err) {
      refused = err as Error;
    }
    const stillThere = existsSync(join(root, MARKER));
    const exited = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await exited;
    const cleared = resetStateDir(root);

    // Assess
    expect(refused?.message).toMatch(new RegExp(`in use by the opsflow runtime with pid ${other.pid} `));
    expect(stillThere).toBe(true);
    expect(cleared).toBe(true);
    expect(existsSync(root)).toBe(false);
  });

  it('a second runtime cannot take the lock of a live one; a stale lock (dead pid) is taken over', async () => {
    // Prepare
    const root = fresh();
    new StateDir(root).close();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(join(root, LOCK), `${other.pid}\n`);

    // Act
    const live = (() => {
      try {
        new StateDir(root).lock();
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    const exited = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await exited;
    const state = new StateDir(root);
    state.lock();
    const holder = readFileSync(join(root, LOCK), 'utf8').trim();
    state.close();

    // Assess
    expect(live?.message).toMatch(/in use by another opsflow runtime/);
    expect(holder).toBe(String(process.pid));
    expect(existsSync(join(root, LOCK))).toBe(false);
  });
});
