import type { LineChunk } from '../model/line-chunk.ts';
import type { OutRecord } from '../model/record.ts';
import { type CompressionName, codecs } from '../sink/codecs/index.ts';
import type { Batch } from '../sink/producer-port.ts';
import type { SpoolBatch, SpoolSourceRange } from './spool-batch.ts';

/**
 * How the delivery stage turns a sink Batch into a SpoolBatch and back.
 *
 * Payload (before compression with the sink's codec, named in the frame), integers little-endian:
 *   format   u8: 0 values only, 1 values then headers
 *   value*   u32 byte length, then the record value's utf8 bytes (one per record)
 *   header*  (format 1) u32 byte length (0: none), then the record's headers as utf8 JSON
 * Keys travel in the frame's key list, source ranges in its positions: one range per file the
 * batch's records came from, from the first record's line to the end of its last chunk.
 */

/**
 * The chunk every replayed record points at. Replayed records were acknowledged when they were
 * spooled, so nothing is released for them; the huge count makes an accidental release harmless.
 */
export const REPLAY_CHUNK: LineChunk = {
  source: '',
  path: '',
  fileId: 'spool',
  lines: [],
  offsets: [],
  flags: undefined,
  endOffset: 0,
  bytes: 0,
  readAt: 0,
  refs: Number.MAX_SAFE_INTEGER,
};

type RecordHeaders = readonly (Readonly<Record<string, string>> | undefined)[];

/** A batch with Kafka headers per record (dead-letter sends); the sink's Batch may carry them. */
export type HeadedBatch = Batch & { readonly headers?: RecordHeaders };

/** Encodes a batch for the spool: values (and headers) framed and compressed with `codec`. */
export async function toSpoolBatch(
  batch: HeadedBatch,
  codec: CompressionName,
  createdAt: number,
): Promise<SpoolBatch> {
  const records = batch.records;
  const n = records.length;
  const headers = batch.headers;
  const headerJson = headers === undefined ? undefined : new Array<string>(n);
  let size = 1 + 4 * n;
  if (headerJson !== undefined) {
    for (let i = 0; i < n; i++) {
      const h = headers?.[i];
      headerJson[i] = h === undefined ? '' : JSON.stringify(h);
      size += 4 + Buffer.byteLength(headerJson[i]);
    }
  }
  const lengths = new Array<number>(n);
  const keys = new Array<string | null>(n);
  let keyed = false;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const len = Buffer.byteLength(r.value);
    lengths[i] = len;
    size += len;
    keys[i] = r.key;
    if (r.key !== null) keyed = true;
  }
  const raw = Buffer.allocUnsafe(size);
  raw[0] = headerJson === undefined ? 0 : 1;
  let o = 1;
  for (let i = 0; i < n; i++) {
    raw.writeUInt32LE(lengths[i], o);
    o += 4;
    o += raw.write(records[i].value, o, 'utf8');
  }
  if (headerJson !== undefined) {
    for (let i = 0; i < n; i++) {
      const len = raw.write(headerJson[i], o + 4, 'utf8');
      raw.writeUInt32LE(len, o);
      o += 4 + len;
    }
  }
  const payload = codec === 'none' ? raw : await codecs[codec].compress(raw);
  return {
    topic: batch.topic,
    records: n,
    codec,
    keys: keyed ? keys : undefined,
    positions: sourceRanges(records),
    createdAt,
    payload,
  };
}

/** Per file, the byte range a batch's records cover, in the order files first appear. */
export function sourceRanges(records: readonly OutRecord[]): SpoolSourceRange[] {
  const out: { fileId: string; startOffset: number; endOffset: number }[] = [];
  let last: { fileId: string; startOffset: number; endOffset: number } | undefined;
  for (let i = 0; i < records.length; i++) {
    const c = records[i].chunk;
    // Records of one file come in runs: look the file up only when it changes.
    if (last === undefined || last.fileId !== c.fileId) {
      last = undefined;
      for (let j = 0; j < out.length; j++) if (out[j].fileId === c.fileId) last = out[j];
      if (last === undefined) {
        last = { fileId: c.fileId, startOffset: c.offsets[0] ?? c.endOffset, endOffset: c.endOffset };
        out.push(last);
      }
    }
    const start = c.offsets[0] ?? c.endOffset;
    if (start < last.startOffset) last.startOffset = start;
    if (c.endOffset > last.endOffset) last.endOffset = c.endOffset;
  }
  return out;
}

/** Decompresses a spooled payload into its record values (and headers). Throws RangeError on a payload that does not parse. */
export async function decodeValues(
  b: SpoolBatch,
): Promise<{ values: string[]; headers: (Record<string, string> | undefined)[] | undefined }> {
  const name = b.codec as CompressionName;
  let raw: Buffer;
  if (name === 'none') raw = b.payload;
  else {
    const codec = codecs[name as Exclude<CompressionName, 'none'>];
    if (codec === undefined) throw new RangeError(`spooled batch has unknown codec ${b.codec}`);
    raw = await codec.decompress(b.payload);
  }
  const format = raw[0];
  if (format !== 0 && format !== 1) throw new RangeError(`spooled payload has unknown format ${format}`);
  const values = new Array<string>(b.records);
  let o = 1;
  for (let i = 0; i < b.records; i++) {
    values[i] = readString(raw, o);
    o += 4 + raw.readUInt32LE(o);
  }
  if (format === 0) return { values, headers: undefined };
  const headers = new Array<Record<string, string> | undefined>(b.records);
  for (let i = 0; i < b.records; i++) {
    const json = readString(raw, o);
    o += 4 + raw.readUInt32LE(o);
    headers[i] = json === '' ? undefined : (JSON.parse(json) as Record<string, string>);
  }
  return { values, headers };
}

function readString(raw: Buffer, o: number): string {
  if (o + 4 > raw.length) throw new RangeError('spooled payload shorter than its record count');
  const len = raw.readUInt32LE(o);
  if (o + 4 + len > raw.length) throw new RangeError('spooled payload record overruns the payload');
  return raw.toString('utf8', o + 4, o + 4 + len);
}

/** A sink Batch of a spooled batch's records, ready for ProducerPort.send (records point at REPLAY_CHUNK). */
export async function fromSpoolBatch(b: SpoolBatch): Promise<HeadedBatch> {
  const { values, headers } = await decodeValues(b);
  const keys = b.keys;
  const records = new Array<OutRecord>(values.length);
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    bytes += value.length;
    records[i] = { topic: b.topic, key: keys?.[i] ?? null, value, chunk: REPLAY_CHUNK };
  }
  return headers === undefined
    ? { topic: b.topic, records, bytes }
    : { topic: b.topic, records, bytes, headers };
}
