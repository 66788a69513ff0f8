/**
 * Kafka's record batch (magic 2), written by us: every record of one partition's share of a batch
 * goes straight from its JSON string into one reused Buffer, which is compressed once and framed
 * with the batch header and its CRC-32C. Nothing is allocated per record: no Buffer per value, no
 * message object, no BigInt timestamp (every record carries the batch's timestamp, delta 0).
 *
 * On the wire (all integers big-endian; "varint" is a zigzag varint, as in the protocol):
 *
 *   baseOffset int64 = 0 | batchLength int32 | partitionLeaderEpoch int32 = -1 | magic int8 = 2
 *   crc uint32 (CRC-32C of everything after it) | attributes int16 (bits 0-2: codec)
 *   lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64
 *   producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32
 *   records, compressed as one block when a codec is set, each:
 *     length varint | attributes int8 = 0 | timestampDelta varint = 0 | offsetDelta varint
 *     keyLength varint (-1: null) | key | valueLength varint | value | headerCount varint
 *     headers: keyLength varint | key | valueLength varint | value
 *
 * A length prefix is written before the text it counts, whose UTF-8 length is known only once it
 * is written: the prefix's width is guessed from the string's UTF-16 length (never more than its
 * UTF-8 length) and the text is moved along in the rare case the real length needs a wider varint.
 */

import { jsonStringMaxBytes } from '../enrich/json-bytes.ts';
import { allocBytes, freeBytes } from '../model/byte-arena.ts';
import type { LineChunk } from '../model/line-chunk.ts';
import type { LineRoute, OutRecord } from '../model/record.ts';
import { crc32c } from '../spool/crc32c.ts';
import { codecs, countCompressed } from './codecs/index.ts';
import type { Batch, BatchBuilder } from './producer-port.ts';

/** The `attributes` codec bits. */
export const CODEC_ID = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CodecName = keyof typeof CODEC_ID;

/** Bytes before the records: baseOffset .. recordCount. */
export const RECORD_BATCH_HEADER = 61;
const EMPTY = Buffer.alloc(0);
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;

export interface RecordBatchHeader {
  /** -1n without an idempotent producer. */
  producerId: bigint;
  /** -1 without an idempotent producer. */
  producerEpoch: number;
  /** The first record's sequence number for this partition; -1 without an idempotent producer. */
  baseSequence: number;
  /** Create time of every record, ms since epoch. */
  timestamp: number;
}

/** Bytes of `value` as a zigzag varint. */
function varintSize(value: number): number {
  let v = (value << 1) ^ (value >> 31);
  let n = 1;
  while ((v & ~0x7f) !== 0) {
    n++;
    v >>>= 7;
  }
  return n;
}

/**
 * Encodes records into the uncompressed records section, in one growing Buffer: either reused
 * (`encodeRecords` starts over and returns a view valid until the next call) or filled record by
 * record with `append` for one batch (EncodingBuilder).
 */
export class RecordsEncoder {
  #buf: Buffer;
  #pos = 0;
  #largest = 0;

  /** Its buffer is taken from the byte arena (see model/byte-arena.ts) when there is room. */
  constructor(initialBytes = 1 << 20) {
    this.#buf = allocBytes(initialBytes);
  }

  /** Gives its buffer back to the byte arena: for an encoder no longer used. */
  release(): void {
    freeBytes(this.#buf);
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  /** Empties it for the next batch; the buffer (grown or not) is kept. */
  reset(): void {
    this.#pos = 0;
    this.#largest = 0;
  }

  /**
   * Writes `batch.records[indexes[i]]` for i < count (every record in order when `indexes` is
   * undefined) and returns the records section.
   */
  encodeRecords(batch: Batch, indexes: Int32Array | undefined, count: number): Buffer {
    this.#pos = 0;
    this.#largest = 0;
    const { records, headers } = batch;
    for (let i = 0; i < count; i++) {
      const at = indexes === undefined ? i : (indexes[i] as number);
      const r = records[at];
      if (r === undefined) continue;
      this.append(i, r.key, r.value, headers?.[at]);
    }
    return this.view();
  }

  /** Bytes of the largest record written so far, its framing included. */
  get largest(): number {
    return this.#largest;
  }

  /** The records written so far: a view of the internal buffer. */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Appends one record; `offsetDelta` is its index in the batch. */
  append(
    offsetDelta: number,
    key: string | null,
    value: string,
    headers?: Readonly<Record<string, string>> | undefined,
  ): void {
    // Worst case of the body: every UTF-16 unit as 3 bytes, plus the fixed fields and prefixes.
    let worst = 3 * value.length + (key === null ? 0 : 3 * key.length) + 32;
    if (headers !== undefined)
      for (const k in headers) worst += 3 * (k.length + (headers[k] as string).length) + 10;
    this.#ensure(worst);
    // The body's size guessed from UTF-16 lengths (a lower bound of the UTF-8 size); only the
    // width of its varint matters, and it is corrected below when the text turns out longer.
    const start = this.#pos;
    const prefixGuess = varintSize(value.length + (key === null ? 0 : key.length) + 6);
    let p = start + prefixGuess;
    const buf = this.#buf;
    buf[p++] = 0; // attributes
    buf[p++] = 0; // timestampDelta
    p = this.#varint(p, offsetDelta);
    if (key === null)
      buf[p++] = 1; // -1 zigzagged
    else p = this.#text(p, key);
    p = this.#text(p, value);
    if (headers === undefined) buf[p++] = 0;
    else {
      const names = Object.keys(headers);
      p = this.#varint(p, names.length);
      for (const name of names) {
        p = this.#text(p, name);
        p = this.#text(p, headers[name] as string);
      }
    }
    this.#close(start, prefixGuess, p);
  }

  /**
   * Appends the record of line `raw[start, end)` with the route's key and its value written by the
   * route's writer (the fast path: no string). Returns the value's UTF-16 length (`lastUnits`).
   */
  appendLine(
    offsetDelta: number,
    route: LineRoute,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number {
    const writer = route.writer;
    const keyBytes = route.keyBytes;
    const keyLength = keyBytes === null ? 0 : keyBytes.length;
    this.#ensure(writer.fixedBytes + jsonStringMaxBytes(end - start) + keyLength + 48);
    const buf = this.#buf;
    const at = this.#pos;
    if (writer.writeRecord !== undefined) {
      // The whole record in one step when the writer can (WebAssembly, buffers in the byte arena).
      const e = writer.writeRecord(buf, at, offsetDelta, keyBytes, ts, raw, start, end, offset);
      if (e >= 0) {
        if (e - at > this.#largest) this.#largest = e - at;
        this.#pos = e;
        return writer.lastUnits;
      }
    }
    // The value's length guessed from the unescaped line; corrected below if its varint is wider.
    const valueGuess = end - start + writer.fixedBytes;
    const prefixGuess = varintSize(valueGuess + keyLength + 8);
    let p = at + prefixGuess;
    buf[p++] = 0; // attributes
    buf[p++] = 0; // timestampDelta
    p = this.#varint(p, offsetDelta);
    if (keyBytes === null) buf[p++] = 1;
    else {
      p = this.#varint(p, keyLength);
      buf.set(keyBytes, p);
      p += keyLength;
    }
    const valueWidthGuess = varintSize(valueGuess);
    const valueAt = p + valueWidthGuess;
    const valueEnd = writer.write(buf, valueAt, ts, raw, start, end, offset);
    const valueLength = valueEnd - valueAt;
    const valueWidth = varintSize(valueLength);
    if (valueWidth !== valueWidthGuess) buf.copyWithin(p + valueWidth, valueAt, valueEnd);
    this.#varint(p, valueLength);
    p += valueWidth + valueLength;
    buf[p++] = 0; // no headers
    this.#close(at, prefixGuess, p);
    return writer.lastUnits;
  }

  /** Writes the length of the record at `start` (body from `start + prefixGuess` to `end`). */
  #close(start: number, prefixGuess: number, end: number): void {
    const buf = this.#buf;
    let p = end;
    const bodyLength = p - start - prefixGuess;
    const prefix = varintSize(bodyLength);
    if (prefix !== prefixGuess) {
      buf.copyWithin(start + prefix, start + prefixGuess, p);
      p += prefix - prefixGuess;
    }
    this.#varint(start, bodyLength);
    if (p - start > this.#largest) this.#largest = p - start;
    this.#pos = p;
  }

  /** Writes a varint-length-prefixed UTF-8 string at p; returns the position after it. */
  #text(p: number, s: string): number {
    const buf = this.#buf;
    const guess = varintSize(s.length);
    const written = buf.write(s, p + guess);
    const width = varintSize(written);
    if (width !== guess) buf.copyWithin(p + width, p + guess, p + guess + written);
    this.#varint(p, written);
    return p + width + written;
  }

  #varint(p: number, value: number): number {
    const buf = this.#buf;
    let v = ((value << 1) ^ (value >> 31)) >>> 0;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    return p;
  }

  #ensure(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#buf.length) return;
    const bigger = allocBytes(Math.max(need, 2 * this.#buf.length));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    freeBytes(this.#buf);
    this.#buf = bigger;
  }
}

/**
 * Frames a records section given as consecutive pieces (already compressed when `codec` is not
 * `none`) as one record batch: a new header with the CRC over it and the pieces, then the pieces
 * themselves, uncopied.
 */
export function frameRecordBatchParts(
  records: readonly Buffer[],
  count: number,
  codec: CodecName,
  header: RecordBatchHeader,
): Buffer[] {
  let length = 0;
  for (const part of records) length += part.length;
  const head = Buffer.allocUnsafe(RECORD_BATCH_HEADER);
  head.writeBigInt64BE(0n, 0);
  head.writeInt32BE(RECORD_BATCH_HEADER + length - 12, 8);
  head.writeInt32BE(-1, 12);
  head.writeInt8(2, 16);
  head.writeInt16BE(CODEC_ID[codec], ATTRIBUTES_OFFSET);
  head.writeInt32BE(count - 1, 23);
  head.writeBigInt64BE(BigInt(header.timestamp), 27);
  head.writeBigInt64BE(BigInt(header.timestamp), 35);
  head.writeBigInt64BE(header.producerId, 43);
  head.writeInt16BE(header.producerEpoch, 51);
  head.writeInt32BE(header.baseSequence, 53);
  head.writeInt32BE(count, 57);
  let crc = crc32c(head.subarray(ATTRIBUTES_OFFSET));
  for (const part of records) crc = crc32c(part, crc);
  head.writeUInt32BE(crc >>> 0, CRC_OFFSET);
  return [head, ...records];
}

/**
 * A batch whose records were encoded as they were added (EncodingBuilder), so the records' JSON
 * strings die young instead of waiting in the open batch and the send queue: what waits is one
 * Buffer. Only batches whose records share one key are prepared (one key means one partition,
 * decided at send time). `records` decodes the Buffer again on first use, for the rare paths that need the
 * values (spooling, splitting, dead-lettering, rejection logs); the send and acknowledgement paths
 * use `count` and `chunks`.
 */
export class PreparedBatch implements Batch {
  readonly topic: string;
  readonly bytes: number;
  readonly key: string | null;
  /** Settles when `payload` is there (a batch compressed off the event loop); never rejects. */
  readonly ready: Promise<void> | undefined;
  #parts: Buffer[] | undefined;
  #disposed = false;
  readonly codec: CodecName;
  /** The records' chunks, one entry per run of records from the same chunk. */
  readonly runs: ChunkRuns;
  /** Bytes of the largest record in `section`, its framing included (for the size check). */
  readonly largestRecord: number;
  #records: OutRecord[] | undefined;

  constructor(
    topic: string,
    bytes: number,
    key: string | null,
    runs: ChunkRuns,
    payload: Buffer | Promise<Buffer[]>,
    largestRecord: number,
    codec: CodecName = 'none',
  ) {
    this.largestRecord = largestRecord;
    this.topic = topic;
    this.bytes = bytes;
    this.key = key;
    this.runs = runs;
    if (payload instanceof Promise) {
      this.ready = payload.then((parts) => {
        this.#parts = parts;
      });
    } else this.#parts = [payload];
    this.codec = codec;
  }

  /**
   * The records section as the consecutive pieces the codec made (sent as they are), offset deltas
   * 0 .. count-1, no headers; compressed with `codec` unless that is 'none'. The Batcher hands a
   * batch on only once it is `ready`.
   */
  get payloadParts(): readonly Buffer[] {
    if (this.#parts === undefined)
      throw new Error(
        this.#disposed
          ? 'PreparedBatch: payload read after the batch was delivered (disposed)'
          : 'PreparedBatch: payload read before its compression finished',
      );
    return this.#parts;
  }

  /**
   * Frees the payload at once, for a batch Kafka acknowledged (the Agent calls it on delivery;
   * nothing reads a delivered batch's bytes). Its Buffers, alive for the time in flight, outlive
   * two scavenges and would wait for a full collection, so a full collection's worth of delivered
   * batches (tens of MiB) stayed resident. Detaching a Buffer's ArrayBuffer (`transfer(0)`) drops its
   * memory now; only Buffers that own their whole ArrayBuffer and that this module made (the lz4
   * frame, the uncompressed copy) are detached. Reading the payload afterwards throws.
   */
  dispose(): void {
    const parts = this.#parts;
    this.#parts = undefined;
    this.#disposed = true;
    if (parts === undefined || (this.codec !== 'lz4' && this.codec !== 'none')) return;
    for (const part of parts) {
      const ab = part.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
      if (part.byteOffset !== 0 || ab.byteLength !== part.length || typeof ab.transfer !== 'function')
        continue;
      try {
        ab.transfer(0);
      } catch {
        // Not detachable: left to the garbage collector.
      }
    }
  }

  /** `payloadParts` in one Buffer (joined once, for the rare paths that decode the batch). */
  get payload(): Buffer {
    const parts = this.payloadParts;
    if (parts.length !== 1) this.#parts = [Buffer.concat(parts)];
    return (this.#parts as Buffer[])[0] as Buffer;
  }

  /** The uncompressed records section. */
  get section(): Buffer {
    if (this.codec === 'none') return this.payload;
    const decompress = codecs[this.codec].decompressSync;
    if (decompress === undefined) throw new Error(`${this.codec} has no synchronous decompression`);
    return decompress(this.payload);
  }

  get count(): number {
    return this.runs.count;
  }

  /** `records[i].chunk` for every record (an array per record: for the rare paths and tests). */
  get chunks(): LineChunk[] {
    return this.runs.perRecord();
  }

  get records(): readonly OutRecord[] {
    this.#records ??= outRecords(
      this.topic,
      this.key,
      decodeRecordValues(this.section, this.count),
      this.runs,
    );
    return this.#records;
  }
}

/** The records of decoded `values`, each with its chunk from `runs`. */
function outRecords(topic: string, key: string | null, values: string[], runs: ChunkRuns): OutRecord[] {
  const chunks = runs.perRecord();
  return values.map((value, i) => ({ topic, key, value, chunk: chunks[i] as LineChunk }));
}

/** The values of a records section written by RecordsEncoder (no headers), in order. */
export function decodeRecordValues(section: Buffer, count: number): string[] {
  const values = new Array<string>(count);
  let p = 0;
  const varint = (): number => {
    let shift = 0;
    let v = 0;
    for (;;) {
      const b = section[p++] as number;
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    return (v >>> 1) ^ -(v & 1);
  };
  for (let i = 0; i < count; i++) {
    varint(); // record length
    p++; // attributes
    varint(); // timestamp delta
    varint(); // offset delta
    const keyLength = varint();
    if (keyLength > 0) p += keyLength;
    const valueLength = varint();
    values[i] = section.toString('utf8', p, p + valueLength);
    p += valueLength;
    varint(); // header count (0)
  }
  return values;
}

/**
 * Encoders for open batches, reused from one batch to the next: a closed batch keeps a copy of its
 * records section, so the encoder's buffer (grown to the batch size) is allocated once rather than
 * doubled up from its first size for every batch. Large Buffers made and dropped at the batch rate
 * are what drives V8 into full collections (they count as external memory).
 */
export class EncoderPool {
  readonly #free: RecordsEncoder[] = [];
  readonly #initialBytes: number;
  readonly #max: number;

  constructor(initialBytes: number, max = 8) {
    this.#initialBytes = initialBytes;
    this.#max = max;
  }

  take(): RecordsEncoder {
    const encoder = this.#free.pop();
    if (encoder === undefined) return new RecordsEncoder(this.#initialBytes);
    encoder.reset();
    return encoder;
  }

  give(encoder: RecordsEncoder): void {
    if (this.#free.length < this.#max) this.#free.push(encoder);
    else encoder.release();
  }

  /** Releases the idle encoders' buffers (the producer is closing). */
  drain(): void {
    for (const encoder of this.#free) encoder.release();
    this.#free.length = 0;
  }

  /** Encoders waiting to be taken. */
  get idle(): number {
    return this.#free.length;
  }
}

/**
 * The chunks of a batch's records as runs: records come in file order, so consecutive ones mostly
 * share a chunk; `chunks[r]` is the chunk of the next `lengths[r]` records (one entry per run, not
 * per record: the line path's per-record arrays were a third of its allocation).
 */
export class ChunkRuns {
  readonly chunks: LineChunk[] = [];
  readonly lengths: number[] = [];
  count = 0;

  /** The chunk of every record, in order. */
  perRecord(): LineChunk[] {
    const out: LineChunk[] = [];
    for (let r = 0; r < this.chunks.length; r++)
      for (let k = 0; k < (this.lengths[r] as number); k++) out.push(this.chunks[r] as LineChunk);
    return out;
  }

  add(chunk: LineChunk): void {
    const last = this.chunks.length - 1;
    if (last >= 0 && this.chunks[last] === chunk) (this.lengths[last] as number)++;
    else {
      this.chunks.push(chunk);
      this.lengths.push(1);
    }
    this.count++;
  }
}

/**
 * Batches being compressed off the event loop at most, process-wide: each holds its encoder's
 * buffer (up to about twice batch.max_bytes) until done. One 1 MiB read of JSON-heavy lines closes
 * about five 512 KiB batches in one go, before any compression can report back: with 2 most of
 * them were compressed on the event loop after all (the profile showed lz4 still at 27% of the main
 * thread); 6 covers a read (3 alternating pairs: +12% lines/s, ~+10 MiB peak RSS).
 */
const MAX_COMPRESSING = 6;
let compressing = 0;

/**
 * The builder of an open batch that encodes each record as it is added (the Batcher asks the
 * producer for it: `ProducerPort.batchBuilder`), while the records share one key; the first record
 * with another key turns it back into a plain list (the values so far are decoded again), and
 * `onMixed` tells the producer, which then gives that topic plain lists.
 */
export class EncodingBuilder implements BatchBuilder {
  readonly #topic: string;
  readonly #pool: EncoderPool;
  /** Taken from the pool; given back when the batch closes or turns into a list. */
  #encoder: RecordsEncoder | undefined;
  readonly #onMixed: (topic: string) => void;
  readonly #codec: CodecName;
  readonly #chunks = new ChunkRuns();
  #key: string | null = null;
  #records: OutRecord[] | undefined;

  /**
   * `codec`: the sink's compression; a codec with `compressSync` compresses the batch when it
   * closes, straight from the encoder's buffer (the batch then holds only the compressed records).
   */
  constructor(topic: string, pool: EncoderPool, onMixed: (topic: string) => void, codec: CodecName = 'none') {
    this.#topic = topic;
    this.#pool = pool;
    this.#encoder = pool.take();
    this.#onMixed = onMixed;
    this.#codec = codec;
  }

  add(record: OutRecord): void {
    const records = this.#records;
    if (records !== undefined) {
      records.push(record);
      return;
    }
    const n = this.#chunks.count;
    if (n === 0) this.#key = record.key;
    else if (record.key !== this.#key) {
      this.#toList().push(record);
      return;
    }
    (this.#encoder as RecordsEncoder).append(n, record.key, record.value);
    this.#chunks.add(record.chunk);
  }

  addLine(
    route: LineRoute,
    chunk: LineChunk,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number {
    const n = this.#chunks.count;
    if (this.#records !== undefined || (n > 0 && route.key !== this.#key)) {
      const value = route.writer.toString(ts, raw, start, end, offset);
      this.add({ topic: this.#topic, key: route.key, value, chunk });
      return value.length;
    }
    if (n === 0) this.#key = route.key;
    const units = (this.#encoder as RecordsEncoder).appendLine(n, route, ts, raw, start, end, offset);
    this.#chunks.add(chunk);
    return units;
  }

  get count(): number {
    return this.#records?.length ?? this.#chunks.count;
  }

  finish(bytes: number): Batch {
    if (this.#records !== undefined) return { topic: this.#topic, records: this.#records, bytes };
    const encoder = this.#encoder as RecordsEncoder;
    const view = encoder.view();
    const largest = encoder.largest;
    const compressor = this.#codec === 'none' ? undefined : codecs[this.#codec];
    if (compressor?.compressSync === undefined) {
      // A copy of its own size (gzip and snappy compress at send time): the encoder goes back to
      // the pool for the next batch.
      const payload = Buffer.from(view);
      this.#giveBack();
      return new PreparedBatch(this.#topic, bytes, this.#key, this.#chunks, payload, largest);
    }
    if (compressing >= MAX_COMPRESSING) {
      // The thread pool is behind: this one on the event loop, which also slows the reading down.
      const payload = compressor.compressSync(view);
      countCompressed(view.length, payload.length);
      this.#giveBack();
      return new PreparedBatch(this.#topic, bytes, this.#key, this.#chunks, payload, largest, this.#codec);
    }
    // Compressed now, on libuv's thread pool, straight from the encoder's buffer, which goes back
    // to the pool once the compressor is done with it; the event loop goes on reading and encoding.
    // A failure of the asynchronous form (none is known) falls back to the synchronous one.
    this.#encoder = undefined;
    const pool = this.#pool;
    compressing++;
    // One Buffer of the frame's own size: lz4-napi's output keeps a worst-case capacity (about the
    // input's size) alive for as long as it is referenced, so it is copied at once rather than
    // sent as it is (measured: +20 MiB peak RSS when kept until the acknowledgement).
    const payload = compressor.compress(view).then(
      (out) => [out],
      () => [(compressor.compressSync as (data: Uint8Array) => Buffer)(view)],
    );
    const counted = payload.then((parts) => {
      compressing--;
      let length = 0;
      for (const part of parts) length += part.length;
      countCompressed(view.length, length);
      pool.give(encoder);
      return parts;
    });
    return new PreparedBatch(this.#topic, bytes, this.#key, this.#chunks, counted, largest, this.#codec);
  }

  #giveBack(): void {
    if (this.#encoder !== undefined) this.#pool.give(this.#encoder);
    this.#encoder = undefined;
  }

  #toList(): OutRecord[] {
    this.#onMixed(this.#topic);
    const runs = this.#chunks;
    const values = decodeRecordValues((this.#encoder as RecordsEncoder).view(), runs.count);
    this.#giveBack();
    this.#records = outRecords(this.#topic, this.#key, values, runs);
    return this.#records;
  }
}
