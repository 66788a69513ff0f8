import { MessageTooLargeError } from '../model/errors.ts';
import type { OutRecord } from '../model/record.ts';
import type { ClassifiedError } from './classify.ts';
import { type Batch, recordCount } from './producer-port.ts';
import { PreparedBatch } from './record-batch.ts';

/** Kafka's per-record framing (length, attributes, deltas, varints) beyond key and value, rounded up. */
export const RECORD_OVERHEAD_BYTES = 64;
/** Room left for the dead-letter headers when a too-large value is cut to fit. */
const HEADER_ROOM_BYTES = 4096;

/** Where a record came from, for its dead-letter headers and the log line that reports it. */
export interface RecordOrigin {
  path: string;
  offset: number | undefined;
}

/**
 * The record's source file and the offset of its first line. The offset is only in the encoded
 * value (`log.offset`), which is parsed here: this runs for rejected records only, never per record
 * on the way to Kafka.
 */
export function recordOrigin(record: OutRecord): RecordOrigin {
  let offset: number | undefined;
  try {
    const doc = JSON.parse(record.value) as { log?: { offset?: unknown } };
    if (typeof doc.log?.offset === 'number') offset = doc.log.offset;
  } catch {
    // Not our JSON (a test's record): the origin is the file alone.
  }
  return { path: record.chunk.path, offset };
}

/** Exact wire size of key and value, plus framing; computed only for records that might be too large. */
export function recordBytes(record: OutRecord): number {
  return (
    Buffer.byteLength(record.value) +
    (record.key === null ? 0 : Buffer.byteLength(record.key)) +
    RECORD_OVERHEAD_BYTES
  );
}

/**
 * Indexes of the records larger than `maxBytes`, or undefined when there are none. Cheap on the
 * common path: a batch whose length bound (3 bytes per UTF-16 unit) fits is passed at once, and
 * only records whose bound does not fit are measured exactly.
 */
export function oversizedRecords(batch: Batch, maxBytes: number): number[] | undefined {
  if (batch instanceof PreparedBatch) {
    // Its records' exact sizes are known from encoding them: no need to decode them to look.
    if (batch.largestRecord + RECORD_OVERHEAD_BYTES <= maxBytes) return undefined;
  } else if (batch.bytes * 3 + recordCount(batch) * RECORD_OVERHEAD_BYTES <= maxBytes) return undefined;
  let out: number[] | undefined;
  const { records } = batch;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const bound = (r.value.length + (r.key === null ? 0 : r.key.length)) * 3 + RECORD_OVERHEAD_BYTES;
    if (bound <= maxBytes) continue;
    if (recordBytes(r) <= maxBytes) continue;
    if (out === undefined) out = [];
    out.push(i);
  }
  return out;
}

/** The error for a record refused before sending, with its size, the limit and where it came from. */
export function tooLargeBeforeSend(record: OutRecord, maxBytes: number): ClassifiedError {
  const origin = recordOrigin(record);
  return {
    disposition: 'permanent',
    reason: 'message_too_large',
    error: new MessageTooLargeError(
      `record of ${recordBytes(record)} bytes from ${origin.path}${origin.offset === undefined ? '' : ` at offset ${origin.offset}`} exceeds sink.kafka.max_message_bytes (${maxBytes}): raise max_message_bytes and the topic's max.message.bytes together, or shorten such lines (tail.max_line_bytes)`,
    ),
  };
}

/** The same error, with the size of the one record the broker refused, once the batch is down to it. */
export function tooLargeAtBroker(record: OutRecord, topic: string): ClassifiedError {
  const origin = recordOrigin(record);
  return {
    disposition: 'permanent',
    reason: 'message_too_large',
    error: new MessageTooLargeError(
      `topic ${topic} refused a record of ${recordBytes(record)} bytes from ${origin.path}${origin.offset === undefined ? '' : ` at offset ${origin.offset}`} as larger than its max.message.bytes: raise the topic's max.message.bytes, or set sink.kafka.max_message_bytes below it so such records are dead-lettered before sending`,
    ),
  };
}

/**
 * The records of a batch rejected for good, addressed to the dead-letter topic, each with headers
 * naming the error and its origin. A value too large for `maxBytes` is cut to fit (headers say so
 * and give the original size), so the record's existence and origin are kept even then.
 */
export function deadLetterBatch(
  batch: Batch,
  error: ClassifiedError,
  topic: string,
  maxBytes: number,
): Batch {
  const { records } = batch;
  const out: OutRecord[] = new Array(records.length);
  const headers: Record<string, string>[] = new Array(records.length);
  const room = Math.max(1024, maxBytes - HEADER_ROOM_BYTES);
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const origin = recordOrigin(r);
    const h: Record<string, string> = {
      'logferry.error.code': error.error.code,
      'logferry.error.reason': error.reason,
      'logferry.error.message': error.error.message,
      'logferry.origin.topic': batch.topic,
      'logferry.origin.path': origin.path,
    };
    if (origin.offset !== undefined) h['logferry.origin.offset'] = String(origin.offset);
    let value = r.value;
    const size = Buffer.byteLength(value);
    if (size + HEADER_ROOM_BYTES > maxBytes) {
      value = Buffer.from(value).subarray(0, room).toString('utf8');
      h['logferry.truncated'] = 'true';
      h['logferry.original.bytes'] = String(size);
    }
    out[i] = { topic, key: r.key, value, chunk: r.chunk };
    headers[i] = h;
    bytes += value.length;
  }
  return { topic, records: out, bytes, headers };
}
