/**
 * A run of complete lines read from one file, in file order. It is the unit that crosses from
 * `tail/` into the pipeline, and the unit whose acknowledgement moves a file's checkpoint.
 *
 * Offsets are byte offsets in the file. `endOffset` is where reading resumes after this chunk.
 * A stage that holds an unfinished event (multiline, CRI partial lines) keeps a reference on the
 * chunk where that event starts, so the chunk (and so the file's checkpoint) is not acknowledged
 * before the event's record is delivered: acknowledgements form an ordered, contiguous watermark.
 */
export interface LineChunk {
  /** Name of the configured source that discovered the file. */
  readonly source: string;
  /** Path the file was opened by (as matched by the source's globs). */
  readonly path: string;
  /** Stable identity of the file (device, inode and fingerprint), used by checkpoints and event ids. */
  readonly fileId: string;
  /**
   * Decoded lines, without `\n` or a trailing `\r`. Read during `ChunkSink.write` only: the
   * pipeline empties the array once the lines are decoded, so that the strings are not kept alive
   * by the chunk, which lives until its records are delivered. Empty when the tailer framed the
   * lines without decoding them (the sink said it reads them from `raw`): `chunkLines` decodes them.
   */
  readonly lines: string[];
  /**
   * The bytes the lines were cut from (the tailer's read buffer, reused after `ChunkSink.write`
   * returns, so read during it only): line `i` starts at `raw[offsets[i] - rawBase]` and ends
   * before the next line's start (or `endOffset`), less its `\n` and one `\r`. Absent when the
   * chunk was not made from one buffer; the pipeline drops it after `write`.
   */
  raw?: Buffer | undefined;
  /** File offset of `raw[0]`. */
  readonly rawBase?: number;
  /**
   * File offset just past each line's content (its line end excluded), when `raw` is set. Read
   * during `ChunkSink.write` only (the byte path empties it afterwards).
   */
  readonly ends?: readonly number[];
  /**
   * Byte offset of each line's first byte; `offsets.length === lines.length` during
   * `ChunkSink.write`. Afterwards only `offsets[0]` is read (the chunk's first line, for logs and
   * the spool): the byte path, which turns every line into a record at once, keeps only that one.
   */
  readonly offsets: number[];
  /**
   * Sparse per-line flags (`truncated`, `invalid_utf8`, ...), or undefined when no line has any.
   * `flags[i]` belongs to `lines[i]`.
   */
  readonly flags: (readonly string[] | undefined)[] | undefined;
  /** Byte offset just past the last line's terminator. */
  readonly endOffset: number;
  /** Raw bytes this chunk covers; what the memory bound counts. */
  readonly bytes: number;
  /** Wall-clock time (ms since epoch) the chunk was read; the default `@timestamp`. */
  readonly readAt: number;
  /**
   * Outstanding references. The tailer creates a chunk with `refs = 1` (the pipeline's processing
   * hold); every event made from it holds one more until its record is delivered or spooled. When
   * the count reaches 0 the chunk is acknowledged (see `releaseChunk`).
   */
  refs: number;
}

/**
 * The chunk's lines as strings: `lines`, decoded from `raw` first when the tailer made none (as the
 * tailer would have: UTF-8, invalid sequences as U+FFFD). During `ChunkSink.write` only.
 */
export function chunkLines(chunk: LineChunk): string[] {
  const { lines, offsets } = chunk;
  if (lines.length === offsets.length) return lines;
  const { raw, ends } = chunk;
  if (raw === undefined || ends === undefined) throw new Error('chunk without lines or bytes');
  const base = chunk.rawBase ?? 0;
  lines.length = 0;
  for (let i = 0; i < offsets.length; i++)
    lines.push(raw.toString('utf8', (offsets[i] as number) - base, (ends[i] as number) - base));
  return lines;
}

/**
 * Drops `n` references (one by default); acknowledges the chunk when they were the last. Called
 * once per reference, or once for several.
 */
export function releaseChunk(chunk: LineChunk, acknowledger: ChunkAcknowledger, n = 1): void {
  chunk.refs -= n;
  if (chunk.refs === 0) acknowledger.ack(chunk);
}

/** Where the tailer hands chunks. A returned promise means "stop reading until it settles" (backpressure). */
export interface ChunkSink {
  write(chunk: LineChunk): undefined | Promise<void>;
  /**
   * Optional: true when the sink reads this source's lines from the chunk's bytes, so the tailer
   * need not decode them into strings (`lines` stays empty; `chunkLines` decodes them if needed).
   */
  readsBytes?(source: string): boolean;
}

/** Where the pipeline reports that every record made from a chunk was delivered (or spooled). */
export interface ChunkAcknowledger {
  ack(chunk: LineChunk): void;
}
