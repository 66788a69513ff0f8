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
