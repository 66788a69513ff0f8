/**
 * The on-disk spool: a bounded FIFO of batches that survives broker outages and our own crashes.
 *
 * Invariants
 * - FIFO: batches are read in the order their appends resolved, across segments and restarts.
 * - Durable on resolve: with `fsync: 'every_batch'` an append resolves only after its frame was
 *   written and fdatasync'ed (appends queued together share one fsync). With `fsync: <ms>` it
 *   resolves once written: a kill -9 loses nothing (the bytes are in the page cache), a power
 *   loss may lose up to <ms> of resolved appends.
 * - A batch leaves the spool only when acknowledged (`ack()`), or when `when_full: drop_oldest`
 *   drops its segment, which is counted and logged with its source ranges, or when its bytes are
 *   found damaged, which is quarantined and reported. Nothing is ever dropped silently.
 * - Whole segments are deleted, and only once every frame in them is acknowledged (or dropped).
 * - A written frame is never moved or rewritten, except that damage is covered by a padding frame
 *   of the same length, so every frame keeps its offset for its whole life and the state file can
 *   name it. A segment is only ever cut back to drop a torn or failed (ENOSPC, short) write.
 * - ENOSPC (or a short write) never fails an append: it waits and retries like `block`.
 * - The read position is persisted lazily (`ackSyncMs`): after a crash, acknowledged batches may be
 *   replayed again (at-least-once), an unacknowledged one is never skipped.
 * - Disk use (sum of segment file sizes) stays at or under `maxBytes`.
 * - Opening never throws on damaged data: damage is moved to `quarantine/` and the rest is kept.
 *
 * On-disk format, under `${dir}/spool/` (integers little-endian):
 *
 *   0000000000000001.seg     segments, numbered upward, never reused; oldest first
 *     header   8 bytes   "LFSPSEG" 0x01 (magic + format version)
 *     frame*   12-byte frame header, then the body
 *       magic    u32   "LFFR": lets recovery find the next frame after damage
 *       length   u32   body length
 *       crc32c   u32   CRC-32C of the length field and the body
 *       body     kind u8 (1 batch, 2 padding), then for a batch:
 *                flags u8 (bit 0: keys present), createdAt f64 (ms), records u32,
 *                topic u16-length-prefixed utf8, codec u8-length-prefixed utf8,
 *                positions u32 count x (fileId u16-prefixed utf8, startOffset f64, endOffset f64),
 *                [keys u32 count x (i32 length, -1 = null; utf8)], payload (rest of the body)
 *   state.json               {"version":1,"segment":N,"offset":O}: first unacknowledged frame;
 *                            written to state.json.tmp, fsynced, renamed, directory fsynced
 *   quarantine/              damaged byte ranges, one file each: <segment>.<offset>.<reason>.bad
 *
 * Recovery at open: segments below the state's segment are deleted (already acknowledged); every
 * remaining frame is checked. A damaged range running to the end of a file (a torn write) is
 * copied to quarantine and truncated away; one followed by an intact frame is copied to
 * quarantine and overwritten by a padding frame. A file without the segment header is moved to
 * quarantine whole. An unreadable state file restarts reading at the oldest segment.
 *
 * Layout in the spirit of Filebeat's diskqueue (numbered segments, checksummed frames, small state
 * file) and Vector's disk_v2 buffer (invariants first, explicit full-buffer policy).
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, rm, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../model/clock.ts';
import { systemClock } from '../model/clock.ts';
import { SpoolCorruptError, SpoolDiskFullError, SpoolFullError } from '../model/errors.ts';
import type { Logger } from '../observe/logger.ts';
import { BlockReader, readCheckedFrame, SEGMENT_NAME, scanSegment, segmentFileName } from './segment-file.ts';
import type { EncodedFrame, SpoolBatch } from './spool-batch.ts';
import {
  decodeFrame,
  encodeFrame,
  encodePadding,
  FRAME_HEADER_BYTES,
  frameBodyLength,
  frameChecksumOk,
  frameKind,
  KIND_BATCH,
  MIN_FRAME_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
} from './spool-batch.ts';
import { readSpoolState, syncDir, writeSpoolState } from './spool-state.ts';

export type WhenFull = 'block' | 'drop_oldest';

export interface SpoolOptions {
  /** The data directory; the spool lives in `${dir}/spool/`. */
  readonly dir: string;
  /** Bound on the segment files' total size. */
  readonly maxBytes: number;
  /**
   * At the bound: `block` makes `append` wait until acknowledgements free a segment;
   * `drop_oldest` deletes the oldest segments (counted in `stats`, logged with source ranges).
   */
  readonly whenFull: WhenFull;
  /** `every_batch`: fdatasync before an append resolves; a number: fdatasync at most every that many ms. */
  readonly fsync: 'every_batch' | number;
  /** Target segment size; capped at half of `maxBytes` so that acknowledging can always free space. */
  readonly segmentBytes: number;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Persist the read position at most every this many ms (0: on every ack). Default 1000. */
  readonly ackSyncMs?: number;
  /** How long an append waits before retrying after ENOSPC (unless an ack frees space first). Default 1000. */
  readonly diskFullRetryMs?: number;
  /** Test seam: called before each segment write; throwing an error with code ENOSPC simulates a full disk. */
  readonly beforeWrite?: (bytes: number) => void;
}

export interface AppendOptions {
  /** Aborting gives up waiting for space: the append rejects with SpoolFullError and nothing is written. */
  readonly signal?: AbortSignal;
}

/** Damage found and quarantined, for `spool inspect` and startup reports. */
export interface SpoolDamage {
  readonly segment: number;
  readonly offset: number;
  readonly bytes: number;
  readonly reason: 'torn' | 'checksum' | 'header' | 'unreadable';
  /** Quarantine file holding the bytes, or undefined when they could not be saved. */
  readonly quarantinedTo: string | undefined;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  /** Bytes in the file that are complete (header and whole frames). */
  size: number;
  /** Per batch frame, in file order. */
  readonly offsets: number[];
  readonly frameBytes: number[];
  readonly records: number[];
  readonly createdAt: number[];
  /** Frames found damaged after open (padded over on disk, skipped here). */
  dead: Set<number> | undefined;
  /**
   * Set when recovery checked every frame's checksum and repaired nothing: the file's mtime (ns)
   * then. A frame read from a block whose file still has this mtime is not checked again (each
   * byte checked once); any write since (ours or not) moves the mtime and brings the check back.
   */
  checkedMtimeNs: bigint | undefined;
}

/**
 * A scan's mtime is trusted only when the file was last written at least this long before the
 * scan: a later write then gets a different mtime even on filesystems with coarse (1 s) stamps.
 */
const MTIME_TRUST_MS = 1500;

/** A position between frames: before frame `frame` of segment `seg` (which may not exist yet). */
interface Cursor {
  readonly seg: number;
  readonly frame: number;
}

interface PendingAppend {
  readonly frame: EncodedFrame;
  readonly records: number;
  readonly createdAt: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  /** Taken into a write: can no longer be aborted. */
  taken: boolean;
  settled: boolean;
  cleanup: (() => void) | undefined;
}

const MAX_GROUP_FRAMES = 512;

export class Spool {
  readonly spoolDir: string;
  readonly quarantineDir: string;
  /** Damage quarantined by `open` (and later reads), oldest first. */
  readonly damage: SpoolDamage[] = [];
  /** Plain counters and gauges; see the field comments. */
  readonly stats = {
    /** Gauges: segment files' total size, segment count, unacknowledged frames and their records. */
    bytes: 0,
    segments: 0,
    frames: 0,
    records: 0,
    /** createdAt of the oldest unacknowledged frame (ms), 0 when empty. */
    oldestCreatedAt: 0,
    appendedFrames: 0,
    appendedRecords: 0,
    appendedBytes: 0,
    ackedFrames: 0,
    ackedRecords: 0,
    /** Dropped by `drop_oldest` (reason: full). */
    droppedFramesFull: 0,
    droppedRecordsFull: 0,
    droppedBytesFull: 0,
    /** Found damaged and quarantined (reason: corrupt); records counted when the metadata still parsed. */
    droppedRangesCorrupt: 0,
    droppedBytesCorrupt: 0,
    droppedRecordsCorrupt: 0,
    /** The state file was unreadable and reading restarted at the oldest segment. */
    stateResets: 0,
    /** Appends currently waiting for space (block; derived, see the constructor) and times an append had to wait. */
    blockedAppends: 0,
    blockedTotal: 0,
    /** 1 while appends wait on ENOSPC, and how many times it happened. */
    diskFull: 0,
    diskFullErrors: 0,
    writeErrors: 0,
  };

  private readonly maxBytes: number;
  private readonly whenFull: WhenFull;
  private readonly fsyncMs: number | undefined;
  private readonly segmentBytes: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly ackSyncMs: number;
  private readonly diskFullRetryMs: number;
  private readonly beforeWrite: ((bytes: number) => void) | undefined;

  private readonly segs: Segment[] = [];
  private readonly segById = new Map<number, Segment>();
  private active: Segment | undefined;
  private writeFh: FileHandle | undefined;
  private nextId = 1;

  private ackCursor: Cursor = { seg: 1, frame: 0 };
  private readCursor: Cursor = { seg: 1, frame: 0 };
  /** Cursor just past each batch handed out by peek/read and not yet acknowledged, oldest first. */
  private readonly inflight: Cursor[] = [];

  private readonly pending: PendingAppend[] = [];
  private writerRunning: Promise<void> | undefined;
  private wakeWriter: (() => void) | undefined;
  /** The writer waits for space (block): every pending append waits with it. */
  private waitingForSpace = false;
  private dataWaiters: (() => void)[] = [];
  private readChain: Promise<unknown> = Promise.resolve();
  private readonly readers = new Map<number, BlockReader>();
  private stateChain: Promise<void> = Promise.resolve();
  private lastStateWrite = 0;
  private stateTimer: unknown;
  private syncTimer: unknown;
  private dirty = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private loggedBlocked = false;

  private constructor(options: SpoolOptions) {
    // Derived, so that it follows appends queued or aborted while the writer waits.
    Object.defineProperty(this.stats, 'blockedAppends', {
      enumerable: true,
      get: () => (this.waitingForSpace ? this.pending.length : 0),
    });
    this.spoolDir = join(options.dir, 'spool');
    this.quarantineDir = join(this.spoolDir, 'quarantine');
    this.maxBytes = options.maxBytes;
    this.whenFull = options.whenFull;
    this.fsyncMs = options.fsync === 'every_batch' ? undefined : options.fsync;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.ackSyncMs = options.ackSyncMs ?? 1000;
    this.diskFullRetryMs = options.diskFullRetryMs ?? 1000;
    this.beforeWrite = options.beforeWrite;
    const cap = Math.floor(options.maxBytes / 2);
    this.segmentBytes = Math.min(options.segmentBytes, cap);
    if (options.segmentBytes > cap) {
      this.log.warn(
        { segmentBytes: options.segmentBytes, used: cap },
        'spool segment_bytes capped at half of max_bytes',
      );
    }
  }

  /** Opens (creating if needed) the spool under `${dir}/spool/`, recovering from any damage. */
  static async open(options: SpoolOptions): Promise<Spool> {
    if (!(options.maxBytes > 0)) throw new RangeError('spool maxBytes must be positive');
    if (options.fsync !== 'every_batch' && !(options.fsync > 0))
      throw new RangeError('spool fsync interval must be positive');
    if (options.segmentBytes < SEGMENT_HEADER_BYTES + MIN_FRAME_BYTES)
      throw new RangeError('spool segmentBytes too small');
    const spool = new Spool(options);
    await mkdir(spool.quarantineDir, { recursive: true });
    await spool.recover();
    return spool;
  }

  /** Unacknowledged batches. */
  get size(): number {
    return this.stats.frames;
  }

  /** True when no batch waits to be sent (new batches may bypass the spool only then). */
  get isEmpty(): boolean {
    return this.stats.frames === 0 && this.pending.length === 0;
  }

  /**
   * Appends a batch. Resolves when it is durable (see the fsync invariant); with `block` at the
   * bound, or on ENOSPC, it stays pending until space frees. Rejects with SpoolFullError when the
   * batch alone exceeds the bound or `signal` aborts the wait.
   */
  append(batch: SpoolBatch, options?: AppendOptions): Promise<void> {
    if (this.closing) return Promise.reject(new Error('spool is closed'));
    const frame = encodeFrame(batch);
    if (frame.bytes + SEGMENT_HEADER_BYTES > this.maxBytes) {
      return Promise.reject(
        new SpoolFullError(
          `a batch of ${frame.bytes} bytes does not fit in spool.max_bytes (${this.maxBytes}): raise spool.max_bytes or lower the batch size`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const p: PendingAppend = {
        frame,
        records: batch.records,
        createdAt: batch.createdAt,
        resolve,
        reject,
        taken: false,
        settled: false,
        cleanup: undefined,
      };
      const signal = options?.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          reject(
            new SpoolFullError(
              'gave up waiting for spool space: the append was aborted before it was written',
            ),
          );
          return;
        }
        const onAbort = (): void => {
          if (p.taken || p.settled) return;
          const i = this.pending.indexOf(p);
          if (i >= 0) this.pending.splice(i, 1);
          this.settle(
            p,
            new SpoolFullError(
              'gave up waiting for spool space: raise spool.max_bytes or restore the brokers',
            ),
          );
          this.wakeWriter?.();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.push(p);
      this.startWriter();
    });
  }

  /**
   * The oldest unacknowledged batch, or undefined when there is none. Marks it handed out, so a
   * following `ack()` acknowledges it; peeking again before the ack returns the same batch.
   */
  peek(): Promise<SpoolBatch | undefined> {
    return this.serialRead(async () => {
      const r = await this.readFrom(this.ackCursor);
      if (r === undefined) return undefined;
      if (this.inflight.length === 0) {
        this.inflight.push(r.next);
        this.readCursor = r.next;
      }
      return r.batch;
    });
  }

  /** The next batch not yet handed out (read-ahead for pipelined sending), or undefined when caught up. */
  read(): Promise<SpoolBatch | undefined> {
    return this.serialRead(async () => {
      const from = compare(this.readCursor, this.ackCursor) < 0 ? this.ackCursor : this.readCursor;
      const r = await this.readFrom(from);
      if (r === undefined) return undefined;
      this.readCursor = r.next;
      this.inflight.push(r.next);
      return r.batch;
    });
  }

  /**
   * Batches not yet handed out, FIFO. With `follow`, waits for new appends and ends at `close()`;
   * without, ends when caught up. Acknowledge each with `ack()`, in order.
   */
  async *batches(options?: { follow?: boolean }): AsyncGenerator<SpoolBatch> {
    for (;;) {
      if (this.closing) return;
      const writesBefore = this.stats.appendedFrames;
      const batch = await this.read();
      if (batch !== undefined) {
        yield batch;
        continue;
      }
      if (options?.follow !== true || this.closing) return;
      // A write that landed while read() was finishing would not wake a waiter pushed after it.
      if (this.stats.appendedFrames !== writesBefore) continue;
      await new Promise<void>((resolve) => this.dataWaiters.push(resolve));
      if (this.closing) return;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SpoolBatch> {
    return this.batches();
  }

  /**
   * Acknowledges the oldest batch handed out by `peek()`/`read()`: it will not be read again.
   * Segments whose frames are all acknowledged are deleted. A no-op for a batch whose segment
   * `drop_oldest` dropped after it was handed out (such a batch is counted as dropped even if the
   * caller then delivers it). Throws when no batch is handed out.
   */
  async ack(): Promise<void> {
    // After close the position was already persisted; a late ack only costs a resend after restart.
    if (this.closing) return;
    const target = this.inflight.shift();
    if (target === undefined) throw new Error('spool ack() without a batch handed out by peek() or read()');
    if (compare(target, this.ackCursor) > 0) this.advanceAck(target);
    await this.deleteAckedSegments();
    this.wakeWriter?.();
    await this.persistAck(false);
  }

  /**
   * True when the oldest batch handed out by `peek()`/`read()` (not yet acknowledged) was dropped
   * by `drop_oldest` since: a sender should not send it (it is counted as dropped), only `ack()` it.
   */
  get handedOutDropped(): boolean {
    const target = this.inflight[0];
    return target !== undefined && compare(this.ackCursor, target) >= 0;
  }

  /**
   * The handed-out batch was dropped while its send was in flight, and the send succeeded after
   * all: count its records as acknowledged rather than dropped, so the counts stay exact. Call
   * before `ack()`, only when `handedOutDropped` is true.
   */
  reclaimDropped(records: number): void {
    if (!this.handedOutDropped) return;
    this.stats.droppedFramesFull--;
    this.stats.droppedRecordsFull -= records;
    this.stats.ackedFrames++;
    this.stats.ackedRecords += records;
    this.log.info({ records }, 'a dropped spool batch was delivered after all: counted as delivered');
  }

  /** Finishes writes in progress, rejects appends still waiting, persists the read position. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.wakeWriter?.();
    for (const w of this.dataWaiters.splice(0)) w();
    await this.writerRunning;
    for (const p of this.pending.splice(0))
      this.settle(p, new Error('spool closed before the batch was written'));
    this.clock.clearTimeout(this.syncTimer);
    this.clock.clearTimeout(this.stateTimer);
    if (this.writeFh !== undefined) {
      await this.writeFh
        .datasync()
        .catch((err: unknown) => this.log.error({ err }, 'spool fsync failed at close'));
      await this.writeFh.close();
      this.writeFh = undefined;
    }
    await this.readChain.catch(() => undefined);
    for (const r of this.readers.values()) {
      await r.settle();
      await r.fh.close().catch(() => undefined);
    }
    this.readers.clear();
    await this.persistAck(true);
    await this.stateChain;
  }

  // ---------------------------------------------------------------- writing

  private startWriter(): void {
    if (this.writerRunning !== undefined) return;
    this.writerRunning = this.runWriter()
      .catch((err: unknown) => {
        // runWriter handles its errors per append; this is a bug guard, not a path.
        this.log.error({ err }, 'spool writer failed');
        for (const p of this.pending.splice(0)) this.settle(p, err as Error);
      })
      .finally(() => {
        this.writerRunning = undefined;
        if (this.pending.length > 0 && !this.closing) this.startWriter();
      });
  }

  private async runWriter(): Promise<void> {
    while (this.pending.length > 0 && !this.closing) {
      const head = this.pending[0];
      // A new head (the old one aborted) may not fit where the old one did: makeRoom looks again.
      let ready: boolean;
      try {
        ready = await this.makeRoom(head.frame.bytes);
      } catch (err) {
        if (isDiskFull(err)) await this.onDiskFull(err);
        else this.failHead(err as Error);
        continue;
      }
      if (!ready) continue;
      const group = this.takeGroup();
      if (group.length === 0) continue;
      await this.writeGroup(group);
    }
  }

  private failHead(err: Error): void {
    const p = this.pending.shift();
    if (p !== undefined) this.settle(p, err);
    this.stats.writeErrors++;
    this.log.error({ err }, 'spool append failed');
  }

  private takeGroup(): PendingAppend[] {
    const seg = this.active as Segment;
    const group: PendingAppend[] = [];
    let bytes = 0;
    while (this.pending.length > 0 && group.length < MAX_GROUP_FRAMES) {
      const p = this.pending[0];
      const n = p.frame.bytes;
      const overSegment =
        seg.size + bytes + n > this.segmentBytes && (group.length > 0 || seg.size > SEGMENT_HEADER_BYTES);
      if (overSegment || this.stats.bytes + bytes + n > this.maxBytes) break;
      this.pending.shift();
      p.taken = true;
      group.push(p);
      bytes += n;
    }
    return group;
  }

  private async writeGroup(group: PendingAppend[]): Promise<void> {
    const seg = this.active as Segment;
    const start = seg.size;
    const bufs: Buffer[] = [];
    let bytes = 0;
    for (const p of group) {
      bufs.push(p.frame.head, p.frame.payload);
      bytes += p.frame.bytes;
    }
    try {
      const fh = await this.writeHandle(seg);
      this.beforeWrite?.(bytes);
      const { bytesWritten } = await fh.writev(bufs, start);
      if (bytesWritten !== bytes) {
        // The kernel writes what fits and reports ENOSPC only on the next write: a short write is a full disk.
        throw Object.assign(new Error(`short write to spool segment (${bytesWritten} of ${bytes} bytes)`), {
          code: 'ENOSPC',
        });
      }
      if (this.fsyncMs === undefined) await fh.datasync();
      else this.markDirty();
    } catch (err) {
      // Whatever part was written is not a frame anyone saw: cut it off before retrying.
      await truncate(seg.path, start).catch(() => undefined);
      if (isDiskFull(err)) {
        for (const p of group) p.taken = false;
        this.pending.unshift(...group);
        await this.onDiskFull(err);
        return;
      }
      this.stats.writeErrors++;
      this.log.error({ err, segment: seg.id }, 'spool write failed');
      for (const p of group) this.settle(p, err as Error);
      return;
    }
    let off = start;
    for (const p of group) {
      seg.offsets.push(off);
      seg.frameBytes.push(p.frame.bytes);
      seg.records.push(p.records);
      seg.createdAt.push(p.createdAt);
      off += p.frame.bytes;
      this.stats.frames++;
      this.stats.records += p.records;
      this.stats.appendedFrames++;
      this.stats.appendedRecords += p.records;
      this.stats.appendedBytes += p.frame.bytes;
      if (this.stats.oldestCreatedAt === 0) this.stats.oldestCreatedAt = p.createdAt;
    }
    seg.size = off;
    this.stats.bytes += bytes;
    if (this.stats.diskFull === 1) {
      this.stats.diskFull = 0;
      this.log.info({ segment: seg.id }, 'spool volume has space again');
    }
    this.loggedBlocked = false;
    for (const p of group) this.settle(p, undefined);
    for (const w of this.dataWaiters.splice(0)) w();
  }

  /**
   * Ensures the active segment can take `bytes` within the bound. Returns false when it waited,
   * dropped or retired something instead, so the caller looks at the queue again.
   */
  private async makeRoom(bytes: number): Promise<boolean> {
    if (this.closing) return false;
    const seg = this.active;
    const needRoll =
      seg === undefined || (seg.size > SEGMENT_HEADER_BYTES && seg.size + bytes > this.segmentBytes);
    const need = bytes + (needRoll ? SEGMENT_HEADER_BYTES : 0);
    if (this.stats.bytes + need > this.maxBytes) {
      if (this.segs.length === 0)
        throw new SpoolFullError('spool accounting found no segment to free: reopen the spool');
      if (seg !== undefined && this.activeFullyAcked()) {
        await this.sealActive();
        await this.deleteAckedSegments();
        return false;
      }
      if (this.whenFull === 'drop_oldest') {
        await this.dropOldest();
        return false;
      }
      await this.waitForSpace();
      return false;
    }
    if (needRoll) await this.roll();
    return true;
  }

  private activeFullyAcked(): boolean {
    const seg = this.active;
    if (seg === undefined || this.inflight.length > 0) return false;
    const c = this.normalize(this.ackCursor);
    return c.seg > seg.id || (c.seg === seg.id && c.frame >= seg.offsets.length);
  }

  private async waitForSpace(): Promise<void> {
    this.waitingForSpace = true;
    this.stats.blockedTotal++;
    if (!this.loggedBlocked) {
      this.loggedBlocked = true;
      this.log.warn(
        { bytes: this.stats.bytes, maxBytes: this.maxBytes, waiting: this.pending.length },
        'spool full: appends wait for acknowledgements',
      );
    }
    await new Promise<void>((resolve) => {
      this.wakeWriter = resolve;
    });
    this.wakeWriter = undefined;
    this.waitingForSpace = false;
  }

  private async onDiskFull(err: unknown): Promise<void> {
    this.stats.diskFullErrors++;
    if (this.stats.diskFull === 0) {
      this.stats.diskFull = 1;
      this.log.error(
        {
          err: new SpoolDiskFullError(
            `the spool volume under ${this.spoolDir} is full (${(err as NodeJS.ErrnoException).code}): free disk space or lower spool.max_bytes; appends wait`,
          ),
          bytes: this.stats.bytes,
        },
        'spool volume full: appends wait',
      );
    }
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.wakeWriter = undefined;
        resolve();
      }, this.diskFullRetryMs);
      this.wakeWriter = () => {
        this.clock.clearTimeout(timer);
        this.wakeWriter = undefined;
        resolve();
      };
    });
  }

  private async writeHandle(seg: Segment): Promise<FileHandle> {
    if (this.writeFh === undefined) this.writeFh = await open(seg.path, 'r+');
    return this.writeFh;
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.syncTimer !== undefined) return;
    this.syncTimer = this.clock.setTimeout(() => {
      this.syncTimer = undefined;
      const fh = this.writeFh;
      if (!this.dirty || fh === undefined) return;
      this.dirty = false;
      fh.datasync().catch((err: unknown) => this.log.error({ err }, 'spool fsync failed'));
    }, this.fsyncMs as number);
  }

  private async sealActive(): Promise<void> {
    const fh = this.writeFh;
    this.active = undefined;
    this.writeFh = undefined;
    if (fh !== undefined) {
      if (this.dirty) {
        this.dirty = false;
        await fh.datasync().catch((err: unknown) => this.log.error({ err }, 'spool fsync failed'));
      }
      await fh.close().catch(() => undefined);
    }
  }

  private async roll(): Promise<void> {
    await this.sealActive();
    await this.deleteAckedSegments();
    const id = this.nextId;
    const path = join(this.spoolDir, segmentFileName(id));
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'wx');
      this.beforeWrite?.(SEGMENT_HEADER_BYTES);
      await fh.write(SEGMENT_MAGIC, 0, SEGMENT_MAGIC.length, 0);
      await fh.datasync();
      await syncDir(this.spoolDir);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw err;
    }
    this.nextId = id + 1;
    const seg = newSegment(id, path, SEGMENT_HEADER_BYTES);
    this.segs.push(seg);
    this.segById.set(id, seg);
    this.active = seg;
    this.writeFh = fh;
    this.stats.bytes += SEGMENT_HEADER_BYTES;
    this.stats.segments++;
  }

  private settle(p: PendingAppend, err: Error | undefined): void {
    if (p.settled) return;
    p.settled = true;
    p.cleanup?.();
    if (err === undefined) p.resolve();
    else p.reject(err);
  }

  // ---------------------------------------------------------------- dropping and deleting

  private async dropOldest(): Promise<void> {
    if (this.segs[0] === this.active) await this.sealActive();
    const seg = this.segs[0];
    if (seg === undefined) return;
    // Count and detach before any await, so a concurrent ack cannot count the same frames.
    const ack = this.normalize(this.ackCursor);
    const first = ack.seg > seg.id ? seg.offsets.length : ack.seg === seg.id ? ack.frame : 0;
    let frames = 0;
    let records = 0;
    let bytes = 0;
    for (let i = first; i < seg.offsets.length; i++) {
      if (seg.dead?.has(i)) continue;
      frames++;
      records += seg.records[i];
      bytes += seg.frameBytes[i];
    }
    this.stats.frames -= frames;
    this.stats.records -= records;
    this.stats.droppedFramesFull += frames;
    this.stats.droppedRecordsFull += records;
    this.stats.droppedBytesFull += bytes;
    const after: Cursor = { seg: seg.id + 1, frame: 0 };
    if (compare(this.ackCursor, after) < 0) this.ackCursor = after;
    if (compare(this.readCursor, after) < 0) this.readCursor = after;
    this.detachSegment(seg);
    this.refreshOldest();

    const ranges = new Map<string, { startOffset: number; endOffset: number }>();
    const topics = new Map<string, number>();
    if (frames > 0) await this.collectRanges(seg, first, ranges, topics);
    this.log.warn(
      {
        segment: seg.id,
        droppedRecords: records,
        droppedFrames: frames,
        ranges: [...ranges].slice(0, 100).map(([fileId, r]) => ({ fileId, ...r })),
        topics: Object.fromEntries(topics),
      },
      'spool full: dropped the oldest segment',
    );
    await this.unlinkSegment(seg);
  }

  /** Source ranges (per file, first to last offset) and records per topic of a segment's frames from `first`. */
  private async collectRanges(
    seg: Segment,
    first: number,
    ranges: Map<string, { startOffset: number; endOffset: number }>,
    topics: Map<string, number>,
  ): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(seg.path, 'r');
      const reader = new BlockReader(fh);
      for (let i = first; i < seg.offsets.length; i++) {
        if (seg.dead?.has(i)) continue;
        const frame = await readCheckedFrame(reader, seg.offsets[i], seg.size);
        if (frame === undefined || frameKind(frame) !== KIND_BATCH) continue;
        const b = decodeFrame(frame);
        topics.set(b.topic, (topics.get(b.topic) ?? 0) + b.records);
        for (const p of b.positions) {
          const r = ranges.get(p.fileId);
          if (r === undefined) ranges.set(p.fileId, { startOffset: p.startOffset, endOffset: p.endOffset });
          else {
            r.startOffset = Math.min(r.startOffset, p.startOffset);
            r.endOffset = Math.max(r.endOffset, p.endOffset);
          }
        }
      }
    } catch (err) {
      // The counts are already taken; only the range detail of the log line is missing.
      this.log.debug({ err, segment: seg.id }, 'spool could not read ranges of a dropped segment');
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  private advanceAck(target: Cursor): void {
    let c = this.normalize(this.ackCursor);
    while (compare(c, target) < 0) {
      const seg = this.segById.get(c.seg);
      if (seg === undefined || c.frame >= seg.offsets.length) break;
      if (!seg.dead?.has(c.frame)) {
        this.stats.frames--;
        this.stats.records -= seg.records[c.frame];
        this.stats.ackedFrames++;
        this.stats.ackedRecords += seg.records[c.frame];
      }
      c = this.normalize({ seg: c.seg, frame: c.frame + 1 });
    }
    this.ackCursor = target;
    this.refreshOldest();
  }

  /** Deletes sealed segments every frame of which is acknowledged. */
  private async deleteAckedSegments(): Promise<void> {
    const ack = this.normalize(this.ackCursor);
    while (this.segs.length > 0) {
      const seg = this.segs[0];
      if (seg === this.active) return;
      if (!(seg.id < ack.seg || (seg.id === ack.seg && ack.frame >= seg.offsets.length))) return;
      await this.removeSegment(seg);
    }
  }

  private async removeSegment(seg: Segment): Promise<void> {
    if (!this.segById.has(seg.id)) return;
    this.detachSegment(seg);
    await this.unlinkSegment(seg);
  }

  private detachSegment(seg: Segment): void {
    const i = this.segs.indexOf(seg);
    if (i < 0) return;
    this.segs.splice(i, 1);
    this.segById.delete(seg.id);
    this.stats.bytes -= seg.size;
    this.stats.segments--;
  }

  private async unlinkSegment(seg: Segment): Promise<void> {
    await unlink(seg.path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.error({ err, segment: seg.id }, 'spool segment delete failed');
    });
  }

  private refreshOldest(): void {
    const c = this.normalize(this.ackCursor);
    for (
      let s = Math.max(
        0,
        this.segs.findIndex((x) => x.id >= c.seg),
      );
      s < this.segs.length;
      s++
    ) {
      const seg = this.segs[s];
      if (seg.id < c.seg) continue;
      for (let i = seg.id === c.seg ? c.frame : 0; i < seg.offsets.length; i++) {
        if (seg.dead?.has(i)) continue;
        this.stats.oldestCreatedAt = seg.createdAt[i];
        return;
      }
    }
    this.stats.oldestCreatedAt = 0;
  }

  // ---------------------------------------------------------------- reading

  private serialRead<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new Error('spool is closed'));
    const run = this.readChain.then(async () => {
      await this.closeStaleReaders();
      return fn();
    });
    this.readChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Moves a cursor forward past segment ends, missing segments and dead frames, so that it names
   * a readable frame, or the end of the active segment, or the start of the next segment to come.
   */
  private normalize(c: Cursor): Cursor {
    let cur = c;
    for (;;) {
      const seg = this.segById.get(cur.seg);
      if (seg === undefined) {
        const next = this.segs.find((s) => s.id > cur.seg);
        if (next === undefined) return cur;
        cur = { seg: next.id, frame: 0 };
        continue;
      }
      if (cur.frame < seg.offsets.length) {
        if (seg.dead?.has(cur.frame)) {
          cur = { seg: cur.seg, frame: cur.frame + 1 };
          continue;
        }
        return cur;
      }
      if (seg === this.active) return cur;
      cur = { seg: Math.max(cur.seg + 1, this.segs.find((s) => s.id > seg.id)?.id ?? this.nextId), frame: 0 };
      if (!this.segById.has(cur.seg)) return cur;
    }
  }

  private async readFrom(from: Cursor): Promise<{ batch: SpoolBatch; next: Cursor } | undefined> {
    let c = from;
    for (;;) {
      c = this.normalize(c);
      const seg = this.segById.get(c.seg);
      if (seg === undefined || c.frame >= seg.offsets.length) return undefined;
      const reader = await this.readerFor(seg);
      const offset = seg.offsets[c.frame];
      const checked = seg.checkedMtimeNs;
      let frame = await readCheckedFrame(reader, offset, seg.size, checked !== undefined);
      if (
        frame !== undefined &&
        checked !== undefined &&
        reader.blockMtimeNs !== checked &&
        !frameChecksumOk(frame)
      )
        frame = undefined;
      if (
        frame !== undefined &&
        frame.length === seg.frameBytes[c.frame] &&
        frameKind(frame) === KIND_BATCH
      ) {
        try {
          return { batch: decodeFrame(frame), next: { seg: c.seg, frame: c.frame + 1 } };
        } catch {
          // falls through to damage handling
        }
      }
      await this.markDead(seg, c.frame, reader);
      c = { seg: c.seg, frame: c.frame + 1 };
    }
  }

  /** A frame that checked out at open no longer does: quarantine it, pad over it, skip it. */
  private async markDead(seg: Segment, i: number, reader: BlockReader): Promise<void> {
    seg.dead ??= new Set();
    seg.dead.add(i);
    seg.checkedMtimeNs = undefined;
    this.stats.frames--;
    this.stats.records -= seg.records[i];
    const offset = seg.offsets[i];
    const bytes = seg.frameBytes[i];
    const to = await this.quarantine(seg, offset, bytes, 'checksum');
    try {
      const fh = await open(seg.path, 'r+');
      try {
        await fh.write(encodePadding(bytes), 0, bytes, offset);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.log.error({ err, segment: seg.id, offset }, 'spool could not pad over a damaged frame');
    }
    reader.invalidate();
    this.report({ segment: seg.id, offset, bytes, reason: 'checksum', quarantinedTo: to }, seg.records[i]);
    this.refreshOldest();
  }

  private async readerFor(seg: Segment): Promise<BlockReader> {
    let r = this.readers.get(seg.id);
    if (r === undefined) {
      r = new BlockReader(await open(seg.path, 'r'), 4 * 1024 * 1024, seg.checkedMtimeNs !== undefined);
      this.readers.set(seg.id, r);
    }
    return r;
  }

  private async closeStaleReaders(): Promise<void> {
    for (const [id, r] of this.readers) {
      if (this.segById.has(id)) continue;
      this.readers.delete(id);
      await r.settle();
      await r.fh.close().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- state

  private async persistAck(force: boolean): Promise<void> {
    const now = this.clock.now();
    if (!force && this.ackSyncMs > 0 && now - this.lastStateWrite < this.ackSyncMs) {
      if (this.stateTimer === undefined) {
        this.stateTimer = this.clock.setTimeout(() => {
          this.stateTimer = undefined;
          this.persistAck(true).catch(() => undefined);
        }, this.ackSyncMs);
      }
      return;
    }
    this.lastStateWrite = now;
    const c = this.normalize(this.ackCursor);
    const seg = this.segById.get(c.seg);
    const state = {
      segment: c.seg,
      offset:
        seg === undefined
          ? SEGMENT_HEADER_BYTES
          : c.frame < seg.offsets.length
            ? seg.offsets[c.frame]
            : seg.size,
    };
    const write = this.stateChain.then(() => writeSpoolState(this.spoolDir, state));
    this.stateChain = write.catch((err: unknown) => {
      this.log.error({ err }, 'spool state write failed');
    });
    await this.stateChain;
  }

  // ---------------------------------------------------------------- recovery

  private async recover(): Promise<void> {
    const names = await readdir(this.spoolDir);
    const ids: number[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp')) await rm(join(this.spoolDir, name), { force: true });
      const m = SEGMENT_NAME.exec(name);
      if (m !== null) ids.push(Number(m[1]));
    }
    ids.sort((a, b) => a - b);

    const stateRead = await readSpoolState(this.spoolDir);
    const state = stateRead.kind === 'ok' ? stateRead.state : undefined;
    if (stateRead.kind === 'invalid') {
      this.stats.stateResets++;
      const to = await this.quarantineFile(join(this.spoolDir, 'state.json'), 'state.json.bad');
      this.log.warn(
        {
          err: new SpoolCorruptError(
            `spool state file unreadable (${stateRead.reason}): reading restarts at the oldest segment; acknowledged batches may be sent again`,
          ),
          quarantinedTo: to,
        },
        'spool state reset',
      );
    }

    for (const id of ids) {
      const path = join(this.spoolDir, segmentFileName(id));
      if (state !== undefined && id < state.segment) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      const seg = await this.recoverSegment(id, path);
      if (seg === undefined) continue;
      this.segs.push(seg);
      this.segById.set(id, seg);
      this.stats.bytes += seg.size;
      this.stats.segments++;
    }
    const maxId = ids.length > 0 ? ids[ids.length - 1] : 0;
    this.nextId = Math.max(maxId, state?.segment ?? 0) + 1;
    this.active = this.segs.length > 0 ? this.segs[this.segs.length - 1] : undefined;

    let ack: Cursor = { seg: this.segs[0]?.id ?? this.nextId, frame: 0 };
    if (state !== undefined) {
      const seg = this.segById.get(state.segment);
      if (seg === undefined) ack = { seg: state.segment, frame: 0 };
      else {
        let k = 0;
        while (k < seg.offsets.length && seg.offsets[k] < state.offset) k++;
        const atBoundary =
          (k < seg.offsets.length && seg.offsets[k] === state.offset) || state.offset >= seg.size;
        if (!atBoundary) {
          // Inside a frame (or on one padded over): step back, replaying rather than skipping.
          k = Math.max(0, k - 1);
          this.log.warn(
            { segment: seg.id, offset: state.offset },
            'spool state offset is not a frame boundary',
          );
        }
        ack = { seg: seg.id, frame: k };
      }
    }
    this.ackCursor = this.normalize(ack);
    this.readCursor = this.ackCursor;
    for (const seg of this.segs) {
      for (let i = seg.id === this.ackCursor.seg ? this.ackCursor.frame : 0; i < seg.offsets.length; i++) {
        if (seg.id < this.ackCursor.seg) break;
        this.stats.frames++;
        this.stats.records += seg.records[i];
      }
    }
    this.refreshOldest();
    await this.deleteAckedSegments();
    if (stateRead.kind !== 'ok') await this.persistAck(true);
    this.log.info(
      {
        dir: this.spoolDir,
        segments: this.stats.segments,
        frames: this.stats.frames,
        records: this.stats.records,
        bytes: this.stats.bytes,
        damaged: this.damage.length,
      },
      'spool opened',
    );
  }

  /** Checks one segment file and repairs it in place; undefined when the whole file went to quarantine. */
  private async recoverSegment(id: number, path: string): Promise<Segment | undefined> {
    try {
      const scanStart = Date.now();
      const scan = await scanSegment(path);
      if (!scan.headerOk) {
        if (scan.size === 0) {
          await unlink(path);
          return undefined;
        }
        const to = await this.quarantineFile(path, `${segmentFileName(id)}.header.bad`);
        this.report({ segment: id, offset: 0, bytes: scan.size, reason: 'header', quarantinedTo: to }, 0);
        return undefined;
      }
      const seg = newSegment(id, path, scan.size);
      if (scan.damage.length === 0 && scanStart - Number(scan.mtimeNs / 1_000_000n) >= MTIME_TRUST_MS)
        seg.checkedMtimeNs = scan.mtimeNs;
      for (const f of scan.frames) {
        seg.offsets.push(f.offset);
        seg.frameBytes.push(f.bytes);
        seg.records.push(f.records);
        seg.createdAt.push(f.createdAt);
      }
      if (scan.damage.length > 0) {
        const fh = await open(path, 'r+');
        try {
          for (const d of scan.damage) {
            const records = await bestEffortRecords(fh, d.offset, d.bytes);
            const to = await this.quarantine(seg, d.offset, d.bytes, d.reason);
            if (d.toEnd) {
              await fh.truncate(d.offset);
              seg.size = d.offset;
            } else {
              await fh.write(encodePadding(d.bytes), 0, d.bytes, d.offset);
            }
            this.report(
              { segment: id, offset: d.offset, bytes: d.bytes, reason: d.reason, quarantinedTo: to },
              records,
            );
          }
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
      return seg;
    } catch (err) {
      const to = await this.quarantineFile(path, `${segmentFileName(id)}.unreadable.bad`);
      this.log.error({ err, segment: id }, 'spool segment unreadable');
      this.report({ segment: id, offset: 0, bytes: 0, reason: 'unreadable', quarantinedTo: to }, 0);
      return undefined;
    }
  }

  private report(d: SpoolDamage, records: number): void {
    this.damage.push(d);
    this.stats.droppedRangesCorrupt++;
    this.stats.droppedBytesCorrupt += d.bytes;
    this.stats.droppedRecordsCorrupt += records;
    this.log.warn(
      {
        err: new SpoolCorruptError(
          `damaged spool bytes (${d.reason}) in segment ${d.segment} at offset ${d.offset}: moved to ${d.quarantinedTo ?? '(not saved)'}; the intact batches are kept`,
        ),
        ...d,
        records,
      },
      'spool damage quarantined',
    );
  }

  /** Copies a byte range of a segment into quarantine/; returns the file, or undefined when it could not. */
  private async quarantine(
    seg: Segment,
    offset: number,
    bytes: number,
    reason: string,
  ): Promise<string | undefined> {
    const to = join(this.quarantineDir, `${segmentFileName(seg.id)}.${offset}.${reason}.bad`);
    try {
      const src = await open(seg.path, 'r');
      const dst = await open(to, 'w');
      try {
        const chunk = Buffer.allocUnsafe(Math.min(bytes, 1024 * 1024));
        let done = 0;
        while (done < bytes) {
          const { bytesRead } = await src.read(chunk, 0, Math.min(chunk.length, bytes - done), offset + done);
          if (bytesRead === 0) break;
          await dst.write(chunk, 0, bytesRead);
          done += bytesRead;
        }
        await dst.sync();
      } finally {
        await src.close();
        await dst.close();
      }
      await syncDir(this.quarantineDir);
      return to;
    } catch (err) {
      this.log.error({ err, segment: seg.id, offset }, 'spool could not save damaged bytes to quarantine');
      return undefined;
    }
  }

  private async quarantineFile(path: string, name: string): Promise<string | undefined> {
    const to = join(this.quarantineDir, name);
    try {
      await rename(path, to);
      return to;
    } catch (err) {
      this.log.error({ err, path }, 'spool could not move a damaged file to quarantine');
      await unlink(path).catch(() => undefined);
      return undefined;
    }
  }
}

function newSegment(id: number, path: string, size: number): Segment {
  return {
    id,
    path,
    size,
    offsets: [],
    frameBytes: [],
    records: [],
    createdAt: [],
    dead: undefined,
    checkedMtimeNs: undefined,
  };
}

function compare(a: Cursor, b: Cursor): number {
  return a.seg !== b.seg ? a.seg - b.seg : a.frame - b.frame;
}

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Record count of a damaged frame when its metadata still parses (the checksum failed elsewhere). */
async function bestEffortRecords(fh: FileHandle, offset: number, bytes: number): Promise<number> {
  try {
    if (bytes < MIN_FRAME_BYTES) return 0;
    const head = Buffer.alloc(Math.min(bytes, 64 * 1024));
    await fh.read(head, 0, head.length, offset);
    const len = frameBodyLength(head);
    if (len < 0 || head[FRAME_HEADER_BYTES] !== KIND_BATCH || head.length < FRAME_HEADER_BYTES + 16) return 0;
    return head.readUInt32LE(FRAME_HEADER_BYTES + 10);
  } catch {
    return 0;
  }
}
