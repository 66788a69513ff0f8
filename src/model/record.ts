import type { LineChunk } from './line-chunk.ts';

/**
 * One event as it leaves parse/ and enters enrich/: the (possibly multi-line) text, where it
 * starts, and what the parser found in it.
 */
export interface ParsedEvent {
  /**
   * The chunk holding the event's first line. The event owns one reference on it (taken by the
   * decoder when the event started), passed on to the record and released on delivery.
   */
  chunk: LineChunk;
  /** The message text: the raw line, or the parser's message field. */
  message: string;
  /** Byte offset of the event's first line. */
  offset: number;
  /** Event time in ms since epoch when the parser found one; otherwise the chunk's read time is used. */
  timestamp: number | undefined;
  /** Normalised level (`info`, `warn`, ...) when the parser found one. */
  level: string | undefined;
  /** Fields the parser extracted (JSON, logfmt, regex groups, ...), or undefined. */
  fields: Record<string, unknown> | undefined;
  /**
   * `fields` already encoded as a JSON object, when a parser could take it from the source text
   * (the json parser cuts the message member out of the line) instead of having it re-encoded; or
   * undefined. Whoever changes `fields` afterwards must set this to undefined.
   */
  fieldsJson: string | undefined;
  /** Flags such as `truncated`, `invalid_utf8`, `parse_failed`, or undefined. */
  flags: string[] | undefined;
}

/** A record ready for the sink: routing decided, value encoded once. */
export interface OutRecord {
  topic: string;
  /** Message key, or null for round-robin partitioning. */
  key: string | null;
  /** The JSON document, encoded once. */
  value: string;
  /** The chunk of the record's first line; the record owns one reference on it. */
  chunk: LineChunk;
}

/**
 * The one-line-per-record fast path (no parser, no multiline, a constant topic and key): enrich/
 * gives a writer that puts a record's JSON value straight into the batch's buffer from the line's
 * bytes, and batch/ and sink/ call it instead of making a string per record. The value is the same,
 * byte for byte, as the `OutRecord.value` the enricher would make for the line.
 */
export interface LineValueWriter {
  /** Bytes of a value beside its escaped line (offset digits counted at their widest). */
  readonly fixedBytes: number;
  /**
   * The UTF-16 length of the last value written: what `value.length` of the same record as a
   * string would be (the memory bound and batch sizes count that).
   */
  readonly lastUnits: number;
  /**
   * Writes the value of the record of line `raw[start, end)` (valid UTF-8, without its line end)
   * at `dst[pos]`, which has room for `fixedBytes + jsonStringMaxBytes(end - start)`; returns the
   * position after it.
   */
  write(
    dst: Buffer,
    pos: number,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number;
  /** The same value as a string (for producers that take records as strings). */
  toString(ts: number, raw: Uint8Array, start: number, end: number, offset: number): string;
  /**
   * Optional: writes the whole Kafka record (v2) of the line at `dst[at]`, as RecordsEncoder
   * frames one around `write`'s value (offset delta `offsetDelta`, key `key`, no headers), when it
   * can do it in one step (WebAssembly, with the line and `dst` in the byte arena); returns the
   * position after it, `lastUnits` set, or -1 having written nothing (the caller frames it).
   * `dst` has room for `fixedBytes + jsonStringMaxBytes(end - start)`, the key and 48 bytes.
   */
  writeRecord?(
    dst: Buffer,
    at: number,
    offsetDelta: number,
    key: Buffer | null,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number;
}

/** Where every record of a file on the fast path goes, and how its value is written. */
export interface LineRoute {
  readonly topic: string;
  readonly key: string | null;
  /** `key` as UTF-8, or null. */
  readonly keyBytes: Buffer | null;
  readonly writer: LineValueWriter;
}
