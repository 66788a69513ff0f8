import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC_BYTES,
  frameBodyLength,
  frameChecksumOk,
  frameCreatedAt,
  frameKind,
  frameRecords,
  KIND_BATCH,
  KIND_PADDING,
  MIN_FRAME_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
} from './spool-batch.ts';

/** Segment file name for an id: fixed width so a directory listing sorts in FIFO order. */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(16, '0')}.seg`;
}

export const SEGMENT_NAME = /^(\d{16})\.seg$/;

/** A block of a file: `buf` holds the bytes at [start, start + buf.length). */
interface Block {
  readonly buf: Buffer;
  readonly start: number;
  /** The file's mtime (ns) taken just after the read (undefined when not tracked). */
  readonly mtimeNs: bigint | undefined;
}

const EMPTY: Block = { buf: Buffer.alloc(0), start: 0, mtimeNs: undefined };

/**
 * Positional reads through a read-ahead block, so sequential frame reads cost one syscall per
 * block instead of two per frame. While the caller works through one block the next one is
 * already being read (double buffering: the read overlaps checksumming and sending). Each refill
 * allocates a fresh block: views handed out earlier (payloads) stay valid; a read that straddles
 * two blocks gets its own copy. `limit` caps a refill at bytes known to be complete, so a block
 * never caches half of a frame that is still being written.
 */
export class BlockReader {
  readonly fh: FileHandle;
  private readonly blockBytes: number;
  private cur: Block = EMPTY;
  private next: Promise<Block | undefined> | undefined;
  private nextStart = -1;
  /**
   * With `trackMtime`: the file's mtime (ns) taken just after the bytes last returned were read
   * (undefined when they came from reads at different mtimes). Equal to the mtime seen before a
   * scan checked the file means none of those bytes changed since.
   */
  blockMtimeNs: bigint | undefined;
  private readonly trackMtime: boolean;

  constructor(fh: FileHandle, blockBytes = 1024 * 1024, trackMtime = false) {
    this.fh = fh;
    this.blockBytes = blockBytes;
    this.trackMtime = trackMtime;
  }

  /** Exactly `len` bytes at `pos`, or undefined when the file (or `limit`) ends first. */
  async read(pos: number, len: number, limit: number): Promise<Buffer | undefined> {
    if (pos + len > limit) return undefined;
    let cur = this.cur;
    let curEnd = cur.start + cur.buf.length;
    if (pos >= cur.start && pos + len <= curEnd) {
      this.blockMtimeNs = cur.mtimeNs;
      return cur.buf.subarray(pos - cur.start, pos - cur.start + len);
    }
    const pending = this.next;
    if (
      pending !== undefined &&
      this.nextStart === curEnd &&
      pos >= cur.start &&
      pos < curEnd + this.blockBytes
    ) {
      const nxt = await pending;
      // invalidate() may have run meanwhile: use the block only if nothing changed.
      if (nxt !== undefined && this.next === pending) {
        const nxtEnd = nxt.start + nxt.buf.length;
        if (pos >= nxt.start && pos + len <= nxtEnd) {
          this.cur = nxt;
          this.prefetch(nxtEnd, limit);
          this.blockMtimeNs = nxt.mtimeNs;
          return nxt.buf.subarray(pos - nxt.start, pos - nxt.start + len);
        }
        if (pos < curEnd && pos + len <= nxtEnd) {
          // Straddles the two blocks: a copy of just these bytes; both blocks stay.
          const out = Buffer.allocUnsafe(len);
          const head = cur.buf.copy(out, 0, pos - cur.start);
          nxt.buf.copy(out, head, 0, len - head);
          this.blockMtimeNs = cur.mtimeNs === nxt.mtimeNs ? cur.mtimeNs : undefined;
          return out;
        }
      }
    }
    cur = await this.fetch(pos, Math.min(Math.max(len, this.blockBytes), limit - pos));
    this.cur = cur;
    curEnd = cur.start + cur.buf.length;
    this.prefetch(curEnd, limit);
    this.blockMtimeNs = cur.mtimeNs;
    return cur.buf.length >= len ? cur.buf.subarray(0, len) : undefined;
  }

  private prefetch(from: number, limit: number): void {
    const want = Math.min(this.blockBytes, limit - from);
    this.nextStart = from;
    // A failed read-ahead is retried by the read that needs it (which then throws).
    this.next = want > 0 ? this.fetch(from, want).catch(() => undefined) : undefined;
  }

  private async fetch(pos: number, want: number): Promise<Block> {
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    // After the read: a write that landed before it has already moved the mtime.
    const mtimeNs = this.trackMtime ? (await this.fh.stat({ bigint: true })).mtimeNs : undefined;
    return { buf: buf.subarray(0, got), start: pos, mtimeNs };
  }

  /** Forgets the cached blocks (after the file was changed in place). */
  invalidate(): void {
    this.cur = EMPTY;
    this.next = undefined;
    this.nextStart = -1;
    this.blockMtimeNs = undefined;
  }

  /** Waits for a read-ahead in flight (before closing the file handle). */
  async settle(): Promise<void> {
    await this.next;
  }
}

/** One intact batch frame found by a scan. */
export interface ScannedFrame {
  readonly offset: number;
  readonly bytes: number;
  readonly records: number;
  readonly createdAt: number;
}

/** Bytes of a segment that are not intact frames. */
export interface DamagedRange {
  readonly offset: number;
  readonly bytes: number;
  /** `torn`: an unfinished frame at the end (a write cut short); `checksum`: a frame that does not check out. */
  readonly reason: 'torn' | 'checksum';
  /** True when the range runs to the end of the file (it is truncated rather than padded). */
  readonly toEnd: boolean;
}

export interface SegmentScan {
  readonly size: number;
  /** The file's mtime (ns) before the scan read it: every frame it found intact was intact then. */
  readonly mtimeNs: bigint;
  /** False when the file does not start with the segment header (empty, cut short, or not ours). */
  readonly headerOk: boolean;
  readonly frames: ScannedFrame[];
  readonly damage: DamagedRange[];
  /** Bytes of padding frames (earlier damage already repaired). */
  readonly paddingBytes: number;
}

/**
 * Reads a whole segment, checking every frame. Damage is skipped by searching for the next frame
 * magic whose frame checks out; everything between is reported as one damaged range.
 * `onBatch` sees each intact batch frame (a view valid only during the call).
 */
export async function scanSegment(
  path: string,
  onBatch?: (frame: Buffer, offset: number) => void,
): Promise<SegmentScan> {
  const fh = await open(path, 'r');
  let reader: BlockReader | undefined;
  try {
    const st = await fh.stat({ bigint: true });
    const size = Number(st.size);
    const mtimeNs = st.mtimeNs;
    reader = new BlockReader(fh, 4 * 1024 * 1024);
    const header = await reader.read(0, SEGMENT_HEADER_BYTES, size);
    if (header === undefined || !header.equals(SEGMENT_MAGIC)) {
      return { size, mtimeNs, headerOk: false, frames: [], damage: [], paddingBytes: 0 };
    }
    const frames: ScannedFrame[] = [];
    const damage: DamagedRange[] = [];
    let paddingBytes = 0;
    let off = SEGMENT_HEADER_BYTES;
    while (off < size) {
      const frame = await readCheckedFrame(reader, off, size);
      if (frame !== undefined) {
        if (frameKind(frame) === KIND_BATCH) {
          frames.push({
            offset: off,
            bytes: frame.length,
            records: frameRecords(frame),
            createdAt: frameCreatedAt(frame),
          });
          onBatch?.(frame, off);
        } else {
          paddingBytes += frame.length;
        }
        off += frame.length;
        continue;
      }
      const next = await findNextFrame(reader, off + MIN_FRAME_BYTES, size);
      const torn = next === size && (await announcesPastEnd(reader, off, size));
      damage.push({
        offset: off,
        bytes: next - off,
        reason: torn ? 'torn' : 'checksum',
        toEnd: next === size,
      });
      off = next;
    }
    return { size, mtimeNs, headerOk: true, frames, damage, paddingBytes };
  } finally {
    await fh.close();
  }
}

/**
 * The frame at `off` when its header, length and checksum are all right and its kind is known.
 * `verified`: the checksum was already checked on these very bytes (the file has not changed
 * since), so only the header, length and kind are.
 */
export async function readCheckedFrame(
  reader: BlockReader,
  off: number,
  limit: number,
  verified = false,
): Promise<Buffer | undefined> {
  const header = await reader.read(off, FRAME_HEADER_BYTES, limit);
  if (header === undefined) return undefined;
  const len = frameBodyLength(header);
  if (len < 0) return undefined;
  const frame = await reader.read(off, FRAME_HEADER_BYTES + len, limit);
  if (frame === undefined || (!verified && !frameChecksumOk(frame))) return undefined;
  const kind = frameKind(frame);
  return kind === KIND_BATCH || kind === KIND_PADDING ? frame : undefined;
}

async function announcesPastEnd(reader: BlockReader, off: number, size: number): Promise<boolean> {
  const header = await reader.read(off, FRAME_HEADER_BYTES, size);
  if (header === undefined) return true;
  const len = frameBodyLength(header);
  return len >= 0 && off + FRAME_HEADER_BYTES + len > size;
}

/** Offset of the first intact frame at or after `from`, or `size` when there is none. */
async function findNextFrame(reader: BlockReader, from: number, size: number): Promise<number> {
  const window = 1024 * 1024;
  let pos = from;
  while (pos + FRAME_HEADER_BYTES <= size) {
    const len = Math.min(window, size - pos);
    const chunk = await reader.read(pos, len, size);
    if (chunk === undefined) break;
    let i = chunk.indexOf(FRAME_MAGIC_BYTES);
    while (i >= 0) {
      if ((await readCheckedFrame(reader, pos + i, size)) !== undefined) return pos + i;
      // readCheckedFrame moved the block; take the window again before searching on.
      const again = await reader.read(pos, len, size);
      if (again === undefined) return size;
      i = again.indexOf(FRAME_MAGIC_BYTES, i + 1);
    }
    if (pos + len >= size) break;
    pos += len - (FRAME_MAGIC_BYTES.length - 1);
  }
  return size;
}
