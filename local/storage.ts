/**
 * Durable local state: named stores of keyed JSON records, kept in memory and journaled to disk.
 *
 * Why a journal and not JSON files or an embedded database:
 * - rewriting one whole JSON file per service on every change costs the whole state each time (46 MB and 0.5 s
 *   for a large state), and done on a timer it lets a crash lose acknowledged work. Here a change appends one
 *   line: it costs what it changes, and the line is on disk (write + fdatasync) before the caller answers;
 * - concurrent changes share one fsync (group commit): a batch of 200 StartExecution calls costs a few fsyncs;
 * - no dependency: Node 20 has no node:sqlite, and better-sqlite3 (v12, v13 crashes on Node 20) has no
 *   prebuilt binary reachable here, so it would compile from source on every `npm ci`.
 *
 * Layout of the state directory (0700, files 0600):
 *   opsflow-state.json        ownership marker: `opsflow reset` deletes only a directory holding it
 *   runtime.lock              pid of the runtime using the directory (refuses a second one, and reset)
 *   journal.<gen>.log         JSON lines `{"s":store,"k":key,"v":value}` (or `"d":1` for a delete). A file whose
 *                             first line says `"base":true` holds every live record as of its generation;
 *                             loading starts at the newest base and replays the newer generations.
 * Compaction (when dead lines outweigh live ones) switches appends to a new generation and writes the new base
 * in small slices between requests, so the runtime never stalls for the size of its state.
 *
 * Usage:
 *   const state = new StateDir('.opsflow');          // creates/validates the directory
 *   const executions = state.store<Execution>('sfn.executions');
 *   executions.put(arn, record);                      // in memory now, queued for the journal
 *   await state.commit();                             // everything queued so far is on disk (or this rejects)
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  write,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const MARKER = 'opsflow-state.json';
export const LOCK = 'runtime.lock';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const JOURNAL = /^journal\.(\d+)\.log$/;
/** Compact once the journal holds this many bytes and more than twice the live data. */
const COMPACT_MIN_BYTES = 8 * 1024 * 1024;
/** Records serialized per slice of a compaction, between which requests run. */
const COMPACT_SLICE = 2_000;

/** The state directory is unusable as it stands; the message names the file and the fix. */
export class StateError extends Error {
  override name = 'StateError';
}

export interface StorageHealth {
  ok: boolean;
  /** The last write failure, while it lasts: the change was not saved and the request that made it failed. */
  error?: string;
  since?: string;
  /** Changes held in memory that are not on disk yet (retried every second). */
  pending: number;
  journalBytes: number;
}

/** A named set of records keyed by string, all in memory, every change journaled. */
export class Store<T> {
  private readonly records = new Map<string, T>();
  /** Bytes of each record's last journal line, to know when compaction pays. */
  private readonly sizes = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly dir: StateDir,
  ) {}

  get size(): number {
    return this.records.size;
  }

  get(key: string): T | undefined {
    return this.records.get(key);
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  keys(): IterableIterator<string> {
    return this.records.keys();
  }

  values(): IterableIterator<T> {
    return this.records.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.records.entries();
  }

  /** Sets the record now and queues it for the journal as it is at this moment (later edits need another put). */
  put(key: string, value: T): void {
    this.records.set(key, value);
    const line = journalLine(this.name, key, value);
    this.dir.account(this.sizes.get(key) ?? 0, line.length);
    this.sizes.set(key, line.length);
    this.dir.append(line);
  }

  delete(key: string): boolean {
    if (!this.records.delete(key)) return false;
    const line = `${JSON.stringify({ s: this.name, k: key, d: 1 })}\n`;
    this.dir.account(this.sizes.get(key) ?? 0, 0, line.length);
    this.sizes.delete(key);
    this.dir.append(line);
    return true;
  }

  /** @internal replay from the journal */
  load(key: string, value: T | undefined, bytes: number): void {
    if (value === undefined) {
      this.records.delete(key);
      this.sizes.delete(key);
    } else {
      this.records.set(key, value);
      this.sizes.set(key, bytes);
    }
  }

  /** @internal live bytes of this store */
  liveBytes(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }
}

function journalLine(store: string, key: string, value: unknown): string {
  return `${JSON.stringify({ s: store, k: key, v: value })}\n`;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The state directory (`.opsflow/` by default): ownership marker, pid lock, and the journal of every store.
 * Construction validates and loads it; it throws StateError (naming the file and the fix) rather than start
 * from a guess.
 */
export class StateDir {
  /**
   * A simulated write failure: an errno code ('ENOSPC', 'EIO', ...) fails every journal write with it, as a full
   * disk would, without filling one. The runtime wires it to the `diskFull` fault.
   */
  writeFault: () => string | undefined = () => undefined;
  private readonly stores = new Map<string, Store<unknown>>();
  /** Replayed records for stores nobody asked for yet. */
  private readonly loaded = new Map<string, Map<string, { value: unknown; bytes: number }>>();
  private gen = 0;
  private fd = -1;
  private fileBytes = 0;
  private journalBytes = 0;
  private liveBytes = 0;
  private pending: string[] = [];
  private queuedSeq = 0;
  private durableSeq = 0;
  private waiters: Waiter[] = [];
  private writing = false;
  private scheduled = false;
  private compacting?: Promise<void>;
  private failure?: { error: string; since: string };
  private retryTimer?: NodeJS.Timeout;
  private locked = false;
  private closed = false;

  private readonly compactMinBytes: number;

  /** `compactMinBytes`: journal size below which compaction never runs. @default 8 MiB */
  constructor(
    readonly root: string,
    options: { compactMinBytes?: number } = {},
  ) {
    this.compactMinBytes = options.compactMinBytes ?? COMPACT_MIN_BYTES;
    claim(root);
    this.open();
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** The store of that name (one instance per name), with what the journal holds for it. */
  store<T>(name: string): Store<T> {
    let store = this.stores.get(name);
    if (!store) {
      store = new Store<unknown>(name, this);
      for (const [k, { value, bytes }] of this.loaded.get(name) ?? []) store.load(k, value, bytes);
      this.loaded.delete(name);
      this.stores.set(name, store);
    }
    return store as Store<T>;
  }

  /** A position in the stream of changes, for `commit(since)`. */
  mark(): number {
    return this.queuedSeq;
  }

  /**
   * Resolves once every change queued before the call is written and flushed; rejects with the write error.
   * With `since` (a `mark()`), resolves at once when nothing changed after it: a request that changed nothing
   * (a health probe during a disk failure) is not failed for others' changes.
   */
  commit(since?: number): Promise<void> {
    if (this.durableSeq >= this.queuedSeq || since === this.queuedSeq) return Promise.resolve();
    const seq = this.queuedSeq;
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when no compaction is running (tests, benchmarks). */
  async compacted(): Promise<void> {
    await this.compacting;
  }

  health(): StorageHealth {
    return { ok: !this.failure, ...this.failure, pending: this.pending.length, journalBytes: this.journalBytes };
  }

  /** Takes the pid lock; throws StateError when a live process holds it. A stale lock (dead pid) is taken over. */
  lock(): void {
    takeLock(this.root);
    this.locked = true;
  }

  /** Writes what is pending synchronously and releases the lock. Further changes are not journaled. */
  close(): void {
    if (this.closed) return;
    try {
      this.flushSync();
    } catch (err) {
      console.error(`opsflow: could not save the last changes to ${this.journalFile(this.gen)}: ${(err as Error).message}`);
    }
    // A request waiting for its changes to be durable gets its answer now: they are on disk, or never will be.
    this.settle(() => true, new Error(`the runtime stopped before ${this.journalFile(this.gen)} was written`));
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.locked) releaseLock(this.root);
    this.locked = false;
  }

  /** @internal a store's change, queued */
  append(line: string): void {
    if (this.closed) return;
    this.pending.push(line);
    this.queuedSeq += 1;
    this.schedule();
  }

  /** @internal live-size bookkeeping: `before` bytes replaced by `after`, plus `dead` bytes of tombstone */
  account(before: number, after: number, dead = 0): void {
    this.liveBytes += after - before;
    this.journalBytes += after + dead;
  }

  // ---- journal --------------------------------------------------------------------------------------

  private journalFile(gen: number): string {
    return this.path(`journal.${gen}.log`);
  }

  private open(): void {
    const gens = readdirSync(this.root)
      .map((f) => JOURNAL.exec(f))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    // Start at the newest base; older generations are leftovers of a compaction cut short.
    let start = 0;
    for (let i = gens.length - 1; i >= 0; i--) {
      if (isBase(this.journalFile(gens[i]))) {
        start = i;
        break;
      }
    }
    const replay = gens.slice(start);
    for (const [i, gen] of replay.entries()) this.replay(this.journalFile(gen), i === replay.length - 1);
    for (const gen of gens.slice(0, start)) unlinkSync(this.journalFile(gen));
    this.gen = replay.at(-1) ?? 1;
    const file = this.journalFile(this.gen);
    const fresh = !existsSync(file) || statSync(file).size === 0;
    this.fd = openSync(file, 'a', FILE_MODE);
    chmodSync(file, FILE_MODE);
    if (fresh) {
      writeSync(this.fd, header(false));
      fdatasyncSync(this.fd);
      fsyncDir(this.root);
    }
    this.fileBytes = statSync(file).size;
  }

  private replay(file: string, last: boolean): void {
    const torn = replayFile(file, last, (store, key, value, bytes) => {
      const records = this.loaded.get(store) ?? new Map<string, { value: unknown; bytes: number }>();
      this.loaded.set(store, records);
      const before = records.get(key)?.bytes ?? 0;
      if (value === undefined) records.delete(key);
      else records.set(key, { value, bytes });
      this.account(before, value === undefined ? 0 : bytes, value === undefined ? bytes : 0);
    });
    // A line cut short by a crash was never acknowledged (the answer waits for the flush): drop it.
    if (torn !== undefined) truncate(file, torn);
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.closed) return;
    this.scheduled = true;
    // setImmediate: every change made in this turn of the event loop (and by I/O callbacks queued with it) shares
    // one write and one flush.
    setImmediate(() => {
      this.scheduled = false;
      void this.writeBatch();
    });
  }

  private async writeBatch(): Promise<void> {
    if (this.writing || this.closed || this.pending.length === 0) return;
    this.writing = true;
    const lines = this.pending;
    const seq = this.queuedSeq;
    this.pending = [];
    const data = Buffer.from(lines.join(''));
    const fd = this.fd;
    const before = this.fileBytes;
    try {
      const fault = this.writeFault();
      if (fault) throw Object.assign(new Error(`${fault}: simulated write failure, write '${this.journalFile(this.gen)}'`), { code: fault });
      await writeAll(fd, data);
      await datasync(fd);
      this.fileBytes = before + data.length;
      this.durableSeq = seq;
      this.failure = undefined;
      this.settle((w) => w.seq <= seq, undefined);
    } catch (err) {
      // Nothing half-written may stay in the journal: cut it back, keep the lines for a retry, fail the callers.
      try {
        if (!this.closed) ftruncateSync(fd, before);
      } catch {
        // the retry truncates again
      }
      this.pending = lines.concat(this.pending);
      const message = `could not save state to ${this.journalFile(this.gen)}: ${(err as Error).message}`;
      this.failure = { error: message, since: this.failure?.since ?? new Date().toISOString() };
      this.settle((w) => w.seq <= seq, new Error(message));
      this.retryLater();
    } finally {
      this.writing = false;
    }
    if (this.pending.length > 0 && !this.failure) this.schedule();
    else if (!this.failure) this.maybeCompact();
  }

  private settle(which: (w: Waiter) => boolean, err: Error | undefined): void {
    const done = this.waiters.filter(which);
    this.waiters = this.waiters.filter((w) => !which(w));
    for (const w of done) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, 1000);
    this.retryTimer.unref();
  }

  private flushSync(): void {
    if (this.fd < 0 || this.pending.length === 0) return;
    const fault = this.writeFault();
    if (fault) throw new Error(`${fault}: simulated write failure`);
    const data = Buffer.from(this.pending.join(''));
    writeSync(this.fd, data);
    fdatasyncSync(this.fd);
    this.pending = [];
    this.fileBytes += data.length;
    this.durableSeq = this.queuedSeq;
    this.settle((w) => w.seq <= this.durableSeq, undefined);
  }

  // ---- compaction -----------------------------------------------------------------------------------

  private maybeCompact(): void {
    if (this.compacting || this.journalBytes < this.compactMinBytes || this.journalBytes < 2 * this.liveBytes) return;
    this.compacting = this.compact().then(
      () => (this.compacting = undefined),
      (err: Error) => {
        this.compacting = undefined;
        // The journal stays as it was: correct, only longer. The next batch tries again.
        console.error(`opsflow: compacting ${this.root} failed (state is safe, the journal stays long): ${err.message}`);
      },
    );
  }

  /**
   * Appends move to generation G+1 at once; the base for G is then written in slices from the records' current
   * values. A value newer than the switch is harmless: G+1 replays after the base and its last line wins.
   */
  private async compact(): Promise<void> {
    const base = this.gen;
    const next = base + 1;
    const nextFile = this.journalFile(next);
    const fd = openSync(nextFile, 'a', FILE_MODE);
    writeSync(fd, header(false));
    fdatasyncSync(fd);
    fsyncDir(this.root);
    const oldFd = this.fd;
    this.fd = fd;
    this.gen = next;
    this.fileBytes = statSync(nextFile).size;
    closeSync(oldFd);

    const keys = [...this.stores.values()].map((s) => ({ store: s, keys: [...s.keys()] }));
    const unclaimed = [...this.loaded.entries()];
    const tmp = this.path(`journal.${base}.tmp`);
    const out: FileHandle = await open(tmp, 'w', FILE_MODE);
    let written = 0;
    try {
      await out.write(header(true));
      let chunk: string[] = [];
      const drain = async () => {
        if (!chunk.length) return;
        const text = chunk.join('');
        chunk = [];
        written += Buffer.byteLength(text);
        await out.write(text);
      };
      for (const { store, keys: ks } of keys) {
        for (const k of ks) {
          const v = store.get(k);
          if (v !== undefined) chunk.push(journalLine(store.name, k, v));
          if (chunk.length >= COMPACT_SLICE) {
            await drain();
            if (this.closed) return;
          }
        }
      }
      for (const [name, records] of unclaimed) for (const [k, { value }] of records) chunk.push(journalLine(name, k, value));
      await drain();
      await out.datasync();
    } finally {
      await out.close();
    }
    if (this.closed) return;
    renameSync(tmp, this.journalFile(base));
    fsyncDir(this.root);
    for (const f of readdirSync(this.root)) {
      const m = JOURNAL.exec(f);
      if (m && Number(m[1]) < base) unlinkSync(this.path(f));
    }
    // The live set written to the base plus what G+1 holds so far.
    this.journalBytes = written + this.fileBytes;
  }
}

/**
 * Replays one journal file; returns the byte offset of a torn last line (only allowed in the newest file).
 * `value` undefined means the record was deleted.
 */
function replayFile(file: string, last: boolean, apply: (store: string, key: string, value: unknown, bytes: number) => void): number | undefined {
  const text = readFileSync(file, 'utf8');
  let at = 0;
  let lineNo = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    lineNo += 1;
    if (end < 0) {
      if (last) return Buffer.byteLength(text.slice(0, at));
      throw corrupt(file, lineNo, 'the line is cut short');
    }
    const line = text.slice(at, end);
    at = end + 1;
    let entry: { s?: unknown; k?: unknown; v?: unknown; d?: unknown; opsflow?: unknown };
    try {
      entry = JSON.parse(line);
    } catch (err) {
      throw corrupt(file, lineNo, (err as Error).message);
    }
    if (typeof entry !== 'object' || entry === null) throw corrupt(file, lineNo, 'the line is not a journal record');
    if (lineNo === 1) {
      if (entry.opsflow !== 'journal') throw corrupt(file, 1, 'it does not start with the opsflow journal header');
      continue;
    }
    if (typeof entry.s !== 'string' || typeof entry.k !== 'string' || (entry.d !== 1 && entry.v === undefined)) {
      throw corrupt(file, lineNo, 'the line is not a journal record');
    }
    apply(entry.s, entry.k, entry.d === 1 ? undefined : entry.v, line.length + 1);
  }
  if (text.length === 0) {
    // Created but the header never made it to disk: only the newest file can be that young.
    if (last) return 0;
    throw corrupt(file, 1, 'the file is empty');
  }
  return undefined;
}

/** What the journal on disk holds, store by store, without opening the directory for writing (tests, diagnostics). */
export function readJournal(root: string): Map<string, Map<string, unknown>> {
  const gens = readdirSync(root)
    .map((f) => JOURNAL.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let start = 0;
  for (let i = gens.length - 1; i >= 0; i--)
    if (isBase(join(root, `journal.${gens[i]}.log`))) {
      start = i;
      break;
    }
  const stores = new Map<string, Map<string, unknown>>();
  const replay = gens.slice(start);
  for (const [i, gen] of replay.entries()) {
    replayFile(join(root, `journal.${gen}.log`), i === replay.length - 1, (store, key, value) => {
      const records = stores.get(store) ?? new Map<string, unknown>();
      stores.set(store, records);
      if (value === undefined) records.delete(key);
      else records.set(key, value);
    });
  }
  return stores;
}

function header(base: boolean): string {
  return `${JSON.stringify({ opsflow: 'journal', version: 1, base })}\n`;
}

function isBase(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(200);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const first = buf.subarray(0, n).toString('utf8').split('\n')[0];
    return /"base":true/.test(first);
  } finally {
    closeSync(fd);
  }
}

function truncate(file: string, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, bytes);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function corrupt(file: string, line: number, reason: string): StateError {
  return new StateError(
    `the state file ${file} is corrupt at line ${line} (${reason}). The runtime did not start and changed nothing. ` +
      `To start from empty state, move that file away to keep it, or run \`npm run reset\` (\`npx opsflow reset\`), which deletes the whole state directory.`,
  );
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) => {
      write(fd, data, offset, data.length - offset, null, (err, n) => {
        if (err) return reject(err);
        if (offset + n < data.length) step(offset + n);
        else resolve();
      });
    };
    step(0);
  });
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Makes a directory's entries (files created, renamed or removed in it) durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a whole file atomically and durably (temp file, fsync, rename, fsync of the directory), mode 0600. */
export function writeDurable(file: string, data: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', FILE_MODE);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    // One write call moves at most about 2 GiB on Linux: loop until all of it is written.
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

// ---- ownership and lock -------------------------------------------------------------------------------

/**
 * Makes `root` the runtime's own directory: creates it (0700) with the marker, or accepts it when the marker is
 * there. Refuses any other non-empty directory before changing anything in it (not even its mode): only a
 * directory the runtime marked is ever its own, whatever it holds (`logs/` and `outbox/` are names anyone uses).
 */
export function claim(root: string): void {
  if (!existsSync(root)) mkdirSync(root, { recursive: true, mode: DIR_MODE });
  if (!statSync(root).isDirectory()) throw new StateError(`${root} is not a directory: set OPSFLOW_STATE_DIR to a directory of its own for opsflow's state`);
  const owner = ownership(root);
  if (owner === 'corrupt') throw corruptMarker(root);
  if (owner === 'foreign') {
    const files = readdirSync(root);
    throw new StateError(
      `${root} holds files opsflow did not create (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''}) and no ${MARKER}: ` +
        'opsflow keeps its state only in a directory of its own, and changed nothing here. Point OPSFLOW_STATE_DIR at a new or empty directory.',
    );
  }
  chmodSync(root, DIR_MODE);
  if (owner === 'owned') return;
  writeDurable(join(root, MARKER), `${JSON.stringify(MARKER_CONTENT, null, 1)}\n`);
}

const OWNER = 'opsflow local runtime';
const MARKER_CONTENT = { owner: OWNER, purpose: 'state directory; `opsflow reset` deletes it whole' };

/**
 * Whose directory `root` is: `owned` (a valid marker), `empty` (nothing in it: free to claim), `corrupt` (a marker
 * that does not parse), or `foreign` (anything else, including a marker naming another owner).
 */
function ownership(root: string): 'owned' | 'empty' | 'corrupt' | 'foreign' {
  const file = join(root, MARKER);
  // A marker write cut short (writeDurable's temp file) leaves the directory as empty as it was.
  if (!existsSync(file)) return readdirSync(root).every((f) => f.startsWith(`${MARKER}.`) && f.endsWith('.tmp')) ? 'empty' : 'foreign';
  let marker: unknown;
  try {
    marker = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 'corrupt';
  }
  return (marker as { owner?: unknown } | null)?.owner === OWNER ? 'owned' : 'foreign';
}

function corruptMarker(root: string): StateError {
  const file = join(root, MARKER);
  let reason = '';
  try {
    JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    reason = ` (${(err as Error).message})`;
  }
  return new StateError(
    `${file} is damaged${reason}: it is the marker that makes ${root} opsflow's state directory, so opsflow neither uses nor deletes the ` +
      `directory while it cannot read it. If ${root} is opsflow's state, restore the marker and keep your state: ` +
      `echo '${JSON.stringify({ owner: OWNER })}' > ${file}. To start from empty state instead, delete ${root} yourself.`,
  );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the directory's lock, if that process is alive. */
export function lockHolder(root: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(root, LOCK), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function takeLock(root: string): void {
  const file = join(root, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: FILE_MODE });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = lockHolder(root);
      if (holder === process.pid) return;
      if (holder !== undefined)
        throw new StateError(
          `${root} is in use by another opsflow runtime (pid ${holder}, see ${file}): stop it first, or give this one its own OPSFLOW_STATE_DIR`,
        );
      // The process that held it is gone: the lock is stale.
      rmSync(file, { force: true });
    }
  }
  throw new StateError(`could not take the lock ${file}`);
}

function releaseLock(root: string): void {
  if (lockHolder(root) === process.pid) rmSync(join(root, LOCK), { force: true });
}

/**
 * `opsflow reset`: deletes the state directory, only when it is opsflow's own (its marker is there) and no runtime
 * holds its lock. Whatever answers on the runtime's port does not matter: another runtime may use another
 * directory. Returns false when there was nothing to delete.
 */
export function resetStateDir(root: string): boolean {
  if (!existsSync(root)) return false;
  if (!statSync(root).isDirectory()) throw new StateError(`${root} is not a directory: refusing to delete it`);
  const owner = ownership(root);
  if (owner === 'corrupt') throw corruptMarker(root);
  if (owner !== 'owned') {
    throw new StateError(`${root} is not an opsflow state directory (no ${MARKER} in it): refusing to delete it. Remove it yourself if you really mean to.`);
  }
  const holder = lockHolder(root);
  if (holder !== undefined)
    throw new StateError(`${root} is in use by the opsflow runtime with pid ${holder} (see ${join(root, LOCK)}): stop it before resetting its state`);
  // Taken, not only read: a runtime starting now waits for the lock rather than writing into a deleted directory.
  takeLock(root);
  rmSync(root, { recursive: true, force: true });
  return true;
}
