import { crc32c } from './crc32c.ts';

/** A run of bytes of one source file that a spooled batch covers: what its receipt acknowledges. */
export interface SpoolSourceRange {
  /** Stable file identity (LineChunk.fileId). */
  readonly fileId: string;
  /** Byte offset of the first line covered. */
  readonly startOffset: number;
  /** Byte offset just past the last line covered (where the checkpoint may move to). */
  readonly endOffset: number;
}

/**
 * One batch as the spool keeps it: an opaque payload produced by the sink (already compressed,
 * in whatever encoding the sink replays) plus what is needed to send it and acknowledge it.
 */
export interface SpoolBatch {
  readonly topic: string;
  /** Number of records in the payload; what drop and inspect counts are made of. */
  readonly records: number;
  /** Codec of the payload as the sink names it (`none`, `gzip`, `zstd`, ...), so `spool drain` can decode it. */
  readonly codec: string;
  /** Message keys, one per record, when the sink keeps them outside the payload; otherwise undefined. */
  readonly keys: readonly (string | null)[] | undefined;
  /** Source ranges the batch covers, in file order per file. */
  readonly positions: readonly SpoolSourceRange[];
  /** Wall-clock ms when the batch was made (oldest-age metric, inspect). */
  readonly createdAt: number;
  /** The sink's payload, unchanged. */
  readonly payload: Buffer;
}

// Layout constants; the format itself is described at the top of spool.ts.
export const SEGMENT_MAGIC = Buffer.from('LFSPSEG\x01', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const FRAME_MAGIC = 0x5246464c; // 'LFFR' read as little-endian u32
export const FRAME_MAGIC_BYTES = Buffer.from('LFFR', 'latin1');
export const FRAME_HEADER_BYTES = 12;
export const KIND_BATCH = 1;
export const KIND_PADDING = 2;
/** Smallest frame: header + kind + flags. A padding frame covering damage must be at least this long. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + 2;
/** Fixed prefix of a batch body: kind u8, flags u8, createdAt f64, records u32, topic length u16. */
const BATCH_FIXED_BYTES = 16;
const FLAG_KEYS = 1;
/** A frame body longer than this is damage, not data (kept well under Buffer limits). */
export const MAX_BODY_BYTES = 1024 * 1024 * 1024;

/**
 * An encoded frame as the writer's writev parts: `head` holds the frame header and the batch's
 * metadata, `payload` is the caller's buffer (not copied).
 */
export interface EncodedFrame {
  readonly head: Buffer;
  readonly payload: Buffer;
  readonly bytes: number;
}

/** Encodes a batch; the checksum covers the length field and the whole body (metadata and payload). */
export function encodeFrame(batch: SpoolBatch): EncodedFrame {
  const topicLen = Buffer.byteLength(batch.topic);
  const codecLen = Buffer.byteLength(batch.codec);
  if (topicLen > 0xffff) throw new RangeError('spool batch topic longer than 65535 bytes');
  if (codecLen > 0xff) throw new RangeError('spool batch codec name longer than 255 bytes');
  let metaLen = BATCH_FIXED_BYTES + topicLen + 1 + codecLen + 4;
  const positions = batch.positions;
  for (let i = 0; i < positions.length; i++) metaLen += 2 + Buffer.byteLength(positions[i].fileId) + 16;
  const keys = batch.keys;
  if (keys !== undefined) {
    metaLen += 4;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      metaLen += 4 + (k === null ? 0 : Buffer.byteLength(k));
    }
  }
  const bodyLen = metaLen + batch.payload.length;
  if (bodyLen > MAX_BODY_BYTES) throw new RangeError('spool batch larger than 1 GiB');
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + metaLen);
  head.writeUInt32LE(FRAME_MAGIC, 0);
  head.writeUInt32LE(bodyLen, 4);
  let o = FRAME_HEADER_BYTES;
  head[o++] = KIND_BATCH;
  head[o++] = keys !== undefined ? FLAG_KEYS : 0;
  head.writeDoubleLE(batch.createdAt, o);
  o += 8;
  head.writeUInt32LE(batch.records, o);
  o += 4;
  head.writeUInt16LE(topicLen, o);
  o += 2;
  o += head.write(batch.topic, o, 'utf8');
  head[o++] = codecLen;
  o += head.write(batch.codec, o, 'utf8');
  head.writeUInt32LE(positions.length, o);
  o += 4;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i];
    const idLen = Buffer.byteLength(p.fileId);
    if (idLen > 0xffff) throw new RangeError('spool batch fileId longer than 65535 bytes');
    head.writeUInt16LE(idLen, o);
    o += 2;
    o += head.write(p.fileId, o, 'utf8');
    head.writeDoubleLE(p.startOffset, o);
    o += 8;
    head.writeDoubleLE(p.endOffset, o);
    o += 8;
  }
  if (keys !== undefined) {
    head.writeUInt32LE(keys.length, o);
    o += 4;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k === null) {
        head.writeInt32LE(-1, o);
        o += 4;
      } else {
        const n = head.write(k, o + 4, 'utf8');
        head.writeInt32LE(n, o);
        o += 4 + n;
      }
    }
  }
  let crc = crc32c(head.subarray(4, 8));
  crc = crc32c(head.subarray(FRAME_HEADER_BYTES), crc);
  crc = crc32c(batch.payload, crc);
  head.writeUInt32LE(crc, 8);
  return { head, payload: batch.payload, bytes: head.length + batch.payload.length };
}

/** A padding frame of exactly `bytes` (>= MIN_FRAME_BYTES): written over damaged bytes so offsets never move. */
export function encodePadding(bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  buf.writeUInt32LE(FRAME_MAGIC, 0);
  buf.writeUInt32LE(bytes - FRAME_HEADER_BYTES, 4);
  buf[FRAME_HEADER_BYTES] = KIND_PADDING;
  let crc = crc32c(buf.subarray(4, 8));
  crc = crc32c(buf.subarray(FRAME_HEADER_BYTES), crc);
  buf.writeUInt32LE(crc, 8);
  return buf;
}

/** Body length announced by the frame header at `buf[0..12)`, or -1 when the header is not a frame's. */
export function frameBodyLength(header: Buffer): number {
  if (header.readUInt32LE(0) !== FRAME_MAGIC) return -1;
  const len = header.readUInt32LE(4);
  return len < 2 || len > MAX_BODY_BYTES ? -1 : len;
}

/** True when the whole frame in `frame` (header and body) carries a matching checksum. */
export function frameChecksumOk(frame: Buffer): boolean {
  let crc = crc32c(frame.subarray(4, 8));
  crc = crc32c(frame.subarray(FRAME_HEADER_BYTES), crc);
  return crc === frame.readUInt32LE(8);
}

export function frameKind(frame: Buffer): number {
  return frame[FRAME_HEADER_BYTES];
}

/** Fields of a batch frame the index keeps, read without decoding strings. */
export function frameRecords(frame: Buffer): number {
  return frame.readUInt32LE(FRAME_HEADER_BYTES + 10);
}

export function frameCreatedAt(frame: Buffer): number {
  return frame.readDoubleLE(FRAME_HEADER_BYTES + 2);
}

/**
 * Decodes a checked batch frame. The payload is a view into `frame` (no copy). Throws RangeError
 * on a body that does not parse, which a caller treats as damage.
 */
export function decodeFrame(frame: Buffer): SpoolBatch {
  let o = FRAME_HEADER_BYTES;
  const end = FRAME_HEADER_BYTES + frame.readUInt32LE(4);
  if (end > frame.length) throw new RangeError('spool frame shorter than its length field');
  if (frame[o++] !== KIND_BATCH) throw new RangeError('spool frame is not a batch');
  const flags = frame[o++];
  const createdAt = frame.readDoubleLE(o);
  o += 8;
  const records = frame.readUInt32LE(o);
  o += 4;
  const topicLen = frame.readUInt16LE(o);
  o += 2;
  const topic = frame.toString('utf8', o, o + topicLen);
  o += topicLen;
  const codecLen = frame[o++];
  const codec = frame.toString('utf8', o, o + codecLen);
  o += codecLen;
  const nPositions = frame.readUInt32LE(o);
  o += 4;
  if (nPositions > (end - o) / 18) throw new RangeError('spool frame position count out of range');
  const positions: SpoolSourceRange[] = new Array(nPositions);
  for (let i = 0; i < nPositions; i++) {
    const idLen = frame.readUInt16LE(o);
    o += 2;
    const fileId = frame.toString('utf8', o, o + idLen);
    o += idLen;
    const startOffset = frame.readDoubleLE(o);
    const endOffset = frame.readDoubleLE(o + 8);
    o += 16;
    positions[i] = { fileId, startOffset, endOffset };
  }
  let keys: (string | null)[] | undefined;
  if (flags & FLAG_KEYS) {
    const nKeys = frame.readUInt32LE(o);
    o += 4;
    if (nKeys > (end - o) / 4) throw new RangeError('spool frame key count out of range');
    keys = new Array(nKeys);
    for (let i = 0; i < nKeys; i++) {
      const len = frame.readInt32LE(o);
      o += 4;
      if (len < 0) keys[i] = null;
      else {
        keys[i] = frame.toString('utf8', o, o + len);
        o += len;
      }
    }
  }
  if (o > end) throw new RangeError('spool frame metadata overruns its body');
  return { topic, records, codec, keys, positions, createdAt, payload: frame.subarray(o, end) };
}
