/**
 * The tailer: finds files by glob, follows them through rotation, frames their bytes into lines and
 * hands LineChunks to the pipeline; acknowledgements flow back and move each file's checkpoint.
 *
 *   globs ──scan──▶ track(file) ──schedule──▶ [ready queue] ──read one buffer──▶ LineFramer
 *     ▲  inotify (DirWatcher) / poll / rescan timers          ▲ round robin        │
 *     │                                                      └── more data? ──────┤
 *   CheckpointStore ◀── ack(chunk) ◀── pipeline ◀── sink.write(chunk) ◀──────── LineChunk
 *   (per-file FileWatermark: ordered, contiguous)     (a returned promise pauses all reading)
 *
 * Identity: a file is its device+inode, confirmed by a fingerprint (hash of its first bytes) and
 * by the marker of the saved offset (hash of the bytes just before it). A file's `fileId` names one
 * incarnation: one linear byte stream whose offsets only grow. Copytruncate and inode reuse start a
 * new incarnation with a new id, so (fileId, offset) never names two different lines.
 *
 * Durability: the checkpoint of a file only moves on acknowledgement (see FileWatermark), plus an
 * entry written when a file is first seen (its starting offset), so a restart never skips a line.
 * Duplicates after a crash are limited to chunks emitted but not yet acknowledged.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type CheckpointEntry, CheckpointStore, type LoadProblem } from '../checkpoint/checkpoint-store.ts';
import { FileWatermark, type MarkedOffset } from '../checkpoint/watermark.ts';
import { allocBytes, freeBytes } from '../model/byte-arena.ts';
import { type Clock, systemClock } from '../model/clock.ts';
import { TailConfigError } from '../model/errors.ts';
import type { ChunkAcknowledger, ChunkSink, LineChunk } from '../model/line-chunk.ts';
import type { Logger } from '../observe/logger.ts';
import { DirWatcher } from './dir-watcher.ts';
import { digest, fingerprintOf, MARKER_BYTES, markerAt, readAt, verifyEntry } from './file-identity.ts';
import { discoverFiles } from './glob-discovery.ts';
import { LineFramer } from './line-framer.ts';
import type { TailSettings, TailSource } from './tail-config.ts';

export interface TailerOptions {
  sources: readonly TailSource[];
  settings: TailSettings;
  dataDir: string;
  sink: ChunkSink;
  log: Logger;
  clock?: Clock;
  /**
   * Called once when a file is released for good (rotated away and drained, deleted, or replaced by
   * copytruncate), after its last chunk was written: the pipeline flushes the file's pending
   * multiline event. Not called when an idle file is merely closed (close_inactive, max_open_files).
   */
  onFileClosed?: (fileId: string) => void;
}

type FileState = 'active' | 'rotated' | 'deleted';

interface TrackedFile {
  readonly fileId: string;
  readonly source: TailSource;
  path: string;
  readonly dev: number;
  readonly ino: number;
  fh: FileHandle | undefined;
  size: number;
  /** Next byte not yet part of an emitted line. */
  consumed: number;
  /** Marker of `consumed`: checked against the bytes re-read before it on every read. */
  consumedMark: MarkedOffset;
  readonly framer: LineFramer;
  state: FileState;
  goneAt: number;
  lastGrowth: number;
  lastUse: number;
  queued: boolean;
  reading: boolean;
  /** Stat before the next read (the size may have changed). */
  needStat: boolean;
  /** The last read found no line end: read up to max_line_bytes next time. */
  wideRead: boolean;
  /** A change was signalled during the current read: read again afterwards. */
  again: boolean;
  released: boolean;
  timer: unknown;
  readonly entry: CheckpointEntry;
  readonly watermark: FileWatermark;
}

export interface TailerStats {
  filesTracked: number;
  filesOpen: number;
  scans: number;
  bytesRead: number;
  linesEmitted: number;
  chunksEmitted: number;
  chunksAcked: number;
  unknownAcks: number;
  truncatedLines: number;
  invalidUtf8Lines: number;
  partialLinesFlushed: number;
  rotations: number;
  deletions: number;
  truncations: number;
  checkpointMismatches: number;
  ignoredOld: number;
  releasedFiles: number;
  readErrors: number;
  /** Failed attempts to open a matched file (other than it being gone). */
  openErrors: number;
  backpressureWaits: number;
  checkpointWrites: number;
  checkpointWriteErrors: number;
  checkpointCorruptFiles: number;
}

const SCAN_DEBOUNCE_MS = 20;

function inodeKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

function assertAbsoluteGlobs(sources: readonly TailSource[]): void {
  for (const s of sources) {
    for (const p of [...s.include, ...s.exclude]) {
      if (!p.startsWith('/'))
        throw new TailConfigError(
          `source ${s.name}: glob ${JSON.stringify(p)} is not absolute; write it as an absolute path such as /var/log/app/*.log`,
        );
    }
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

export class Tailer implements ChunkAcknowledger {
  readonly stats: TailerStats = {
    filesTracked: 0,
    filesOpen: 0,
    scans: 0,
    bytesRead: 0,
    linesEmitted: 0,
    chunksEmitted: 0,
    chunksAcked: 0,
    unknownAcks: 0,
    truncatedLines: 0,
    invalidUtf8Lines: 0,
    partialLinesFlushed: 0,
    rotations: 0,
    deletions: 0,
    truncations: 0,
    checkpointMismatches: 0,
    ignoredOld: 0,
    releasedFiles: 0,
    readErrors: 0,
    openErrors: 0,
    backpressureWaits: 0,
    checkpointWrites: 0,
    checkpointWriteErrors: 0,
    checkpointCorruptFiles: 0,
  };
  onFileClosed: ((fileId: string) => void) | undefined;

  #sources: readonly TailSource[];
  /** Sources added by a reload: their files found by the next scan start as at startup (start_at). */
  #freshSources = new Set<string>();
  readonly #settings: TailSettings;
  readonly #sink: ChunkSink;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** Paths whose open failed and was logged, so a rescan does not log it again. */
  readonly #unopenable = new Set<string>();
  readonly #store: CheckpointStore;
  readonly #watcher: DirWatcher;

  /** Files being followed (not yet released), by fileId. */
  readonly #files = new Map<string, TrackedFile>();
  readonly #byInode = new Map<string, TrackedFile>();
  readonly #byPath = new Map<string, TrackedFile>();
  /** `dir/name` (path and real path) -> file, to route directory events. */
  readonly #byWatchName = new Map<string, TrackedFile>();
  /** Watermarks outlive their file until its last chunk is acknowledged. */
  readonly #marks = new Map<string, { tf: TrackedFile; wm: FileWatermark }>();
  /** Open files in least-recently-used order (Map iteration order). */
  readonly #open = new Map<TrackedFile, true>();

  readonly #ready: TrackedFile[] = [];
  #readyHead = 0;
  #activeReads = 0;
  /** Read buffers reused across reads: a fresh 1 MiB buffer per read costs page faults and GC. */
  readonly #readBuffers: Buffer[] = [];
  #idle: (() => void) | undefined;
  #gate: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  #loadProblem: LoadProblem = 'missing';
  #scanTimer: unknown;
  #scanRunning: Promise<void> | undefined;
  #scanAgain = false;
  #debounceTimer: unknown;
  #pollTimer: unknown;
  #flushTimer: unknown;

  constructor(opts: TailerOptions) {
    assertAbsoluteGlobs(opts.sources);
    this.#sources = opts.sources;
    this.#settings = opts.settings;
    this.#sink = opts.sink;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
    this.onFileClosed = opts.onFileClosed;
    this.#store = new CheckpointStore(opts.dataDir, opts.log);
    this.#watcher = new DirWatcher((dir, name, type) => this.#onDirEvent(dir, name, type), opts.log);
  }

  /** Loads checkpoints, discovers files and starts reading. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#loadProblem = await this.#store.load();
    this.stats.checkpointCorruptFiles = this.#store.stats.corruptFiles;
    await this.#scan(true);
    this.#armScan();
    this.#armFlush();
    this.#armPoll();
  }

  /** Stops reading and persists acknowledged positions. Does not wait for outstanding acks. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of [this.#scanTimer, this.#debounceTimer, this.#pollTimer, this.#flushTimer])
      if (t !== undefined) this.#clock.clearTimeout(t);
    this.#watcher.close();
    if (this.#scanRunning) await this.#scanRunning.catch(() => undefined);
    if (this.#activeReads > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    for (const b of this.#readBuffers) freeBytes(b);
    this.#readBuffers.length = 0;
    for (const tf of this.#files.values()) {
      if (tf.timer !== undefined) this.#clock.clearTimeout(tf.timer);
      await this.#closeFile(tf);
    }
    await this.flushCheckpoints();
  }

  /** Writes acknowledged positions now (also done periodically). */
  async flushCheckpoints(): Promise<void> {
    this.#pruneRetention();
    try {
      await this.#store.flush();
    } catch {
      // Reported by the store; positions stay in memory and the next flush retries.
    }
    if (this.#store.stats.writes !== this.stats.checkpointWrites)
      this.lastCheckpointWriteMs = this.#clock.now();
    this.stats.checkpointWrites = this.#store.stats.writes;
    this.stats.checkpointWriteErrors = this.#store.stats.writeErrors;
  }

  /** Clock time of the last checkpoint write that reached the disk; undefined before the first. */
  lastCheckpointWriteMs: number | undefined;

  /** Every record made from `chunk` was delivered (or spooled): move the file's watermark. */
  ack(chunk: LineChunk): void {
    const m = this.#marks.get(chunk.fileId);
    if (m === undefined) {
      this.stats.unknownAcks++;
      return;
    }
    this.stats.chunksAcked++;
    if (m.wm.ack(chunk)) {
      const c = m.wm.committed;
      const e = m.tf.entry;
      // The entry is gone when the file was replaced (copytruncate, inode reuse): nothing to resume.
      if (this.#store.get(e.fileId) === e) {
        e.offset = c.offset;
        e.marker = c.marker;
        e.markerLen = c.markerLen;
        this.#store.touch();
      }
    }
    if (m.tf.released && m.wm.pending === 0) this.#marks.delete(chunk.fileId);
  }

  /**
   * Reload, first half: stops following every file of the named sources (removed, or changed and
   * about to be re-added). Their last chunks were already written; the pipeline flushes their
   * pending events (onFileClosed) and their checkpoint entries stay, so a source added again later
   * resumes where its acknowledged lines end. Returns the released files' ids, for
   * `waitAcknowledged`.
   */
  async releaseSources(names: readonly string[]): Promise<string[]> {
    const gone = new Set(names);
    this.#sources = this.#sources.filter((s) => !gone.has(s.name));
    // A scan that started before could still pick a file of these sources up.
    while (this.#scanRunning) await this.#scanRunning.catch(() => undefined);
    const released: string[] = [];
    for (const tf of [...this.#files.values()]) {
      if (!gone.has(tf.source.name)) continue;
      // A read in progress finishes first (FileHandle.close waits for it) and emits nothing more.
      this.#release(tf);
      released.push(tf.fileId);
    }
    return released;
  }

  /**
   * Resolves true when every chunk of the given (released) files is acknowledged, false when
   * `timeoutMs` passes first (the broker is away: those lines are read again after a restart or
   * when their source comes back).
   */
  async waitAcknowledged(fileIds: readonly string[], timeoutMs: number): Promise<boolean> {
    const end = this.#clock.now() + timeoutMs;
    for (;;) {
      if (fileIds.every((id) => !this.#marks.has(id))) return true;
      if (this.#clock.now() >= end) return false;
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, 20));
    }
  }

  /**
   * Reload, second half: the new source list. Files of sources not followed before are found by a
   * scan now (with `start_at` applied as at startup, unless a checkpoint says where to resume).
   */
  async setSources(sources: readonly TailSource[]): Promise<void> {
    assertAbsoluteGlobs(sources);
    const before = new Set(this.#sources.map((s) => s.name));
    for (const s of sources) if (!before.has(s.name)) this.#freshSources.add(s.name);
    this.#sources = sources;
    if (!this.#started || this.#stopped) return;
    this.#requestScan();
    while (this.#scanRunning) await this.#scanRunning.catch(() => undefined);
  }

  /** Committed (acknowledged) offset of a file, for tests and diagnostics. */
  committedOffset(fileId: string): number | undefined {
    return this.#marks.get(fileId)?.wm.committed.offset ?? this.#store.get(fileId)?.offset;
  }

  /** Currently followed files: id, path, state and read position. */
  files(): { fileId: string; source: string; path: string; state: string; consumed: number; size: number }[] {
    return [...this.#files.values()].map((tf) => ({
      fileId: tf.fileId,
      source: tf.source.name,
      path: tf.path,
      state: tf.state,
      consumed: tf.consumed,
      size: tf.size,
    }));
  }

  // ---------------------------------------------------------------- discovery

  #armScan(): void {
    this.#scanTimer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      this.#requestScan();
      this.#housekeeping();
      this.#armScan();
    }, this.#settings.scan_interval_ms);
  }

  #armFlush(): void {
    this.#flushTimer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      void this.flushCheckpoints().finally(() => {
        if (!this.#stopped) this.#armFlush();
      });
    }, this.#settings.checkpoint_flush_interval_ms);
  }

  #armPoll(): void {
    this.#pollTimer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      if (!this.#settings.watch || this.#watcher.failedCount > 0) {
        for (const tf of this.#files.values()) {
          if (!this.#settings.watch || this.#watcher.isPolled(dirname(tf.path))) this.#schedule(tf);
        }
      }
      this.#armPoll();
    }, this.#settings.poll_interval_ms);
  }

  #requestScan(): void {
    if (this.#stopped) return;
    if (this.#scanRunning) {
      this.#scanAgain = true;
      return;
    }
    this.#scanRunning = this.#scan(false)
      .catch((err: unknown) => this.#log.error({ err }, 'file scan failed'))
      .finally(() => {
        this.#scanRunning = undefined;
        if (this.#scanAgain && !this.#stopped) {
          this.#scanAgain = false;
          this.#requestScan();
        }
      });
  }

  #debouncedScan(): void {
    if (this.#debounceTimer !== undefined || this.#stopped) return;
    this.#debounceTimer = this.#clock.setTimeout(() => {
      this.#debounceTimer = undefined;
      this.#requestScan();
    }, SCAN_DEBOUNCE_MS);
  }

  #onDirEvent(dir: string, name: string | null, eventType: string): void {
    if (this.#stopped) return;
    if (name !== null) {
      const tf = this.#byWatchName.get(join(dir, name));
      if (tf !== undefined) {
        this.#schedule(tf);
        if (eventType === 'change') return;
      }
    }
    this.#debouncedScan();
  }

  async #scan(initial: boolean): Promise<void> {
    this.stats.scans++;
    const now = this.#clock.now();
    const fresh = this.#freshSources;
    this.#freshSources = new Set();
    const seen = new Map<
      string,
      { stat: { dev: number; ino: number; size: number; mtimeMs: number }; source: TailSource }
    >();
    for (const source of this.#sources) {
      const found = await discoverFiles(source.include, source.exclude);
      if (this.#settings.watch) for (const dir of found.dirs) this.#watcher.watch(dir);
      for (const f of found.files.values()) if (!seen.has(f.path)) seen.set(f.path, { stat: f.stat, source });
    }
    if (this.#stopped) return;
    const pathOfInode = new Map<string, string>();
    for (const [path, { stat: st }] of seen) {
      const key = inodeKey(st.dev, st.ino);
      const tf = this.#byInode.get(key);
      // Prefer the path the file is already known by (a file may match under two names).
      if (!pathOfInode.has(key) || tf?.path === path) pathOfInode.set(key, path);
    }
    for (const tf of [...this.#files.values()]) {
      const path = pathOfInode.get(inodeKey(tf.dev, tf.ino));
      if (path !== undefined) {
        if (tf.state !== 'active') {
          // Rotated to a name that is itself followed (app.log -> app.log.1 with `app.log*`).
          tf.state = 'active';
          this.#log.debug({ path, fileId: tf.fileId }, 'rotated file is still followed');
        }
        if (tf.path !== path) this.#movePath(tf, path);
        tf.entry.lastSeen = now;
        const s = seen.get(path)!.stat;
        if (s.size !== tf.size) this.#schedule(tf);
      } else if (tf.state === 'active') {
        await this.#markGone(tf);
      }
    }
    for (const [path, { stat: st, source }] of seen) {
      if (this.#stopped) return;
      const key = inodeKey(st.dev, st.ino);
      if (this.#byInode.has(key) || pathOfInode.get(key) !== path) continue;
      await this.#track(path, source, initial || fresh.has(source.name), st.mtimeMs);
    }
    if (initial) await this.#recoverRotatedAway();
    this.stats.filesTracked = this.#files.size;
  }

  /**
   * At startup, a checkpointed file that no glob matches any more may have been rotated while the
   * agent was stopped (app.log -> app.log.1 with `include: app.log`). Look for its device+inode in
   * its old directory and drain it from its checkpoint, so the lines written before the rotation
   * are not lost.
   */
  async #recoverRotatedAway(): Promise<void> {
    const byDir = new Map<string, CheckpointEntry[]>();
    for (const e of this.#store.entries()) {
      if (this.#files.has(e.fileId) || this.#byInode.has(inodeKey(e.dev, e.ino))) continue;
      const dir = dirname(e.path);
      const list = byDir.get(dir);
      if (list) list.push(e);
      else byDir.set(dir, [e]);
    }
    for (const [dir, entries] of byDir) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const wanted = new Map(entries.map((e) => [inodeKey(e.dev, e.ino), e]));
      for (const name of names) {
        if (this.#stopped) return;
        const path = join(dir, name);
        const st = await stat(path).catch(() => undefined);
        if (st === undefined || !st.isFile()) continue;
        const entry = wanted.get(inodeKey(st.dev, st.ino));
        if (entry === undefined || this.#byInode.has(inodeKey(st.dev, st.ino))) continue;
        // Still under its old name but unmatched: the globs changed, the file was not rotated.
        if (path === entry.path) continue;
        const source = this.#sources.find((s) => s.name === entry.source) ?? this.#sources[0];
        if (source === undefined) return;
        await this.#track(path, source, false, st.mtimeMs, entry);
      }
    }
  }

  #movePath(tf: TrackedFile, path: string): void {
    if (this.#byPath.get(tf.path) === tf) this.#byPath.delete(tf.path);
    tf.path = path;
    tf.entry.path = path;
    this.#byPath.set(path, tf);
    this.#watchNames(tf);
  }

  #watchNames(tf: TrackedFile): void {
    const path = tf.path;
    this.#byWatchName.set(path, tf);
    if (this.#settings.watch) this.#watcher.watch(dirname(path));
    // A symlink's target is written in another directory: route that directory's events too.
    realpath(path).then(
      (real) => {
        if (real === path || tf.released) return;
        this.#byWatchName.set(real, tf);
        if (this.#settings.watch && !this.#stopped) this.#watcher.watch(dirname(real));
      },
      () => undefined,
    );
  }

  #unwatchNames(tf: TrackedFile): void {
    for (const [name, f] of this.#byWatchName) if (f === tf) this.#byWatchName.delete(name);
  }

  /**
   * Starts following a file found at `path` that is not followed yet. With `recovering`, only
   * resumes that entry (a file rotated away while stopped) and drains it as a rotated file.
   */
  async #track(
    path: string,
    source: TailSource,
    initial: boolean,
    mtimeMs: number,
    recovering?: CheckpointEntry,
  ): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) {
        this.stats.openErrors++;
        // Once per path while it keeps failing: the rescan tries again every scan_interval_ms.
        if (!this.#unopenable.has(path)) {
          this.#unopenable.add(path);
          this.#log.warn(
            { path, code: (err as NodeJS.ErrnoException).code },
            "cannot open log file: give the agent's user read access (group membership or an ACL); retried at every rescan",
          );
        }
      }
      return;
    }
    this.#unopenable.delete(path);
    try {
      const st = await fh.stat();
      const key = inodeKey(st.dev, st.ino);
      if (this.#byInode.has(key) || !st.isFile()) {
        await fh.close();
        return;
      }
      const now = this.#clock.now();
      let resumed: CheckpointEntry | undefined;
      const stale: { entry: CheckpointEntry; reason: string }[] = [];
      if (recovering !== undefined) {
        const reason = await verifyEntry(fh, st.size, recovering);
        if (reason !== 'ok' || st.size <= recovering.offset) {
          await fh.close();
          return;
        }
      }
      for (const entry of recovering ? [recovering] : this.#store.findByInode(st.dev, st.ino)) {
        const reason = await verifyEntry(fh, st.size, entry);
        if (reason === 'ok' && (resumed === undefined || entry.offset > resumed.offset)) {
          if (resumed !== undefined) stale.push({ entry: resumed, reason: 'older entry of the same file' });
          resumed = entry;
        } else if (reason !== 'ok') stale.push({ entry, reason });
      }
      for (const { entry, reason } of stale) {
        this.stats.checkpointMismatches++;
        this.#log.warn(
          { path, fileId: entry.fileId, offset: entry.offset, reason },
          'checkpoint does not match file',
        );
        this.#store.delete(entry.fileId);
      }
      const { fingerprint, fingerprintLen } = await fingerprintOf(
        fh,
        st.size,
        this.#settings.fingerprint_bytes,
      );
      let entry: CheckpointEntry;
      let start: MarkedOffset;
      if (resumed !== undefined) {
        entry = resumed;
        entry.path = path;
        entry.source = source.name;
        entry.lastSeen = now;
        entry.fingerprint = fingerprint;
        entry.fingerprintLen = fingerprintLen;
        start = { offset: entry.offset, marker: entry.marker, markerLen: entry.markerLen };
        this.#log.info({ path, fileId: entry.fileId, offset: entry.offset }, 'resuming file from checkpoint');
      } else {
        let offset = 0;
        if (initial && source.start_at === 'end' && this.#loadProblem !== 'corrupt') offset = st.size;
        if (
          source.ignore_older_ms > 0 &&
          now - mtimeMs > source.ignore_older_ms &&
          this.#loadProblem !== 'corrupt'
        ) {
          offset = st.size;
          this.stats.ignoredOld++;
        }
        start = await markerAt(fh, offset);
        const fileId = this.#newFileId(st.dev, st.ino, fingerprint, stale.length > 0);
        entry = {
          fileId,
          source: source.name,
          path,
          dev: st.dev,
          ino: st.ino,
          fingerprint,
          fingerprintLen,
          offset: start.offset,
          marker: start.marker,
          markerLen: start.markerLen,
          lastSeen: now,
        };
        this.#log.info({ path, fileId, offset }, 'following new file');
      }
      this.#store.set(entry);
      const tf = this.#addFile(entry, source, fh, st.size, start, now);
      // A resumed offset inside a line (a split over-long line): the rest continues it.
      if (start.offset > 0 && start.offset <= st.size) {
        const before = await readAt(fh, start.offset - 1, 1);
        tf.framer.continuing = before[0] !== 10;
      }
      if (recovering !== undefined) {
        if (this.#byPath.get(path) === tf) this.#byPath.delete(path);
        tf.state = st.nlink === 0 ? 'deleted' : 'rotated';
        tf.goneAt = now;
        this.stats.rotations++;
        this.#log.info(
          { path, fileId: tf.fileId, offset: tf.consumed },
          'draining file rotated while stopped',
        );
      }
      if (st.size !== tf.consumed || tf.state !== 'active') this.#schedule(tf);
    } catch (err) {
      this.stats.readErrors++;
      this.#log.warn({ path, err }, 'cannot start following file');
      await fh.close().catch(() => undefined);
    }
  }

  #addFile(
    entry: CheckpointEntry,
    source: TailSource,
    fh: FileHandle,
    size: number,
    start: MarkedOffset,
    now: number,
  ): TrackedFile {
    const wm = new FileWatermark(start);
    const tf: TrackedFile = {
      fileId: entry.fileId,
      source,
      path: entry.path,
      dev: entry.dev,
      ino: entry.ino,
      fh,
      size,
      consumed: start.offset,
      consumedMark: start,
      framer: new LineFramer(
        source.max_line_bytes,
        undefined,
        !(this.#sink.readsBytes?.(source.name) ?? false),
      ),
      state: 'active',
      goneAt: 0,
      lastGrowth: now,
      lastUse: now,
      queued: false,
      reading: false,
      again: false,
      wideRead: false,
      needStat: true,
      released: false,
      timer: undefined,
      entry,
      watermark: wm,
    };
    this.#files.set(tf.fileId, tf);
    this.#byInode.set(inodeKey(tf.dev, tf.ino), tf);
    this.#byPath.set(tf.path, tf);
    this.#marks.set(tf.fileId, { tf, wm });
    this.#open.set(tf, true);
    this.stats.filesOpen = this.#open.size;
    this.stats.filesTracked = this.#files.size;
    this.#watchNames(tf);
    this.#enforceOpenLimit();
    return tf;
  }

  /**
   * A new incarnation's id: device, inode and fingerprint, so re-reading the same file after a lost
   * checkpoint gives the same ids. A replacement (copytruncate, inode reuse) gets a time suffix so an
   * id never names two byte streams.
   */
  #newFileId(dev: number, ino: number, fingerprint: string, replacement: boolean): string {
    const base = `${dev}-${ino}-${fingerprint.slice(0, 12)}`;
    const taken = (id: string) =>
      this.#files.has(id) || this.#marks.has(id) || this.#store.get(id) !== undefined;
    if (!replacement && !taken(base)) return base;
    let id = `${base}-${this.#clock.now().toString(36)}`;
    for (let n = 2; taken(id); n++) id = `${base}-${this.#clock.now().toString(36)}-${n}`;
    return id;
  }

  /** The file is no longer at any followed path: renamed away or deleted. Drain it, then release. */
  async #markGone(tf: TrackedFile): Promise<void> {
    if (this.#byPath.get(tf.path) === tf) this.#byPath.delete(tf.path);
    tf.goneAt = this.#clock.now();
    if (tf.fh === undefined && !(await this.#reopen(tf))) {
      this.stats.deletions++;
      this.#log.info({ path: tf.path, fileId: tf.fileId }, 'closed file disappeared');
      this.#release(tf);
      return;
    }
    let nlink = 1;
    try {
      nlink = (await tf.fh!.stat()).nlink;
    } catch {
      nlink = 0;
    }
    tf.state = nlink === 0 ? 'deleted' : 'rotated';
    if (tf.state === 'deleted') this.stats.deletions++;
    else this.stats.rotations++;
    this.#log.info({ path: tf.path, fileId: tf.fileId, state: tf.state }, 'file rotated away');
    this.#schedule(tf);
  }

  // ---------------------------------------------------------------- reading

  /** Gives the file a turn. `needStat`: something may have changed (an event, a poll, a deadline). */
  #schedule(tf: TrackedFile, needStat = true): void {
    if (needStat) tf.needStat = true;
    if (tf.queued || tf.released || this.#stopped) return;
    if (tf.reading) {
      tf.again = true; // re-queued when the current read ends
      return;
    }
    tf.queued = true;
    this.#ready.push(tf);
    this.#pump();
  }

  #pump(): void {
    while (
      this.#activeReads < this.#settings.read_concurrency &&
      this.#readyHead < this.#ready.length &&
      this.#gate === undefined &&
      !this.#stopped
    ) {
      const tf = this.#ready[this.#readyHead++];
      if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
        this.#ready.splice(0, this.#readyHead);
        this.#readyHead = 0;
      }
      tf.queued = false;
      if (tf.released) continue;
      tf.reading = true;
      tf.again = false;
      this.#activeReads++;
      this.#readOnce(tf)
        .then(
          (more) => {
            tf.reading = false;
            if (more || tf.again) this.#schedule(tf, false);
            tf.again = false;
          },
          (err: unknown) => {
            tf.reading = false;
            tf.again = false;
            this.stats.readErrors++;
            this.#log.warn({ path: tf.path, fileId: tf.fileId, err }, 'read failed');
          },
        )
        .finally(() => {
          this.#activeReads--;
          if (this.#activeReads === 0 && this.#idle) {
            this.#idle();
            this.#idle = undefined;
          }
          this.#pump();
        });
    }
    if (this.#readyHead === this.#ready.length && this.#readyHead > 0) {
      this.#ready.length = 0;
      this.#readyHead = 0;
    }
  }

  /** One turn: at most one buffer from this file. Returns true when it should get another turn. */
  async #readOnce(tf: TrackedFile): Promise<boolean> {
    if (tf.released || this.#stopped) return false;
    if (tf.fh === undefined && !(await this.#reopen(tf))) {
      this.#debouncedScan();
      return false;
    }
    const fh = tf.fh!;
    this.#touchOpen(tf);
    const now = this.#clock.now();
    tf.lastUse = now;
    // While a file is being read through, the size learned by the last stat is enough: a shrink
    // shows as a short read, a rewrite as changed bytes before the position. Stat when signalled
    // or when that size is reached.
    const needStat = tf.needStat || tf.size <= tf.consumed;
    tf.needStat = false;
    const st = needStat ? await fh.stat() : { size: tf.size, nlink: 1 };
    if (st.size < tf.consumed) {
      await this.#restartTruncated(tf, 'file shrank');
      return false;
    }
    if (st.size > tf.size) tf.lastGrowth = now;
    tf.size = st.size;
    if (tf.state === 'rotated' && st.nlink === 0) tf.state = 'deleted';
    if (tf.entry.fingerprintLen < this.#settings.fingerprint_bytes && st.size > tf.entry.fingerprintLen) {
      const fp = await fingerprintOf(fh, st.size, this.#settings.fingerprint_bytes);
      tf.entry.fingerprint = fp.fingerprint;
      tf.entry.fingerprintLen = fp.fingerprintLen;
      this.#store.touch();
    }
    if (st.size > tf.consumed) {
      const consumed = tf.consumed;
      const lookback = Math.min(MARKER_BYTES, consumed);
      const rb = this.#settings.read_buffer_bytes;
      // A read holding no complete line (a line longer than the buffer) is retried with room for a
      // whole max_line_bytes piece, so the framer can cut it.
      const want = Math.min(
        st.size - consumed,
        tf.wideRead ? Math.max(rb, tf.source.max_line_bytes + 1) : rb,
      );
      const pooled =
        lookback + want <= MARKER_BYTES + rb ? this.#takeReadBuffer(MARKER_BYTES + rb) : undefined;
      const buf =
        pooled === undefined ? Buffer.allocUnsafeSlow(lookback + want) : pooled.subarray(0, lookback + want);
      let n = 0;
      while (n < buf.length) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, consumed - lookback + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (this.#stopped || tf.released) return false;
      if (n < lookback || (lookback > 0 && digest(buf, 0, lookback) !== tf.consumedMark.marker)) {
        await this.#restartTruncated(tf, 'bytes before the read position changed');
        return false;
      }
      if (n < buf.length) {
        // Shorter than the size we knew: the file shrank meanwhile; stat on the next turn.
        tf.size = consumed - lookback + n;
        tf.needStat = true;
      }
      this.stats.bytesRead += n - lookback;
      const readEnd = consumed - lookback + n;
      const atEnd = readEnd >= st.size;
      const final = atEnd && this.#partialFlushDue(tf, now);
      const framed = tf.framer.frame(buf, lookback, n, consumed - lookback, final);
      const emitted = framed.offsets.length;
      if (emitted > 0) {
        const endOffset = consumed - lookback + framed.consumed;
        const markerLen = Math.min(MARKER_BYTES, endOffset);
        const mark: MarkedOffset = {
          offset: endOffset,
          marker: digest(buf, framed.consumed - markerLen, framed.consumed),
          markerLen,
        };
        const chunk: LineChunk = {
          source: tf.source.name,
          path: tf.path,
          fileId: tf.fileId,
          lines: framed.lines,
          raw: buf,
          rawBase: consumed - lookback,
          offsets: framed.offsets,
          ends: framed.ends,
          flags: framed.flags,
          endOffset,
          bytes: endOffset - consumed,
          readAt: now,
          refs: 1,
        };
        if (final) this.stats.partialLinesFlushed++;
        this.stats.linesEmitted += emitted;
        this.stats.chunksEmitted++;
        this.stats.truncatedLines += framed.truncated;
        this.stats.invalidUtf8Lines += framed.invalidUtf8;
        tf.consumed = endOffset;
        tf.consumedMark = mark;
        // Registered before write: the sink may acknowledge synchronously.
        tf.watermark.add(chunk, mark);
        const wait = this.#sink.write(chunk);
        if (wait !== undefined) this.#holdGate(wait);
      }
      // Another turn while the known size is not reached; at the end (maybe with a partial line)
      // the next turn comes from a change event, the poll, or a rotation deadline.
      tf.wideRead = emitted === 0 && !atEnd;
      // Nothing made from the buffer refers to it once written (lines are decoded copies, `raw` is
      // read during write only), so it can be reused.
      if (pooled !== undefined) {
        if (this.#readBuffers.length < this.#settings.read_concurrency) this.#readBuffers.push(pooled);
        else freeBytes(pooled);
      }
      if (!atEnd) return true;
    }
    if (tf.state !== 'active') this.#checkGone(tf, now);
    return false;
  }

  #takeReadBuffer(size: number): Buffer {
    const b = this.#readBuffers.pop();
    if (b !== undefined && b.length === size) return b;
    if (b !== undefined) freeBytes(b);
    // From the byte arena: the line path's escaper reads lines there in place.
    return allocBytes(size);
  }

  #partialFlushDue(tf: TrackedFile, now: number): boolean {
    if (tf.state === 'active') return false;
    if (now - tf.lastGrowth >= this.#settings.partial_flush_ms) return true;
    return tf.state === 'deleted' && now - tf.goneAt >= this.#settings.rotate_wait_ms;
  }

  /** A rotated or deleted file at its end: release it, or come back when a deadline passes. */
  #checkGone(tf: TrackedFile, now: number): void {
    const s = this.#settings;
    const drained = tf.consumed >= tf.size;
    if (drained && (tf.state === 'deleted' || now - tf.lastGrowth >= s.rotate_wait_ms)) {
      this.#release(tf);
      return;
    }
    const deadlines: number[] = [];
    if (!drained) deadlines.push(tf.lastGrowth + s.partial_flush_ms);
    if (tf.state === 'deleted') deadlines.push(tf.goneAt + s.rotate_wait_ms);
    else deadlines.push(tf.lastGrowth + s.rotate_wait_ms);
    const at = Math.min(...deadlines);
    if (tf.timer !== undefined) this.#clock.clearTimeout(tf.timer);
    tf.timer = this.#clock.setTimeout(
      () => {
        tf.timer = undefined;
        this.#schedule(tf);
      },
      Math.max(1, at - now),
    );
  }

  #holdGate(wait: Promise<void>): void {
    this.stats.backpressureWaits++;
    const gate = wait.then(
      () => undefined,
      () => undefined,
    );
    this.#gate = gate;
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined;
      this.#pump();
    });
  }

  /** Copytruncate (or a rewrite) detected: the old incarnation ends, a new one starts at 0 on the same inode. */
  async #restartTruncated(tf: TrackedFile, reason: string): Promise<void> {
    this.stats.truncations++;
    this.#log.info(
      { path: tf.path, fileId: tf.fileId, offset: tf.consumed, reason },
      'file truncated, reading from start',
    );
    const fh = tf.fh!;
    tf.fh = undefined; // handed to the new incarnation
    this.#store.delete(tf.fileId);
    this.#release(tf);
    try {
      const st = await fh.stat();
      const { fingerprint, fingerprintLen } = await fingerprintOf(
        fh,
        st.size,
        this.#settings.fingerprint_bytes,
      );
      const now = this.#clock.now();
      const entry: CheckpointEntry = {
        fileId: this.#newFileId(st.dev, st.ino, fingerprint, true),
        source: tf.source.name,
        path: tf.path,
        dev: st.dev,
        ino: st.ino,
        fingerprint,
        fingerprintLen,
        offset: 0,
        marker: digest(Buffer.alloc(0), 0, 0),
        markerLen: 0,
        lastSeen: now,
      };
      this.#store.set(entry);
      const next = this.#addFile(
        entry,
        tf.source,
        fh,
        st.size,
        { offset: 0, marker: entry.marker, markerLen: 0 },
        now,
      );
      next.state = tf.state;
      next.goneAt = tf.goneAt;
      if (st.size > 0) this.#schedule(next);
    } catch (err) {
      this.#log.warn({ path: tf.path, err }, 'cannot restart truncated file');
      await fh.close().catch(() => undefined);
    }
  }

  /** Stops following a file for good. Its watermark stays until its last chunk is acknowledged. */
  #release(tf: TrackedFile): void {
    if (tf.released) return;
    tf.released = true;
    if (tf.timer !== undefined) this.#clock.clearTimeout(tf.timer);
    tf.timer = undefined;
    void this.#closeFile(tf);
    this.#files.delete(tf.fileId);
    if (this.#byInode.get(inodeKey(tf.dev, tf.ino)) === tf) this.#byInode.delete(inodeKey(tf.dev, tf.ino));
    if (this.#byPath.get(tf.path) === tf) this.#byPath.delete(tf.path);
    this.#unwatchNames(tf);
    if (tf.watermark.pending === 0) this.#marks.delete(tf.fileId);
    tf.entry.lastSeen = this.#clock.now();
    this.stats.releasedFiles++;
    this.stats.filesTracked = this.#files.size;
    this.#log.info({ path: tf.path, fileId: tf.fileId, offset: tf.consumed }, 'file released');
    this.onFileClosed?.(tf.fileId);
  }

  // ---------------------------------------------------------------- open files

  #touchOpen(tf: TrackedFile): void {
    this.#open.delete(tf);
    this.#open.set(tf, true);
  }

  async #closeFile(tf: TrackedFile): Promise<void> {
    const fh = tf.fh;
    tf.fh = undefined;
    this.#open.delete(tf);
    this.stats.filesOpen = this.#open.size;
    if (fh !== undefined) await fh.close().catch(() => undefined);
  }

  /**
   * Closes least recently used files over `max_open_files` (they are reopened by path, and checked
   * by device+inode, on their next turn). Files being read, and rotated or deleted files (which
   * cannot be found by path again), stay open, so the limit can be exceeded by those.
   */
  #enforceOpenLimit(): void {
    if (this.#open.size <= this.#settings.max_open_files) return;
    for (const tf of [...this.#open.keys()]) {
      if (this.#open.size <= this.#settings.max_open_files) break;
      if (tf.state !== 'active' || tf.reading) continue;
      void this.#closeFile(tf);
    }
  }

  /**
   * Reopens a closed file by its path, or, when the path now holds another file (it was rotated
   * while closed), by searching the directory for its device+inode.
   */
  async #reopen(tf: TrackedFile): Promise<boolean> {
    const candidates = [tf.path];
    const st = await stat(tf.path).catch(() => undefined);
    if (st?.dev !== tf.dev || st.ino !== tf.ino) {
      candidates.length = 0;
      const dir = dirname(tf.path);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const p = join(dir, name);
        const s = await stat(p).catch(() => undefined);
        if (s?.dev === tf.dev && s.ino === tf.ino) candidates.push(p);
      }
    }
    for (const p of candidates) {
      try {
        const fh = await open(p, 'r');
        const st = await fh.stat();
        if (st.dev === tf.dev && st.ino === tf.ino) {
          tf.fh = fh;
          this.#touchOpen(tf);
          this.stats.filesOpen = this.#open.size;
          this.#enforceOpenLimit();
          return true;
        }
        await fh.close();
      } catch {
        // try the next candidate
      }
    }
    return false;
  }

  /** Periodic: close idle files (close_inactive) and keep the open-file limit. */
  #housekeeping(): void {
    const limit = this.#settings.close_inactive_ms;
    if (limit > 0) {
      const now = this.#clock.now();
      for (const tf of [...this.#open.keys()]) {
        if (tf.state !== 'active' || tf.reading || tf.queued) continue;
        if (now - tf.lastUse >= limit && now - tf.lastGrowth >= limit) {
          this.#log.debug({ path: tf.path, fileId: tf.fileId }, 'closing inactive file');
          void this.#closeFile(tf);
        }
      }
    }
    this.#enforceOpenLimit();
  }

  #pruneRetention(): void {
    const retention = this.#settings.checkpoint_retention_ms;
    if (retention <= 0) return;
    const now = this.#clock.now();
    for (const e of [...this.#store.entries()]) {
      if (this.#files.has(e.fileId) || this.#marks.has(e.fileId)) continue;
      if (now - e.lastSeen > retention) {
        this.#log.info({ path: e.path, fileId: e.fileId }, 'forgetting checkpoint of long-gone file');
        this.#store.delete(e.fileId);
      }
    }
  }
}
